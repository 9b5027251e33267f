"""paycore: gateway log, gateway test mode, card brand and bank accounts on pay methods

Revision ID: 0012_paycore
Revises: 0002_billing
Create Date: 2026-12-05 04:30:00

The Gateway Log (every exchange with a gateway, secrets masked); ``test_mode`` on gateway
settings; the card brand, bank details (encrypted) and last change on pay methods.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import billow.db.types

revision = '0012_paycore'
down_revision = '0002_billing'
branch_labels = None
depends_on = ('0004_automation',)


def upgrade() -> None:
    op.create_table('gateway_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('date', billow.db.types.UTCDateTime(), nullable=False),
    sa.Column('gateway', sa.String(length=50), nullable=False),
    sa.Column('kind', sa.String(length=50), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('result', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gateway_log'))
    )
    with op.batch_alter_table('gateway_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gateway_log_date'), ['date'], unique=False)
        batch_op.create_index(batch_op.f('ix_gateway_log_gateway'), ['gateway'], unique=False)
    with op.batch_alter_table('gateway_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('test_mode', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('pay_methods', schema=None) as batch_op:
        batch_op.add_column(sa.Column('card_type', sa.String(length=30), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('bank_name', sa.String(length=100), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('bank_account_type', sa.String(length=30), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('bank_code_enc', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('bank_account_enc', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('updated_at', billow.db.types.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('pay_methods', schema=None) as batch_op:
        for column in ('updated_at', 'bank_account_enc', 'bank_code_enc', 'bank_account_type', 'bank_name',
                       'card_type'):
            batch_op.drop_column(column)
    with op.batch_alter_table('gateway_settings', schema=None) as batch_op:
        batch_op.drop_column('test_mode')
    with op.batch_alter_table('gateway_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gateway_log_gateway'))
        batch_op.drop_index(batch_op.f('ix_gateway_log_date'))
    op.drop_table('gateway_log')
