"""People: the student search (name, phone, enrollment id; paginated) and the student card's contents."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from hsm.classes import past_class
from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.office.console.guard import page
from hsm.office.console.render import USER, html
from hsm.office.console.sessions import ConsoleUser
from hsm.people import directory

PAGE_SIZE = 20
MAX_PAGE = 10_000
MAX_QUERY_CHARS = 100
ATTENDANCE_DAYS = 30
RECENT_CLASSES = 10


def _page_number(text: str | None) -> int:
    try:
        number = int(text or "1")
    except ValueError:
        return 1
    return min(max(number, 1), MAX_PAGE)


def own_batch_codes(session: Session, user: ConsoleUser) -> set[str] | None:
    """The codes of a teacher's batches; None for staff and admins (every batch)."""
    if not user.is_teacher:
        return None
    return set(session.execute(select(m.Batch.code).where(m.Batch.teacher_id == user.teacher_id)).scalars())


def search(session: Session, user: ConsoleUser, text: str, page_number: int) -> dict[str, Any]:
    """One page of the students matching `text` (everyone when empty) that `user` may see; a page past the last
    shows the last."""

    def one_page(number: int) -> tuple[int, list[Any]]:
        return directory.list_people(
            session,
            "student",
            search=text or None,
            teacher_id=user.teacher_id if user.is_teacher else None,
            limit=PAGE_SIZE,
            offset=(number - 1) * PAGE_SIZE,
        )

    total, students = one_page(page_number)
    if not students and total and page_number > 1:
        page_number = -(-total // PAGE_SIZE)
        total, students = one_page(page_number)
    own = own_batch_codes(session, user)
    rows = []
    for student in students:
        summary = directory.person_summary(session, student)
        batches = [code for code in summary["batches"] if own is None or code in own]
        rows.append({**summary, "batches": batches})
    pages = max(1, -(-total // PAGE_SIZE))
    return {"total": total, "rows": rows, "page": page_number, "pages": pages}


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


def _search(user: ConsoleUser, text: str, page_number: int) -> dict[str, Any]:
    with session_scope() as session:
        return search(session, user, text, page_number)


@page
async def get_people(request: web.Request) -> web.StreamResponse:
    text = " ".join(request.query.get("q", "").split())[:MAX_QUERY_CHARS]
    found = await asyncio.to_thread(_search, request[USER], text, _page_number(request.query.get("page")))
    return html(request, "people.html", title="People", q=text, **found)
