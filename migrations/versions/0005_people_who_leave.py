"""people who leave: students and guardians can be deactivated like teachers and admins, and each keeps when

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 21:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('students', 'guardians'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('active', sa.Boolean(), nullable=False, server_default=sa.true()))
    for table in ('admins', 'teachers', 'students', 'guardians'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('deactivated_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for table in ('admins', 'teachers', 'students', 'guardians'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('deactivated_at')
    for table in ('students', 'guardians'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('active')
