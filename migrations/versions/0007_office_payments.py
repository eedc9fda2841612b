"""office payments: who recorded a payment, its receipt, what it changed (classes, due date) and its reversal;
templates may carry a media header (a receipt's PDF)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recorded_by', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('receipt_number', sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column('classes_added', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('due_before', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('due_after', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('reversed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reversed_by', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('reversal_reason', sa.Text(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_payments_receipt_number'), ['receipt_number'])
    with op.batch_alter_table('whatsapp_templates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('header_format', sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('whatsapp_templates', schema=None) as batch_op:
        batch_op.drop_column('header_format')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_payments_receipt_number'), type_='unique')
        for column in ('reversal_reason', 'reversed_by', 'reversed_at', 'due_after', 'due_before', 'classes_added',
                       'receipt_number', 'recorded_by'):
            batch_op.drop_column(column)
