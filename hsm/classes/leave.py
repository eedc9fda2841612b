"""Teacher leave (UC-3): which classes a day's leave cancels, recording it once, and whom to tell.

`plan_leave` is the read-only preview ("you have 2 classes that day, shall I cancel them?"); `record_leave` writes
the leave (idempotent on teacher + date), an audit row, and returns the WhatsApp notices to send: one per active
admin, and one per affected student family (the student's own phone, else each guardian; one message per phone
even when it covers several children or classes). Sending is the caller's job; nothing here talks to WhatsApp.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hsm.classes import schedule
from hsm.classes.dates import day_label, parse_date, short_day_label, time_label
from hsm.classes.schedule import ClassMeeting
from hsm.classes.teacher_day import roster_sizes, students_label
from hsm.infra import clock
from hsm.infra import models as m
from hsm.outreach.notices import Notice, office_admins
from hsm.records.changes import record_change

MAX_DAYS_AHEAD = 90
MAX_REASON_CHARS = 500
APPROVED = "approved"
WITHDRAWN = "withdrawn"  # a withdrawn leave no longer cancels classes (see schedule._leaves)
CLASS_CANCELLED_TEMPLATE = "class_cancelled"  # {{1}} recipient, {{2}} student, {{3}} class, {{4}} day, {{5}} time
TEACHER_LEAVE_TEMPLATE = "teacher_leave"  # {{1}} teacher, {{2}} employee id, {{3}} day, {{4}} reason, {{5}} classes


class LeaveError(ValueError):
    """The leave cannot be recorded; the message is written for the teacher to read."""


@dataclass(frozen=True)
class LeavePlan:
    teacher_id: int
    leave_date: date
    reason: str | None
    affected: list[ClassMeeting]  # the teacher's classes that day that would have been held (not holidays)
    already_on_leave: bool
    closed: list[ClassMeeting] = field(default_factory=list)  # classes already cancelled: a holiday, a closure


# ----------------------------------------------------------------------------------------------- planning


def _teacher(session: Session, teacher_id: int) -> m.Teacher:
    teacher = session.get(m.Teacher, teacher_id)
    if teacher is None or not teacher.active:
        raise LeaveError("I couldn't find your teacher record, so I can't record leave. Please contact the office.")
    return teacher


def _as_date(value: date) -> date:
    if isinstance(value, datetime):
        return value.astimezone(clock.school_timezone()).date() if value.tzinfo else value.date()
    return value


def check_leave_date(leave_date: date, today: date) -> None:
    """Refuse days already gone and days more than MAX_DAYS_AHEAD ahead (LeaveError, readable by a teacher)."""
    if leave_date < today:
        raise LeaveError(
            f"{short_day_label(leave_date)} has already passed, so I can't record leave for it. "
            "Please tell me a day from today onwards."
        )
    last = today + timedelta(days=MAX_DAYS_AHEAD)
    if leave_date > last:
        raise LeaveError(
            f"I can record leave up to {MAX_DAYS_AHEAD} days ahead (until {short_day_label(last)}). "
            "For leave further ahead, please contact the office."
        )


def date_problem(leave_date: date, today: date) -> str | None:
    """Why leave cannot be taken that day, in the teacher's words; None when it can."""
    try:
        check_leave_date(leave_date, today)
    except LeaveError as error:
        return str(error)
    return None


# Words that introduce a reason, and reasons people give without one ("can't come on Friday, fever").
_REASON_LEAD = re.compile(
    r"(?:,|;| - | because | due to | bcoz | bcz | coz | as i(?:'m| am) )\s*(?P<reason>.+)$", re.IGNORECASE
)
_REASON_WORDS = re.compile(
    r"\b(fever|sick|unwell|ill|doctor|hospital|wedding|marriage|function|funeral|"
    r"emergency|travel(?:l?ing)?|out of (?:town|station)|exam|family \w+)\b",
    re.IGNORECASE,
)


_NOT_A_REASON = re.compile(
    r"\b(leave|please|pls|plz|sir|madam|ma'am|mam|today|tomorrow|tmrw|i|am|i'm|on|"
    r"will|be|can't|cant|cannot|come|coming|take|taking|class|classes|no|off|day|a)\b",
    re.IGNORECASE,
)


def _meaningful(reason: str) -> bool:
    """Something more than leave words and a date ("leave please", "tomorrow" are not reasons)."""
    if parse_date(reason, clock.today()) is not None and len(reason.split()) <= 2:
        return False
    return bool(_NOT_A_REASON.sub(" ", reason).strip(" .,!?-"))


def reason_in(text: str) -> str | None:
    """The reason given in a leave message, if any: what follows a comma or "because", or a known reason word."""
    text = " ".join(str(text or "").split())
    lead = _REASON_LEAD.search(text)
    if lead and _meaningful(lead.group("reason")):
        return _clean_reason(lead.group("reason").strip(" .!"))
    word = _REASON_WORDS.search(text)
    return _clean_reason(word.group(0)) if word else None


