"""SQLAlchemy models: the school's core tables and the seed design's `whatsapp_*` / `attendance_drafts` tables.

Integer surrogate keys everywhere (portable between SQLite and PostgreSQL); business keys (`enrollment_id`,
`employee_id`, course and batch `code`, WhatsApp message id) are unique columns. Timestamps are stored in UTC.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import registry, relationship
from sqlalchemy.orm.decl_api import DeclarativeMeta

from hsm.infra import clock

# Stable constraint names, so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

mapper_registry = registry(metadata=MetaData(naming_convention=NAMING_CONVENTION))


class Base(metaclass=DeclarativeMeta):
    """The declarative base, spelled out (SQLAlchemy 1.4's mypy-friendly form of `declarative_base()`)."""

    __abstract__ = True
    registry = mapper_registry
    metadata = mapper_registry.metadata
    __init__ = mapper_registry.constructor


PHONE = String(16)  # E.164: "+" and at most 15 digits
# A WhatsApp address: E.164, or Meta's business-scoped user id ("US.1349...") for users who hide their number.
WA_ADDRESS = String(140)
ROLES = ("admin", "teacher", "student", "guardian", "prospect")


def _utcnow():
    # The school's clock, so that HSM_NOW also freezes stored timestamps (24-hour window, session expiry).
    return clock.utcnow()


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class TimestampMixin:
    created_at = Column(DateTime(timezone=True), nullable=False, default=_utcnow)
    updated_at = Column(DateTime(timezone=True), nullable=False, default=_utcnow, onupdate=_utcnow)


# --------------------------------------------------------------------------------------------- school


class School(TimestampMixin, Base):
    """The school's settings (one row)."""

    __tablename__ = "school"
    id = Column(Integer, primary_key=True)
    name = Column(String(200), nullable=False)
    short_name = Column(String(40))
    timezone = Column(String(64), nullable=False, default="Asia/Kolkata")
    currency = Column(String(3), nullable=False, default="INR")
    phone = Column(PHONE)
    email = Column(String(200))
    address = Column(Text)
    hours = Column(String(200))
    payment_link_base = Column(String(500))


class Faq(TimestampMixin, Base):
    __tablename__ = "faqs"
    id = Column(Integer, primary_key=True)
    topic = Column(String(64), nullable=False, unique=True)
    answer = Column(Text, nullable=False)


class Holiday(TimestampMixin, Base):
    __tablename__ = "holidays"
    id = Column(Integer, primary_key=True)
    holiday_date = Column(Date, nullable=False, unique=True)
    name = Column(String(200), nullable=False)


class Course(TimestampMixin, Base):
    __tablename__ = "courses"
    id = Column(Integer, primary_key=True)
    code = Column(String(40), nullable=False, unique=True)
    name = Column(String(200), nullable=False)
    min_age = Column(Integer)
    aliases = Column(JSON, nullable=False, default=list)
    plans = relationship("CoursePlan", back_populates="course", order_by="CoursePlan.classes")


class CoursePlan(TimestampMixin, Base):
    __tablename__ = "course_plans"
    __table_args__ = (
        UniqueConstraint("course_id", "plan", name="uq_course_plans_course_plan"),
        CheckConstraint("fee >= 0", name="fee_not_negative"),
        CheckConstraint("classes > 0", name="classes_positive"),
    )
    id = Column(Integer, primary_key=True)
    course_id = Column(ForeignKey("courses.id", ondelete="CASCADE"), nullable=False)
    plan = Column(String(20), nullable=False)
    fee = Column(Integer, nullable=False)  # whole rupees
    classes = Column(Integer, nullable=False)
    course = relationship("Course", back_populates="plans")


# --------------------------------------------------------------------------------------------- people


class Admin(TimestampMixin, Base):
    __tablename__ = "admins"
    id = Column(Integer, primary_key=True)
    admin_code = Column(String(20), nullable=False, unique=True)
    name = Column(String(200), nullable=False)
    phone = Column(PHONE, unique=True)
    email = Column(String(200))
    active = Column(Boolean, nullable=False, default=True)
    deactivated_at = Column(DateTime(timezone=True))  # when they left (hsm.people.lifecycle); nothing is deleted


class Teacher(TimestampMixin, Base):
    __tablename__ = "teachers"
    id = Column(Integer, primary_key=True)
    employee_id = Column(String(20), nullable=False, unique=True)
    name = Column(String(200), nullable=False)
    title = Column(String(10))
    phone = Column(PHONE, unique=True)
    email = Column(String(200))
    active = Column(Boolean, nullable=False, default=True)
    deactivated_at = Column(DateTime(timezone=True))  # when they left (hsm.people.lifecycle); nothing is deleted
    courses = relationship("Course", secondary="teacher_courses", order_by="Course.code")

    @property
    def display_name(self) -> str:
        """'Mr. Rahul' as students call their teacher."""
        first = self.name.split()[0]
        return f"{self.title} {first}" if self.title else first


class TeacherCourse(Base):
    __tablename__ = "teacher_courses"
    teacher_id = Column(ForeignKey("teachers.id", ondelete="CASCADE"), primary_key=True)
    course_id = Column(ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True)


class Student(TimestampMixin, Base):
    __tablename__ = "students"
    id = Column(Integer, primary_key=True)
    enrollment_id = Column(String(20), nullable=False, unique=True)
    name = Column(String(200), nullable=False)
    dob = Column(Date)
    phone = Column(PHONE, index=True)
    email = Column(String(200))
    active = Column(Boolean, nullable=False, default=True)
    deactivated_at = Column(DateTime(timezone=True))
    enrollments = relationship("Enrollment", back_populates="student", order_by="Enrollment.id")
    guardian_links = relationship("StudentGuardian", back_populates="student")


class Guardian(TimestampMixin, Base):
    __tablename__ = "guardians"
    id = Column(Integer, primary_key=True)
    name = Column(String(200), nullable=False)
    phone = Column(PHONE, nullable=False, unique=True)
    email = Column(String(200))
    active = Column(Boolean, nullable=False, default=True)
    deactivated_at = Column(DateTime(timezone=True))
    student_links = relationship("StudentGuardian", back_populates="guardian")


class StudentGuardian(Base):
    __tablename__ = "student_guardians"
    student_id = Column(ForeignKey("students.id", ondelete="CASCADE"), primary_key=True)
    guardian_id = Column(ForeignKey("guardians.id", ondelete="CASCADE"), primary_key=True)
    relation = Column(String(40))
    student = relationship("Student", back_populates="guardian_links")
    guardian = relationship("Guardian", back_populates="student_links")


# --------------------------------------------------------------------------------------------- classes


class Batch(TimestampMixin, Base):
    __tablename__ = "batches"
    __table_args__ = (CheckConstraint("capacity > 0", name="capacity_positive"),)
    id = Column(Integer, primary_key=True)
    code = Column(String(40), nullable=False, unique=True)
    name = Column(String(200), nullable=False)
    course_id = Column(ForeignKey("courses.id"), nullable=False, index=True)
    level = Column(String(40))
    teacher_id = Column(ForeignKey("teachers.id"), nullable=False, index=True)
    room = Column(String(100))
    capacity = Column(Integer, nullable=False)
    active = Column(Boolean, nullable=False, default=True)
    course = relationship("Course")
    teacher = relationship("Teacher")
    slots = relationship("BatchSlot", back_populates="batch", order_by="BatchSlot.weekday")
    enrollments = relationship("Enrollment", back_populates="batch")


class BatchSlot(TimestampMixin, Base):
    """One weekly meeting of a batch: weekday 0 = Monday."""

    __tablename__ = "batch_slots"
    __table_args__ = (
        UniqueConstraint("batch_id", "weekday", "start_time", name="uq_batch_slots_batch_weekday_start"),
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("duration_min > 0", name="duration_positive"),
    )
    id = Column(Integer, primary_key=True)
    batch_id = Column(ForeignKey("batches.id", ondelete="CASCADE"), nullable=False)
    weekday = Column(Integer, nullable=False)
    start_time = Column(Time, nullable=False)
    duration_min = Column(Integer, nullable=False)
    batch = relationship("Batch", back_populates="slots")


ENROLLMENT_STATUSES = ("active", "paused", "ended")
PLANS = ("monthly", "quarterly")


class Enrollment(TimestampMixin, Base):
    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("student_id", "batch_id", name="uq_enrollments_student_batch"),
        CheckConstraint(_in("status", ENROLLMENT_STATUSES), name="status_known"),
        CheckConstraint(_in("plan", PLANS), name="plan_known"),
        CheckConstraint("classes_remaining >= 0", name="classes_remaining_not_negative"),
        CheckConstraint("fee >= 0", name="fee_not_negative"),
    )
    id = Column(Integer, primary_key=True)
    student_id = Column(ForeignKey("students.id", ondelete="CASCADE"), nullable=False, index=True)
    batch_id = Column(ForeignKey("batches.id"), nullable=False, index=True)
    plan = Column(String(20), nullable=False)
    classes_remaining = Column(Integer, nullable=False, default=0)
    fee = Column(Integer, nullable=False)  # whole rupees per plan period
    next_due = Column(Date, index=True)
    status = Column(String(20), nullable=False, default="active")
    student = relationship("Student", back_populates="enrollments")
    batch = relationship("Batch", back_populates="enrollments")


