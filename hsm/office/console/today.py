"""The Today page: the school's day in its time zone (classes and attendance, closures, leave, fees, new leads,
conversations waiting for a human)."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from hsm.classes import closures, schedule
from hsm.classes.teacher_day import roster_sizes
from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.office import conversations
from hsm.office.console.guard import page
from hsm.office.console.render import USER, html
from hsm.office.console.sessions import ConsoleUser

FIRST_FEW = 5  # rows shown of each list (with how many there are in all)
SOURCES = {"whatsapp": "WhatsApp", "console": "the console", "import": "the import", "api": "the API"}
STATUS_WORDS = {
    schedule.SCHEDULED: "",
    schedule.HOLIDAY: "Holiday",
    schedule.CLOSED: "Closed",
    schedule.TEACHER_ON_LEAVE: "Cancelled: teacher on leave",
}


def _batches(session: Session, user: ConsoleUser) -> list[m.Batch]:
    query = (
        select(m.Batch)
        .where(m.Batch.active.is_(True))
        .options(selectinload(m.Batch.slots), selectinload(m.Batch.course), selectinload(m.Batch.teacher))
        .order_by(m.Batch.code)
    )
    if user.is_teacher:
        query = query.where(m.Batch.teacher_id == user.teacher_id)
    return list(session.execute(query).scalars())


def _attendance(session: Session, batch_ids: list[int], day: date) -> dict[int, dict[str, Any]]:
    """Per batch, what was saved for `day`: how many present and absent, by which sources and whom."""
    saved: dict[int, dict[str, Any]] = {}
    if not batch_ids:
        return saved
    rows = session.execute(
        select(
            m.AttendanceRecord.batch_id,
            m.AttendanceRecord.status,
            m.AttendanceRecord.source,
            m.AttendanceRecord.marked_by,
            func.count(),
        )
        .where(m.AttendanceRecord.batch_id.in_(batch_ids), m.AttendanceRecord.class_date == day)
        .group_by(
            m.AttendanceRecord.batch_id,
            m.AttendanceRecord.status,
            m.AttendanceRecord.source,
            m.AttendanceRecord.marked_by,
        )
    )
    for batch_id, status, source, marked_by, count in rows:
        entry = saved.setdefault(batch_id, {"present": 0, "absent": 0, "sources": set(), "by": set()})
        entry["present" if status == "present" else "absent"] += count
        entry["sources"].add(SOURCES.get(source, source))
        if marked_by:
            entry["by"].add(marked_by)
    for entry in saved.values():
        entry["sources"] = sorted(entry["sources"])
        entry["by"] = sorted(entry["by"])
    return saved


def classes_today(session: Session, user: ConsoleUser, day: date) -> list[dict[str, Any]]:
    batches = _batches(session, user)
    meetings = schedule.meetings_between(session, batches, day, day)
    sizes = roster_sizes(session, meetings)
    saved = _attendance(session, [meeting.batch.id for meeting in meetings], day)
    now = clock.now()
    return [
        {
            "code": meeting.batch.code,
            "name": meeting.batch.name,
            "room": meeting.batch.room,
            "teacher": schedule.teacher_label(meeting.batch),
            "has_teacher": schedule.teacher_on_duty(meeting.batch) is not None,
            "starts_at": meeting.starts_at,
            "ends_at": meeting.ends_at,
            "held": meeting.held,
            "status": STATUS_WORDS.get(meeting.status, meeting.status.capitalize()),
            "note": meeting.closed.labelled if meeting.closed is not None else meeting.note,
            "students": sizes.get(meeting.batch.id, 0),
            "saved": saved.get(meeting.batch.id),
            "started": meeting.starts_at <= now,
        }
        for meeting in meetings
    ]


def closures_today(session: Session, user: ConsoleUser, day: date, batch_ids: set[int]) -> list[dict[str, Any]]:
    """The holiday and the office's closures covering `day` (for a teacher: those reaching their batches)."""
    found: list[dict[str, Any]] = []
    holiday = session.execute(select(m.Holiday).where(m.Holiday.holiday_date == day)).scalar_one_or_none()
    if holiday is not None:
        found.append({"what": "Holiday", "reason": holiday.name, "scope": "whole school", "until": day})
    rows = session.execute(
        select(m.Closure)
        .where(m.Closure.start_date <= day, m.Closure.end_date >= day, m.Closure.cancelled_at.is_(None))
        .options(selectinload(m.Closure.batches))
        .order_by(m.Closure.start_date, m.Closure.id)
    ).scalars()
    for closure in rows:
        if user.is_teacher and not closure.whole_school and not {b.id for b in closure.batches} & batch_ids:
            continue
        found.append(
            {
                "what": "School closed" if closure.whole_school else "Classes cancelled",
                "reason": closure.reason,
                "scope": closures.scope_text(closure),
                "until": closure.end_date,
            }
        )
    return found


