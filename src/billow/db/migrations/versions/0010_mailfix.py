"""mailfix: admins assigned to support departments

Revision ID: 0010_mailfix
Revises: 0009_invoice_pages
Create Date: 2026-11-26 11:00:00

``SendAdminEmail`` with ``deptid`` notifies the admins of that department (WHMCS keeps the
assignment in ``tbladmins.supportdepts``); a join table holds it here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010_mailfix'
down_revision = '0009_invoice_pages'
branch_labels = None
# The table refers to support_departments, which the support branch creates.
depends_on = ('0006_support',)


def upgrade() -> None:
    op.create_table(
        'support_department_admins',
        sa.Column('department_id', sa.Integer(), nullable=False),
        sa.Column('admin_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['admin_id'], ['admins.id'],
                                name=op.f('fk_support_department_admins_admin_id_admins'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['department_id'], ['support_departments.id'],
                                name=op.f('fk_support_department_admins_department_id_support_departments'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('department_id', 'admin_id', name=op.f('pk_support_department_admins')),
    )
    with op.batch_alter_table('support_department_admins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_support_department_admins_admin_id'), ['admin_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('support_department_admins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_support_department_admins_admin_id'))
    op.drop_table('support_department_admins')
