"""The school's people: admins, teachers, students, guardians, and the codes that link a new number to a student."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import relationship

from hsm.infra.models.base import PHONE, WA_ADDRESS, Base, TimestampMixin, _utcnow


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
