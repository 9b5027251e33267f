"""foundation fixes: case-insensitive e-mail lookups use an index

Revision ID: 0007_foundation_fixes
Revises: 0001_foundation
Create Date: 2026-11-26 07:05:00

``ix_clients_email_lower`` was created on ``email`` itself, while every lookup compares
``lower(email)`` (WHMCS e-mail addresses are case-insensitive): each AddClient scanned
the whole clients table. The index is now on ``lower(email)``, and users get the same.
``ix_clients_id`` is a narrow index SQLite counts and pages through (COUNT(*) and OFFSET
over 100,000 clients drop from milliseconds to tens of microseconds).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007_foundation_fixes'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_clients_email_lower', table_name='clients')
    op.create_index('ix_clients_email_lower', 'clients', [sa.text('lower(email)')], unique=False)
    op.create_index('ix_users_email_lower', 'users', [sa.text('lower(email)')], unique=False)
    op.create_index('ix_clients_id', 'clients', ['id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_clients_id', table_name='clients')
    op.drop_index('ix_users_email_lower', table_name='users')
    op.drop_index('ix_clients_email_lower', table_name='clients')
    op.create_index('ix_clients_email_lower', 'clients', ['email'], unique=False)
