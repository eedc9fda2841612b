"""People who leave and come back (deactivate, reactivate) and the descriptive edits of a person's record.

The one service the CLI (`hsm people`), the admin API, the importer (`--deactivate-missing`) and the console call.
Nothing is ever deleted: leaving sets `active` false and `deactivated_at`; everything that reaches people (identity,
rosters, reminders, broadcasts, notices) reads `active`, so the change holds from the next message on. Each change
is one `audit_log` row in the caller's transaction (`hsm.records.changes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.phone import InvalidPhoneNumber, mask_phone, normalise_phone
from hsm.people.contact_fields import read_email, read_name, read_phone
from hsm.people.identity import identify
from hsm.people.phones import STAFF, crossing_holders
from hsm.records.changes import Conflict, NotFound, RecordError, apply_changes, record_change

REASON_MAX_CHARS = 500
TITLE_MAX_CHARS = 10
OLDEST_DOB = date(1900, 1, 1)


@dataclass(frozen=True)
class Kind:
    """One kind of person: its table, business key, audit entity and the fields the office may edit."""

    name: str  # "student"
    model: Any
    key: str  # the business key column: "enrollment_id"
    key_label: str  # "enrollment ID", as messages name it
    entity: str  # audit_log.entity: the table's name
    editable: tuple[str, ...]
    phone_required: bool = False


KINDS: dict[str, Kind] = {
    "student": Kind(
        "student", m.Student, "enrollment_id", "enrollment ID", "students", ("name", "phone", "email", "dob")
    ),
    "guardian": Kind("guardian", m.Guardian, "phone", "phone", "guardians", ("name", "phone", "email"), True),
    "teacher": Kind(
        "teacher", m.Teacher, "employee_id", "employee ID", "teachers", ("name", "title", "phone", "email")
    ),
    "admin": Kind("admin", m.Admin, "admin_code", "admin code", "admins", ("name", "phone", "email")),
}


def kind_of(kind: str) -> Kind:
    """The Kind named `kind` ("student", "guardian", "teacher", "admin"); RecordError for anything else."""
    found = KINDS.get(str(kind).strip().lower()) if isinstance(kind, str) else None
    if found is None:
        raise RecordError(f"kind must be one of {', '.join(KINDS)}, not {str(kind)[:20]!r}", "kind")
    return found


def key_of(person: Any) -> str:
    """The business key a person is known by (enrollment ID, phone, employee ID, admin code)."""
    return str(getattr(person, _kind_for_row(person).key))


def _kind_for_row(person: Any) -> Kind:
    return next(kind for kind in KINDS.values() if isinstance(person, kind.model))


def audit_id(person: Any) -> str:
    """A person's audit_log.entity_id: the business key, but a guardian's id (their key is their phone, which the
    audit trail never keeps in full)."""
    return str(person.id) if isinstance(person, m.Guardian) else key_of(person)


def masked(values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` with a phone masked (`+91******3210`), as the audit trail keeps them."""
    return {name: mask_phone(value) if name == "phone" and value else value for name, value in values.items()}


def normalise_key(kind: Kind, key: object) -> str:
    """The key as stored: phones in E.164, other keys trimmed and upper-cased ("hsm-24-001" -> "HSM-24-001")."""
    text = str(key if key is not None else "").strip()
    if not text:
        raise RecordError(f"a {kind.name} needs a {kind.key_label}", kind.key, "missing_field")
    if kind.key == "phone":
        try:
            return normalise_phone(text)
        except InvalidPhoneNumber as error:
            raise RecordError(f"{text[:32]!r} is not a valid phone number", "phone", "invalid_phone") from error
    return text.upper()[:40]


def find_person(session: Session, kind: str, key: object, *, for_update: bool = False) -> Any:
    """The student, guardian, teacher or admin with this key (any format of a phone; keys ignore case)."""
    found_kind = kind_of(kind)
    wanted = normalise_key(found_kind, key)
    column = getattr(found_kind.model, found_kind.key)
    query = select(found_kind.model).where(
        column == wanted if found_kind.key == "phone" else func.upper(column) == wanted
    )
    if for_update:
        query = query.with_for_update()
    person = session.execute(query).scalar_one_or_none()
    if person is None:
        shown = mask_phone(wanted) if found_kind.key == "phone" else wanted
        raise NotFound(f"no {found_kind.name} with {found_kind.key_label} {shown}", found_kind.key)
    return person


def refresh_sessions(session: Session, phones: list[str | None]) -> None:
    """Bring the WhatsApp sessions of these numbers up to date with who the numbers are now (the channel rewrites
    them at every message; the office's views should not wait for one)."""
    for phone in sorted({p for p in phones if p}):
        who = identify(session, phone)
        session.execute(
            update(m.WhatsAppSession)
            .where(m.WhatsAppSession.phone_number == phone)
            .values(user_type=who.role, user_id=who.person_id)
            .execution_options(synchronize_session=False)
        )


def _reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    if not isinstance(reason, str):
        raise RecordError("the reason must be text", "reason")
    text = " ".join(reason.split())
    if len(text) > REASON_MAX_CHARS:
        raise RecordError(f"the reason is {len(text)} characters long; at most {REASON_MAX_CHARS}", "reason")
    return text or None


