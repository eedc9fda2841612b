"""Attendance override (UC-10) and student look-up (UC-9) for the office: find the student and the class,
show before/after, and change one record with balances corrected and the change in `audit_log`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm.classes.attendance import ABSENT, PRESENT
from hsm.classes.dates import short_day_label, time_label
from hsm.classes.roster_match import RosterEntry, match_name
from hsm.classes.schedule import NO_TEACHER, meetings_between, teacher_on_duty
from hsm.infra import clock, metrics
from hsm.infra import models as m
from hsm.infra.config import get_settings
from hsm.money import billing
from hsm.people.identity import Identity
from hsm.records.changes import record_change


def teacher_window_days() -> int:
    """How far back a teacher may correct their own classes (the office may correct any)."""
    return get_settings().attendance.teacher_correction_days


# ------------------------------------------------------------------------------------------------ finding students


_ENROLLMENT_ID = re.compile(r"\bHSM[ _-]?(\d{2})[ _-]?(\d{3})\b", re.IGNORECASE)
_NOT_A_NAME = re.compile(
    r"\b(show|me|give|get|the|a|an|of|for|about|on|in|at|info|information|details?|enrollments?|enrolment|"
    r"student|profile|record|card|balance|please|pls|what|is|was|mark|marked|as|present|absent|class|classes|"
    r"yesterday|today|last|this|lesson|attendance|\w+day|who|did|not|come|came|'s|s|\d+\w*|"
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b|[^\w\s]",
    re.IGNORECASE,
)


def name_in(text: str) -> str:
    """The words of a request that can be a name ("Show me John Doe's enrollment details" -> "John Doe")."""
    return " ".join(_NOT_A_NAME.sub(" ", text.replace("'s ", " ")).split())


def find_students(session: Session, text: str, teacher_id: int | None = None) -> list[m.Student]:
    """Students someone means: an enrollment ID anywhere in the text, else a (fuzzy) name; an admin searches every
    student (those who left too: `student_label` and the card say so), a teacher (`teacher_id`) only the current
    students enrolled in batches they teach."""
    query = select(m.Student).order_by(m.Student.enrollment_id)
    if teacher_id is not None:
        query = query.where(
            m.Student.active.is_(True),
            m.Student.id.in_(
                select(m.Enrollment.student_id)
                .join(m.Batch, m.Batch.id == m.Enrollment.batch_id)
                .where(m.Batch.teacher_id == teacher_id, m.Enrollment.status != "ended")
            ),
        )
    code = _ENROLLMENT_ID.search(text)
    if code:
        enrollment_id = f"HSM-{code.group(1)}-{code.group(2)}"
        student = session.execute(query.filter_by(enrollment_id=enrollment_id)).scalar_one_or_none()
        return [student] if student else []
    students = session.execute(query).scalars().all()
    course_words = {
        word.lower()
        for course in session.execute(select(m.Course)).scalars()
        for name in (course.name, *course.aliases)
        for word in name.split()
    }
    name = " ".join(word for word in name_in(text).split() if word.lower() not in course_words)
    found = match_name(name, [RosterEntry(s.id, s.name) for s in students])
    ids = [c.student_id for c in found.candidates]
    return [s for s in students if s.id in ids]


def student_label(student: m.Student) -> str:
    """How the office sees a student in a list: 'John Doe', or 'John Doe (left)' once they left the school."""
    return student.name if student.active else f"{student.name} (left)"


def _left_note(student: m.Student) -> str:
    if student.active:
        return ""
    when = student.deactivated_at
    return " — left" + (
        f" on {short_day_label(clock.as_utc(when).astimezone(clock.school_timezone()).date())}" if when else ""
    )


def student_card(session: Session, student: m.Student) -> str:
    """The seed's card: name, contact, each enrollment with plan and classes left (and "no teacher" where its
    teacher has left), payment status, last payment; a student who left is shown as such."""
    today = clock.today()
    lines = [f"👤 {student.name} ({student.enrollment_id}){_left_note(student)}"]
    contact = [c for c in (student.email, student.phone) if c]
    guardians = [
        f"{link.guardian.name} ({link.relation or 'guardian'}) {link.guardian.phone}" for link in student.guardian_links
    ]
    if contact:
        lines.append("📧 " + " · ".join(contact))
    if guardians:
        lines.append("👪 " + "; ".join(guardians))
    lines.append("")
    for balance in billing.balances(session, student.id, today):
        due = "no due date"
        if balance.next_due:
            due = (
                f"₹{balance.fee} overdue since {short_day_label(balance.next_due)}"
                if balance.overdue
                else f"₹{balance.fee} due {short_day_label(balance.next_due)}"
            )
        paused = " (paused)" if balance.status == "paused" else ""
        enrollment = session.get(m.Enrollment, balance.enrollment_id)
        teacher = "" if enrollment is None or teacher_on_duty(enrollment.batch) else f" · {NO_TEACHER}"
        lines.append(
            f"🎵 {balance.batch}{paused}: {balance.plan}, {balance.classes_remaining} classes left, {due}{teacher}"
        )
    last = billing.last_payment(session, student.id)
    if last:
        course = f" for {last.course.name}" if last.course else ""
        lines.append(f"💳 Last payment: ₹{last.amount}{course} on {short_day_label(last.paid_on)} ({last.method})")
    else:
        lines.append("💳 No payments on record")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ overrides


@dataclass(frozen=True)
class Override:
    """One proposed change: this student's record in this class becomes `status`."""

    student_id: int
    batch_id: int
    class_date: date
    status: str
    before: str | None  # "present", "absent" or None (class held but never marked)

    def describe(self, session: Session) -> str:
        student = session.get(m.Student, self.student_id)
        batch = session.get(m.Batch, self.batch_id)
        was = self.before or "not marked"
        return f"{student.name}, {batch.name} on {short_day_label(self.class_date)}: {was} → {self.status}"


