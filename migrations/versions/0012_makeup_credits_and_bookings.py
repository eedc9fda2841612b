"""makeup credits and bookings: credits earned by classes missed with notice, seats booked with them

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-09 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('makeup_credits',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('class_date', sa.Date(), nullable=False),
    sa.Column('noticed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_by', sa.String(length=60), nullable=False),
    sa.CheckConstraint("status IN ('open', 'used')", name=op.f('ck_makeup_credits_status_known')),
    sa.CheckConstraint('expires_on >= class_date', name=op.f('ck_makeup_credits_expires_after_class')),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_makeup_credits_batch_id_batches')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_makeup_credits_student_id_students'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_makeup_credits')),
    sa.UniqueConstraint('student_id', 'batch_id', 'class_date', name='uq_makeup_credits_student_batch_date')
    )
    with op.batch_alter_table('makeup_credits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_makeup_credits_student_id'), ['student_id'], unique=False)

    op.create_table('makeup_bookings',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('credit_id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('class_date', sa.Date(), nullable=False),
    sa.Column('seat', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_by', sa.String(length=60), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(status = 'booked') = (seat IS NOT NULL)", name=op.f('ck_makeup_bookings_seat_while_booked')),
    sa.CheckConstraint("status IN ('booked', 'cancelled')", name=op.f('ck_makeup_bookings_status_known')),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_makeup_bookings_batch_id_batches')),
    sa.ForeignKeyConstraint(['credit_id'], ['makeup_credits.id'], name=op.f('fk_makeup_bookings_credit_id_makeup_credits'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_makeup_bookings_student_id_students'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_makeup_bookings')),
    sa.UniqueConstraint('batch_id', 'class_date', 'seat', name='uq_makeup_bookings_batch_date_seat')
    )
    with op.batch_alter_table('makeup_bookings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_makeup_bookings_credit_id'), ['credit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_makeup_bookings_student_id'), ['student_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('makeup_bookings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_makeup_bookings_student_id'))
        batch_op.drop_index(batch_op.f('ix_makeup_bookings_credit_id'))

    op.drop_table('makeup_bookings')
    with op.batch_alter_table('makeup_credits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_makeup_credits_student_id'))

    op.drop_table('makeup_credits')