ATTENDANCE_STATUSES = ("present", "absent")


class AttendanceRecord(TimestampMixin, Base):
    __tablename__ = "attendance_records"
    __table_args__ = (
        UniqueConstraint("student_id", "batch_id", "class_date", name="uq_attendance_records_student_batch_date"),
        CheckConstraint(_in("status", ATTENDANCE_STATUSES), name="status_known"),
        Index("ix_attendance_records_batch_date", "batch_id", "class_date"),
    )
    id = Column(Integer, primary_key=True)
    student_id = Column(ForeignKey("students.id", ondelete="CASCADE"), nullable=False)
    batch_id = Column(ForeignKey("batches.id"), nullable=False)
    class_date = Column(Date, nullable=False)
    status = Column(String(10), nullable=False)
    is_makeup = Column(Boolean, nullable=False, default=False)
    marked_by = Column(String(40))  # teacher employee_id, admin code, or "import"
    source = Column(String(20), nullable=False, default="whatsapp")
    student = relationship("Student")
    batch = relationship("Batch")


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


LEAD_STATUSES = ("new", "contacted", "enrolled", "closed")


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
    course = relationship("Course")


class TeacherLeave(TimestampMixin, Base):
    __tablename__ = "teacher_leaves"
    __table_args__ = (UniqueConstraint("teacher_id", "leave_date", name="uq_teacher_leaves_teacher_date"),)
    id = Column(Integer, primary_key=True)
    teacher_id = Column(ForeignKey("teachers.id", ondelete="CASCADE"), nullable=False)
    leave_date = Column(Date, nullable=False, index=True)
    reason = Column(Text)
    status = Column(String(20), nullable=False, default="approved")
    teacher = relationship("Teacher")


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)
    id = Column(Integer, primary_key=True)
    actor = Column(String(60), nullable=False)  # "teacher:T-101", "admin:ADM-1", "system:import"
    action = Column(String(60), nullable=False)
    entity = Column(String(60), nullable=False)
    entity_id = Column(String(60))
    before = Column(JSON)
    after = Column(JSON)
    created_at = Column(DateTime(timezone=True), nullable=False, default=_utcnow, index=True)


