"""The importer's phones checked against the database, by the one rule of hsm.people.phones: a row whose guardian
phone or student phone is already another family's (a student, a guardian, a staff member's for a student) is
refused, naming the row, unless the import was asked `--allow-shared-phones`. Within the file, the school file and
the sheet reader compare rows with each other; here the rows are compared with the records."""

from __future__ import annotations

from sqlalchemy.orm import Session

from hsm.infra import models as m
from hsm.infra.phone import mask_phone
from hsm.people.phones import Holder, crossing_holders, same_name
from hsm.records.changes import Conflict
from hsm.records.merge_input import GuardianRow, StudentRow

HINT = "shared phones are refused unless imported with --allow-shared-phones"


def _family(entries: list[StudentRow], students: dict[str, m.Student], phone: str) -> set[int]:
    """The ids of the existing students the file puts under the guardian with `phone`."""
    return {
        students[e.key].id for e in entries if e.guardian is not None and e.guardian.key == phone and e.key in students
    }


def _linked(guardian: m.Guardian, family: set[int]) -> set[int]:
    return {link.student_id for link in guardian.student_links if link.student_id in family}


def foreign_guardian(
    known: m.Guardian, row: GuardianRow, entries: list[StudentRow], students: dict[str, m.Student]
) -> bool:
    """True when the file names `known` (found by phone) differently and links them to none of their children:
    another family's guardian (only merged so with --allow-shared-phones; their name is then left as it is)."""
    if same_name(known.name, row.values.get("name") or known.name):
        return False
    return not _linked(known, _family(entries, students, row.key))


def _refused(where: str, what: str, phone: str, holder: Holder) -> Conflict:
    return Conflict(
        f"{where}: {what} {mask_phone(phone)} is already the phone of {holder.label}, another family's ({HINT})",
        "guardian.phone" if what == "guardian phone" else "phone",
        "shared_phone",
    )


def check_phones(
    session: Session, entries: list[StudentRow], students: dict[str, m.Student], guardians: dict[str, m.Guardian]
) -> None:
    """Refuse (Conflict) the first row that would put two families on one number; see the module docstring. Only
    what the import adds is checked: new guardians, new links to a guardian, and students' new phones."""
    moving = {  # students whose row gives them another phone: their old one is free after the import
        students[e.key].id
        for e in entries
        if e.key in students and e.values.get("phone") and e.values["phone"] != students[e.key].phone
    }
    checked: set[str] = set()
    for entry in entries:
        student = students.get(entry.key)
        row = entry.guardian
        known = guardians.get(row.key) if row is not None else None
        if row is not None and row.key not in checked:
            checked.add(row.key)
            family = _family(entries, students, row.key)
            linked = _linked(known, family) if known is not None else set()
            adds = known is None or any(
                e.key not in students or students[e.key].id not in linked
                for e in entries
                if e.guardian is not None and e.guardian.key == row.key
            )
            name = row.values.get("name") or (known.name if known is not None else None)
            family_guardians = {known.id} if known is not None and linked else set()
            crossing = crossing_holders(
                session, row.key, "guardian", name=name, students=family, guardians=family_guardians, moving=moving
            )
            if adds and crossing:
                raise _refused(row.where, "guardian phone", row.key, crossing[0])
        phone = entry.values.get("phone")
        if phone and (student is None or student.phone != phone):
            own = {link.guardian_id for link in student.guardian_links} if student is not None else set()
            if known is not None:
                own.add(known.id)
            crossing = crossing_holders(
                session, phone, "student", person_id=getattr(student, "id", None), guardians=own, moving=moving
            )
            if crossing:
                raise _refused(entry.where, "phone", phone, crossing[0])
