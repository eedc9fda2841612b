"""closures: days the office closes, for the whole school or some batches (hsm.classes.closures)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 22:10:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "closures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("whole_school", sa.Boolean(), nullable=False),
        sa.Column("scope_key", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.String(length=60), nullable=True),
        sa.Column("notified", sa.Boolean(), nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("end_date >= start_date", name=op.f("ck_closures_dates_in_order")),
        sa.CheckConstraint(
            "(cancelled_at IS NULL) = (cancelled_by IS NULL)", name=op.f("ck_closures_cancelled_with_who")
        ),
        sa.ForeignKeyConstraint(
            ["broadcast_id"], ["broadcasts.id"], name=op.f("fk_closures_broadcast_id_broadcasts"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_closures")),
        sa.UniqueConstraint("start_date", "end_date", "scope_key", name="uq_closures_start_end_scope"),
    )
    with op.batch_alter_table("closures", schema=None) as batch_op:
        batch_op.create_index("ix_closures_end_start", ["end_date", "start_date"], unique=False)

    op.create_table(
        "closure_batches",
        sa.Column("closure_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_closure_batches_batch_id_batches"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["closure_id"], ["closures.id"], name=op.f("fk_closure_batches_closure_id_closures"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("closure_id", "batch_id", name=op.f("pk_closure_batches")),
    )
    with op.batch_alter_table("closure_batches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_closure_batches_batch_id"), ["batch_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("closure_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_closure_batches_batch_id"))

    op.drop_table("closure_batches")
    with op.batch_alter_table("closures", schema=None) as batch_op:
        batch_op.drop_index("ix_closures_end_start")

    op.drop_table("closures")
