"""The school itself: its settings, FAQ answers, holidays, courses and their plans."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship

from hsm.infra.models.base import PHONE, Base, TimestampMixin


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
