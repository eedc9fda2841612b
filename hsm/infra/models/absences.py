"""Absences: a family telling the school a child will miss a class, and the school telling a family that a child was
marked absent without such a notice (and the family's answer that the child was there)."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship

from hsm.infra.models.base import PHONE, Base, _in, _utcnow

REPORTER_ROLES = ("student", "guardian", "admin")


class AbsenceNotice(Base):
    """One class a student will miss, as the family said (hsm.classes.absences); one per student, batch and day."""

    __tablename__ = "absence_notices"
    __table_args__ = (
        UniqueConstraint("student_id", "batch_id", "class_date", name="uq_absence_notices_student_batch_date"),
        CheckConstraint(_in("reporter_role", REPORTER_ROLES), name="reporter_role_known"),
        Index("ix_absence_notices_class_date_batch", "class_date", "batch_id"),
    )
    id = Column(Integer, primary_key=True)
    student_id = Column(ForeignKey("students.id", ondelete="CASCADE"), nullable=False)
    batch_id = Column(ForeignKey("batches.id"), nullable=False)
    class_date = Column(Date, nullable=False)
    starts_at = Column(DateTime(timezone=True), nullable=False)
    reason = Column(Text)  # the family's words, as staff see them (staff_text)
    reporter_role = Column(String(20), nullable=False)
    reporter_name = Column(String(200), nullable=False)
    reporter_phone = Column(PHONE)
    reported_at = Column(DateTime(timezone=True), nullable=False, default=_utcnow)
    student = relationship("Student")
    batch = relationship("Batch")


class AbsenceAlert(Base):
    """The message to a family that a student was marked absent without notice: at most one per class; the family's
    "he was there" within hsm.classes.absence_alerts.REPLY_HOURS marks it disputed and the teacher is asked."""

    __tablename__ = "absence_alerts"
    __table_args__ = (
        UniqueConstraint("student_id", "batch_id", "class_date", name="uq_absence_alerts_student_batch_date"),
        Index("ix_absence_alerts_class_date_batch", "class_date", "batch_id"),
    )
    id = Column(Integer, primary_key=True)
    student_id = Column(ForeignKey("students.id", ondelete="CASCADE"), nullable=False)
    batch_id = Column(ForeignKey("batches.id"), nullable=False)
    class_date = Column(Date, nullable=False)
    starts_at = Column(DateTime(timezone=True), nullable=False)
    recipients = Column(Integer, nullable=False)  # how many phones it went to
    sent_at = Column(DateTime(timezone=True), nullable=False, default=_utcnow)
    disputed_at = Column(DateTime(timezone=True))
    disputed_by = Column(PHONE)
    dispute_text = Column(Text)
    student = relationship("Student")
    batch = relationship("Batch")
