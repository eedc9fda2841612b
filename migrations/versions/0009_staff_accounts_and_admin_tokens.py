"""staff accounts (who signs in to the office) and the admin API tokens we issued, by jti

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('staff_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('login', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('phone', sa.String(length=16), nullable=True),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('teacher_id', sa.Integer(), nullable=True),
    sa.Column('admin_id', sa.Integer(), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('failed_sign_ins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('deactivated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_sign_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('admin', 'staff', 'teacher')", name=op.f('ck_staff_accounts_role_known')),
    sa.CheckConstraint("role <> 'teacher' OR teacher_id IS NOT NULL", name=op.f('ck_staff_accounts_teacher_linked')),
    sa.CheckConstraint('failed_sign_ins >= 0', name=op.f('ck_staff_accounts_failed_sign_ins_not_negative')),
    sa.ForeignKeyConstraint(['admin_id'], ['admins.id'], name=op.f('fk_staff_accounts_admin_id_admins')),
    sa.ForeignKeyConstraint(['teacher_id'], ['teachers.id'], name=op.f('fk_staff_accounts_teacher_id_teachers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_accounts')),
    sa.UniqueConstraint('admin_id', name=op.f('uq_staff_accounts_admin_id')),
    sa.UniqueConstraint('login', name=op.f('uq_staff_accounts_login')),
    sa.UniqueConstraint('phone', name=op.f('uq_staff_accounts_phone')),
    sa.UniqueConstraint('teacher_id', name=op.f('uq_staff_accounts_teacher_id'))
    )
    op.create_table('admin_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('staff_account_id', sa.Integer(), nullable=True),
    sa.Column('label', sa.String(length=100), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('issued_by', sa.String(length=60), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_by', sa.String(length=60), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('admin', 'staff')", name=op.f('ck_admin_tokens_role_known')),
    sa.ForeignKeyConstraint(['staff_account_id'], ['staff_accounts.id'], name=op.f('fk_admin_tokens_staff_account_id_staff_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_tokens')),
    sa.UniqueConstraint('jti', name=op.f('uq_admin_tokens_jti'))
    )
    with op.batch_alter_table('admin_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_admin_tokens_staff_account_id'), ['staff_account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_admin_tokens_subject'), ['subject'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('admin_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_admin_tokens_subject'))
        batch_op.drop_index(batch_op.f('ix_admin_tokens_staff_account_id'))

    op.drop_table('admin_tokens')
    op.drop_table('staff_accounts')
