"""Alembic environment of the scheduler store: online only, on the caller's connection.

scheduler.store.schema opens the transaction, passes its connection in
``config.attributes['connection']`` and commits; this file only runs the revisions.
"""

from alembic import context

from scheduler.store import models

if context.is_offline_mode():
    raise RuntimeError('the kvmfleet store has no offline (--sql) migrations; '
                       'run kvmfleet-manage db sync against the database')

context.configure(connection=context.config.attributes['connection'],
                  target_metadata=models.Base.metadata,
                  # SQLite cannot ALTER most things: later revisions use batch mode.
                  render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
