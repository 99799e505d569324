"""The store as kvmfleet created it before migrations (schema_version 1).

Revision ID: 0001
Revises: (none)

A database made by an older kvmfleet (create_all, schema_version 1, no
alembic_version table) is stamped at this revision by ``db sync``, not
re-created: see scheduler/store/schema.py.
"""

import sqlalchemy as sa
from alembic import op

from scheduler.store.migrations import record_schema_version

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'schema_version',
        sa.Column('version', sa.Integer(), primary_key=True),
        sa.Column('applied_at', sa.Float(), nullable=False))
    op.create_table(
        'hosts',
        sa.Column('name', sa.String(255), primary_key=True),
        sa.Column('topology', sa.JSON(), nullable=False),
        sa.Column('generation', sa.Integer(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('disabled_reason', sa.Text(), nullable=True),
        sa.Column('last_heartbeat', sa.Float(), nullable=True))
    _create_instances()
    op.create_table(
        'allocations',
        sa.Column('instance_uuid', sa.String(36), sa.ForeignKey('instances.uuid'),
                  primary_key=True),
        sa.Column('host', sa.String(255), sa.ForeignKey('hosts.name'), nullable=False),
        sa.Column('assignment', sa.JSON(), nullable=False),
        sa.Column('claimed_at', sa.Float(), nullable=False))
    op.create_index('ix_allocations_host', 'allocations', ['host'])
    op.create_table(
        'allocated_resources',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('host', sa.String(255), nullable=False),
        sa.Column('kind', sa.String(16), nullable=False),
        sa.Column('key', sa.String(64), nullable=False),
        sa.Column('instance_uuid', sa.String(36), sa.ForeignKey('allocations.instance_uuid'),
                  nullable=False),
        sa.UniqueConstraint('host', 'kind', 'key', name='uniq_resource_holder'))
    op.create_index('ix_allocated_resources_instance_uuid', 'allocated_resources',
                    ['instance_uuid'])
    record_schema_version(op, int(revision))


def _create_instances():
    op.create_table(
        'instances',
        sa.Column('uuid', sa.String(36), primary_key=True),
        sa.Column('name', sa.String(255), nullable=False),
        sa.Column('request', sa.JSON(), nullable=False),
        sa.Column('spec', sa.JSON(), nullable=True),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('task', sa.String(16), nullable=True),
        sa.Column('host', sa.String(255), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('attempts', sa.JSON(), nullable=False),
        sa.Column('alternates', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.Column('updated_at', sa.Float(), nullable=False))
    for column in ('host', 'name', 'state'):
        op.create_index(f'ix_instances_{column}', 'instances', [column])
