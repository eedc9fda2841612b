"""The leads pipeline: new → contacted → trial_booked → enrolled / lost, each move checked, kept in the lead's
history (`lead_events`) and in the audit trail; leads listed and filtered for the office.

A lead starts "new" (the bot's enquiry flow, hsm.outreach.enrollment.create_lead). The office moves it with
`move_lead`: only the moves in MOVES are allowed; a trial needs a date and time to come and a batch or course; a
lost lead needs a reason; enrolled and lost are final, except that an admin may reopen one (back to contacted).
Enrolling is normally `hsm.people.admissions.convert_lead`, which admits the student and moves the lead in one
transaction; `move_lead(..., student=...)` links a student admitted otherwise.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from hsm.classes.dates import parse_date, parse_time
from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.phone import mask_phone
from hsm.records.changes import Conflict, NotFound, RecordError, apply_changes, jsonable, record_change

log = logging.getLogger("hsm.outreach.leads")

STATUSES = m.LEAD_STATUSES
OPEN = ("new", "contacted", "trial_booked")
FINAL = ("enrolled", "lost")
REOPENED = "contacted"  # where an admin reopens a final lead
# Where a lead may go from each status. trial_booked → trial_booked: the trial moved; → contacted: it was missed.
MOVES: dict[str, tuple[str, ...]] = {
    "new": ("contacted", "trial_booked", "enrolled", "lost"),
    "contacted": ("trial_booked", "enrolled", "lost"),
    "trial_booked": ("trial_booked", "contacted", "enrolled", "lost"),
    "enrolled": (REOPENED,),
    "lost": (REOPENED,),
}
PROSPECT_ACTOR = "whatsapp:prospect"  # the bot's enquiry flow (the number is on the lead, not in its history)
NOTE_MAX_CHARS = 1000
REASON_MAX_CHARS = 500
SEARCH_MAX_CHARS = 100


class LeadMoveRefused(Conflict):
    """A move MOVES does not allow from the lead's status (409)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "status", "move_not_allowed")


class ReopenNeedsAdmin(Conflict):
    """Reopening an enrolled or lost lead is for admins (the admin API answers 403)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "status", "admin_only")


# ------------------------------------------------------------------------------------------------ history


def record_lead_event(
    session: Session,
    lead: m.Lead,
    from_status: str | None,
    actor: str,
    note: str | None = None,
    details: dict[str, Any] | None = None,
) -> m.LeadEvent:
    """Append one step to the lead's history: from `from_status` (None: the lead was created) to its status now."""
    event = m.LeadEvent(
        lead_id=lead.id,
        from_status=from_status,
        to_status=lead.status,
        note=note,
        details=jsonable(details) if details else None,
        actor=actor[:60],
        created_at=clock.utcnow(),
    )
    session.add(event)
    return event


def lead_created(session: Session, lead: m.Lead, actor: str = PROSPECT_ACTOR) -> None:
    """The first event of a lead the bot just made (its enquiry flow)."""
    record_lead_event(session, lead, None, actor)
    log.info("lead %d created from %s", lead.id, mask_phone(lead.phone))


def lead_events(session: Session, lead_id: int) -> list[m.LeadEvent]:
    """The lead's history, oldest first."""
    return list(
        session.execute(select(m.LeadEvent).where(m.LeadEvent.lead_id == lead_id).order_by(m.LeadEvent.id)).scalars()
    )


# ------------------------------------------------------------------------------------------------ finding


def get_lead(session: Session, lead_id: int, *, for_update: bool = False) -> m.Lead:
    query = (
        select(m.Lead)
        .where(m.Lead.id == lead_id)
        .options(selectinload(m.Lead.course), selectinload(m.Lead.trial_batch), selectinload(m.Lead.student))
    )
    lead = session.execute(query.with_for_update(of=m.Lead) if for_update else query).scalar_one_or_none()
    if lead is None:
        raise NotFound(f"there is no lead {lead_id}", "lead_id")
    return lead


def find_course_by_code(session: Session, text: str, field: str = "course") -> m.Course:
    """A course by its code or name, in any case; RecordError naming the school's courses otherwise."""
    wanted = " ".join(text.split()).lower()
    courses = list(session.execute(select(m.Course).order_by(m.Course.code)).scalars())
    for course in courses:
        if wanted in (course.code.lower(), course.name.lower()):
            return course
    known = ", ".join(course.code for course in courses)
    raise RecordError(f"unknown course {text!r} (the school's: {known})", field, "unknown_course")


def find_batch(session: Session, code: str, field: str = "batch") -> m.Batch:
    """A batch by its code, in any case; RecordError if the school has none."""
    batch = session.execute(
        select(m.Batch).where(func.upper(m.Batch.code) == code.strip().upper()).options(selectinload(m.Batch.course))
    ).scalar_one_or_none()
    if batch is None:
        raise RecordError(f"unknown batch {code!r}", field, "unknown_batch")
    return batch


