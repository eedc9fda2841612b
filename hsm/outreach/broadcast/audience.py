"""Who an announcement reaches: the audience kinds, each student's contacts, and opted-out numbers left out.

Audience. `all_students` (every student with an active or paused enrollment), `all_teachers` (active teachers),
`batch` / `course` (students actively enrolled), `custom` (a list of numbers); and, for the school's own notices
(closures), `batches` (`codes`: students actively enrolled in any of them). Students and guardians who left are
never in an audience. A student is reached through `student_contacts`: a minor (under 18 today) through their
guardians, an adult (or a minor with no guardian) on their own phone. Phones are deduplicated; opted-out numbers
(`whatsapp_subscriptions.is_active` false, or `preferences["announcements"]` false) are never messaged: they are
stored as `skipped` recipients, so the record shows they were left out on purpose.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.phone import InvalidPhoneNumber, normalise_phone
from hsm.outreach.broadcast.errors import AudienceError

ADULT_AGE = 18
AUDIENCE_KINDS = ("all_students", "all_teachers", "batch", "course", "custom")
BATCHES = "batches"  # the school's own notices only (hsm.outreach.closure_notices), not offered by the admin API
CURRENT_ENROLLMENTS = ("active", "paused")
OPTED_OUT = "opted out"


@dataclass(frozen=True)
class Recipient:
    phone: str
    name: str | None = None


@dataclass
class AudiencePlan:
    recipients: list[Recipient] = field(default_factory=list)
    opted_out: list[Recipient] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def first_name(name: str | None) -> str:
    parts = (name or "").split()
    return parts[0] if parts else "there"


def age_on(dob: date, day: date) -> int:
    return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


def is_minor(student: m.Student, day: date) -> bool:
    return student.dob is not None and age_on(student.dob, day) < ADULT_AGE


def student_contacts(student: m.Student, today: date) -> list[Recipient]:
    """Whom to message about a student: a minor's guardians, else the student's own phone (or guardians if none).
    Guardians who left (deactivated) are nobody's contact."""
    guardians = sorted(
        (
            link.guardian
            for link in student.guardian_links
            if link.guardian and link.guardian.phone and link.guardian.active
        ),
        key=lambda guardian: guardian.id,
    )
    if student.phone and not (is_minor(student, today) and guardians):
        return [Recipient(student.phone, student.name)]
    return [Recipient(guardian.phone, guardian.name) for guardian in guardians]


def opted_out_phones(session: Session, phones: Iterable[str], preference: str) -> set[str]:
    """The numbers that opted out of WhatsApp altogether, or of `preference` ("announcements", "reminders")."""
    wanted = sorted(set(phones))
    out: set[str] = set()
    for chunk in _chunks(wanted, 500):
        rows = session.execute(
            select(
                m.WhatsAppSubscription.phone_number,
                m.WhatsAppSubscription.is_active,
                m.WhatsAppSubscription.preferences,
            ).where(m.WhatsAppSubscription.phone_number.in_(chunk))
        )
        for phone, active, preferences in rows:
            if active is False or (preferences or {}).get(preference) is False:
                out.add(phone)
    return out


def _students_query():
    return (
        select(m.Student)
        .options(selectinload(m.Student.guardian_links).selectinload(m.StudentGuardian.guardian))
        .order_by(m.Student.enrollment_id)
    )


def _enrolled(*conditions) -> Any:
    return select(m.Enrollment.student_id).join(m.Batch, m.Batch.id == m.Enrollment.batch_id).where(*conditions)


def _code(audience: dict) -> str:
    code = audience.get("code")
    if not isinstance(code, str) or not code.strip():
        raise AudienceError("audience.code", f"a {audience['kind']} audience needs a code", "missing_field")
    return code.strip()


def _batches_recipients(session: Session, audience: dict) -> list[Recipient]:
    codes = audience.get("codes")
    if not isinstance(codes, list) or not codes or not all(isinstance(code, str) for code in codes):
        raise AudienceError("audience.codes", "a batches audience needs a list of batch codes", "missing_field")
    batch_ids = list(session.execute(select(m.Batch.id).where(m.Batch.code.in_(codes))).scalars())
    if len(batch_ids) != len(set(codes)):
        raise AudienceError("audience.codes", "an unknown batch code", "unknown_batch")
    ids = _enrolled(m.Enrollment.batch_id.in_(batch_ids), m.Enrollment.status == "active")
    today = clock.today()
    students = session.execute(_students_query().where(m.Student.id.in_(ids), m.Student.active.is_(True))).scalars()
    return [contact for student in students for contact in student_contacts(student, today)]


