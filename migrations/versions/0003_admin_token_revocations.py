"""admin token revocations

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 19:33:29.448484
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('admin_token_revocations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('revoked_before', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_by', sa.String(length=60), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_token_revocations'))
    )
    with op.batch_alter_table('admin_token_revocations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_admin_token_revocations_subject'), ['subject'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('admin_token_revocations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_admin_token_revocations_subject'))

    op.drop_table('admin_token_revocations')
