"""Server groups as objects of their own (issue 10): name, policy, rules.

Revision ID: 0002
Revises: 0001

A group is created once with a policy that never changes; instances name it
in their spec's ``server_group`` (members are the instances that do).
"""

import sqlalchemy as sa
from alembic import op

from scheduler.store.migrations import record_schema_version

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'server_groups',
        sa.Column('name', sa.String(255), primary_key=True),
        sa.Column('policy', sa.String(32), nullable=False),
        sa.Column('max_server_per_host', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.Float(), nullable=False))
    record_schema_version(op, int(revision))
