"""Outreach: leads and their pipeline, broadcasts and their recipients, reminders sent."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship

from hsm.infra.models.base import PHONE, WA_ADDRESS, Base, TimestampMixin, _in, _utcnow

# new -> contacted -> trial_booked -> enrolled | lost; the allowed moves are hsm.outreach.leads.MOVES.
LEAD_STATUSES = ("new", "contacted", "trial_booked", "enrolled", "lost")


class Lead(TimestampMixin, Base):
    __tablename__ = "leads"
    __table_args__ = (CheckConstraint(_in("status", LEAD_STATUSES), name="status_known"),)
    id = Column(Integer, primary_key=True)
    name = Column(String(200))
    phone = Column(PHONE, nullable=False, index=True)
    course_id = Column(ForeignKey("courses.id"))
    student_age = Column(Integer)
    level = Column(String(40))
    preferred_slot = Column(String(200))
    source = Column(String(20), nullable=False, default="whatsapp")
    status = Column(String(20), nullable=False, default="new")
    notes = Column(Text)
    trial_at = Column(DateTime(timezone=True))  # the trial class booked (status trial_booked, kept afterwards)
    trial_batch_id = Column(ForeignKey("batches.id", ondelete="SET NULL"))
    student_id = Column(ForeignKey("students.id", ondelete="SET NULL"), index=True)  # once enrolled
    lost_reason = Column(Text)
    course = relationship("Course")
    trial_batch = relationship("Batch")
    student = relationship("Student")
    events = relationship("LeadEvent", back_populates="lead", order_by="LeadEvent.id", passive_deletes=True)


class LeadEvent(Base):
    """One step of a lead's history: the status it moved from (None: created) and to, who moved it and why."""

    __tablename__ = "lead_events"
    __table_args__ = (CheckConstraint(_in("to_status", LEAD_STATUSES), name="to_status_known"),)
    id = Column(Integer, primary_key=True)
    lead_id = Column(ForeignKey("leads.id", ondelete="CASCADE"), nullable=False, index=True)
    from_status = Column(String(20))
    to_status = Column(String(20), nullable=False)
    note = Column(Text)
    details = Column(JSON)  # what the move set: {"trial_at", "trial_batch", "lost_reason", "student"}
    actor = Column(String(60), nullable=False)  # as the audit trail spells it (hsm.records.changes)
    created_at = Column(DateTime(timezone=True), nullable=False, default=_utcnow)
    lead = relationship("Lead", back_populates="events")


BROADCAST_STATUSES = ("queued", "running", "done", "failed", "cancelled")


RECIPIENT_STATUSES = ("pending", "sent", "delivered", "read", "failed", "skipped")


class Broadcast(TimestampMixin, Base):
    """One announcement to many: who asked, to whom, what, and how far it has got."""

    __tablename__ = "broadcasts"
    __table_args__ = (CheckConstraint(_in("status", BROADCAST_STATUSES), name="status_known"),)
    id = Column(Integer, primary_key=True)
    created_by = Column(String(60), nullable=False)  # "admin:ADM-1", "api:<sub>"
    audience = Column(JSON, nullable=False)  # {"kind": "batch", "code": "TBL-BEG-SA16"} etc.
    text = Column(Text)
    template_name = Column(String(100))
    template_params = Column(JSON, nullable=False, default=list)
    status = Column(String(20), nullable=False, default="queued")
    started_at = Column(DateTime(timezone=True))
    finished_at = Column(DateTime(timezone=True))


class BroadcastRecipient(Base):
    """One recipient of a broadcast; unique per broadcast, so nobody gets the same broadcast twice."""

    __tablename__ = "broadcast_recipients"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "phone_number", name="uq_broadcast_recipients_broadcast_phone"),
        CheckConstraint(_in("status", RECIPIENT_STATUSES), name="status_known"),
        Index("ix_broadcast_recipients_broadcast_status", "broadcast_id", "status"),
    )
    id = Column(Integer, primary_key=True)
    broadcast_id = Column(ForeignKey("broadcasts.id", ondelete="CASCADE"), nullable=False)
    phone_number = Column(WA_ADDRESS, nullable=False)
    name = Column(String(200))
    status = Column(String(20), nullable=False, default="pending")
    whatsapp_message_id = Column(String(255), index=True)
    attempts = Column(Integer, nullable=False, default=0)
    error_message = Column(Text)
    updated_at = Column(DateTime(timezone=True), nullable=False, default=_utcnow, onupdate=_utcnow)


class ReminderSent(Base):
    """A reminder that went out (or was skipped); unique per kind, subject and recipient: each is sent once."""

    __tablename__ = "reminders_sent"
    __table_args__ = (UniqueConstraint("kind", "subject", "phone_number", name="uq_reminders_sent_kind_subject_phone"),)
    id = Column(Integer, primary_key=True)
    kind = Column(String(30), nullable=False)  # "fee_due", "fee_overdue", "class"
    subject = Column(String(120), nullable=False)  # "enrollment:12:2026-12-20", "class:GTR-BEG-TT17:2026-12-01"
    phone_number = Column(WA_ADDRESS, nullable=False)
    status = Column(String(20), nullable=False)  # "sent", "template", "skipped", "failed"
    created_at = Column(DateTime(timezone=True), nullable=False, default=_utcnow)
