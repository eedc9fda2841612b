"""Makeup classes: the credits classes missed with notice earn, and the seats booked with them in other batches."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, Date, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import relationship

from hsm.infra.models.base import Base, TimestampMixin, _in

CREDIT_STATUSES = ("open", "used")
BOOKING_STATUSES = ("booked", "cancelled")


class MakeupCredit(TimestampMixin, Base):
    """One class missed with notice in time (hsm.classes.makeups): usable until `expires_on` while open; one per
    missed class."""

    __tablename__ = "makeup_credits"
    __table_args__ = (
        UniqueConstraint("student_id", "batch_id", "class_date", name="uq_makeup_credits_student_batch_date"),
        CheckConstraint(_in("status", CREDIT_STATUSES), name="status_known"),
        CheckConstraint("expires_on >= class_date", name="expires_after_class"),
    )
    id = Column(Integer, primary_key=True)
    student_id = Column(ForeignKey("students.id", ondelete="CASCADE"), nullable=False, index=True)
    batch_id = Column(ForeignKey("batches.id"), nullable=False)  # the batch whose class was missed
    class_date = Column(Date, nullable=False)  # the missed class
    noticed_at = Column(DateTime(timezone=True), nullable=False)
    expires_on = Column(Date, nullable=False)  # the last day a makeup class may be taken
    status = Column(String(10), nullable=False, default="open")
    created_by = Column(String(60), nullable=False)
    student = relationship("Student")
    batch = relationship("Batch")


class MakeupBooking(TimestampMixin, Base):
    """A seat in another batch's class booked with a credit. `seat` (1 .. the class's free seats) is set only while
    booked: the unique (batch, day, seat) is what keeps two bookings from taking one seat, on any database."""

    __tablename__ = "makeup_bookings"
    __table_args__ = (
        UniqueConstraint("batch_id", "class_date", "seat", name="uq_makeup_bookings_batch_date_seat"),
        CheckConstraint(_in("status", BOOKING_STATUSES), name="status_known"),
        CheckConstraint("(status = 'booked') = (seat IS NOT NULL)", name="seat_while_booked"),
    )
    id = Column(Integer, primary_key=True)
    credit_id = Column(ForeignKey("makeup_credits.id", ondelete="CASCADE"), nullable=False, index=True)
    student_id = Column(ForeignKey("students.id", ondelete="CASCADE"), nullable=False, index=True)
    batch_id = Column(ForeignKey("batches.id"), nullable=False)  # the host batch
    class_date = Column(Date, nullable=False)
    seat = Column(Integer)
    status = Column(String(10), nullable=False, default="booked")
    created_by = Column(String(60), nullable=False)
    cancelled_at = Column(DateTime(timezone=True))
    credit = relationship("MakeupCredit")
    student = relationship("Student")
    batch = relationship("Batch")
