"""instances.cast_pending: a claimed build not yet cast to its agent (schema_version 3).

Revision ID: 0003
Revises: 0002

Written true in the claim's transaction and cleared once the build is cast, so
a scheduler that dies between the two leaves a mark another scheduler (or its
restart) finds, and casts the build again (scheduler/manager.py, recast_pending).
"""

import sqlalchemy as sa
from alembic import op

from scheduler.store.migrations import record_schema_version

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    # a plain ADD COLUMN (SQLite too: a constant default needs no table copy)
    op.add_column('instances', sa.Column('cast_pending', sa.Boolean(), nullable=False,
                                         server_default=sa.false()))
    record_schema_version(op, int(revision))