def employee_id(session: Session, teacher_id: int) -> str:
    return _teacher(session, teacher_id).employee_id


def _clean_reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    cleaned = " ".join(str(reason).split())[:MAX_REASON_CHARS]
    return cleaned or None


def _leave_row(session: Session, teacher_id: int, leave_date: date) -> m.TeacherLeave | None:
    return session.execute(
        select(m.TeacherLeave).where(m.TeacherLeave.teacher_id == teacher_id, m.TeacherLeave.leave_date == leave_date)
    ).scalar_one_or_none()


def plan_leave(session: Session, teacher_id: int, leave_date: date, reason: str | None) -> LeavePlan:
    """What leave on `leave_date` would cancel. Raises LeaveError for an unknown teacher or a refused date.

    Affected classes are the ones that would have been held: not holidays or closed by the office (those are
    in `closed`), and (for leave today) not already started, since nobody can be told in time about a class
    that is under way.
    """
    leave_date = _as_date(leave_date)
    _teacher(session, teacher_id)
    now = clock.now()
    check_leave_date(leave_date, now.date())
    row = _leave_row(session, teacher_id, leave_date)
    meetings = schedule.teacher_classes_on(session, teacher_id, leave_date)
    affected = [
        meeting
        for meeting in meetings
        if meeting.status in (schedule.SCHEDULED, schedule.TEACHER_ON_LEAVE) and meeting.starts_at > now
    ]
    return LeavePlan(
        teacher_id,
        leave_date,
        _clean_reason(reason),
        affected,
        already_on_leave=row is not None and row.status != WITHDRAWN,
        closed=[meeting for meeting in meetings if meeting.closed is not None],
    )


# ----------------------------------------------------------------------------------------------- recording


def _snapshot(row: m.TeacherLeave, teacher: m.Teacher, affected: list[ClassMeeting] | None = None) -> dict:
    data = {
        "teacher": teacher.employee_id,
        "leave_date": row.leave_date.isoformat(),
        "reason": row.reason,
        "status": row.status,
    }
    if affected is not None:
        data["affected_batches"] = [meeting.batch.code for meeting in affected]
    return data


def _audit(session: Session, actor: str, action: str, row: m.TeacherLeave, before: dict | None, after: dict) -> None:
    record_change(session, actor, action, "teacher_leaves", row.id, before, after)


def _insert_leave(session: Session, plan: LeavePlan) -> bool:
    """Insert the leave unless a row for the teacher and date exists (a concurrent request); True if inserted."""
    values = {
        "teacher_id": plan.teacher_id,
        "leave_date": plan.leave_date,
        "reason": plan.reason,
        "status": APPROVED,
        "created_at": clock.utcnow(),
        "updated_at": clock.utcnow(),
    }
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # no portable "insert unless present": a plain insert, the unique constraint still guards
        session.add(m.TeacherLeave(**values))
        session.flush()
        return True
    statement = (
        insert(m.TeacherLeave).values(**values).on_conflict_do_nothing(index_elements=["teacher_id", "leave_date"])
    )
    return session.execute(statement).rowcount == 1


def _update_reason(session: Session, row: m.TeacherLeave, teacher: m.Teacher, reason: str | None, actor: str) -> None:
    """A repeated report only refreshes the reason (when one is given and it differs)."""
    if reason is None or reason == row.reason:
        return
    before = _snapshot(row, teacher)
    row.reason = reason
    session.flush()
    _audit(session, actor, "leave.updated", row, before, _snapshot(row, teacher))
    session.flush()


def record_leave(
    session: Session, teacher_id: int, leave_date: date, reason: str | None, actor: str
) -> tuple[m.TeacherLeave, list[Notice]]:
    """Record the teacher's leave and return the notices to send (none when the leave was already recorded).

    `actor` is who asked, for the audit trail: "teacher:T-101", "admin:ADM-1". Raises LeaveError for a day in the
    past or more than MAX_DAYS_AHEAD days ahead. Only flushes: the caller's transaction commits.
    """
    if not actor:
        raise ValueError("record_leave needs an actor for the audit log")
    plan = plan_leave(session, teacher_id, leave_date, reason)
    teacher = _teacher(session, teacher_id)
    row = _leave_row(session, teacher_id, plan.leave_date)
    if row is not None and row.status != WITHDRAWN:
        _update_reason(session, row, teacher, plan.reason, actor)
        return row, []
    if row is None:
        inserted = _insert_leave(session, plan)
        row = _leave_row(session, teacher_id, plan.leave_date)
        assert row is not None  # inserted just now, by this request or another
        if not inserted:  # another request recorded it between our read and our insert
            _update_reason(session, row, teacher, plan.reason, actor)
            return row, []
        before = None
    else:  # a withdrawn leave reported again is a new leave
        before = _snapshot(row, teacher)
        row.status, row.reason = APPROVED, plan.reason
        session.flush()
    _audit(session, actor, "leave.recorded", row, before, _snapshot(row, teacher, plan.affected))
    session.flush()
    return row, leave_notices(session, teacher, plan)