def _student_recipients(session: Session, audience: dict) -> list[Recipient]:
    kind = audience["kind"]
    if kind == BATCHES:
        return _batches_recipients(session, audience)
    if kind == "all_students":
        ids = _enrolled(m.Enrollment.status.in_(CURRENT_ENROLLMENTS))
    elif kind == "batch":
        code = _code(audience)
        batch = session.execute(select(m.Batch).where(m.Batch.code == code)).scalar_one_or_none()
        if batch is None:
            raise AudienceError("audience.code", f"no batch with code {code!r}", "unknown_batch")
        ids = _enrolled(m.Enrollment.batch_id == batch.id, m.Enrollment.status == "active")
    else:
        code = _code(audience)
        course = session.execute(select(m.Course).where(m.Course.code == code)).scalar_one_or_none()
        if course is None:
            raise AudienceError("audience.code", f"no course with code {code!r}", "unknown_course")
        ids = _enrolled(m.Batch.course_id == course.id, m.Enrollment.status == "active")
    today = clock.today()
    recipients: list[Recipient] = []
    students = _students_query().where(m.Student.id.in_(ids), m.Student.active.is_(True))
    for student in session.execute(students).scalars():
        recipients.extend(student_contacts(student, today))
    return recipients


def _teacher_recipients(session: Session) -> list[Recipient]:
    teachers = session.execute(
        select(m.Teacher)
        .where(m.Teacher.active.is_(True), m.Teacher.phone.is_not(None))
        .order_by(m.Teacher.employee_id)
    ).scalars()
    return [Recipient(teacher.phone, teacher.name) for teacher in teachers]


def names_by_phone(session: Session, phones: Sequence[str]) -> dict[str, str]:
    """The school's name for each known number (admin, teacher, student, guardian: the first that matches)."""
    names: dict[str, str] = {}
    for model in (m.Guardian, m.Student, m.Teacher, m.Admin):  # later ones win, so admins' names come last
        for chunk in _chunks(list(phones), 500):
            for phone, name in session.execute(select(model.phone, model.name).where(model.phone.in_(chunk))):
                names[phone] = name
    return names


def _custom_recipients(session: Session, audience: dict, plan: AudiencePlan) -> list[Recipient]:
    raw = audience.get("phones")
    if not isinstance(raw, list) or not raw:
        raise AudienceError(
            "audience.phones", "a custom audience needs a non-empty list of phone numbers", "missing_field"
        )
    phones: list[str] = []
    for item in raw:
        try:
            if not isinstance(item, (str, int)) or isinstance(item, bool):
                raise InvalidPhoneNumber(repr(item))
            phones.append(normalise_phone(item))
        except InvalidPhoneNumber:
            plan.invalid.append(str(item))
    names = names_by_phone(session, sorted(set(phones)))
    return [Recipient(phone, names.get(phone)) for phone in phones]


def plan_audience(session: Session, audience: dict) -> AudiencePlan:
    """Everyone the audience names: to message, opted out, and (custom lists) invalid numbers."""
    if not isinstance(audience, dict) or audience.get("kind") not in (*AUDIENCE_KINDS, BATCHES):
        raise AudienceError("audience.kind", f"kind must be one of {', '.join(AUDIENCE_KINDS)}", "invalid_kind")
    plan = AudiencePlan()
    kind = audience["kind"]
    if kind == "all_teachers":
        found = _teacher_recipients(session)
    elif kind == "custom":
        found = _custom_recipients(session, audience, plan)
    else:
        found = _student_recipients(session, audience)
    unique: dict[str, Recipient] = {}
    for recipient in found:
        unique.setdefault(recipient.phone, recipient)
    opted_out = opted_out_phones(session, unique, "announcements")
    for recipient in unique.values():
        (plan.opted_out if recipient.phone in opted_out else plan.recipients).append(recipient)
    return plan


def resolve_audience(session: Session, audience: dict) -> list[Recipient]:
    """The numbers to message, opted-out ones left out; invalid custom numbers raise AudienceError naming them."""
    plan = plan_audience(session, audience)
    if plan.invalid:
        raise AudienceError(
            "audience.phones",
            f"not valid phone numbers: {', '.join(plan.invalid)}",
            "invalid_phone",
            {"invalid": plan.invalid},
        )
    return plan.recipients
