"""The seed design's WhatsApp tables: sessions, messages, subscriptions, templates, and attendance drafts."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)

from hsm.infra.models.base import ROLES, WA_ADDRESS, Base, TimestampMixin, _in, _utcnow

SESSION_USER_TYPES = ROLES


MESSAGE_DIRECTIONS = ("inbound", "outbound")


class WhatsAppSession(TimestampMixin, Base):
    __tablename__ = "whatsapp_sessions"
    __table_args__ = (CheckConstraint(_in("user_type", SESSION_USER_TYPES), name="user_type_known"),)
    id = Column(Integer, primary_key=True)
    phone_number = Column(WA_ADDRESS, nullable=False, unique=True)
    user_id = Column(Integer)  # id in the table that `user_type` names
    user_type = Column(String(20))
    context = Column(JSON, nullable=False, default=dict)
    last_intent = Column(String(100))
    last_message_at = Column(DateTime(timezone=True), default=_utcnow)
    expires_at = Column(DateTime(timezone=True), index=True)
    # Human takeover (hsm.office.takeover): while `handled_by` (a staff login) is set the bot does not answer
    handled_by = Column(String(40))
    handled_since = Column(DateTime(timezone=True))
    # The bot asked the office for a human (actions/fallback.py): listed on Today until staff answer or hand back
    waiting_since = Column(DateTime(timezone=True), index=True)
    waiting_note = Column(Text)  # the words the bot did not understand


class WhatsAppMessage(Base):
    __tablename__ = "whatsapp_messages"
    __table_args__ = (
        CheckConstraint(_in("direction", MESSAGE_DIRECTIONS), name="direction_known"),
        Index("ix_whatsapp_messages_phone_created", "phone_number", "created_at"),
    )
    id = Column(Integer, primary_key=True)
    session_id = Column(ForeignKey("whatsapp_sessions.id", ondelete="CASCADE"), index=True)
    phone_number = Column(WA_ADDRESS, nullable=False, index=True)
    direction = Column(String(10), nullable=False)
    message_type = Column(String(30))
    content = Column(Text)
    media_url = Column(Text)
    message_metadata = Column("metadata", JSON, nullable=False, default=dict)
    whatsapp_message_id = Column(String(255), unique=True)
    # inbound: received -> processing -> processed | failed; outbound: queued -> sent -> delivered -> read | failed
    status = Column(String(20))
    error_code = Column(Integer)
    error_message = Column(Text)
    # inbound, while processing (hsm.whatsapp.claims): the claim's random token, and when that holder last showed it
    # is alive (a Unix time on the database's clock, never HSM_NOW); silent for HSM_SWEEP_STALE_AFTER_S, it is dead
    holder = Column(String(32))
    heartbeat_at = Column(Float)
    created_at = Column(DateTime(timezone=True), nullable=False, default=_utcnow, index=True)
    updated_at = Column(DateTime(timezone=True), nullable=False, default=_utcnow, onupdate=_utcnow)


class WhatsAppSubscription(TimestampMixin, Base):
    __tablename__ = "whatsapp_subscriptions"
    id = Column(Integer, primary_key=True)
    phone_number = Column(WA_ADDRESS, nullable=False, unique=True)
    user_id = Column(Integer, index=True)
    user_type = Column(String(20))
    is_active = Column(Boolean, nullable=False, default=True)
    opted_in_at = Column(DateTime(timezone=True), default=_utcnow)
    opted_out_at = Column(DateTime(timezone=True))
    preferences = Column(JSON, nullable=False, default=dict)  # {"reminders": true, "announcements": true}


TEMPLATE_STATUSES = ("pending", "approved", "rejected")


class WhatsAppTemplate(TimestampMixin, Base):
    __tablename__ = "whatsapp_templates"
    __table_args__ = (CheckConstraint(_in("status", TEMPLATE_STATUSES), name="status_known"),)
    id = Column(Integer, primary_key=True)
    template_name = Column(String(100), nullable=False, unique=True)
    template_type = Column(String(50))
    category = Column(String(30))  # Meta's category: UTILITY, MARKETING, AUTHENTICATION
    language = Column(String(10), nullable=False, default="en")
    content = Column(Text, nullable=False)
    variables = Column(JSON, nullable=False, default=list)
    status = Column(String(20), nullable=False, default="pending")
    meta_template_id = Column(String(255))
    header_format = Column(String(20))  # a media header the sender fills in ("DOCUMENT"); None: no header


DRAFT_STATUSES = ("draft", "confirmed", "rejected")


class AttendanceDraft(Base):
    __tablename__ = "attendance_drafts"
    __table_args__ = (CheckConstraint(_in("status", DRAFT_STATUSES), name="status_known"),)
    id = Column(Integer, primary_key=True)
    batch_id = Column(ForeignKey("batches.id", ondelete="CASCADE"), nullable=False, index=True)
    teacher_id = Column(ForeignKey("teachers.id", ondelete="CASCADE"), nullable=False, index=True)
    session_id = Column(ForeignKey("whatsapp_sessions.id", ondelete="SET NULL"))
    attendance_date = Column(Date, nullable=False)
    parsed_data = Column(JSON, nullable=False)  # {"present": [student ids], "absent": [student ids]}
    original_message = Column(Text)
    status = Column(String(20), nullable=False, default="draft")
    created_at = Column(DateTime(timezone=True), nullable=False, default=_utcnow)
    confirmed_at = Column(DateTime(timezone=True))
