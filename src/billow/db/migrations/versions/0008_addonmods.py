"""addon provisioning modules: module settings, server and module data of client addons

Revision ID: 0008_addonmods
Revises: 0004_automation
Create Date: 2026-11-26 09:50:00

A product addon with a provisioning module keeps its own module settings (WHMCS's
"Module Settings" tab, passed as ``configoption1``..), and each client addon remembers
the server its module runs on and what the module stored about the remote object.
Module log rows say which addon a call was made for.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008_addonmods'
down_revision = '0004_automation'
branch_labels = None
depends_on = '0003_catalog'


def upgrade() -> None:
    with op.batch_alter_table('addons', schema=None) as batch_op:
        batch_op.add_column(sa.Column('module_settings', sa.JSON(), nullable=False,
                                      server_default=sa.text("'{}'")))
    with op.batch_alter_table('service_addons', schema=None) as batch_op:
        batch_op.add_column(sa.Column('server_id', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('module_data', sa.JSON(), nullable=False,
                                      server_default=sa.text("'{}'")))
        batch_op.create_index(batch_op.f('ix_service_addons_server_id'), ['server_id'], unique=False)
    with op.batch_alter_table('module_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('addon_id', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_index(batch_op.f('ix_module_log_addon_id'), ['addon_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('module_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_module_log_addon_id'))
        batch_op.drop_column('addon_id')
    with op.batch_alter_table('service_addons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_addons_server_id'))
        batch_op.drop_column('module_data')
        batch_op.drop_column('server_id')
    with op.batch_alter_table('addons', schema=None) as batch_op:
        batch_op.drop_column('module_settings')
