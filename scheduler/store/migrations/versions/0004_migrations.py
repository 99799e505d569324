"""Moves of instances: migration records, and destination claims held during a move.

Revision ID: 0004
Revises: 0003

A move (live or cold migration, resize, evacuation) holds its destination's
exclusive resources as ``allocated_resources`` rows of the instance marked with
the migration's uuid, beside the source's unmarked rows: the UNIQUE (host,
kind, key) guards both at once, so no pCPU, VF or IOMMU group is ever held
twice while an instance is on its way.  The destination assignment itself is
in the ``migrations`` row until the move ends.
"""

import sqlalchemy as sa
from alembic import op

from scheduler.store.migrations import record_schema_version

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'migrations',
        sa.Column('uuid', sa.String(36), primary_key=True),
        sa.Column('instance_uuid', sa.String(36), sa.ForeignKey('instances.uuid'),
                  nullable=False),
        sa.Column('kind', sa.String(16), nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('source_host', sa.String(255), nullable=True),
        sa.Column('dest_host', sa.String(255), nullable=True),
        sa.Column('source_assignment', sa.JSON(), nullable=True),
        sa.Column('dest_assignment', sa.JSON(), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('request_id', sa.String(64), nullable=True),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.Column('updated_at', sa.Float(), nullable=False),
        sa.Column('finished_at', sa.Float(), nullable=True))
    for column in ('instance_uuid', 'status', 'source_host', 'dest_host'):
        op.create_index(f'ix_migrations_{column}', 'migrations', [column])
    op.add_column('allocated_resources',
                  sa.Column('migration_uuid', sa.String(36), nullable=True))
    op.create_index('ix_allocated_resources_migration_uuid', 'allocated_resources',
                    ['migration_uuid'])
    record_schema_version(op, int(revision))

