"""A family's notice that a child will miss a class: which child and which class the message means (a question with
buttons when unclear), the `absence_notices` row with its audit row, the teacher's message, the family's reply, the
informed absences an attendance draft starts from, and the office's list."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from rapidfuzz import fuzz
from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm.classes import makeups, schedule
from hsm.classes.dates import day_label, parse_date, short_day_label, time_label
from hsm.classes.schedule import ClassMeeting
from hsm.infra import clock
from hsm.infra import models as m
from hsm.outreach.notices import Notice, staff_quote, staff_text
from hsm.people.identity import Identity, students_for
from hsm.records.changes import NotFound, RecordError, record_change

TEACHER_TEMPLATE = "absence_notice_teacher"  # {{1}} student, {{2}} class, {{3}} day, {{4}} time, {{5}} who, {{6}} words
NAME_MATCH_MIN = 85  # rapidfuzz ratio for a word of the message to name one of the caller's students
LOOK_AHEAD_DAYS = 14  # without a day in the message: the student's next class within two weeks
REASON_MAX_CHARS = 300
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


@dataclass(frozen=True)
class Choice:
    """A button: its title, and the intent and entities its payload carries back."""

    title: str
    entities: dict[str, str]
    intent: str = "report_leave"


@dataclass(frozen=True)
class AbsencePlan:
    """What a family's message means: the class to record (`student` and `meeting`), the notice already recorded
    for it (`existing`), a question with `choices`, or the `problem` to answer instead."""

    student: m.Student | None = None
    meeting: ClassMeeting | None = None
    existing: m.AbsenceNotice | None = None
    question: str | None = None
    choices: tuple[Choice, ...] = ()
    problem: str | None = None


@dataclass(frozen=True)
class NoticeReply:
    """The one reply to the family after a notice: its text and buttons (one place, so that more can be offered)."""

    text: str
    buttons: list[Choice] = field(default_factory=list)


def day_phrase(day: date, today: date) -> str:
    """'today', 'tomorrow', 'yesterday' or 'on Fri, Dec 4'."""
    named = {today: "today", today + timedelta(days=1): "tomorrow", today - timedelta(days=1): "yesterday"}
    return named.get(day, f"on {short_day_label(day)}")


def first_name(student: m.Student) -> str:
    return student.name.split()[0]


def children_named(students: list[m.Student], text: str) -> list[m.Student]:
    """The caller's students whose first or full name a word (or two) of `text` spells, typos allowed."""
    words = [w.lower() for w in _WORD.findall(text or "")]
    phrases = words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
    return [
        s
        for s in students
        if any(
            fuzz.ratio(phrase, name) >= NAME_MATCH_MIN
            for phrase in phrases
            for name in (s.name.lower(), first_name(s).lower())
        )
    ]


def _student_batches(session: Session, student_id: int) -> list[m.Batch]:
    return list(
        session.execute(
            select(m.Batch)
            .join(m.Enrollment, m.Enrollment.batch_id == m.Batch.id)
            .where(m.Enrollment.student_id == student_id, m.Enrollment.status == "active", m.Batch.active.is_(True))
            .order_by(m.Batch.code)
        ).scalars()
    )


def _next_class_day(session: Session, student: m.Student, now: datetime) -> date | None:
    meetings = schedule.meetings_between(
        session, _student_batches(session, student.id), now.date(), now.date() + timedelta(days=LOOK_AHEAD_DAYS)
    )
    return next((mt.class_date for mt in meetings if mt.held and mt.ends_at > now), None)


def existing_notice(session: Session, student_id: int, batch_id: int, class_date: date) -> m.AbsenceNotice | None:
    return session.execute(
        select(m.AbsenceNotice).where(
            m.AbsenceNotice.student_id == student_id,
            m.AbsenceNotice.batch_id == batch_id,
            m.AbsenceNotice.class_date == class_date,
        )
    ).scalar_one_or_none()


