"""Teacher leave (UC-3): which classes a leave of one or more days cancels, recording it once, and whom to tell.

`plan_leave_days` is the read-only preview ("you have 2 classes on Friday and 1 on Saturday, shall I cancel
them?"); `record_leave_days` writes one `teacher_leaves` row per day (idempotent on teacher + date) with its audit
row, and returns the WhatsApp notices to send, once for the whole leave (hsm.classes.leave_notices); makeups booked
into the cancelled classes are cancelled in the same transaction (hsm.classes.makeup_cancel). Sending is the
caller's job; nothing here talks to WhatsApp. Taking leave back is hsm.classes.leave_withdraw.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm.classes import makeup_cancel, schedule
from hsm.classes.dates import parse_date, short_day_label
from hsm.classes.leave_notices import leave_notices
from hsm.classes.schedule import ClassMeeting
from hsm.infra import clock
from hsm.infra import models as m
from hsm.outreach.notices import Notice
from hsm.records.changes import record_change

MAX_DAYS_AHEAD = 90
MAX_LEAVE_DAYS = 14  # one leave in chat spans at most this many days, first to last; longer goes to the office
MAX_REASON_CHARS = 500
APPROVED = "approved"
WITHDRAWN = "withdrawn"  # a withdrawn leave no longer cancels classes (see schedule._leaves)


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


def active_teacher(session: Session, teacher_id: int) -> m.Teacher:
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


def check_leave_days(days: list[date], today: date) -> None:
    """Refuse no days, days gone, days too far ahead, and a leave spanning more than MAX_LEAVE_DAYS (LeaveError)."""
    if not days:
        raise LeaveError("I couldn't read a date there. Try 'tomorrow', 'Friday', '3 Dec' or '3rd to 5th Dec'.")
    first, last = min(days), max(days)
    span = (last - first).days + 1
    if span > MAX_LEAVE_DAYS:
        raise LeaveError(
            f"That's {span} days ({short_day_label(first)} to {short_day_label(last)}). I can record leave of up "
            f"to {MAX_LEAVE_DAYS} days at a time here; for a longer leave, please contact the office."
        )
    check_leave_date(first, today)
    check_leave_date(last, today)


def days_problem(days: list[date], today: date) -> str | None:
    """Why leave cannot be taken on those days, in the teacher's words; None when it can."""
    try:
        check_leave_days(days, today)
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
    return active_teacher(session, teacher_id).employee_id


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
    active_teacher(session, teacher_id)
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


def plan_leave_days(session: Session, teacher_id: int, days: list[date], reason: str | None) -> list[LeavePlan]:
    """`plan_leave` for each day of a leave, in date order. Raises LeaveError as `check_leave_days` does."""
    days = sorted({_as_date(day) for day in days})
    check_leave_days(days, clock.today())
    return [plan_leave(session, teacher_id, day, reason) for day in days]


# ----------------------------------------------------------------------------------------------- recording


def snapshot(row: m.TeacherLeave, teacher: m.Teacher, affected: list[ClassMeeting] | None = None) -> dict:
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
    before = snapshot(row, teacher)
    row.reason = reason
    session.flush()
    _audit(session, actor, "leave.updated", row, before, snapshot(row, teacher))
    session.flush()


def _record_day(session: Session, teacher: m.Teacher, plan: LeavePlan, actor: str) -> tuple[m.TeacherLeave, bool]:
    """Record one day of leave with its audit row; True when it is new (False: already on leave, reason refreshed)."""
    row = _leave_row(session, teacher.id, plan.leave_date)
    if row is not None and row.status != WITHDRAWN:
        _update_reason(session, row, teacher, plan.reason, actor)
        return row, False
    if row is None:
        inserted = _insert_leave(session, plan)
        row = _leave_row(session, teacher.id, plan.leave_date)
        assert row is not None  # inserted just now, by this request or another
        if not inserted:  # another request recorded it between our read and our insert
            _update_reason(session, row, teacher, plan.reason, actor)
            return row, False
        before = None
    else:  # a withdrawn leave reported again is a new leave
        before = snapshot(row, teacher)
        row.status, row.reason = APPROVED, plan.reason
        session.flush()
    _audit(session, actor, "leave.recorded", row, before, snapshot(row, teacher, plan.affected))
    session.flush()
    return row, True


def record_leave_days(
    session: Session, teacher_id: int, days: list[date], reason: str | None, actor: str
) -> tuple[list[m.TeacherLeave], list[Notice]]:
    """Record the teacher's leave on every one of `days` and return the notices to send: one set for the whole
    leave, covering the days newly on leave (none when every day was already recorded). Makeups booked into the
    classes it cancels are cancelled with it, credits back, and their families are among the notices
    (hsm.classes.makeup_cancel).

    `actor` is who asked, for the audit trail: "teacher:T-101", "admin:ADM-1". Raises LeaveError as
    `check_leave_days` does. Only flushes: the caller's transaction commits.
    """
    if not actor:
        raise ValueError("record_leave needs an actor for the audit log")
    plans = plan_leave_days(session, teacher_id, days, reason)
    teacher = active_teacher(session, teacher_id)
    rows, new = [], []
    for plan in plans:
        row, added = _record_day(session, teacher, plan, actor)
        rows.append(row)
        if added:
            new.append(plan)
    if not new:
        return rows, []
    affected = [meeting for plan in new for meeting in plan.affected]
    makeups = makeup_cancel.cancel_for_leave(session, teacher, affected, actor)
    notices = leave_notices(session, teacher, [plan.leave_date for plan in new], plans[0].reason, affected)
    return rows, notices + makeup_cancel.family_notices(session, makeups)


def record_leave(
    session: Session, teacher_id: int, leave_date: date, reason: str | None, actor: str
) -> tuple[m.TeacherLeave, list[Notice]]:
    """`record_leave_days` for one day: the row and the notices (none when the leave was already recorded)."""
    rows, notices = record_leave_days(session, teacher_id, [leave_date], reason, actor)
    return rows[0], notices
