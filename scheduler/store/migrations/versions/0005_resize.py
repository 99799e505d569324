"""Resize: a migration record carries the instance's new RequestSpec and request.

Revision ID: 0005
Revises: 0004

A resize (kind ``resize``) is a move whose destination claim is computed from
a new RequestSpec; both claims stay held while the guest runs resized
(instance RESIZED, migration ``finished``) until confirm (the new spec
becomes the instance's) or revert (it is dropped).
"""

import sqlalchemy as sa
from alembic import op

from scheduler.store.migrations import record_schema_version

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('migrations', sa.Column('new_spec', sa.JSON(), nullable=True))
    op.add_column('migrations', sa.Column('new_request', sa.JSON(), nullable=True))
    record_schema_version(op, int(revision))
