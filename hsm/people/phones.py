"""Who holds a phone number in the records, and whether one more holder would join two families.

Identity goes by phone (hsm.people.identity): a number that is one family's and another's would let each see the
other's classes and fees. The one rule, used by admissions, the importer's merge and the people lifecycle:

- one number per student, per guardian, per teacher and per admin (one row of each kind);
- a guardian's number may be held by the same family: a guardian of the same name (a sibling's: one person), or a
  student of the family (a child using the parent's phone);
- a student's number may be their own guardian's;
- a teacher or admin who is also a parent may hold a guardian's number (one number, two roles);
- anything else (another family's student or guardian, a staff member's number for a student) crosses families,
  and is refused unless the caller explicitly allows shared phones.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm.infra import models as m

STAFF = ("teacher", "admin")
_MODELS: tuple[tuple[str, Any], ...] = (
    ("student", m.Student),
    ("guardian", m.Guardian),
    ("teacher", m.Teacher),
    ("admin", m.Admin),
)


def same_name(a: str | None, b: str | None) -> bool:
    """One person's name, ignoring case and spacing ("Priya  Sharma" is "priya sharma")."""
    return " ".join((a or "").lower().split()) == " ".join((b or "").lower().split())


@dataclass(frozen=True)
class Holder:
    """Someone holding a phone: their role ("student", "guardian", "teacher", "admin") and row."""

    role: str
    row: Any

    @property
    def label(self) -> str:
        """How messages name them (never by the phone): "student HSM-24-001 Asha Rao", "guardian Priya Rao"."""
        row = self.row
        key = {"student": "enrollment_id", "teacher": "employee_id", "admin": "admin_code"}.get(self.role)
        left = "" if row.active else " (no longer active)"
        return f"{self.role} {getattr(row, key)} {row.name}{left}" if key else f"{self.role} {row.name}{left}"


def holders(session: Session, phone: str) -> list[Holder]:
    """Everyone holding `phone` (E.164), active or not: students, guardians, teachers, admins."""
    found: list[Holder] = []
    for role, model in _MODELS:
        rows = session.execute(select(model).where(model.phone == phone).order_by(model.id)).scalars()
        found.extend(Holder(role, row) for row in rows)
    return found


def family_guardian(session: Session, phone: str) -> m.Guardian | None:
    """The guardian holding `phone`, active or not (one at most: a guardian's phone is unique)."""
    return session.execute(select(m.Guardian).where(m.Guardian.phone == phone)).scalar_one_or_none()


def crossing_holders(
    session: Session,
    phone: str,
    role: str,
    *,
    person_id: int | None = None,
    name: str | None = None,
    students: Collection[int] = (),
    guardians: Collection[int] = (),
    moving: Collection[int] = (),
) -> list[Holder]:
    """The holders of `phone` a new holder would join families with (empty: the number may be theirs).

    `role` is the new holder's; `person_id` their row when they exist (a phone edit: themselves are skipped, and
    another row of their kind always crosses); `name` a new guardian's (a guardian of that name is the same
    person); `students` and `guardians` the ids of their family (a student's guardians, a guardian's children);
    `moving` the ids of students whose phone is being changed away from `phone` (an import's rows)."""
    crossing: list[Holder] = []
    for holder in holders(session, phone):
        row = holder.row
        if holder.role == role and row.id == person_id:
            continue
        if holder.role == "student" and row.id in moving:
            continue
        if holder.role == role:
            family = role == "guardian" and person_id is None and (same_name(row.name, name) or row.id in guardians)
        elif role in STAFF:  # staff: one number per teacher and per admin; any other role besides is theirs
            family = True
        elif holder.role in STAFF:
            family = role == "guardian"  # a teacher or admin who is also a parent
        elif holder.role == "guardian":  # a new student on a guardian's number
            family = row.id in guardians
        else:  # a new guardian on a student's number
            family = row.id in students or any(link.guardian_id in guardians for link in row.guardian_links)
        if not family:
            crossing.append(holder)
    return crossing