def _pick_student(
    students: list[m.Student], text: str, student_code: str | None, several: bool
) -> tuple[m.Student | None, AbsencePlan | None]:
    if student_code:
        chosen = [s for s in students if s.enrollment_id == student_code]
        return (chosen[0], None) if chosen else (None, AbsencePlan(problem="That student isn't on your number."))
    named = children_named(students, text)
    if len(named) == 1:
        return named[0], None
    if len(students) == 1 and not named:
        return students[0], None
    options = named or students
    return None, AbsencePlan(
        question="Which child will miss class?" if several else "Who will miss class?",
        choices=tuple(Choice(s.name[:20], {"student_id": s.enrollment_id}) for s in options),
    )


def plan_notice(
    session: Session,
    identity: Identity,
    text: str,
    now: datetime | None = None,
    *,
    student_code: str | None = None,
    batch_code: str | None = None,
    day: date | None = None,
) -> AbsencePlan:
    """The class a student's or guardian's message ("Nikhil can't come to class today, he is unwell") means. The
    child is named in the message (or picked with a button, or the only one); the day is the message's ("today",
    "tomorrow", "on Friday"), else the child's next class. Only the caller's own students are searched."""
    now = now or clock.now()
    students = students_for(session, identity)
    if not students:
        return AbsencePlan(problem="I couldn't find an enrolled student on your number. Please contact the office.")
    student, early = _pick_student(students, text, student_code, identity.role == "guardian")
    if early is not None:
        return early
    assert student is not None  # no question and no problem: the student
    who = "You" if identity.role == "student" else first_name(student)
    day = day or parse_date(text, now.date()) or _next_class_day(session, student, now)
    if day is None:
        return AbsencePlan(problem=f"{who} {'have' if who == 'You' else 'has'} no class in the next two weeks.")
    meetings = schedule.meetings_between(session, _student_batches(session, student.id), day, day)
    if batch_code:
        meetings = [mt for mt in meetings if mt.batch.code == batch_code]
    when = day_phrase(day, now.date())
    if not meetings:
        return AbsencePlan(problem=f"{who} {'have' if who == 'You' else 'has'} no class {when}, so nothing to miss.")
    upcoming = [mt for mt in meetings if mt.ends_at > now]
    if not upcoming:
        return AbsencePlan(
            problem=f"{_class_text(meetings[-1])} {when} is already over, so I can't take notice of it now. "
            "If the attendance is wrong, please tell the office."
        )
    held = [mt for mt in upcoming if mt.held]
    if not held:
        meeting = upcoming[0]
        why = meeting.closed.labelled if meeting.closed is not None else (meeting.note or "cancelled")
        return AbsencePlan(problem=f"{_class_text(meeting)} {when} is cancelled ({why}), so there is nothing to miss.")
    if len(held) > 1:
        return AbsencePlan(
            question=f"Which class will {who.lower() if who == 'You' else who} miss {when}?",
            choices=tuple(
                Choice(
                    _class_text(mt)[:20],
                    {"student_id": student.enrollment_id, "batch_code": mt.batch.code, "date": day.isoformat()},
                )
                for mt in held
            ),
        )
    meeting = held[0]
    return AbsencePlan(student, meeting, existing_notice(session, student.id, meeting.batch.id, day))


def _class_text(meeting: ClassMeeting) -> str:
    return f"{meeting.batch.name} {time_label(meeting.starts_at.time())}"