@dataclass(frozen=True)
class LeadFilter:
    """What the office asks the list for; None: any."""

    statuses: tuple[str, ...] | None = None
    course: str | None = None  # a course code or name
    since: date | None = None  # created on or after this day (the school's calendar)
    search: str | None = None  # part of the name, or of the phone number's digits


def _conditions(session: Session, wanted: LeadFilter) -> list:
    conditions = []
    if wanted.statuses:
        unknown = [status for status in wanted.statuses if status not in STATUSES]
        if unknown:
            raise RecordError(f"unknown status {unknown[0]!r} (one of {', '.join(STATUSES)})", "status")
        conditions.append(m.Lead.status.in_(wanted.statuses))
    if wanted.course:
        conditions.append(m.Lead.course_id == find_course_by_code(session, wanted.course).id)
    if wanted.since:
        start = datetime.combine(wanted.since, time(0), clock.school_timezone())
        conditions.append(m.Lead.created_at >= clock.as_utc(start))
    search = " ".join((wanted.search or "").split())[:SEARCH_MAX_CHARS]
    if search:
        digits = "".join(ch for ch in search if ch.isdigit())
        matches = [func.lower(m.Lead.name).contains(search.lower(), autoescape=True)]
        if len(digits) >= 3:
            matches.append(m.Lead.phone.contains(digits, autoescape=True))
        conditions.append(or_(*matches))
    return conditions


def list_leads(session: Session, wanted: LeadFilter, limit: int, offset: int) -> tuple[list[m.Lead], int]:
    """One page of the leads that match, newest first, and how many match in all."""
    conditions = _conditions(session, wanted)
    total = session.execute(select(func.count()).select_from(m.Lead).where(*conditions)).scalar_one()
    rows = session.execute(
        select(m.Lead)
        .where(*conditions)
        .options(selectinload(m.Lead.course), selectinload(m.Lead.trial_batch), selectinload(m.Lead.student))
        .order_by(m.Lead.created_at.desc(), m.Lead.id.desc())
        .limit(limit)
        .offset(offset)
    ).scalars()
    return list(rows), total


# ------------------------------------------------------------------------------------------------ moving


def _text(value: str | None, field: str, limit: int) -> str | None:
    text = " ".join((value or "").split())
    if len(text) > limit:
        raise RecordError(f"is {len(text)} characters long; at most {limit} allowed", field)
    return text or None


def _refuse_move(lead: m.Lead, to_status: str) -> None:
    if to_status not in STATUSES:
        raise RecordError(f"unknown status {to_status!r} (one of {', '.join(STATUSES)})", "status")
    allowed = MOVES[lead.status]
    if to_status in allowed:
        return
    if lead.status in FINAL:
        raise LeadMoveRefused(
            f"lead {lead.id} is {lead.status}: that is final, unless an admin reopens it (back to {REOPENED})"
        )
    if to_status == lead.status:
        raise LeadMoveRefused(f"lead {lead.id} is {lead.status} already")
    raise LeadMoveRefused(f"lead {lead.id} is {lead.status}: it can move to {', '.join(allowed)}, not {to_status}")


_ISO_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}\S*(?: ?[+-]\d{2}:?\d{2})?")


def parse_when(text: str) -> datetime:
    """A trial's date and time as the office writes it: ISO 8601 ("2026-12-05 10:00", "2026-12-05T10:00+05:30")
    or words ("saturday 10am", "5 Dec 17:00", "tomorrow 5pm"); without an offset, the school's time. RecordError
    when the date or the time is missing."""
    text = " ".join(str(text).split())[:100]
    if _ISO_DATE_TIME.fullmatch(text):
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as error:
            raise RecordError(f"{text!r} is not a date and time: {error}", "trial_at") from None
        return when if when.tzinfo else when.replace(tzinfo=clock.school_timezone())
    day, at = parse_date(text, clock.today()), parse_time(text)
    if day is None or at is None:
        missing = "date" if day is None else "time"
        raise RecordError(f"{text!r} has no {missing} (e.g. 2026-12-05 10:00, or 'saturday 10am')", "trial_at")
    return datetime.combine(day, at, clock.school_timezone())


def _trial_time(value: datetime | None) -> datetime:
    if value is None:
        raise RecordError("a trial needs its date and time", "trial_at", "missing_field")
    when = value if value.tzinfo else value.replace(tzinfo=clock.school_timezone())
    if when <= clock.now():
        shown = when.astimezone(clock.school_timezone()).strftime("%Y-%m-%d %H:%M")
        raise RecordError(f"{shown} is past: a trial is booked for a time to come", "trial_at")
    return when