# ----------------------------------------------------------------------------------------------- notices


def _first_name(name: str) -> str:
    parts = name.split()
    return parts[0] if parts else name


def _join(items: list[str]) -> str:
    unique = list(dict.fromkeys(items))
    return unique[0] if len(unique) == 1 else ", ".join(unique[:-1]) + " and " + unique[-1]


def _opted_out_phones(session: Session) -> set[str]:
    return set(
        session.execute(
            select(m.WhatsAppSubscription.phone_number).where(m.WhatsAppSubscription.is_active.is_(False))
        ).scalars()
    )


def _admin_notices(session: Session, teacher: m.Teacher, plan: LeavePlan, skip: set[str]) -> list[Notice]:
    sizes = roster_sizes(session, plan.affected)
    classes = [
        f"{mt.batch.name} {time_label(mt.starts_at.time())} ({students_label(sizes[mt.batch.id])})"
        for mt in plan.affected
    ]
    affected = ", ".join(classes) if classes else "none"
    day = short_day_label(plan.leave_date)
    reason = f" ({plan.reason})" if plan.reason else ""
    text = f"{teacher.display_name} ({teacher.employee_id}) is on leave on {day}{reason}. " + (
        f"Affected: {affected}." if classes else "No classes are affected."
    )
    params = (teacher.display_name, teacher.employee_id, day, plan.reason or "not given", affected)
    return [
        Notice(admin.phone, "admin", text, TEACHER_LEAVE_TEMPLATE, params)
        for admin in office_admins(session)
        if admin.phone not in skip
    ]


@dataclass
class _Family:
    """Everything one phone must be told: (student, meeting, is the student's own phone) per cancelled class."""

    audience: str
    name: str
    items: list[tuple[m.Student, ClassMeeting, bool]]


def _families(session: Session, plan: LeavePlan, skip: set[str]) -> dict[str, _Family]:
    families: dict[str, _Family] = {}
    for meeting in plan.affected:
        for student in schedule.batch_roster(session, meeting.batch.id):  # active enrollments only
            if student.phone:
                targets = [(student.phone, "student", student.name)]
            else:
                links = session.execute(
                    select(m.StudentGuardian)
                    .join(m.Guardian, m.Guardian.id == m.StudentGuardian.guardian_id)
                    .where(m.StudentGuardian.student_id == student.id, m.Guardian.active.is_(True))
                    .options(selectinload(m.StudentGuardian.guardian))
                ).scalars()
                targets = sorted((link.guardian.phone, "guardian", link.guardian.name) for link in links)
            for phone, audience, name in targets:
                if not phone or phone in skip:
                    continue
                family = families.setdefault(phone, _Family(audience, name, []))
                family.items.append((student, meeting, audience == "student"))
    return families


def _family_notice(phone: str, family: _Family, teacher: m.Teacher, leave_date: date) -> Notice:
    day = day_label(leave_date)
    greeting = _first_name(family.name)

    def whose(student: m.Student, own: bool) -> str:
        return "your" if own else f"{_first_name(student.name)}'s"

    students = _join([_first_name(student.name) for student, _, _ in family.items])
    classes = _join([meeting.batch.name for _, meeting, _ in family.items])
    times = _join([time_label(meeting.starts_at.time()) for _, meeting, _ in family.items])
    if len(family.items) == 1:
        student, meeting, own = family.items[0]
        text = (
            f"Hi {greeting}, {whose(student, own)} {meeting.batch.name} class on {day} at {times} is cancelled: "
            f"{teacher.display_name} is on leave. We'll let you know about a makeup class."
        )
    else:
        listed = ", ".join(
            f"{whose(student, own)} {meeting.batch.name} at {time_label(meeting.starts_at.time())}"
            for student, meeting, own in family.items
        )
        text = (
            f"Hi {greeting}, {teacher.display_name} is on leave on {day}, so these classes are cancelled: "
            f"{listed}. We'll let you know about makeup classes."
        )
    audience = "student" if all(own for _, _, own in family.items) else "guardian"
    return Notice(phone, audience, text, CLASS_CANCELLED_TEMPLATE, (greeting, students, classes, day, times))


def leave_notices(session: Session, teacher: m.Teacher, plan: LeavePlan) -> list[Notice]:
    """Admins first, then families in the order of their first cancelled class; opted-out numbers left out."""
    skip = _opted_out_phones(session)
    if teacher.phone:
        skip.add(teacher.phone)  # the teacher reported it; they need no notice
    notices = _admin_notices(session, teacher, plan, skip)
    for phone, family in _families(session, plan, skip).items():
        notices.append(_family_notice(phone, family, teacher, plan.leave_date))
    return notices
