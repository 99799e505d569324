"""hosts.changed_seq: the stamp of a host's last change a scheduler's view must follow.

Revision ID: 0006
Revises: 0005

Claims, releases, moves, new topologies and enabling/disabling set it
(scheduler/store/changes.py): before each decision a scheduler reads the hosts
stamped since its last look, one indexed query, and reloads only those, so it
learns what the other schedulers claimed and released.  Existing hosts start
at 0: a scheduler loads its whole view at start anyway.
"""

import sqlalchemy as sa
from alembic import op

from scheduler.store.migrations import record_schema_version

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    # a plain ADD COLUMN (SQLite too: a constant default needs no table copy)
    op.add_column('hosts', sa.Column('changed_seq', sa.BigInteger(), nullable=False,
                                     server_default='0'))
    op.create_index('ix_hosts_changed_seq', 'hosts', ['changed_seq'])
    record_schema_version(op, int(revision))
