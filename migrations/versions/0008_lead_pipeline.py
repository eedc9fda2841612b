"""lead pipeline: new -> contacted -> trial_booked -> enrolled | lost, each lead's history in lead_events

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 22:10:00

'closed' leads become 'lost' (reason 'closed'); every existing lead gets its history's first event, at the
lead's creation, by "system:migration".
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

NEW_STATUSES = "status IN ('new', 'contacted', 'trial_booked', 'enrolled', 'lost')"
OLD_STATUSES = "status IN ('new', 'contacted', 'enrolled', 'closed')"


def upgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_leads_status_known'), type_='check')
        batch_op.add_column(sa.Column('trial_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('trial_batch_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('student_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('lost_reason', sa.Text(), nullable=True))
    op.execute("UPDATE leads SET status = 'lost', lost_reason = 'closed' WHERE status = 'closed'")
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_leads_status_known'), NEW_STATUSES)
        batch_op.create_foreign_key(batch_op.f('fk_leads_trial_batch_id_batches'), 'batches', ['trial_batch_id'],
                                    ['id'], ondelete='SET NULL')
        batch_op.create_foreign_key(batch_op.f('fk_leads_student_id_students'), 'students', ['student_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_index(batch_op.f('ix_leads_student_id'), ['student_id'], unique=False)
    op.create_table('lead_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.String(length=20), nullable=True),
    sa.Column('to_status', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.Column('actor', sa.String(length=60), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("to_status IN ('new', 'contacted', 'trial_booked', 'enrolled', 'lost')",
                       name=op.f('ck_lead_events_to_status_known')),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_lead_events_lead_id_leads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lead_events'))
    )
    with op.batch_alter_table('lead_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lead_events_lead_id'), ['lead_id'], unique=False)
    op.execute(
        "INSERT INTO lead_events (lead_id, from_status, to_status, actor, created_at) "
        "SELECT id, NULL, status, 'system:migration', created_at FROM leads ORDER BY id"
    )


def downgrade() -> None:
    with op.batch_alter_table('lead_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lead_events_lead_id'))
    op.drop_table('lead_events')
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_leads_status_known'), type_='check')
    op.execute("UPDATE leads SET status = 'closed' WHERE status = 'lost'")
    op.execute("UPDATE leads SET status = 'contacted' WHERE status = 'trial_booked'")
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_leads_student_id'))
        batch_op.drop_constraint(batch_op.f('fk_leads_student_id_students'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_leads_trial_batch_id_batches'), type_='foreignkey')
        batch_op.drop_column('lost_reason')
        batch_op.drop_column('student_id')
        batch_op.drop_column('trial_batch_id')
        batch_op.drop_column('trial_at')
        batch_op.create_check_constraint(op.f('ck_leads_status_known'), OLD_STATUSES)