def leave_today(session: Session, user: ConsoleUser, day: date) -> list[dict[str, Any]]:
    query = (
        select(m.TeacherLeave, m.Teacher)
        .join(m.Teacher, m.Teacher.id == m.TeacherLeave.teacher_id)
        .where(m.TeacherLeave.leave_date == day, m.TeacherLeave.status != "withdrawn")
        .order_by(m.Teacher.name)
    )
    if user.is_teacher:
        query = query.where(m.TeacherLeave.teacher_id == user.teacher_id)
    return [
        {"teacher": teacher.display_name, "employee_id": teacher.employee_id, "reason": leave.reason}
        for leave, teacher in session.execute(query)
    ]


def _fees(session: Session, condition: Any) -> dict[str, Any]:
    query = (
        select(m.Enrollment, m.Student, m.Batch)
        .join(m.Student, m.Student.id == m.Enrollment.student_id)
        .join(m.Batch, m.Batch.id == m.Enrollment.batch_id)
        .where(m.Enrollment.status == "active", m.Student.active.is_(True), condition)
    )
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(query.order_by(m.Enrollment.next_due, m.Student.enrollment_id).limit(FIRST_FEW))
    return {
        "total": total,
        "rows": [
            {
                "enrollment_id": student.enrollment_id,
                "name": student.name,
                "batch": batch.name,
                "fee": enrollment.fee,
                "due": enrollment.next_due,
            }
            for enrollment, student, batch in rows
        ],
    }


def new_leads(session: Session) -> dict[str, Any]:
    query = select(m.Lead).where(m.Lead.status == "new")
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(
        query.options(selectinload(m.Lead.course)).order_by(m.Lead.created_at.desc(), m.Lead.id.desc()).limit(FIRST_FEW)
    ).scalars()
    return {
        "total": total,
        "rows": [
            {
                "name": lead.name or "(no name yet)",
                "phone": lead.phone,
                "course": lead.course.name if lead.course is not None else None,
                "created_at": lead.created_at,
            }
            for lead in rows
        ],
    }


def today_view(session: Session, user: ConsoleUser) -> dict[str, Any]:
    """Everything the Today page shows `user`: a teacher sees their own batches and leave, and no fees or leads."""
    day = clock.today()
    classes = classes_today(session, user, day)
    batch_ids = {batch.id for batch in _batches(session, user)} if user.is_teacher else set()
    view: dict[str, Any] = {
        "day": day,
        "now": clock.now(),
        "classes": classes,
        "closures": closures_today(session, user, day, batch_ids),
        "leave": leave_today(session, user, day),
        "due_today": None,
        "overdue": None,
        "leads": None,
        "waiting": None,
    }
    if not user.is_teacher:
        view["waiting"] = conversations.waiting(session, FIRST_FEW)
        view["due_today"] = _fees(session, m.Enrollment.next_due == day)
        view["overdue"] = _fees(session, m.Enrollment.next_due < day)
        view["leads"] = new_leads(session)
    return view


def _load(user: ConsoleUser) -> dict[str, Any]:
    with session_scope() as session:
        return today_view(session, user)


@page
async def get_today(request: web.Request) -> web.StreamResponse:
    view = await asyncio.to_thread(_load, request[USER])
    return html(request, "today.html", title="Today", **view)