def record_absence_notice(
    session: Session,
    student_id: int,
    batch_id: int,
    class_date: date,
    *,
    reporter_role: str,
    reporter_name: str,
    reporter_phone: str | None,
    reason: str | None,
    actor: str,
    now: datetime | None = None,
) -> m.AbsenceNotice:
    """Record that the student will miss the batch's class on `class_date` (one `audit_log` row with it). Refused
    (RecordError) for a student not active in the batch, a day the batch does not meet or does not hold, or a class
    already over; a second notice for the same class returns the first unchanged. Only flushes."""
    now = now or clock.now()
    student, batch = session.get(m.Student, student_id), session.get(m.Batch, batch_id)
    if student is None or batch is None or batch not in _student_batches(session, student_id):
        raise NotFound("That student is not in that batch.")
    meeting = next((mt for mt in schedule.meetings_between(session, [batch], class_date, class_date)), None)
    if meeting is None or not meeting.held:
        raise RecordError(f"{batch.name} holds no class on {short_day_label(class_date)}.", "class_date")
    if meeting.ends_at <= now:
        raise RecordError(f"{_class_text(meeting)} on {short_day_label(class_date)} is already over.", "class_date")
    found = existing_notice(session, student_id, batch_id, class_date)
    if found is not None:
        return found
    notice = m.AbsenceNotice(
        student_id=student_id,
        batch_id=batch_id,
        class_date=class_date,
        starts_at=meeting.starts_at.astimezone(timezone.utc),
        reason=staff_text(reason, REASON_MAX_CHARS) or None,
        reporter_role=reporter_role,
        reporter_name=reporter_name,
        reporter_phone=reporter_phone,
        reported_at=clock.utcnow(),
    )
    session.add(notice)
    session.flush()
    record_change(
        session,
        actor,
        "absence.noticed",
        "absence_notices",
        notice.id,
        None,
        {"student": student.enrollment_id, "batch": batch.code, "class_date": class_date, "reason": notice.reason},
    )
    makeups.grant_credit_for_notice(  # in time and within the month's cap: a makeup class (hsm.classes.makeups)
        session, student_id=student_id, batch_id=batch_id, class_date=class_date, noticed_at=now, actor=actor
    )
    session.flush()
    return notice


def teacher_notice(session: Session, notice: m.AbsenceNotice, today: date) -> Notice | None:
    """The teacher's one message about the notice; None while the batch has no teacher with a phone."""
    batch = session.get(m.Batch, notice.batch_id)
    teacher = schedule.teacher_on_duty(batch)
    if teacher is None or not teacher.phone:
        return None
    student = session.get(m.Student, notice.student_id)
    starts = clock.as_utc(notice.starts_at).astimezone(clock.school_timezone())
    when, at = day_phrase(notice.class_date, today), time_label(starts.time())
    whose = "student" if notice.reporter_role == "student" else "parent"
    said = f": {staff_quote(notice.reason)}" if notice.reason else ""
    text = (
        f"📋 Absence notice: {student.name} will miss {batch.name} {when} ({short_day_label(notice.class_date)}), "
        f"{at}. From {notice.reporter_name} ({whose}){said}"
    )
    params = (
        student.name,
        batch.name,
        short_day_label(notice.class_date),
        at,
        f"{notice.reporter_name} ({whose})",
        staff_text(notice.reason, 200) or "no reason given",
    )
    return Notice(teacher.phone, "teacher", text, TEACHER_TEMPLATE, params)


def notice_reply(
    session: Session, notice: m.AbsenceNotice, own: bool, teacher_told: bool, today: date, repeated: bool = False
) -> NoticeReply:
    """What the family is told: what was recorded, whether the teacher heard of it (only if they did), and the
    makeup class it earns (with a button to book it) or why it earns none."""
    batch = session.get(m.Batch, notice.batch_id)
    student = session.get(m.Student, notice.student_id)
    starts = clock.as_utc(notice.starts_at).astimezone(clock.school_timezone())
    who = "you" if own else first_name(student)
    what = f"{who} will miss {batch.name} {day_phrase(notice.class_date, today)}, {time_label(starts.time())}"
    makeup, buttons = _makeup_offer(session, notice, student, own)
    if repeated:
        return NoticeReply(f"Already noted: {what}.{makeup}", buttons)
    teacher = schedule.teacher_on_duty(batch)
    if teacher_told and teacher is not None:
        told = f"{teacher.display_name} (the teacher) has been told."
    else:
        told = "I couldn't reach the teacher on WhatsApp just now; the office can see your notice."
    return NoticeReply(f"Noted: {what[0].upper()}{what[1:]}. {told}{makeup}", buttons)


