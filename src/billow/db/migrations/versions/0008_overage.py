"""overage billing: product soft limits and prices for disk and bandwidth

Revision ID: 0008_overage
Revises: 0004_automation
Create Date: 2026-11-26 10:00:00

WHMCS keeps a product's overage settings on ``tblproducts`` (``overagesenabled``,
``overagesdisklimit``, ``overagesbwlimit``, ``overagesdiskprice``, ``overagesbwprice``,
with the units folded into ``overagesenabled`` as ``"1,GB,MB"``); Billow stores the units
in their own columns. The products table comes from ``0003_catalog``, hence the
dependency beside the automation branch this chains after.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import billow.db.types

revision = '0008_overage'
down_revision = '0004_automation'
branch_labels = None
depends_on = ('0003_catalog',)


def upgrade() -> None:
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('overagesenabled', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.add_column(sa.Column('overagesdisklimit', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('overagesbwlimit', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('overagesdiskprice', billow.db.types.Money(4), server_default='0',
                                      nullable=False))
        batch_op.add_column(sa.Column('overagesbwprice', billow.db.types.Money(4), server_default='0',
                                      nullable=False))
        batch_op.add_column(sa.Column('overagesdiskunit', sa.String(length=2), server_default='MB',
                                      nullable=False))
        batch_op.add_column(sa.Column('overagesbwunit', sa.String(length=2), server_default='MB',
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('products', schema=None) as batch_op:
        for column in ('overagesbwunit', 'overagesdiskunit', 'overagesbwprice', 'overagesdiskprice',
                       'overagesbwlimit', 'overagesdisklimit', 'overagesenabled'):
            batch_op.drop_column(column)