def _trial_values(
    session: Session, lead: m.Lead, trial_at: datetime | None, batch_code: str | None, course_code: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The lead's new trial fields and the event's details: a time to come, and a batch or a course."""
    when = _trial_time(trial_at).astimezone(timezone.utc)  # stored in UTC, as every timestamp
    same = lead.trial_at is not None and clock.as_utc(lead.trial_at) == when
    values: dict[str, Any] = {"trial_at": lead.trial_at if same else when}  # SQLite reads back naive UTC
    details: dict[str, Any] = {"trial_at": when.astimezone(clock.school_timezone())}
    if course_code:
        course = find_course_by_code(session, course_code)
        values["course_id"] = course.id
        details["course"] = course.code
    if batch_code:
        batch = find_batch(session, batch_code)
        if not batch.active:
            raise Conflict(f"batch {batch.code} is not active", "batch", "batch_inactive")
        if course_code and batch.course_id != values["course_id"]:
            raise RecordError(f"batch {batch.code} is a {batch.course.name} batch, not {course_code}", "batch")
        values.update(trial_batch_id=batch.id, course_id=batch.course_id)
        details.update(trial_batch=batch.code, course=batch.course.code)
    if values.get("course_id", lead.course_id) is None and values.get("trial_batch_id", lead.trial_batch_id) is None:
        raise RecordError("a trial needs a batch or a course", "batch", "missing_field")
    return values, details


def _student(session: Session, enrollment_id: str) -> m.Student:
    student = session.execute(
        select(m.Student).where(func.upper(m.Student.enrollment_id) == enrollment_id.strip().upper())
    ).scalar_one_or_none()
    if student is None:
        raise RecordError(f"there is no student {enrollment_id!r}", "student", "unknown_student")
    return student


def move_lead(
    session: Session,
    lead_id: int,
    to_status: str,
    actor: str,
    *,
    note: str | None = None,
    trial_at: datetime | None = None,
    batch: str | None = None,
    course: str | None = None,
    reason: str | None = None,
    student: str | m.Student | None = None,
    may_reopen: bool = False,
) -> m.Lead:
    """Move a lead (in the caller's transaction): the move checked against MOVES and its status's needs, the lead
    changed, one event in its history and one audit row. Reopening an enrolled or lost lead is an admin's: only
    with `may_reopen=True` (an API caller with role admin; the `hsm leads move` CLI, run by the school's operators),
    ReopenNeedsAdmin otherwise.

    trial_booked: `trial_at` (naive: the school's time) to come, and `batch` or `course` (or the lead's course);
    lost: `reason`; enrolled: `student`, the student admitted (an enrollment id, or the row); contacted from
    enrolled or lost: reopened, the student link and lost reason cleared."""
    lead = get_lead(session, lead_id, for_update=True)
    _refuse_move(lead, to_status)
    if lead.status in FINAL and not may_reopen:
        raise ReopenNeedsAdmin(f"lead {lead.id} is {lead.status}: only an admin may reopen it")
    note = _text(note, "note", NOTE_MAX_CHARS)
    values: dict[str, Any] = {"status": to_status}
    details: dict[str, Any] = {}
    if to_status == "trial_booked":
        trial_values, details = _trial_values(session, lead, trial_at, batch, course)
        values.update(trial_values)
    elif to_status == "lost":
        lost_reason = _text(reason, "reason", REASON_MAX_CHARS)
        if not lost_reason:
            raise RecordError("a lost lead needs a reason", "reason", "missing_field")
        values["lost_reason"] = details["lost_reason"] = lost_reason
    elif to_status == "enrolled":
        if student is None:
            raise RecordError(
                "enrolled needs the student: convert the lead (admit the student), or name a student already admitted",
                "student",
                "missing_field",
            )
        row = _student(session, student) if isinstance(student, str) else student
        values["student_id"] = row.id
        details["student"] = row.enrollment_id
    if lead.status in FINAL:  # reopened
        values.update(student_id=None, lost_reason=None)
    return _apply_move(session, lead, values, details, actor, note)


def _apply_move(
    session: Session, lead: m.Lead, values: dict[str, Any], details: dict[str, Any], actor: str, note: str | None
) -> m.Lead:
    from_status = lead.status
    before, after = apply_changes(lead, values)
    if not after:  # trial_booked again, for the same time and batch
        raise LeadMoveRefused(f"lead {lead.id} is {lead.status} already, as asked")
    session.flush()
    record_lead_event(session, lead, from_status, actor, note, details)
    record_change(
        session,
        actor,
        "lead.moved",
        "leads",
        lead.id,
        {"status": from_status, **before},
        {"status": lead.status, **after, **({"note": note} if note else {})},
    )
    session.flush()
    session.refresh(lead)  # the relationships (course, trial batch, student) as they are now
    log.info("lead %d moved %s -> %s by %s", lead.id, from_status, lead.status, actor)
    return lead
