"""netcall: drop background_jobs

Revision ID: 0011_netcall
Revises: 0005_events
Create Date: 2026-12-05 03:00:00

Module calls run right after their caller's commit, in the same process, and their
failures go to the module queue; the unused background job table (``billow.jobs``) goes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import billow.db.types

revision = '0011_netcall'
down_revision = '0005_events'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('background_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_background_jobs_due')
    op.drop_table('background_jobs')


def downgrade() -> None:
    op.create_table('background_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_uuid', sa.String(length=36), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('args', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', billow.db.types.UTCDateTime(), nullable=True),
    sa.Column('leased_until', billow.db.types.UTCDateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('result', sa.Text(), nullable=False),
    sa.Column('created_at', billow.db.types.UTCDateTime(), nullable=False),
    sa.Column('completed_at', billow.db.types.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_background_jobs')),
    sa.UniqueConstraint('event_uuid', name=op.f('uq_background_jobs_event_uuid'))
    )
    with op.batch_alter_table('background_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_background_jobs_due', ['status', 'next_attempt_at'], unique=False)
