"""Who a phone number is: admin, teacher, student, guardian, or (unknown) prospect; and a guardian's children."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import bindparam, literal, select, union_all
from sqlalchemy.orm import Session

from hsm.infra import models as m
from hsm.infra.phone import InvalidPhoneNumber, normalise_phone

# When one number has several roles, the first of these is the default one.
ROLE_PRIORITY = ("admin", "teacher", "student", "guardian")


@dataclass(frozen=True)
class RoleLink:
    role: str
    person_id: int
    name: str


@dataclass(frozen=True)
class Identity:
    """The caller: the active role, the person behind it, and every other role the number holds."""

    phone: str
    role: str
    person_id: int | None = None
    name: str | None = None
    links: tuple[RoleLink, ...] = field(default_factory=tuple)

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(link.role for link in self.links) or ("prospect",)

    def as_role(self, role: str) -> Identity:
        """The same caller acting in another of their roles ("as parent"); unknown roles raise ValueError."""
        for link in self.links:
            if link.role == role:
                return Identity(self.phone, role, link.person_id, link.name, self.links)
        raise ValueError(f"this number has no {role} role")


def _links_by_phone():
    """Every active role a phone number holds, in ROLE_PRIORITY order: one statement for the four tables, built
    once (building and keying a statement costs more than SQLite takes to run it)."""
    tables = {
        "admin": (m.Admin, (m.Admin.active.is_(True),)),
        "teacher": (m.Teacher, (m.Teacher.active.is_(True),)),
        "student": (m.Student, (m.Student.active.is_(True),)),
        "guardian": (m.Guardian, (m.Guardian.active.is_(True),)),
    }
    parts = []
    for rank, role in enumerate(ROLE_PRIORITY):
        model, extra = tables[role]
        parts.append(
            select(
                literal(role).label("role"), literal(rank).label("rank"), model.id.label("id"), model.name.label("name")
            ).where(model.phone == bindparam("phone"), *extra)
        )
    found = union_all(*parts).subquery()
    return select(found.c.role, found.c.id, found.c.name).order_by(found.c.rank, found.c.id)


_LINKS_BY_PHONE = _links_by_phone()


def identify(session: Session, raw_phone: str) -> Identity:
    """Resolve a phone number (any format) to an Identity; unknown or invalid numbers are prospects."""
    try:
        phone = normalise_phone(raw_phone)
    except InvalidPhoneNumber:
        return Identity(phone=str(raw_phone), role="prospect")
    rows = session.execute(_LINKS_BY_PHONE, {"phone": phone})
    links = [RoleLink(role, person_id, name) for role, person_id, name in rows]
    if not links:
        return Identity(phone=phone, role="prospect")
    first = links[0]  # the statement orders them by ROLE_PRIORITY
    return Identity(phone, first.role, first.person_id, first.name, tuple(links))


def identity_if_role_lost(session: Session, raw_phone: str, role: str | None) -> Identity | None:
    """Who the number is now, when `role` (what a conversation took it for) is no longer one of its roles: an admin
    or teacher who left is a prospect now, a newly linked parent a guardian. None while `role` still holds."""
    who = identify(session, raw_phone)
    return None if role in who.roles else who


def role_of(session: Session, raw_phone: str) -> tuple[str, int | None]:
    """The role and person id of a number, for its WhatsApp session row (`hsm.whatsapp.store.RoleLookup`)."""
    who = identify(session, raw_phone)
    return who.role, who.person_id


def guardian_children(session: Session, guardian_id: int) -> list[m.Student]:
    """The students this guardian is responsible for, in enrollment-id order (children who left are not)."""
    return list(
        session.execute(
            select(m.Student)
            .join(m.StudentGuardian, m.StudentGuardian.student_id == m.Student.id)
            .where(m.StudentGuardian.guardian_id == guardian_id, m.Student.active.is_(True))
            .order_by(m.Student.enrollment_id)
        ).scalars()
    )


def students_for(session: Session, identity: Identity) -> list[m.Student]:
    """The students whose data this caller may see: themselves as a student, their children as a guardian."""
    if identity.role == "student" and identity.person_id is not None:
        student = session.get(m.Student, identity.person_id)
        return [student] if student is not None and student.active else []
    if identity.role == "guardian" and identity.person_id is not None:
        return guardian_children(session, identity.person_id)
    return []
