"""Admissions: a new student with their guardian and first enrollment, in one transaction (`admit_student`), and a
lead converted into one (`convert_lead`).

What is checked before anything is written: the batch exists, is active and has a free seat (unless
`over_capacity`), the plan is one of the course's; a student has a phone or a guardian, is old enough for the
course, and has a guardian when under ADULT_AGE; the enrollment id is free. Phones are not shared across people
unless `allow_shared_phone`: identity goes by phone, so a student's number that is also another student's, another
family's guardian's or a staff member's would let one see the other's classes and fees. A guardian's phone that is
already a guardian's links that guardian (siblings: one family) when the names agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.phone import mask_phone
from hsm.money.payments import PLAN_MONTHS, add_months
from hsm.outreach.broadcast.audience import ADULT_AGE, age_on  # a minor: under 18, by date of birth
from hsm.outreach.enrollment import _taken_seats as taken_seats  # active enrollments per batch, as prospects see
from hsm.outreach.leads import OPEN, find_batch, get_lead, move_lead
from hsm.people.contact_fields import read_email, read_name, read_phone
from hsm.people.lifecycle import masked
from hsm.people.phones import Holder, crossing_holders, family_guardian, same_name
from hsm.records.changes import Conflict, RecordError, record_change, snapshot

ENROLLMENT_ID_DIGITS = 3  # HSM-26-001
DEFAULT_RELATION = "guardian"
_STUDENT_FIELDS = ("enrollment_id", "name", "dob", "phone", "email")
_ENROLLMENT_FIELDS = ("plan", "fee", "classes_remaining", "next_due", "status")


@dataclass(frozen=True)
class GuardianDetails:
    name: str
    phone: str
    relation: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Admission:
    student: m.Student
    enrollment: m.Enrollment
    guardian: m.Guardian | None
    guardian_created: bool  # False: an existing guardian (a sibling's) was linked
    relation: str | None = None  # the guardian's, to the student


# ------------------------------------------------------------------------------------------------ checks


def _check_age(dob: date | None, course: m.Course, guardian: GuardianDetails | None, today: date) -> None:
    if dob is None:
        return
    if dob > today:
        raise RecordError(f"{dob.isoformat()} is in the future", "dob")
    age = age_on(dob, today)
    if course.min_age is not None and age < course.min_age:
        raise RecordError(f"{course.name} starts at age {course.min_age}; the student is {age}", "dob", "too_young")
    if age < ADULT_AGE and guardian is None:
        raise RecordError(f"a student under {ADULT_AGE} needs a guardian (this one is {age})", "guardian")


def _check_seat(session: Session, batch: m.Batch, over_capacity: bool) -> None:
    if not batch.active:
        raise Conflict(f"batch {batch.code} is not active", "batch", "batch_inactive")
    taken = taken_seats(session, [batch.id]).get(batch.id, 0)
    if taken >= batch.capacity and not over_capacity:
        raise Conflict(
            f"batch {batch.code} is full ({taken} of {batch.capacity} seats taken); admit over capacity to add anyway",
            "batch",
            "batch_full",
        )


def _plan(batch: m.Batch, plan: str) -> m.CoursePlan:
    plans = {row.plan: row for row in batch.course.plans}
    if plan not in plans:
        raise RecordError(f"{batch.course.name} has no {plan!r} plan ({', '.join(sorted(plans))})", "plan")
    return plans[plan]


def _shared(phone: str, field: str, holder: Holder) -> Conflict:
    return Conflict(
        f"{mask_phone(phone)} is already the phone of {holder.label}: a shared phone sees both people's classes and "
        "fees (allow a shared phone to admit anyway)",
        field,
        "shared_phone",
    )


def _existing_guardian(session: Session, guardian: GuardianDetails, allow_shared_phone: bool) -> m.Guardian | None:
    """The guardian already holding the phone (a sibling's: linked), after refusing holders of another family
    (hsm.people.phones) unless allowed."""
    existing = family_guardian(session, guardian.phone)
    family = {existing.id} if existing is not None and same_name(existing.name, guardian.name) else set()
    crossing = crossing_holders(session, guardian.phone, "guardian", name=guardian.name, guardians=family)
    if crossing and not allow_shared_phone:
        holder = crossing[0]
        if holder.role == "guardian":
            raise Conflict(
                f"{mask_phone(guardian.phone)} is already the phone of guardian {holder.row.name}, another family's "
                "(a sibling's guardian must have the same name; allow a shared phone to link them anyway)",
                "guardian.phone",
                "shared_phone",
            )
        raise _shared(guardian.phone, "guardian.phone", holder)
    return existing


def _check_student_phone(session: Session, phone: str, guardian: m.Guardian | None, allowed: bool) -> None:
    """The student's phone is theirs alone, or their own guardian's (`guardian`: the one being linked)."""
    crossing = crossing_holders(session, phone, "student", guardians={guardian.id} if guardian is not None else ())
    if crossing and not allowed:
        raise _shared(phone, "phone", crossing[0])


# ------------------------------------------------------------------------------------------------ enrollment ids


def next_enrollment_id(session: Session, today: date | None = None) -> str:
    """The next free id in the school's pattern: short name, admission year, number (HSM-26-001, HSM-26-002...)."""
    short_name = session.execute(select(m.School.short_name).where(m.School.id == 1)).scalar_one_or_none() or "HSM"
    prefix = f"{short_name}-{(today or clock.today()):%y}-"
    taken = session.execute(
        select(m.Student.enrollment_id).where(m.Student.enrollment_id.startswith(prefix, autoescape=True))
    )
    numbers = [int(rest) for (value,) in taken if (rest := value[len(prefix) :]).isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1:0{ENROLLMENT_ID_DIGITS}d}"


def _enrollment_id(session: Session, wanted: str | None) -> str | None:
    """The id asked for (refused when taken), or None: the next free one, chosen when the row is written."""
    if wanted is None or not wanted.strip():
        return None
    value = wanted.strip().upper()
    if len(value) > 20:
        raise RecordError(f"{value[:24]!r} is longer than 20 characters", "enrollment_id")
    if session.execute(select(m.Student.id).where(m.Student.enrollment_id == value)).first():
        raise _taken(value)
    return value


def _taken(enrollment_id: str) -> Conflict:
    return Conflict(f"enrollment id {enrollment_id} is taken", "enrollment_id", "enrollment_id_taken")


def _add_student(session: Session, student: m.Student) -> None:
    """Insert the student, with the next free enrollment id unless one was chosen. The school's row is locked
    first (PostgreSQL), so concurrent admissions take their ids one after the other; SQLite has one writer."""
    session.execute(select(m.School.id).where(m.School.id == 1).with_for_update())
    if student.enrollment_id is None:
        student.enrollment_id = next_enrollment_id(session)
    session.add(student)
    try:
        session.flush()
    except IntegrityError:  # taken between our check and our insert
        raise _taken(student.enrollment_id) from None


# ------------------------------------------------------------------------------------------------ admitting


def _guardian_details(value: GuardianDetails | Mapping[str, Any] | None) -> GuardianDetails | None:
    if value is None:
        return None
    raw = value if isinstance(value, Mapping) else value.__dict__
    phone = read_phone(raw.get("phone"), "guardian.phone")
    if phone is None:
        raise RecordError("a guardian needs a phone", "guardian.phone", "missing_field")
    relation = " ".join(str(raw.get("relation") or "").split()).lower() or DEFAULT_RELATION
    if len(relation) > 40:
        raise RecordError("at most 40 characters", "guardian.relation")
    return GuardianDetails(
        read_name(raw.get("name"), "guardian.name"), phone, relation, read_email(raw.get("email"), "guardian.email")
    )


def _whole(value: int | None, field: str, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RecordError("must be a whole number, 0 or more", field)
    return value


def admit_student(
    session: Session,
    actor: str,
    *,
    name: str,
    phone: str | None = None,
    dob: date | None = None,
    email: str | None = None,
    guardian: GuardianDetails | Mapping[str, Any] | None = None,
    batch_code: str,
    plan: str,
    fee: int | None = None,
    classes_remaining: int | None = None,
    next_due: date | None = None,
    enrollment_id: str | None = None,
    over_capacity: bool = False,
    allow_shared_phone: bool = False,
) -> Admission:
    """Admit a student (in the caller's transaction): the student, their guardian (new, or the existing one with
    that phone and name) and their enrollment in `batch_code` on `plan`, each with an audit row. Defaults: the
    plan's fee and classes, the next due date one plan period from today, the next free enrollment id.
    RecordError (invalid / Conflict) before anything is written when a check fails (see the module's docstring)."""
    today = clock.today()
    name = read_name(name, "name")
    phone = read_phone(phone, "phone")
    email = read_email(email, "email")
    details = _guardian_details(guardian)
    batch = find_batch(session, batch_code)
    course_plan = _plan(batch, plan)
    _check_age(dob, batch.course, details, today)
    if phone is None and details is None:
        raise RecordError("a student needs a phone or a guardian", "phone", "missing_field")
    session.execute(select(m.Batch.id).where(m.Batch.id == batch.id).with_for_update())  # one admission per batch
    _check_seat(session, batch, over_capacity)
    chosen_id = _enrollment_id(session, enrollment_id)
    existing = _existing_guardian(session, details, allow_shared_phone) if details else None
    if phone is not None:
        _check_student_phone(session, phone, existing, allow_shared_phone)
    enrollment = m.Enrollment(
        batch_id=batch.id,
        plan=plan,
        fee=_whole(fee, "fee", course_plan.fee),
        classes_remaining=_whole(classes_remaining, "classes_remaining", course_plan.classes),
        next_due=next_due or add_months(today, PLAN_MONTHS.get(plan, 1)),
        status="active",
    )
    student = m.Student(enrollment_id=chosen_id, name=name, dob=dob, phone=phone, email=email, active=True)
    _add_student(session, student)
    enrollment.student_id = student.id
    session.add(enrollment)
    guardian_row = _link_guardian(session, actor, student, details, existing) if details else None
    session.flush()
    admitted = masked(snapshot(student, _STUDENT_FIELDS))
    record_change(session, actor, "student.admitted", "students", student.enrollment_id, None, admitted)
    record_change(
        session,
        actor,
        "enrollment.created",
        "enrollments",
        f"{student.enrollment_id}:{batch.code}",
        None,
        {"batch": batch.code, **snapshot(enrollment, _ENROLLMENT_FIELDS), "over_capacity": over_capacity},
    )
    created = guardian_row is not None and existing is None
    return Admission(student, enrollment, guardian_row, created, details.relation if details else None)


def _link_guardian(
    session: Session, actor: str, student: m.Student, details: GuardianDetails, existing: m.Guardian | None
) -> m.Guardian:
    guardian = existing
    if guardian is None:
        guardian = m.Guardian(name=details.name, phone=details.phone, email=details.email, active=True)
        session.add(guardian)
        session.flush()
        record_change(
            session,
            actor,
            "guardian.created",
            "guardians",
            guardian.id,
            None,
            masked(snapshot(guardian, ("name", "phone"))),
        )
    elif not guardian.active:  # a family coming back: the guardian is active again
        guardian.active, guardian.deactivated_at = True, None
        record_change(
            session, actor, "guardian.reactivated", "guardians", guardian.id, {"active": False}, {"active": True}
        )
    session.add(m.StudentGuardian(student_id=student.id, guardian_id=guardian.id, relation=details.relation))
    record_change(
        session,
        actor,
        "guardian.linked",
        "student_guardians",
        f"{student.enrollment_id}:{guardian.id}",
        None,
        {"student": student.enrollment_id, "guardian_id": guardian.id, "relation": details.relation},
    )
    return guardian


# ------------------------------------------------------------------------------------------------ leads


def convert_lead(
    session: Session,
    actor: str,
    lead_id: int,
    *,
    plan: str,
    batch_code: str | None = None,
    student_name: str | None = None,
    guardian_name: str | None = None,
    guardian_relation: str | None = None,
    dob: date | None = None,
    email: str | None = None,
    note: str | None = None,
    **admission: Any,
) -> tuple[m.Lead, Admission]:
    """Admit the student a lead asked for, and move the lead to enrolled with the student linked, in the caller's
    transaction. The lead gives the phone (and the batch of a booked trial); the office adds the batch and plan,
    and for a child (the lead's age under ADULT_AGE, a dob that says so, or a guardian's name given) the student's
    name: the number that enquired is then the guardian's, named `guardian_name` or as the lead is. Otherwise the
    number is the student's own, and the student is named `student_name` or as the lead is. `admission` passes
    fee, classes_remaining, next_due, enrollment_id, over_capacity, allow_shared_phone on to `admit_student`."""
    lead = get_lead(session, lead_id, for_update=True)
    if lead.status not in OPEN:
        hint = "reopen it first" if lead.status == "lost" else f"student {getattr(lead.student, 'enrollment_id', '?')}"
        raise Conflict(f"lead {lead.id} is {lead.status} ({hint})", "status", "move_not_allowed")
    batch_code = batch_code or (lead.trial_batch.code if lead.trial_batch else None)
    if not batch_code:
        raise RecordError("which batch? (the lead has no trial batch)", "batch", "missing_field")
    today = clock.today()
    child = (
        guardian_name is not None
        or (dob is not None and age_on(dob, today) < ADULT_AGE)
        or (dob is None and lead.student_age is not None and lead.student_age < ADULT_AGE)
    )
    if child:
        if not student_name:
            raise RecordError("a parent's enquiry: give the student's name", "student_name", "missing_field")
        people: dict[str, Any] = {
            "name": student_name,
            "guardian": GuardianDetails(
                read_name(guardian_name or lead.name, "guardian_name"), lead.phone, guardian_relation, None
            ),
        }
    else:
        people = {"name": read_name(student_name or lead.name, "student_name"), "phone": lead.phone}
    admitted = admit_student(
        session, actor, dob=dob, email=email, batch_code=batch_code, plan=plan, **people, **admission
    )
    move_lead(session, lead.id, "enrolled", actor, note=note, student=admitted.student)
    return lead, admitted
