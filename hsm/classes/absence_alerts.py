"""Absences without notice: once attendance is saved, the family of each student marked absent whom nobody
announced is told once (`absence_alerts`; HSM_ABSENCE_ALERTS turns it off); their "he was there" within
48 hours goes to the teacher as a request to check, and is kept for the office."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm.classes import schedule
from hsm.classes.absences import children_named, day_phrase, first_name, informed_students
from hsm.classes.dates import short_day_label, time_label
from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.config import get_settings
from hsm.outreach.notices import Notice, staff_quote, staff_text
from hsm.people.identity import Identity, students_for
from hsm.records.changes import record_change

ALERT_TEMPLATE = "absence_alert"  # {{1}} recipient, {{2}} student (or "you"), {{3}} class, {{4}} day, {{5}} time
DISPUTE_TEMPLATE = "absence_disputed"  # {{1}} who says so, {{2}} student, {{3}} class, {{4}} day, {{5}} time
REPLY_HOURS = 48  # how long after an alert the family's "he was there" counts as its answer


def _recipients(session: Session, student: m.Student) -> list[tuple[str, str, str]]:
    """(phone, audience, name): the student when they are their own contact, else their active guardians."""
    if student.phone:
        return [(student.phone, "student", student.name)]
    rows = session.execute(
        select(m.Guardian)
        .join(m.StudentGuardian, m.StudentGuardian.guardian_id == m.Guardian.id)
        .where(m.StudentGuardian.student_id == student.id, m.Guardian.active.is_(True), m.Guardian.phone.is_not(None))
        .order_by(m.Guardian.id)
    ).scalars()
    return [(g.phone, "guardian", g.name) for g in rows]


def _alert(
    recipient: tuple[str, str, str], student: m.Student, batch: m.Batch, starts: datetime, today: date
) -> Notice:
    phone, audience, name = recipient
    own = audience == "student"
    who = "You were" if own else f"{first_name(student)} was"
    when, at = day_phrase(starts.date(), today), time_label(starts.time())
    text = f"{who} marked absent from {batch.name} {when}, {at}. Reply if this is wrong."
    params = (name.split()[0], "you" if own else first_name(student), batch.name, short_day_label(starts.date()), at)
    return Notice(phone, audience, text, ALERT_TEMPLATE, params)


def absence_alerts(session: Session, batch_id: int, class_date: date, actor: str) -> list[Notice]:
    """The alerts owed for the class's saved attendance: each student marked absent without a notice, not yet
    alerted for this class, one message per recipient; recorded in `absence_alerts` (and `audit_log`) at once, so
    a re-save or a second process never sends one twice. None while HSM_ABSENCE_ALERTS is off."""
    if not get_settings().attendance.absence_alerts:
        return []
    batch = session.get(m.Batch, batch_id)
    meeting = next(iter(schedule.meetings_between(session, [batch], class_date, class_date)), None)
    if meeting is None:
        return []
    informed = informed_students(session, batch_id, class_date)
    alerted = set(
        session.execute(
            select(m.AbsenceAlert.student_id).where(
                m.AbsenceAlert.batch_id == batch_id, m.AbsenceAlert.class_date == class_date
            )
        ).scalars()
    )
    absent = session.execute(
        select(m.Student)
        .join(m.AttendanceRecord, m.AttendanceRecord.student_id == m.Student.id)
        .where(
            m.AttendanceRecord.batch_id == batch_id,
            m.AttendanceRecord.class_date == class_date,
            m.AttendanceRecord.status == "absent",
            m.Student.active.is_(True),
        )
        .order_by(m.Student.name)
    ).scalars()
    today = clock.today()
    notices: list[Notice] = []
    for student in absent:
        if student.id in informed or student.id in alerted:
            continue
        recipients = _recipients(session, student)
        row = m.AbsenceAlert(
            student_id=student.id,
            batch_id=batch_id,
            class_date=class_date,
            starts_at=meeting.starts_at.astimezone(timezone.utc),
            recipients=len(recipients),
            sent_at=clock.utcnow(),
        )
        session.add(row)
        session.flush()
        record_change(
            session,
            actor,
            "absence.alerted",
            "absence_alerts",
            row.id,
            None,
            {"student": student.enrollment_id, "batch": batch.code, "class_date": class_date, "to": len(recipients)},
        )
        notices.extend(_alert(r, student, batch, meeting.starts_at, today) for r in recipients)
    session.flush()
    return notices


@dataclass(frozen=True)
class Dispute:
    """The answer to a family's "he was there": the reply, and the teacher's message to send (if any)."""

    reply: str  # the whole reply; with a message to the teacher, what they are asked to check
    notices: list[Notice] = field(default_factory=list)
    teacher: str | None = None  # "Ms. Priya", when the teacher is asked

    def told(self, delivered: bool) -> str:
        """The reply, honest about whether the teacher's message went out."""
        if not self.notices:
            return self.reply
        if delivered:
            return f"Thanks, I've asked {self.teacher} to check {self.reply}."
        return f"Thanks. I couldn't reach the teacher on WhatsApp just now; the office will check {self.reply}."


