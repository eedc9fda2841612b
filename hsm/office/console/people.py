"""People: the student card's contents as a user may see them (a teacher: only their batches, no money)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from hsm.classes import past_class
from hsm.infra import clock
from hsm.infra import models as m
from hsm.office.console.sessions import ConsoleUser
from hsm.people import directory

ATTENDANCE_DAYS = 30
RECENT_CLASSES = 10


def own_batch_codes(session: Session, user: ConsoleUser) -> set[str] | None:
    """The codes of a teacher's batches; None for staff and admins (every batch)."""
    if not user.is_teacher:
        return None
    return set(session.execute(select(m.Batch.code).where(m.Batch.teacher_id == user.teacher_id)).scalars())


def _find_student(session: Session, user: ConsoleUser, enrollment_id: str) -> m.Student | None:
    query = select(m.Student).where(func.upper(m.Student.enrollment_id) == enrollment_id.strip().upper()[:40])
    if user.is_teacher:
        query = query.where(m.Student.id.in_(directory.students_of_teacher(user.teacher_id or 0)))
    return session.execute(query).scalar_one_or_none()


def _attendance(session: Session, student: m.Student, own: set[str] | None, today: date) -> dict[str, Any]:
    since = today - timedelta(days=ATTENDANCE_DAYS)
    query = (
        select(m.AttendanceRecord)
        .join(m.Batch, m.Batch.id == m.AttendanceRecord.batch_id)
        .where(m.AttendanceRecord.student_id == student.id, m.AttendanceRecord.class_date >= since)
        .options(selectinload(m.AttendanceRecord.batch))
        .order_by(m.AttendanceRecord.class_date.desc(), m.AttendanceRecord.id.desc())
    )
    if own is not None:
        query = query.where(m.Batch.code.in_(own))
    records = list(session.execute(query).scalars())
    return {
        "since": since,
        "present": sum(1 for r in records if r.status == "present"),
        "absent": sum(1 for r in records if r.status == "absent"),
        "recent": [
            {
                "date": r.class_date,
                "batch": r.batch.name,
                "status": r.status,
                "makeup": bool(r.is_makeup),
                "late": r.source == past_class.LATE_SOURCE,  # a teacher marked it after the class's day
            }
            for r in records[:RECENT_CLASSES]
        ],
    }


def card(session: Session, user: ConsoleUser, enrollment_id: str) -> dict[str, Any] | None:
    """The student card as `user` may see it (a teacher: only their batches' enrollments and attendance, no
    money); None when there is no such student or it is not theirs to see."""
    student = _find_student(session, user, enrollment_id)
    if student is None:
        return None
    own = own_batch_codes(session, user)
    view = directory.student_card(session, student)
    view["enrollments"] = [e for e in view["enrollments"] if own is None or e["batch"]["code"] in own]
    view["batches"] = [code for code in view["batches"] if own is None or code in own]
    view["attendance"] = _attendance(session, student, own, clock.today())
    if own is not None:
        view["balance"] = None
    return view
