"""Whom a teacher's leave concerns, and what they are told: once per leave (one or many days) and once when it is
taken back.

One notice per active admin, and one per affected student family (the student's own phone, else each guardian;
one message per phone even when it covers several children, classes or days). Opted-out numbers and the teacher's
own are left out; the leave's reason goes only to the office. Sending is the caller's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hsm.classes import schedule
from hsm.classes.dates import day_label, short_day_label, time_label
from hsm.classes.schedule import ClassMeeting
from hsm.classes.teacher_day import roster_sizes, students_label
from hsm.infra import models as m
from hsm.outreach.notices import Notice, office_admins

CLASS_CANCELLED_TEMPLATE = "class_cancelled"  # {{1}} recipient, {{2}} student, {{3}} class, {{4}} day, {{5}} time
TEACHER_LEAVE_TEMPLATE = "teacher_leave"  # {{1}} teacher, {{2}} employee id, {{3}} day, {{4}} reason, {{5}} classes
CLASSES_HELD_TEMPLATE = "classes_reopened"  # {{1}} recipient, {{2}} classes, {{3}} days
LEAVE_WITHDRAWN_TEMPLATE = "teacher_leave_withdrawn"  # {{1}} teacher, {{2}} employee id, {{3}} days, {{4}} classes


def _first_name(name: str) -> str:
    parts = name.split()
    return parts[0] if parts else name


def _join(items: list[str]) -> str:
    unique = list(dict.fromkeys(items))
    return unique[0] if len(unique) == 1 else ", ".join(unique[:-1]) + " and " + unique[-1]


def days_text(days: list[date], label=short_day_label) -> str:
    """ "Thu, Dec 3", "Thu, Dec 3 to Sat, Dec 5" (days in a row), "Mon, Dec 7 and Wed, Dec 9"."""
    days = sorted(set(days))
    if len(days) > 2 and (days[-1] - days[0]).days == len(days) - 1:
        return f"{label(days[0])} to {label(days[-1])}"
    return _join([label(day) for day in days])


def opted_out_numbers(session: Session) -> set[str]:
    """Numbers that opted out of WhatsApp messages."""
    return set(
        session.execute(
            select(m.WhatsAppSubscription.phone_number).where(m.WhatsAppSubscription.is_active.is_(False))
        ).scalars()
    )


def _skipped(session: Session, teacher: m.Teacher) -> set[str]:
    """Numbers told nothing: opted out of WhatsApp, and the teacher, who knows."""
    skip = opted_out_numbers(session)
    if teacher.phone:
        skip.add(teacher.phone)
    return skip


def _classes_by_day(session: Session, meetings: list[ClassMeeting]) -> str:
    """ "Guitar Beginner 5:00 PM (8 students)", by day when the meetings span several days; "none" when empty."""
    sizes = roster_sizes(session, meetings)

    def line(mt: ClassMeeting) -> str:
        return f"{mt.batch.name} {time_label(mt.starts_at.time())} ({students_label(sizes[mt.batch.id])})"

    days = sorted({mt.starts_at.date() for mt in meetings})
    if len(days) <= 1:
        return ", ".join(line(mt) for mt in meetings) or "none"
    return "; ".join(
        f"{short_day_label(day)}: " + ", ".join(line(mt) for mt in meetings if mt.starts_at.date() == day)
        for day in days
    )


@dataclass
class _Family:
    """Everything one phone must be told: (student, meeting, is the student's own phone) per class."""

    audience: str
    name: str
    items: list[tuple[m.Student, ClassMeeting, bool]]

    def whose(self, student: m.Student, own: bool) -> str:
        return "your" if own else f"{_first_name(student.name)}'s"

    @property
    def kind(self) -> str:
        return "student" if all(own for _, _, own in self.items) else "guardian"


def family_phones(session: Session, student: m.Student) -> list[tuple[str, str, str]]:
    """Where news of a student's class goes, as (phone, "student" or "guardian", name): the student's own phone,
    else each active guardian's."""
    if student.phone:
        return [(student.phone, "student", student.name)]
    links = session.execute(
        select(m.StudentGuardian)
        .join(m.Guardian, m.Guardian.id == m.StudentGuardian.guardian_id)
        .where(m.StudentGuardian.student_id == student.id, m.Guardian.active.is_(True))
        .options(selectinload(m.StudentGuardian.guardian))
    ).scalars()
    return sorted((link.guardian.phone, "guardian", link.guardian.name) for link in links if link.guardian.phone)


def _families(session: Session, meetings: list[ClassMeeting], skip: set[str]) -> dict[str, _Family]:
    families: dict[str, _Family] = {}
    for meeting in meetings:
        for student in schedule.batch_roster(session, meeting.batch.id):  # active enrollments only
            for phone, audience, name in family_phones(session, student):
                if phone in skip:
                    continue
                family = families.setdefault(phone, _Family(audience, name, []))
                family.items.append((student, meeting, audience == "student"))
    return families


# ----------------------------------------------------------------------------------------------- leave taken


def _cancelled_notice(phone: str, family: _Family, teacher: m.Teacher) -> Notice:
    greeting = _first_name(family.name)
    students = _join([_first_name(student.name) for student, _, _ in family.items])
    classes = _join([meeting.batch.name for _, meeting, _ in family.items])
    days = [meeting.starts_at.date() for _, meeting, _ in family.items]
    day = days_text(days, day_label)
    times = _join([time_label(meeting.starts_at.time()) for _, meeting, _ in family.items])
    if len(family.items) == 1:
        student, meeting, own = family.items[0]
        text = (
            f"Hi {greeting}, {family.whose(student, own)} {meeting.batch.name} class on {day} at {times} is "
            f"cancelled: {teacher.display_name} is on leave. We'll let you know about a makeup class."
        )
    elif len(set(days)) == 1:
        listed = ", ".join(
            f"{family.whose(student, own)} {meeting.batch.name} at {time_label(meeting.starts_at.time())}"
            for student, meeting, own in family.items
        )
        text = (
            f"Hi {greeting}, {teacher.display_name} is on leave on {day}, so these classes are cancelled: "
            f"{listed}. We'll let you know about makeup classes."
        )
    else:
        listed = ", ".join(
            f"{family.whose(student, own)} {meeting.batch.name} on {short_day_label(meeting.starts_at.date())} "
            f"at {time_label(meeting.starts_at.time())}"
            for student, meeting, own in family.items
        )
        text = (
            f"Hi {greeting}, {teacher.display_name} is on leave, so these classes are cancelled: "
            f"{listed}. We'll let you know about makeup classes."
        )
    return Notice(phone, family.kind, text, CLASS_CANCELLED_TEMPLATE, (greeting, students, classes, day, times))


def leave_notices(
    session: Session, teacher: m.Teacher, days: list[date], reason: str | None, affected: list[ClassMeeting]
) -> list[Notice]:
    """The notices of a leave over `days` cancelling `affected`: admins first, then families in the order of
    their first cancelled class."""
    skip = _skipped(session, teacher)
    when = days_text(days)
    classes = _classes_by_day(session, affected)
    text = f"{teacher.display_name} ({teacher.employee_id}) is on leave on {when}" + (
        f" ({reason}). " if reason else ". "
    )
    text += f"Affected: {classes}." if affected else "No classes are affected."
    params = (teacher.display_name, teacher.employee_id, when, reason or "not given", classes)
    notices = [
        Notice(admin.phone, "admin", text, TEACHER_LEAVE_TEMPLATE, params)
        for admin in office_admins(session)
        if admin.phone not in skip
    ]
    for phone, family in _families(session, affected, skip).items():
        notices.append(_cancelled_notice(phone, family, teacher))
    return notices


# ----------------------------------------------------------------------------------------------- leave taken back


def _held_notice(phone: str, family: _Family, teacher: m.Teacher) -> Notice:
    greeting = _first_name(family.name)
    days = [meeting.starts_at.date() for _, meeting, _ in family.items]
    if len(set(days)) == 1:
        classes = _join(
            [
                f"{family.whose(student, own)} {meeting.batch.name} class at {time_label(meeting.starts_at.time())}"
                for student, meeting, own in family.items
            ]
        )
    else:
        classes = _join(
            [
                f"{family.whose(student, own)} {meeting.batch.name} class on "
                f"{short_day_label(meeting.starts_at.date())} at {time_label(meeting.starts_at.time())}"
                for student, meeting, own in family.items
            ]
        )
    day = days_text(days, day_label)
    text = (
        f"Hi {greeting}, good news: {classes} on {day} will be held after all, as usual. "
        f"{teacher.display_name} is not on leave then."
    )
    return Notice(phone, family.kind, text, CLASSES_HELD_TEMPLATE, (greeting, classes, day))


def withdrawal_notices(
    session: Session, teacher: m.Teacher, days: list[date], restored: list[ClassMeeting]
) -> list[Notice]:
    """The notices of a leave taken back on `days`: admins first, then the families of the `restored` classes."""
    skip = _skipped(session, teacher)
    when = days_text(days)
    classes = _classes_by_day(session, restored)
    text = f"{teacher.display_name} ({teacher.employee_id}) is no longer on leave on {when}. " + (
        f"Held as usual: {classes}." if restored else "No classes are affected."
    )
    params = (teacher.display_name, teacher.employee_id, when, classes)
    notices = [
        Notice(admin.phone, "admin", text, LEAVE_WITHDRAWN_TEMPLATE, params)
        for admin in office_admins(session)
        if admin.phone not in skip
    ]
    for phone, family in _families(session, restored, skip).items():
        notices.append(_held_notice(phone, family, teacher))
    return notices