def _open_alerts(session: Session, students: list[m.Student]) -> list[m.AbsenceAlert]:
    since = clock.utcnow() - timedelta(hours=REPLY_HOURS)
    return list(
        session.execute(
            select(m.AbsenceAlert)
            .where(
                m.AbsenceAlert.student_id.in_([s.id for s in students]),
                m.AbsenceAlert.sent_at >= since,
                m.AbsenceAlert.recipients > 0,
            )
            .order_by(m.AbsenceAlert.sent_at.desc(), m.AbsenceAlert.id.desc())
        ).scalars()
    )


def dispute_absence(session: Session, identity: Identity, text: str, actor: str) -> Dispute:
    """A family's answer to an alert ("he was there"): the newest alert of the caller's students within
    REPLY_HOURS (of the child the message names, if it names one) is marked disputed, with an
    `audit_log` row, and the teacher is asked to check. Only the caller's own students' alerts are found."""
    now = clock.now()
    students = students_for(session, identity)
    named = children_named(students, text)
    alerts = _open_alerts(session, named or students)
    if not alerts:
        return Dispute(
            "I couldn't find a recent absence on your number to correct. If an attendance record is wrong, "
            "please tell the office."
        )
    alert = alerts[0]
    student, batch = session.get(m.Student, alert.student_id), session.get(m.Batch, alert.batch_id)
    starts = clock.as_utc(alert.starts_at).astimezone(clock.school_timezone())
    own = identity.role == "student"
    whose = "your" if own else f"{first_name(student)}'s"
    what = (
        f"{whose} attendance for {batch.name} {day_phrase(alert.class_date, now.date())}, {time_label(starts.time())}"
    )
    teacher = schedule.teacher_on_duty(batch)
    if alert.disputed_at is None:
        alert.disputed_at, alert.disputed_by, alert.dispute_text = clock.utcnow(), identity.phone[:16], text[:500]
        record_change(
            session,
            actor,
            "absence.disputed",
            "absence_alerts",
            alert.id,
            None,
            {
                "student": student.enrollment_id,
                "batch": batch.code,
                "class_date": alert.class_date,
                "said": staff_text(text, 200),
            },
        )
        session.flush()
    elif teacher is not None:
        return Dispute(f"You already told us; {teacher.display_name} was asked to check {what}.")
    if teacher is None or not teacher.phone:
        return Dispute(f"Thanks. The office will check {what}.")
    relation = "the student" if own else f"{first_name(student)}'s parent"
    who = f"{identity.name or 'The family'} ({relation})"
    day, at = short_day_label(alert.class_date), time_label(starts.time())
    message = (
        f"🔁 Attendance check: {who} says {student.name} was in {batch.name} on {day}, {at}, but was marked "
        f"absent: {staff_quote(text)}. If so, please correct it, e.g. "
        f"'{student.name} was present on {alert.class_date:%A}'."
    )
    params = (staff_text(who, 100), student.name, batch.name, day, at)
    notice = Notice(teacher.phone, "teacher", message, DISPUTE_TEMPLATE, params)
    return Dispute(what, [notice], teacher.display_name)
