"""takeover and sign-in codes: who answers a number instead of the bot, who waits for a human, one-time codes

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-10 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('console_sign_in_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_account_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tries', sa.Integer(), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('tries >= 0', name=op.f('ck_console_sign_in_codes_tries_not_negative')),
    sa.ForeignKeyConstraint(['staff_account_id'], ['staff_accounts.id'], name=op.f('fk_console_sign_in_codes_staff_account_id_staff_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_console_sign_in_codes'))
    )
    with op.batch_alter_table('console_sign_in_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_console_sign_in_codes_staff_account_id'), ['staff_account_id'], unique=False)

    with op.batch_alter_table('whatsapp_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('handled_by', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('handled_since', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('waiting_since', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('waiting_note', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_whatsapp_sessions_waiting_since'), ['waiting_since'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('whatsapp_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_whatsapp_sessions_waiting_since'))
        batch_op.drop_column('waiting_note')
        batch_op.drop_column('waiting_since')
        batch_op.drop_column('handled_since')
        batch_op.drop_column('handled_by')

    with op.batch_alter_table('console_sign_in_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_console_sign_in_codes_staff_account_id'))

    op.drop_table('console_sign_in_codes')
