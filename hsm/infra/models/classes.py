"""Classes: batches and their weekly slots, enrollments, attendance, teachers' leave, and the office's closures."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship

from hsm.infra.models.base import Base, TimestampMixin, _in, _utcnow


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
    # an absence the family told us of beforehand (hsm.classes.absences): an informed absence
    absence_notice_id = Column(ForeignKey("absence_notices.id", ondelete="SET NULL"), index=True)
    student = relationship("Student")
    batch = relationship("Batch")


class TeacherLeave(TimestampMixin, Base):
    __tablename__ = "teacher_leaves"
    __table_args__ = (UniqueConstraint("teacher_id", "leave_date", name="uq_teacher_leaves_teacher_date"),)
    id = Column(Integer, primary_key=True)
    teacher_id = Column(ForeignKey("teachers.id", ondelete="CASCADE"), nullable=False)
    leave_date = Column(Date, nullable=False, index=True)
    reason = Column(Text)
    status = Column(String(20), nullable=False, default="approved")
    teacher = relationship("Teacher")


class Closure(Base):
    """Days the office closes (hsm.classes.closures): the whole school, or the batches in `closure_batches`.
    Cancelled (reopened) closures are kept; `scope_key` is set only while active, so the same dates and scope
    cannot be closed twice at once."""

    __tablename__ = "closures"
    __table_args__ = (
        CheckConstraint("end_date >= start_date", name="dates_in_order"),
        CheckConstraint("(cancelled_at IS NULL) = (cancelled_by IS NULL)", name="cancelled_with_who"),
        UniqueConstraint("start_date", "end_date", "scope_key", name="uq_closures_start_end_scope"),
        Index("ix_closures_end_start", "end_date", "start_date"),
    )
    id = Column(Integer, primary_key=True)
    reason = Column(String(200), nullable=False)
    start_date = Column(Date, nullable=False)
    end_date = Column(Date, nullable=False)
    whole_school = Column(Boolean, nullable=False, default=False)
    scope_key = Column(String(64))  # "school" or a digest of the batch ids while active; NULL once cancelled
    created_by = Column(String(60), nullable=False)  # "cli:<who>", "api:<sub>", "admin:ADM-1"
    created_at = Column(DateTime(timezone=True), nullable=False, default=_utcnow)
    cancelled_at = Column(DateTime(timezone=True))
    cancelled_by = Column(String(60))
    notified = Column(Boolean, nullable=False, default=False)  # families were told (by us, or the admin's broadcast)
    broadcast_id = Column(ForeignKey("broadcasts.id", ondelete="SET NULL"))  # the broadcast that told them
    batches = relationship("Batch", secondary="closure_batches", order_by="Batch.code")


class ClosureBatch(Base):
    __tablename__ = "closure_batches"
    closure_id = Column(ForeignKey("closures.id", ondelete="CASCADE"), primary_key=True)
    batch_id = Column(ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True, index=True)