class OverrideError(ValueError):
    """The request cannot be done; the message is written for the person asking."""


def plan_override(
    session: Session,
    who: Identity,
    student: m.Student,
    status: str,
    day: date | None,
    instrument: str | None = None,
    batch: m.Batch | None = None,
) -> Override:
    """Find the class (the student's batch that met on `day`, optionally of that instrument or that `batch`) and
    the record."""
    if status not in (PRESENT, ABSENT):
        raise OverrideError("Tell me whether the student was present or absent.")
    today = clock.today()
    day = day or today
    if day > today:
        raise OverrideError("That class hasn't happened yet.")
    enrollments = [e for e in student.enrollments if e.status != "ended"]
    batches = [e.batch for e in enrollments]
    if instrument:
        wanted = instrument.lower()
        batches = [
            b
            for b in batches
            if wanted in b.course.name.lower()
            or wanted in b.name.lower()
            or any(wanted == a.lower() for a in b.course.aliases)
        ]
    if batch is not None:
        batches = [b for b in batches if b.id == batch.id]
    meetings = meetings_between(session, batches, day, day)
    if who.role == "teacher":
        meetings = [mt for mt in meetings if mt.batch.teacher_id == who.person_id]
    held = [mt for mt in meetings if mt.held]
    if who.role == "teacher":
        if day < today - timedelta(days=teacher_window_days()):
            raise OverrideError(
                f"Teachers can correct classes of the last {teacher_window_days()} days; "
                "please ask the office for older ones."
            )
    closed = next(((mt.batch, mt.closed) for mt in meetings if mt.closed is not None), None)
    if not held and closed is not None:  # a holiday or the office's closure: the class did not take place
        raise OverrideError(
            f"{student.name.split()[0]}'s {closed[0].name} class on {short_day_label(day)} was cancelled "
            f"({closed[1].labelled}), so there is no attendance to correct."
        )
    if not held:
        raise OverrideError(
            f"I couldn't find a class of {student.name.split()[0]}'s on {short_day_label(day)}"
            + (" that you teach." if who.role == "teacher" else ".")
        )
    if len(held) > 1:
        options = ", ".join(f"{mt.batch.name} {time_label(mt.starts_at.time())}" for mt in held)
        raise OverrideError(
            f"{student.name.split()[0]} had more than one class that day ({options}); please name the instrument."
        )
    meeting = held[0]
    record = session.execute(
        select(m.AttendanceRecord).where(
            m.AttendanceRecord.student_id == student.id,
            m.AttendanceRecord.batch_id == meeting.batch.id,
            m.AttendanceRecord.class_date == day,
        )
    ).scalar_one_or_none()
    return Override(student.id, meeting.batch.id, day, status, record.status if record else None)


def apply_override(session: Session, override: Override, actor: str, reason: str | None = None) -> str:
    """Write the change (balance corrected), and the audit row with who, what, before, after (with the `reason`
    when given), when."""
    record = session.execute(
        select(m.AttendanceRecord)
        .where(
            m.AttendanceRecord.student_id == override.student_id,
            m.AttendanceRecord.batch_id == override.batch_id,
            m.AttendanceRecord.class_date == override.class_date,
        )
        .with_for_update()
    ).scalar_one_or_none()
    before = record.status if record else None
    if before == override.status:
        return "Nothing to change: " + override.describe(session).split(":")[0] + f" is already {before}."
    enrollment = session.execute(
        select(m.Enrollment)
        .where(m.Enrollment.student_id == override.student_id, m.Enrollment.batch_id == override.batch_id)
        .with_for_update()
    ).scalar_one_or_none()
    if enrollment is not None:
        if override.status == PRESENT:
            enrollment.classes_remaining = max(0, enrollment.classes_remaining - 1)
        elif before == PRESENT:
            enrollment.classes_remaining += 1
    marker = actor.split(":")[-1]
    if record is None:
        session.add(
            m.AttendanceRecord(
                student_id=override.student_id,
                batch_id=override.batch_id,
                class_date=override.class_date,
                status=override.status,
                marked_by=marker,
                source="override",
            )
        )
    else:
        record.status, record.marked_by, record.source = override.status, marker, "override"
    metrics.ATTENDANCE_SAVED.labels("override").inc()
    student = session.get(m.Student, override.student_id)
    batch = session.get(m.Batch, override.batch_id)
    record_change(
        session,
        actor,
        "attendance.override",
        "attendance_records",
        f"{batch.code}:{override.class_date}:{student.enrollment_id}",
        {"status": before},
        {"status": override.status, **({"reason": reason} if reason else {})},
    )
    session.flush()
    left = f" ({enrollment.classes_remaining} classes left)" if enrollment is not None else ""
    return (
        f"✅ Updated: {student.name}, {batch.name} on {short_day_label(override.class_date)} is now "
        f"{override.status}{left}."
    )