# --------------------------------------------------------------------------------------------- whatsapp (seed SQL)

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


# --------------------------------------------------------------------------------------------- identity linking


class LinkCode(Base):
    """A one-time code mailed to a student's address on file, to link an unknown WhatsApp number to them."""

    __tablename__ = "identity_link_codes"
    __table_args__ = (Index("ix_identity_link_codes_phone_created", "phone_number", "created_at"),)
    id = Column(Integer, primary_key=True)
    phone_number = Column(WA_ADDRESS, nullable=False)
    student_id = Column(ForeignKey("students.id", ondelete="CASCADE"), nullable=False)
    relation = Column(String(40))  # "mother", "father", "guardian", "self"
    code_hash = Column(String(128), nullable=False)  # never the code itself
    expires_at = Column(DateTime(timezone=True), nullable=False)
    attempts = Column(Integer, nullable=False, default=0)
    used_at = Column(DateTime(timezone=True))
    created_at = Column(DateTime(timezone=True), nullable=False, default=_utcnow)


# --------------------------------------------------------------------------------------------- broadcasts, reminders

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


# --------------------------------------------------------------------------------------------- admin API tokens


class AdminTokenRevocation(Base):
    """Every admin API token of `subject` issued before `revoked_before` is refused (`hsm tokens revoke`, POST
    /api/admin/tokens/revoke). One row per revocation: the latest counts, the others are its history."""

    __tablename__ = "admin_token_revocations"
    id = Column(Integer, primary_key=True)
    subject = Column(String(255), nullable=False, index=True)  # the tokens' `sub`
    revoked_before = Column(DateTime(timezone=True), nullable=False)  # the real clock (tokens' iat is), not HSM_NOW
    revoked_by = Column(String(60), nullable=False)  # "api:<sub>", "cli:<name>"
    created_at = Column(DateTime(timezone=True), nullable=False, default=_utcnow)
