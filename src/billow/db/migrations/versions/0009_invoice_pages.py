"""invoice pages: (status, userid) indexes on services and addons

Revision ID: 0009_invoice_pages
Revises: 0003_catalog
Create Date: 2026-11-26 11:00:00

The daily run reads the due services of a page of clients (``status IN (...) AND userid
IN (...)``). Without statistics SQLite chose the status index and walked every active
service for every page; with both columns in one index each page reads only its own.
"""

from __future__ import annotations

from alembic import op

revision = '0009_invoice_pages'
down_revision = '0003_catalog'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_services_status_userid', 'services', ['status', 'userid'], unique=False)
    op.create_index('ix_service_addons_status_userid', 'service_addons', ['status', 'userid'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_service_addons_status_userid', table_name='service_addons')
    op.drop_index('ix_services_status_userid', table_name='services')
