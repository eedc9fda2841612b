"""The office's view of people: lists with search and paging, and each person's card, as JSON-ready dicts.

Read by the admin API, `hsm people list|show` and the console. People who left are listed (with `active` false and
`status` "left") unless a filter asks otherwise: the office must still find them; what reaches people reads
`active` elsewhere.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from hsm.classes import schedule
from hsm.classes.enrollments import enrollment_view
from hsm.infra import clock
from hsm.infra import models as m
from hsm.money import billing
from hsm.people.lifecycle import kind_of
from hsm.records.changes import RecordError

ATTENDANCE_DAYS = 30  # the card's attendance summary looks this far back
RECENT_CLASSES = 5
SEARCH_MAX_CHARS = 100
_ORDER = {"student": "enrollment_id", "guardian": "name", "teacher": "employee_id", "admin": "admin_code"}
# What `person_summary` reads of each kind, loaded with the page (one query per relation, not one per person).
_SUMMARY_LOADS = {
    "student": (selectinload(m.Student.enrollments).selectinload(m.Enrollment.batch),),
    "guardian": (selectinload(m.Guardian.student_links).selectinload(m.StudentGuardian.student),),
    "teacher": (selectinload(m.Teacher.courses),),
}


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return clock.as_utc(value).isoformat() if hasattr(value, "tzinfo") else value.isoformat()


def status_of(person: Any) -> str:
    return "active" if person.active else "left"


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _digits(text: str) -> str:
    """The digits of a typed phone ("98450 00038" -> "9845000038"); empty when fewer than 4 (no phone search)."""
    digits = "".join(ch for ch in text[:SEARCH_MAX_CHARS] if ch.isascii() and ch.isdigit())
    return digits if len(digits) >= 4 else ""


def _search(model: Any, key: str, text: str) -> list:
    """Conditions any of which finds `text`: the name, the business key, or (4+ digits) a phone holding them."""
    words = " ".join(text.split())[:SEARCH_MAX_CHARS]
    found = [model.name.ilike(_like(words), escape="\\")]
    if key != "phone":
        found.append(getattr(model, key).ilike(_like(words), escape="\\"))
    if _digits(words):
        found.append(model.phone.like(_like(_digits(words)), escape="\\"))
    return found


def list_people(
    session: Session,
    kind: str,
    *,
    search: str | None = None,
    active: bool | None = None,
    batch: str | None = None,
    teacher_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[Any]]:
    """(how many match, one page of them) of one kind, in key order; `search` by name, key or phone (a student
    also by a guardian's phone), `active` True/False/None (everyone), `batch` (students enrolled in it),
    `teacher_id` (students enrolled in that teacher's batches: what a teacher may see)."""
    found_kind = kind_of(kind)
    model = found_kind.model
    query = select(model)
    if active is not None:
        query = query.where(model.active.is_(active))
    if search and search.strip():
        conditions = _search(model, found_kind.key, search)
        if found_kind.name == "student" and _digits(search):  # a parent's number finds their children
            by_guardian = (
                select(m.StudentGuardian.student_id)
                .join(m.Guardian, m.Guardian.id == m.StudentGuardian.guardian_id)
                .where(m.Guardian.phone.like(_like(_digits(search)), escape="\\"))
            )
            conditions.append(model.id.in_(by_guardian))
        query = query.where(or_(*conditions))
    if batch is not None:
        if found_kind.name != "student":
            raise RecordError("only students can be filtered by batch", "batch")
        found = session.execute(select(m.Batch.id).where(func.upper(m.Batch.code) == batch.strip().upper())).scalar()
        if found is None:
            raise RecordError(f"no batch with code {batch.strip()[:40]!r}", "batch", "unknown_batch")
        enrolled = select(m.Enrollment.student_id).where(m.Enrollment.batch_id == found, m.Enrollment.status != "ended")
        query = query.where(model.id.in_(enrolled))
    if teacher_id is not None:
        if found_kind.name != "student":
            raise RecordError("only students can be filtered by teacher", "teacher")
        query = query.where(model.id.in_(students_of_teacher(teacher_id)))
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    ordered = query.order_by(getattr(model, _ORDER[found_kind.name]), model.id).limit(limit).offset(offset)
    rows = session.execute(ordered.options(*_SUMMARY_LOADS.get(found_kind.name, ())))
    return total, list(rows.scalars())


def students_of_teacher(teacher_id: int):
    """A subquery of the ids of the students enrolled (not ended) in the teacher's batches."""
    return (
        select(m.Enrollment.student_id)
        .join(m.Batch, m.Batch.id == m.Enrollment.batch_id)
        .where(m.Batch.teacher_id == teacher_id, m.Enrollment.status != "ended")
    )


# ------------------------------------------------------------------------------------------------ views


def _common(person: Any) -> dict[str, Any]:
    return {
        "name": person.name,
        "phone": person.phone,
        "email": person.email,
        "active": bool(person.active),
        "status": status_of(person),
        "deactivated_at": _iso(person.deactivated_at),
    }


def teacher_ref(teacher: m.Teacher) -> dict[str, Any]:
    return {"employee_id": teacher.employee_id, "name": teacher.name, "display_name": teacher.display_name}


def person_summary(session: Session, person: Any) -> dict[str, Any]:
    """One row of a list: who, how to reach them, whether they left, and what they belong to."""
    if isinstance(person, m.Student):
        batches = sorted(e.batch.code for e in person.enrollments if e.status != "ended")
        return {"enrollment_id": person.enrollment_id, **_common(person), "dob": _iso(person.dob), "batches": batches}
    if isinstance(person, m.Guardian):
        children = sorted(link.student.enrollment_id for link in person.student_links)
        return {**_common(person), "children": children}
    if isinstance(person, m.Teacher):
        batches = session.execute(
            select(m.Batch.code).where(m.Batch.teacher_id == person.id, m.Batch.active.is_(True)).order_by(m.Batch.code)
        ).scalars()
        return {
            "employee_id": person.employee_id,
            "title": person.title,
            "display_name": person.display_name,
            **_common(person),
            "courses": [course.code for course in person.courses],
            "batches": list(batches),
        }
    return {"admin_code": person.admin_code, **_common(person)}


def person_card(session: Session, person: Any) -> dict[str, Any]:
    """Everything the office sees of one person: the summary, and for a student the full card."""
    if isinstance(person, m.Student):
        return student_card(session, person)
    view = person_summary(session, person)
    if isinstance(person, m.Guardian):
        view["children"] = [
            {
                "enrollment_id": link.student.enrollment_id,
                "name": link.student.name,
                "relation": link.relation,
                "active": bool(link.student.active),
            }
            for link in sorted(person.student_links, key=lambda link: link.student.enrollment_id)
        ]
    return view


def _attendance(session: Session, student: m.Student, today: date) -> dict[str, Any]:
    since = today - timedelta(days=ATTENDANCE_DAYS)
    records = list(
        session.execute(
            select(m.AttendanceRecord)
            .where(m.AttendanceRecord.student_id == student.id, m.AttendanceRecord.class_date >= since)
            .options(selectinload(m.AttendanceRecord.batch))
            .order_by(m.AttendanceRecord.class_date.desc(), m.AttendanceRecord.id.desc())
        ).scalars()
    )
    return {
        "since": since.isoformat(),
        "present": sum(1 for r in records if r.status == "present"),
        "absent": sum(1 for r in records if r.status == "absent"),
        "recent": [
            {"date": r.class_date.isoformat(), "batch": r.batch.code, "status": r.status, "makeup": bool(r.is_makeup)}
            for r in records[:RECENT_CLASSES]
        ],
    }


def _balance(session: Session, student: m.Student, today: date) -> dict[str, Any]:
    balances = [b for b in billing.balances(session, student.id, today) if b.status == "active"]
    dated = sorted((b for b in balances if b.next_due), key=lambda b: b.next_due or today)
    last = billing.last_payment(session, student.id)
    return {
        "classes_remaining": sum(b.classes_remaining for b in balances),
        "overdue": sum(b.fee for b in balances if b.overdue),
        "next_due": dated[0].next_due.isoformat() if dated and dated[0].next_due else None,
        "next_amount": dated[0].fee if dated else None,
        "last_payment": None
        if last is None
        else {"amount": last.amount, "paid_on": last.paid_on.isoformat(), "method": last.method},
    }


def student_card(session: Session, student: m.Student) -> dict[str, Any]:
    """The student card: contacts, guardians, each enrollment (batch, teacher or "no teacher", plan, classes left,
    next due, fee, status), the last 30 days' attendance, and the balance."""
    today = clock.today()
    view = person_summary(session, student)
    view["guardians"] = [
        {
            "name": link.guardian.name,
            "phone": link.guardian.phone,
            "email": link.guardian.email,
            "relation": link.relation,
            "active": bool(link.guardian.active),
        }
        for link in sorted(student.guardian_links, key=lambda link: link.guardian_id)
    ]
    view["enrollments"] = [enrollment_view(e, today) for e in student.enrollments]
    view["attendance"] = _attendance(session, student, today)
    view["balance"] = _balance(session, student, today)
    return view


def no_teacher_batches(session: Session, teacher: m.Teacher) -> list[str]:
    """The codes of this teacher's active batches, which show "no teacher" while they are inactive."""
    batches = session.execute(
        select(m.Batch).where(m.Batch.teacher_id == teacher.id, m.Batch.active.is_(True)).order_by(m.Batch.code)
    ).scalars()
    return [batch.code for batch in batches if schedule.teacher_on_duty(batch) is None]
