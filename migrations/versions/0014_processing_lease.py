"""processing lease: who holds an inbound message being processed, and when that holder last showed it is alive

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 07:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("whatsapp_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("holder", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("whatsapp_messages", schema=None) as batch_op:
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("holder")
