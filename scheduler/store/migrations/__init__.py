"""The store's alembic environment (env.py) and revisions (versions/).

Run through scheduler.store.schema (``kvmfleet-manage db sync``), never with an
alembic.ini: the script location is this package, so it works installed.
"""

import time

import sqlalchemy as sa


def record_schema_version(op, version):
    """Every revision NNNN ends by recording NNNN in the ``schema_version`` table.

    Schedulers from before migrations read that table at start and refuse a
    number newer than theirs, so an old scheduler restarted against a migrated
    database stops instead of running on a schema it does not know.
    """
    table = sa.table('schema_version', sa.column('version', sa.Integer),
                     sa.column('applied_at', sa.Float))
    op.bulk_insert(table, [{'version': version, 'applied_at': time.time()}])
