"""Money: payments and the payment links we issued."""

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

from hsm.infra.models.base import Base, TimestampMixin, _utcnow


class Payment(TimestampMixin, Base):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_payments_student_paid_on", "student_id", "paid_on"),
    )
    id = Column(Integer, primary_key=True)
    student_id = Column(ForeignKey("students.id", ondelete="CASCADE"), nullable=False)
    course_id = Column(ForeignKey("courses.id"))
    enrollment_id = Column(ForeignKey("enrollments.id", ondelete="SET NULL"))
    amount = Column(Integer, nullable=False)  # whole rupees
    paid_on = Column(Date, nullable=False)
    method = Column(String(40))
    note = Column(Text)
    reference = Column(String(100), unique=True)  # provider payment id, "upi:<UTR>" at the desk, a key for imports
    # Recorded by the office or a paid link (hsm.money.payments.apply_payment): who, the receipt, what it changed.
    recorded_by = Column(String(60))  # the audit trail's actor: "cli:meera", "api:front-desk", "system:payment-webhook"
    receipt_number = Column(String(30), unique=True)  # "HSM-R-000123"
    classes_added = Column(Integer)
    due_before = Column(Date)  # the enrollment's next_due before this payment, and after it
    due_after = Column(Date)
    reversed_at = Column(DateTime(timezone=True))  # a reversed payment stays, marked (hsm.money.office_payments)
    reversed_by = Column(String(60))
    reversal_reason = Column(Text)
    student = relationship("Student")
    course = relationship("Course")
    enrollment = relationship("Enrollment")


class IssuedPaymentLink(Base):
    """A payment link we made (hsm.money.issued_links): a paid webhook is applied only when its link id, reference,
    amount, currency and due match one of these, and a link pays once (`payment_id`)."""

    __tablename__ = "payment_links"
    __table_args__ = (
        UniqueConstraint("provider", "link_id", name="uq_payment_links_provider_link_id"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )
    id = Column(Integer, primary_key=True)
    provider = Column(String(20), nullable=False)  # "razorpay", "local"
    link_id = Column(String(64), nullable=False)  # the provider's id, "plink_..."
    reference = Column(String(40), nullable=False)  # "HSM-24-001:KEY-BEG-MWF18:2026-12-20"
    amount = Column(Integer, nullable=False)  # whole rupees
    currency = Column(String(3), nullable=False)
    enrollment_id = Column(ForeignKey("enrollments.id", ondelete="SET NULL"), index=True)
    due_date = Column(Date)  # the enrollment's next_due this link pays
    payment_id = Column(ForeignKey("payments.id", ondelete="SET NULL"))  # set when it is paid
    created_at = Column(DateTime(timezone=True), nullable=False, default=_utcnow)