def _makeup_offer(session: Session, notice: m.AbsenceNotice, student: m.Student, own: bool) -> tuple[str, list[Choice]]:
    """The sentence about a makeup class for the missed class, and the button that books one while it is open."""
    credit = makeups.credit_for(session, notice.student_id, notice.batch_id, notice.class_date)
    if credit is not None:
        if credit.status != "open":
            return "", []
        entities = {} if own else {"person": first_name(student)}
        offer = f" This earns a makeup class: book it any time up to {day_label(credit.expires_on)}."
        return offer, [Choice("Book a makeup", entities, "book_makeup")]
    why = makeups.why_no_credit(
        session,
        student_id=notice.student_id,
        batch_id=notice.batch_id,
        class_date=notice.class_date,
        noticed_at=clock.as_utc(notice.reported_at),
    )
    return (f" {why}" if why else ""), []


# ------------------------------------------------------------------------------------------------ attendance


def informed_students(session: Session, batch_id: int, class_date: date) -> dict[int, int]:
    """Students of the class whose family gave notice: student id -> notice id."""
    rows = session.execute(
        select(m.AbsenceNotice.student_id, m.AbsenceNotice.id).where(
            m.AbsenceNotice.batch_id == batch_id, m.AbsenceNotice.class_date == class_date
        )
    ).all()
    return {student_id: notice_id for student_id, notice_id in rows}


def link_informed_records(session: Session, batch_id: int, class_date: date) -> None:
    """Mark the class's saved absences that a notice announced as informed (and nothing else)."""
    informed = informed_students(session, batch_id, class_date)
    records = session.execute(
        select(m.AttendanceRecord).where(
            m.AttendanceRecord.batch_id == batch_id, m.AttendanceRecord.class_date == class_date
        )
    ).scalars()
    for record in records:
        record.absence_notice_id = informed.get(record.student_id) if record.status == "absent" else None
    session.flush()


# ------------------------------------------------------------------------------------------------ the office's list


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else clock.as_utc(moment).astimezone(clock.school_timezone()).isoformat()


def _listed(kind: str, row: m.AbsenceNotice | m.AbsenceAlert) -> dict:
    return {
        "kind": kind,
        "id": row.id,
        "class_date": row.class_date.isoformat(),
        "starts_at": _iso(row.starts_at),
        "student": {"enrollment_id": row.student.enrollment_id, "name": row.student.name},
        "batch": {"code": row.batch.code, "name": row.batch.name},
    }


def list_absences(session: Session, first: date, last: date, limit: int, offset: int) -> tuple[list[dict], int]:
    """The office's view of `first`..`last`: families' notices (`kind` "notice": who told us, their words) and the
    alerts of absences without one (`kind` "alert": how many were told, and a family's "he was there" if any), by
    class time and student; one page of them and the total."""
    notices = session.execute(select(m.AbsenceNotice).where(m.AbsenceNotice.class_date.between(first, last))).scalars()
    alerts = session.execute(select(m.AbsenceAlert).where(m.AbsenceAlert.class_date.between(first, last))).scalars()
    items = [
        {
            **_listed("notice", n),
            "reported_by": {"role": n.reporter_role, "name": n.reporter_name},
            "reason": n.reason,
            "reported_at": _iso(n.reported_at),
        }
        for n in notices
    ] + [
        {
            **_listed("alert", a),
            "recipients": a.recipients,
            "sent_at": _iso(a.sent_at),
            "disputed": None if a.disputed_at is None else {"at": _iso(a.disputed_at), "said": a.dispute_text},
        }
        for a in alerts
    ]
    items.sort(key=lambda item: (item["starts_at"], item["student"]["name"], item["kind"]))
    return items[offset : offset + limit], len(items)
