"""absences: families' notices of a missed class, alerts of an absence without one, informed attendance records

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-09 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('absence_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('class_date', sa.Date(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('reporter_role', sa.String(length=20), nullable=False),
    sa.Column('reporter_name', sa.String(length=200), nullable=False),
    sa.Column('reporter_phone', sa.String(length=16), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("reporter_role IN ('student', 'guardian', 'admin')", name=op.f('ck_absence_notices_reporter_role_known')),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_absence_notices_batch_id_batches')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_absence_notices_student_id_students'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_absence_notices')),
    sa.UniqueConstraint('student_id', 'batch_id', 'class_date', name='uq_absence_notices_student_batch_date')
    )
    with op.batch_alter_table('absence_notices', schema=None) as batch_op:
        batch_op.create_index('ix_absence_notices_class_date_batch', ['class_date', 'batch_id'], unique=False)

    op.create_table('absence_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('class_date', sa.Date(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('disputed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('disputed_by', sa.String(length=16), nullable=True),
    sa.Column('dispute_text', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_absence_alerts_batch_id_batches')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_absence_alerts_student_id_students'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_absence_alerts')),
    sa.UniqueConstraint('student_id', 'batch_id', 'class_date', name='uq_absence_alerts_student_batch_date')
    )
    with op.batch_alter_table('absence_alerts', schema=None) as batch_op:
        batch_op.create_index('ix_absence_alerts_class_date_batch', ['class_date', 'batch_id'], unique=False)

    with op.batch_alter_table('attendance_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('absence_notice_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_attendance_records_absence_notice_id'), ['absence_notice_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_attendance_records_absence_notice_id_absence_notices'), 'absence_notices', ['absence_notice_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('attendance_records', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_attendance_records_absence_notice_id_absence_notices'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_attendance_records_absence_notice_id'))
        batch_op.drop_column('absence_notice_id')

    with op.batch_alter_table('absence_alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_absence_alerts_class_date_batch')

    op.drop_table('absence_alerts')
    with op.batch_alter_table('absence_notices', schema=None) as batch_op:
        batch_op.drop_index('ix_absence_notices_class_date_batch')

    op.drop_table('absence_notices')