def set_active(session: Session, actor: str, kind: str, key: object, active: bool, reason: str | None = None) -> Any:
    """Deactivate (`active` False: they left) or reactivate a person; returns the person.

    Conflict when they already are so ("already inactive"), NotFound for an unknown key. `deactivated_at` is set
    when they leave and cleared when they come back; the audit row (`student.deactivated`, `teacher.reactivated`,
    ...) keeps the reason in `after`. Their WhatsApp session is brought up to date at once.
    """
    found_kind = kind_of(kind)
    why = _reason(reason)
    person = find_person(session, found_kind.name, key, for_update=True)
    if bool(person.active) == bool(active):
        state = "active" if active else "inactive"
        raise Conflict(f"{found_kind.name} {key_of(person)} is already {state}", "active", f"already_{state}")
    before = {"active": person.active, "deactivated_at": person.deactivated_at}
    person.active = bool(active)
    person.deactivated_at = None if active else clock.utcnow()
    after: dict[str, Any] = {"active": person.active, "deactivated_at": person.deactivated_at}
    if why:
        after["reason"] = why
    verb = "reactivated" if active else "deactivated"
    record_change(session, actor, f"{found_kind.name}.{verb}", found_kind.entity, audit_id(person), before, after)
    session.flush()
    refresh_sessions(session, [person.phone])
    return person


# ------------------------------------------------------------------------------------------------ descriptive edits


def _text(value: Any, field: str, limit: int, required: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RecordError(f"{field} cannot be empty", field, "missing_field")
        return None
    if not isinstance(value, str):
        raise RecordError(f"{field} must be text", field)
    text = " ".join(value.split())
    if len(text) > limit:
        raise RecordError(f"{field} is {len(text)} characters long; at most {limit}", field)
    return text


def _dob(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        day = value
    elif isinstance(value, str):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError as error:
            raise RecordError(f"dob must be a date as YYYY-MM-DD, not {value[:20]!r}", "dob") from error
    else:
        raise RecordError("dob must be a date as YYYY-MM-DD", "dob")
    if not OLDEST_DOB <= day <= clock.today():
        raise RecordError(f"dob {day.isoformat()} is not a plausible date of birth", "dob")
    return day


def _who(person: Any) -> str:
    kind = _kind_for_row(person)
    left = " (inactive)" if not person.active else ""
    if kind.key == "phone":
        return f"{kind.name} {person.name}{left}"
    return f"{kind.name} {key_of(person)} ({person.name}){left}"


def _phone_conflict(session: Session, kind: Kind, person: Any, phone: str) -> str | None:
    """Who else holds `phone` in a way the records cannot allow, or None (the rule of hsm.people.phones)."""
    crossing = crossing_holders(
        session,
        phone,
        kind.name,
        person_id=person.id,
        students={link.student_id for link in getattr(person, "student_links", [])},
        guardians={link.guardian_id for link in getattr(person, "guardian_links", [])},
    )
    if not crossing:
        return None
    holder = crossing[0]
    other_family = holder.role != kind.name and holder.role not in STAFF
    return _who(holder.row) + (" of another family" if other_family else "")


def _clean(kind: Kind, values: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(values, Mapping) or not values:
        raise RecordError(f"nothing to change: give one or more of {', '.join(kind.editable)}", None, "missing_field")
    unknown = sorted(set(values) - set(kind.editable))
    if unknown:
        raise RecordError(
            f"a {kind.name}'s {unknown[0]} cannot be edited here (editable: {', '.join(kind.editable)})",
            unknown[0],
            "unknown_field",
        )
    cleaned: dict[str, Any] = {}
    for field, value in values.items():
        if field == "name":
            cleaned[field] = read_name(value)
        elif field == "title":
            cleaned[field] = _text(value, "title", TITLE_MAX_CHARS, required=False)
        elif field == "email":
            cleaned[field] = read_email(value)
        elif field == "dob":
            cleaned[field] = _dob(value)
        else:
            cleaned[field] = read_phone(value, required=kind.phone_required)
    return cleaned


def update_person(
    session: Session, actor: str, kind: str, key: object, values: Mapping[str, Any]
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Edit a person's descriptive fields (names, phones, e-mails, a teacher's title, a student's dob); returns
    (person, before, after) of what changed (both empty and no audit row when nothing did).

    Phones are normalised to E.164; one already held by someone else is a Conflict naming them. Business keys
    (enrollment ID, employee ID, admin code) are not editable; a guardian's phone is, and moves their key.
    """
    found_kind = kind_of(kind)
    cleaned = _clean(found_kind, values)
    person = find_person(session, found_kind.name, key, for_update=True)
    old_phone = person.phone
    new_phone = cleaned.get("phone")
    if new_phone and new_phone != old_phone:
        holder = _phone_conflict(session, found_kind, person, new_phone)
        if holder is not None:
            raise Conflict(f"phone {mask_phone(new_phone)} already belongs to {holder}", "phone", "phone_taken")
    before, after = apply_changes(person, cleaned)
    if after:
        action = f"{found_kind.name}.updated"
        record_change(session, actor, action, found_kind.entity, audit_id(person), masked(before), masked(after))
        session.flush()
        if "phone" in after:
            refresh_sessions(session, [old_phone, person.phone])
    return person, before, after
