"""The office's view of batches: each with its course, teacher (or "no teacher" once they left), weekly slots,
seats and roster of current students, as JSON-ready dicts (admin API, console)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from hsm.classes import schedule
from hsm.infra import models as m
from hsm.records.changes import NotFound

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def teacher_fields(batch: m.Batch) -> dict[str, Any]:
    """`teacher` (null once they left) and `teacher_status` ("assigned" or "no teacher") of a batch."""
    teacher = schedule.teacher_on_duty(batch)
    if teacher is None:
        return {"teacher": None, "teacher_status": schedule.NO_TEACHER}
    return {
        "teacher": {"employee_id": teacher.employee_id, "name": teacher.name, "display_name": teacher.display_name},
        "teacher_status": "assigned",
    }


def find_batch(session: Session, code: str) -> m.Batch:
    """The batch with this code (case ignored); NotFound otherwise."""
    wanted = str(code or "").strip().upper()
    batch = session.execute(select(m.Batch).where(func.upper(m.Batch.code) == wanted)).scalar_one_or_none()
    if batch is None:
        raise NotFound(f"no batch with code {wanted[:40]!r}", "code")
    return batch


def _current(session: Session, batch_ids: list[int]) -> dict[int, int]:
    """Seats taken per batch: active enrollments of students who have not left."""
    if not batch_ids:
        return {}
    rows = session.execute(
        select(m.Enrollment.batch_id, func.count(m.Enrollment.id))
        .join(m.Student, m.Student.id == m.Enrollment.student_id)
        .where(m.Enrollment.batch_id.in_(batch_ids), m.Enrollment.status == "active", m.Student.active.is_(True))
        .group_by(m.Enrollment.batch_id)
    ).all()
    return {batch_id: count for batch_id, count in rows}


def batch_view(batch: m.Batch, enrolled: int) -> dict[str, Any]:
    return {
        "code": batch.code,
        "name": batch.name,
        "course": {"code": batch.course.code, "name": batch.course.name},
        "level": batch.level,
        "room": batch.room,
        "capacity": batch.capacity,
        "active": bool(batch.active),
        **teacher_fields(batch),
        "slots": [
            {"weekday": WEEKDAYS[s.weekday], "start": s.start_time.strftime("%H:%M"), "duration_min": s.duration_min}
            for s in sorted(batch.slots, key=lambda s: (s.weekday, s.start_time))
        ],
        "enrolled": enrolled,
        "free_seats": max(0, batch.capacity - enrolled),
    }


def list_batches(
    session: Session,
    *,
    course: str | None = None,
    teacher: str | None = None,
    no_teacher: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    """(how many match, one page of batch views) in code order; by course code, teacher's employee ID, or whether
    the batch has no teacher (its teacher left)."""
    query = select(m.Batch).join(m.Teacher, m.Teacher.id == m.Batch.teacher_id)
    if course:
        query = query.join(m.Course, m.Course.id == m.Batch.course_id).where(
            func.upper(m.Course.code) == course.strip().upper()
        )
    if teacher:
        query = query.where(func.upper(m.Teacher.employee_id) == teacher.strip().upper())
    if no_teacher is not None:
        query = query.where(m.Teacher.active.is_(not no_teacher))
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    batches = list(
        session.execute(
            query.options(selectinload(m.Batch.slots), selectinload(m.Batch.course), selectinload(m.Batch.teacher))
            .order_by(m.Batch.code)
            .limit(limit)
            .offset(offset)
        ).scalars()
    )
    taken = _current(session, [b.id for b in batches])
    return total, [batch_view(b, taken.get(b.id, 0)) for b in batches]


def batch_card(session: Session, code: str) -> dict[str, Any]:
    """One batch with its roster: the students actively enrolled who have not left, by name."""
    batch = find_batch(session, code)
    roster = schedule.batch_roster(session, batch.id)
    enrollments = {
        e.student_id: e
        for e in session.execute(
            select(m.Enrollment).where(m.Enrollment.batch_id == batch.id, m.Enrollment.status == "active")
        ).scalars()
    }
    view = batch_view(batch, len(roster))
    view["roster"] = [
        {
            "enrollment_id": student.enrollment_id,
            "name": student.name,
            "enrollment": enrollments[student.id].id,
            "plan": enrollments[student.id].plan,
            "classes_remaining": enrollments[student.id].classes_remaining,
            "next_due": enrollments[student.id].next_due.isoformat() if enrollments[student.id].next_due else None,
        }
        for student in roster
    ]
    return view
