"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-29 08:50:17.480052
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('admins',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('admin_code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('phone', sa.String(length=16), nullable=True),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admins')),
    sa.UniqueConstraint('admin_code', name=op.f('uq_admins_admin_code')),
    sa.UniqueConstraint('phone', name=op.f('uq_admins_phone'))
    )
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('actor', sa.String(length=60), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('entity', sa.String(length=60), nullable=False),
    sa.Column('entity_id', sa.String(length=60), nullable=True),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_audit_log_entity', ['entity', 'entity_id'], unique=False)

    op.create_table('courses',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('min_age', sa.Integer(), nullable=True),
    sa.Column('aliases', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_courses')),
    sa.UniqueConstraint('code', name=op.f('uq_courses_code'))
    )
    op.create_table('faqs',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=64), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_faqs')),
    sa.UniqueConstraint('topic', name=op.f('uq_faqs_topic'))
    )
    op.create_table('guardians',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('phone', sa.String(length=16), nullable=False),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_guardians')),
    sa.UniqueConstraint('phone', name=op.f('uq_guardians_phone'))
    )
    op.create_table('holidays',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('holiday_date', sa.Date(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_holidays')),
    sa.UniqueConstraint('holiday_date', name=op.f('uq_holidays_holiday_date'))
    )
    op.create_table('school',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('short_name', sa.String(length=40), nullable=True),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('phone', sa.String(length=16), nullable=True),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('hours', sa.String(length=200), nullable=True),
    sa.Column('payment_link_base', sa.String(length=500), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_school'))
    )
    op.create_table('students',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrollment_id', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('dob', sa.Date(), nullable=True),
    sa.Column('phone', sa.String(length=16), nullable=True),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_students')),
    sa.UniqueConstraint('enrollment_id', name=op.f('uq_students_enrollment_id'))
    )
    with op.batch_alter_table('students', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_students_phone'), ['phone'], unique=False)

    op.create_table('teachers',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('employee_id', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('title', sa.String(length=10), nullable=True),
    sa.Column('phone', sa.String(length=16), nullable=True),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_teachers')),
    sa.UniqueConstraint('employee_id', name=op.f('uq_teachers_employee_id')),
    sa.UniqueConstraint('phone', name=op.f('uq_teachers_phone'))
    )
    op.create_table('whatsapp_sessions',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone_number', sa.String(length=140), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('user_type', sa.String(length=20), nullable=True),
    sa.Column('context', sa.JSON(), nullable=False),
    sa.Column('last_intent', sa.String(length=100), nullable=True),
    sa.Column('last_message_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("user_type IN ('admin', 'teacher', 'student', 'guardian', 'prospect')", name=op.f('ck_whatsapp_sessions_user_type_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_whatsapp_sessions')),
    sa.UniqueConstraint('phone_number', name=op.f('uq_whatsapp_sessions_phone_number'))
    )
    with op.batch_alter_table('whatsapp_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_whatsapp_sessions_expires_at'), ['expires_at'], unique=False)

    op.create_table('whatsapp_subscriptions',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone_number', sa.String(length=140), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('user_type', sa.String(length=20), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('opted_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('opted_out_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('preferences', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_whatsapp_subscriptions')),
    sa.UniqueConstraint('phone_number', name=op.f('uq_whatsapp_subscriptions_phone_number'))
    )
    with op.batch_alter_table('whatsapp_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_whatsapp_subscriptions_user_id'), ['user_id'], unique=False)

    op.create_table('whatsapp_templates',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('template_name', sa.String(length=100), nullable=False),
    sa.Column('template_type', sa.String(length=50), nullable=True),
    sa.Column('category', sa.String(length=30), nullable=True),
    sa.Column('language', sa.String(length=10), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('variables', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('meta_template_id', sa.String(length=255), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name=op.f('ck_whatsapp_templates_status_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_whatsapp_templates')),
    sa.UniqueConstraint('template_name', name=op.f('uq_whatsapp_templates_template_name'))
    )
    op.create_table('batches',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=40), nullable=True),
    sa.Column('teacher_id', sa.Integer(), nullable=False),
    sa.Column('room', sa.String(length=100), nullable=True),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.CheckConstraint('capacity > 0', name=op.f('ck_batches_capacity_positive')),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_batches_course_id_courses')),
    sa.ForeignKeyConstraint(['teacher_id'], ['teachers.id'], name=op.f('fk_batches_teacher_id_teachers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_batches')),
    sa.UniqueConstraint('code', name=op.f('uq_batches_code'))
    )
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_batches_course_id'), ['course_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_batches_teacher_id'), ['teacher_id'], unique=False)

    op.create_table('course_plans',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('plan', sa.String(length=20), nullable=False),
    sa.Column('fee', sa.Integer(), nullable=False),
    sa.Column('classes', sa.Integer(), nullable=False),
    sa.CheckConstraint('classes > 0', name=op.f('ck_course_plans_classes_positive')),
    sa.CheckConstraint('fee >= 0', name=op.f('ck_course_plans_fee_not_negative')),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_course_plans_course_id_courses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course_plans')),
    sa.UniqueConstraint('course_id', 'plan', name='uq_course_plans_course_plan')
    )
    op.create_table('leads',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('phone', sa.String(length=16), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=True),
    sa.Column('student_age', sa.Integer(), nullable=True),
    sa.Column('level', sa.String(length=40), nullable=True),
    sa.Column('preferred_slot', sa.String(length=200), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('new', 'contacted', 'enrolled', 'closed')", name=op.f('ck_leads_status_known')),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_leads_course_id_courses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_leads'))
    )
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_leads_phone'), ['phone'], unique=False)

    op.create_table('student_guardians',
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('guardian_id', sa.Integer(), nullable=False),
    sa.Column('relation', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['guardian_id'], ['guardians.id'], name=op.f('fk_student_guardians_guardian_id_guardians'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_student_guardians_student_id_students'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('student_id', 'guardian_id', name=op.f('pk_student_guardians'))
    )
    op.create_table('teacher_courses',
    sa.Column('teacher_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_teacher_courses_course_id_courses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['teacher_id'], ['teachers.id'], name=op.f('fk_teacher_courses_teacher_id_teachers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('teacher_id', 'course_id', name=op.f('pk_teacher_courses'))
    )
    op.create_table('teacher_leaves',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('teacher_id', sa.Integer(), nullable=False),
    sa.Column('leave_date', sa.Date(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['teacher_id'], ['teachers.id'], name=op.f('fk_teacher_leaves_teacher_id_teachers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_teacher_leaves')),
    sa.UniqueConstraint('teacher_id', 'leave_date', name='uq_teacher_leaves_teacher_date')
    )
    with op.batch_alter_table('teacher_leaves', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_teacher_leaves_leave_date'), ['leave_date'], unique=False)

    op.create_table('whatsapp_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('phone_number', sa.String(length=140), nullable=False),
    sa.Column('direction', sa.String(length=10), nullable=False),
    sa.Column('message_type', sa.String(length=30), nullable=True),
    sa.Column('content', sa.Text(), nullable=True),
    sa.Column('media_url', sa.Text(), nullable=True),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.Column('whatsapp_message_id', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=True),
    sa.Column('error_code', sa.Integer(), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("direction IN ('inbound', 'outbound')", name=op.f('ck_whatsapp_messages_direction_known')),
    sa.ForeignKeyConstraint(['session_id'], ['whatsapp_sessions.id'], name=op.f('fk_whatsapp_messages_session_id_whatsapp_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_whatsapp_messages')),
    sa.UniqueConstraint('whatsapp_message_id', name=op.f('uq_whatsapp_messages_whatsapp_message_id'))
    )
    with op.batch_alter_table('whatsapp_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_whatsapp_messages_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_whatsapp_messages_phone_created', ['phone_number', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_whatsapp_messages_phone_number'), ['phone_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_whatsapp_messages_session_id'), ['session_id'], unique=False)

    op.create_table('attendance_drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('teacher_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('attendance_date', sa.Date(), nullable=False),
    sa.Column('parsed_data', sa.JSON(), nullable=False),
    sa.Column('original_message', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('draft', 'confirmed', 'rejected')", name=op.f('ck_attendance_drafts_status_known')),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_attendance_drafts_batch_id_batches'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['whatsapp_sessions.id'], name=op.f('fk_attendance_drafts_session_id_whatsapp_sessions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['teacher_id'], ['teachers.id'], name=op.f('fk_attendance_drafts_teacher_id_teachers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attendance_drafts'))
    )
    with op.batch_alter_table('attendance_drafts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attendance_drafts_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attendance_drafts_teacher_id'), ['teacher_id'], unique=False)

    op.create_table('attendance_records',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('class_date', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('is_makeup', sa.Boolean(), nullable=False),
    sa.Column('marked_by', sa.String(length=40), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.CheckConstraint("status IN ('present', 'absent')", name=op.f('ck_attendance_records_status_known')),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_attendance_records_batch_id_batches')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_attendance_records_student_id_students'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attendance_records')),
    sa.UniqueConstraint('student_id', 'batch_id', 'class_date', name='uq_attendance_records_student_batch_date')
    )
    with op.batch_alter_table('attendance_records', schema=None) as batch_op:
        batch_op.create_index('ix_attendance_records_batch_date', ['batch_id', 'class_date'], unique=False)

    op.create_table('batch_slots',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('start_time', sa.Time(), nullable=False),
    sa.Column('duration_min', sa.Integer(), nullable=False),
    sa.CheckConstraint('duration_min > 0', name=op.f('ck_batch_slots_duration_positive')),
    sa.CheckConstraint('weekday BETWEEN 0 AND 6', name=op.f('ck_batch_slots_weekday_range')),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_batch_slots_batch_id_batches'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_batch_slots')),
    sa.UniqueConstraint('batch_id', 'weekday', 'start_time', name='uq_batch_slots_batch_weekday_start')
    )
    op.create_table('enrollments',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('plan', sa.String(length=20), nullable=False),
    sa.Column('classes_remaining', sa.Integer(), nullable=False),
    sa.Column('fee', sa.Integer(), nullable=False),
    sa.Column('next_due', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.CheckConstraint("plan IN ('monthly', 'quarterly')", name=op.f('ck_enrollments_plan_known')),
    sa.CheckConstraint("status IN ('active', 'paused', 'ended')", name=op.f('ck_enrollments_status_known')),
    sa.CheckConstraint('classes_remaining >= 0', name=op.f('ck_enrollments_classes_remaining_not_negative')),
    sa.CheckConstraint('fee >= 0', name=op.f('ck_enrollments_fee_not_negative')),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_enrollments_batch_id_batches')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_enrollments_student_id_students'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrollments')),
    sa.UniqueConstraint('student_id', 'batch_id', name='uq_enrollments_student_batch')
    )
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enrollments_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enrollments_next_due'), ['next_due'], unique=False)
        batch_op.create_index(batch_op.f('ix_enrollments_student_id'), ['student_id'], unique=False)

    op.create_table('payments',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=True),
    sa.Column('enrollment_id', sa.Integer(), nullable=True),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=False),
    sa.Column('method', sa.String(length=40), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('reference', sa.String(length=100), nullable=True),
    sa.CheckConstraint('amount > 0', name=op.f('ck_payments_amount_positive')),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_payments_course_id_courses')),
    sa.ForeignKeyConstraint(['enrollment_id'], ['enrollments.id'], name=op.f('fk_payments_enrollment_id_enrollments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_payments_student_id_students'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('reference', name=op.f('uq_payments_reference'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index('ix_payments_student_paid_on', ['student_id', 'paid_on'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('ix_payments_student_paid_on')

    op.drop_table('payments')
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enrollments_student_id'))
        batch_op.drop_index(batch_op.f('ix_enrollments_next_due'))
        batch_op.drop_index(batch_op.f('ix_enrollments_batch_id'))

    op.drop_table('enrollments')
    op.drop_table('batch_slots')
    with op.batch_alter_table('attendance_records', schema=None) as batch_op:
        batch_op.drop_index('ix_attendance_records_batch_date')

    op.drop_table('attendance_records')
    with op.batch_alter_table('attendance_drafts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attendance_drafts_teacher_id'))
        batch_op.drop_index(batch_op.f('ix_attendance_drafts_batch_id'))

    op.drop_table('attendance_drafts')
    with op.batch_alter_table('whatsapp_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_whatsapp_messages_session_id'))
        batch_op.drop_index(batch_op.f('ix_whatsapp_messages_phone_number'))
        batch_op.drop_index('ix_whatsapp_messages_phone_created')
        batch_op.drop_index(batch_op.f('ix_whatsapp_messages_created_at'))

    op.drop_table('whatsapp_messages')
    with op.batch_alter_table('teacher_leaves', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_teacher_leaves_leave_date'))

    op.drop_table('teacher_leaves')
    op.drop_table('teacher_courses')
    op.drop_table('student_guardians')
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_leads_phone'))

    op.drop_table('leads')
    op.drop_table('course_plans')
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_batches_teacher_id'))
        batch_op.drop_index(batch_op.f('ix_batches_course_id'))

    op.drop_table('batches')
    op.drop_table('whatsapp_templates')
    with op.batch_alter_table('whatsapp_subscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_whatsapp_subscriptions_user_id'))

    op.drop_table('whatsapp_subscriptions')
    with op.batch_alter_table('whatsapp_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_whatsapp_sessions_expires_at'))

    op.drop_table('whatsapp_sessions')
    op.drop_table('teachers')
    with op.batch_alter_table('students', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_students_phone'))

    op.drop_table('students')
    op.drop_table('school')
    op.drop_table('holidays')
    op.drop_table('guardians')
    op.drop_table('faqs')
    op.drop_table('courses')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_entity')
        batch_op.drop_index(batch_op.f('ix_audit_log_created_at'))

    op.drop_table('audit_log')
    op.drop_table('admins')
