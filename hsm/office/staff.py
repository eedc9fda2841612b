"""Staff accounts: who signs in to the office (the console, admin API tokens), with a role: `admin`, `staff`, or
`teacher` (linked to their teacher record: they see only their own batches).

Every change goes through a session the caller holds and leaves its `audit_log` row in the same transaction
(hsm.records.changes): added, updated, deactivated, reactivated, password set (signing in: hsm.office.sign_in).
No audit row holds a password or its hash. At least one active admin account always remains: the last one can be
neither deactivated nor given another role. Deactivating an account revokes its tokens; a role change revokes
those its new role no longer allows.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.db import session_factory
from hsm.office import passwords
from hsm.people.contact_fields import read_email, read_name, read_phone
from hsm.records.changes import Conflict, NotFound, RecordError, record_change

ROLES = m.STAFF_ROLES
# The admin API roles an account's tokens may carry: an admin's admin or staff, a staff member's staff; a teacher
# gets none (the API reaches every family).
TOKEN_ROLES: dict[str, tuple[str, ...]] = {"admin": ("admin", "staff"), "staff": ("staff",), "teacher": ()}
LOGIN = re.compile(r"[a-z][a-z0-9._-]{2,39}")
ENTITY = "staff_accounts"
EDITABLE = ("name", "phone", "email", "role", "teacher", "admin")


@dataclass(frozen=True)
class StaffView:
    """An account as the CLI and the API show it (never its password hash)."""

    login: str
    name: str
    role: str
    phone: str | None
    email: str | None
    teacher: str | None  # employee_id
    admin: str | None  # admin_code
    active: bool
    has_password: bool
    locked_until: datetime | None
    last_sign_in_at: datetime | None
    deactivated_at: datetime | None
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, row: m.StaffAccount) -> StaffView:
        return cls(
            login=row.login,
            name=row.name,
            role=row.role,
            phone=row.phone,
            email=row.email,
            teacher=row.teacher.employee_id if row.teacher is not None else None,
            admin=row.admin.admin_code if row.admin is not None else None,
            active=row.active,
            has_password=row.password_hash is not None,
            locked_until=clock.as_utc(row.locked_until),
            last_sign_in_at=clock.as_utc(row.last_sign_in_at),
            deactivated_at=clock.as_utc(row.deactivated_at),
            created_at=clock.as_utc(row.created_at),
            updated_at=clock.as_utc(row.updated_at),
        )

    @property
    def locked(self) -> bool:
        return self.locked_until is not None and self.locked_until > datetime.now(timezone.utc)

    def as_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "login": self.login,
            "name": self.name,
            "role": self.role,
            "phone": self.phone,
            "email": self.email,
            "teacher": self.teacher,
            "admin": self.admin,
            "active": self.active,
            "has_password": self.has_password,
            "locked": self.locked,
            "locked_until": iso(self.locked_until) if self.locked else None,
            "last_sign_in_at": iso(self.last_sign_in_at),
            "deactivated_at": iso(self.deactivated_at),
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


@contextmanager
def change_scope(dry_run: bool = False, url: str | None = None) -> Iterator[Session]:
    """A session for one change: committed on success, rolled back on error, and always rolled back on a dry run
    (everything is checked and written, then undone)."""
    session = session_factory(url)()
    try:
        yield session
        if dry_run:
            session.rollback()
        else:
            session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# ------------------------------------------------------------------------------------------------ reading


def _audited(row: m.StaffAccount) -> dict[str, Any]:
    """What the audit trail keeps of an account (no password, no hash)."""
    view = StaffView.of(row)
    return {
        "login": view.login,
        "name": view.name,
        "role": view.role,
        "phone": view.phone,
        "email": view.email,
        "teacher": view.teacher,
        "admin": view.admin,
        "active": view.active,
    }


def normalise_login(login: str) -> str:
    """`login` lower-cased; RecordError unless 3 to 40 of a-z, 0-9, '.', '_', '-', starting with a letter."""
    text = (login or "").strip().lower()
    if not LOGIN.fullmatch(text):
        raise RecordError(
            "a login is 3 to 40 characters: a-z, 0-9, '.', '_' or '-', starting with a letter", field="login"
        )
    return text


def find_account(session: Session, login: str, *, lock: bool = False) -> m.StaffAccount:
    """The account with this login; NotFound otherwise. `lock`: SELECT ... FOR UPDATE (PostgreSQL)."""
    query = select(m.StaffAccount).where(m.StaffAccount.login == (login or "").strip().lower())
    row = session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no staff account {login!r}", field="login")
    return row


def list_accounts(
    session: Session,
    *,
    include_inactive: bool = False,
    role: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[list[StaffView], int]:
    """Accounts by login (active ones unless `include_inactive`), one page of them, and how many there are."""
    where = []
    if not include_inactive:
        where.append(m.StaffAccount.active.is_(True))
    if role is not None:
        if role not in ROLES:
            raise RecordError(f"the role must be one of {', '.join(ROLES)}", field="role")
        where.append(m.StaffAccount.role == role)
    total = session.execute(select(func.count()).select_from(m.StaffAccount).where(*where)).scalar_one()
    query = select(m.StaffAccount).where(*where).order_by(m.StaffAccount.login).offset(offset)
    rows = session.execute(query if limit is None else query.limit(limit)).scalars().all()
    return [StaffView.of(row) for row in rows], total


# ------------------------------------------------------------------------------------------------ checks


def _role(value: str) -> str:
    if value not in ROLES:
        raise RecordError(f"the role must be one of {', '.join(ROLES)}", field="role")
    return value


def _teacher(session: Session, code: str | None) -> m.Teacher | None:
    if code is None:
        return None
    row = session.execute(select(m.Teacher).where(m.Teacher.employee_id == code.strip())).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no teacher {code!r}", field="teacher")
    return row


def _admin(session: Session, code: str | None) -> m.Admin | None:
    if code is None:
        return None
    row = session.execute(select(m.Admin).where(m.Admin.admin_code == code.strip())).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no admin {code!r}", field="admin")
    return row


def _check_unique(session: Session, account: m.StaffAccount) -> None:
    """Conflict when another account has the same login, phone, teacher or admin."""
    checks = (
        ("login", m.StaffAccount.login, account.login),
        ("phone", m.StaffAccount.phone, account.phone),
        ("teacher", m.StaffAccount.teacher_id, account.teacher_id),
        ("admin", m.StaffAccount.admin_id, account.admin_id),
    )
    for field, column, value in checks:
        if value is None:
            continue
        other = session.execute(
            select(m.StaffAccount.login).where(column == value, m.StaffAccount.id != account.id)
        ).scalar_one_or_none()
        if other is not None:
            raise Conflict(f"the staff account {other!r} already has this {field}", field=field, code="taken")


def _check_links(account: m.StaffAccount) -> None:
    if account.role == "teacher" and account.teacher_id is None:
        raise RecordError("a teacher account needs its teacher (an employee id)", field="teacher")


def _lock_admins(session: Session) -> None:
    """Lock every admin account, in id order, before the account being changed (PostgreSQL: two admins demoting or
    deactivating each other at once take the locks in the same order, so the second waits and counts again rather
    than deadlocking)."""
    session.execute(
        select(m.StaffAccount.id).where(m.StaffAccount.role == "admin").order_by(m.StaffAccount.id).with_for_update()
    ).all()


def _keep_an_admin(session: Session, account: m.StaffAccount) -> None:
    """Conflict when `account` is the last usable admin account: another one must be active, and so must the admin
    it is linked to, if any (the API refuses the tokens of an account whose admin has left). The admin accounts
    are locked first (`_lock_admins`)."""
    others = (
        session.execute(
            select(m.StaffAccount.id)
            .outerjoin(m.Admin, m.Admin.id == m.StaffAccount.admin_id)
            .where(
                m.StaffAccount.role == "admin",
                m.StaffAccount.active.is_(True),
                m.StaffAccount.id != account.id,
                or_(m.StaffAccount.admin_id.is_(None), m.Admin.active.is_(True)),
            )
        )
        .scalars()
        .all()
    )
    if not others:
        raise Conflict(
            f"{account.login!r} is the last active admin account: make another admin first", code="last_admin"
        )


def _flush(session: Session) -> None:
    try:
        session.flush()
    except IntegrityError as error:  # a concurrent change took the login, phone or link first
        raise Conflict("another staff account has the same login, phone, teacher or admin", code="taken") from error


def revoke_account_tokens(
    session: Session,
    account: m.StaffAccount,
    actor: str,
    *,
    keep_roles: tuple[str, ...] = (),
    and_issued_by_it: bool = False,
) -> int:
    """Revoke the account's live tokens (but those whose role is in `keep_roles`), and with `and_issued_by_it` the
    ones it issued through the API for anyone (an admin leaving keeps no token made on the way out); how many."""
    now = datetime.now(timezone.utc)
    whose = m.AdminToken.staff_account_id == account.id
    if and_issued_by_it:
        whose = or_(whose, m.AdminToken.issued_by == f"api:{account.login}")
    result = session.execute(
        update(m.AdminToken)
        .where(
            whose,
            m.AdminToken.revoked_at.is_(None),
            m.AdminToken.expires_at > now,
            m.AdminToken.role.not_in(keep_roles) if keep_roles else true(),
        )
        .values(revoked_at=now, revoked_by=actor[:60])
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


# ------------------------------------------------------------------------------------------------ changes


def add_account(
    session: Session,
    actor: str,
    *,
    login: str,
    name: str,
    role: str,
    phone: str | None = None,
    email: str | None = None,
    teacher: str | None = None,
    admin: str | None = None,
) -> StaffView:
    """A new active account, without a password (`set_password`). RecordError for a bad field, NotFound for an
    unknown teacher or admin, Conflict when the login, phone, teacher or admin already has an account."""
    teacher_row, admin_row = _teacher(session, teacher), _admin(session, admin)
    account = m.StaffAccount(
        login=normalise_login(login),
        name=read_name(name),
        role=_role(role),
        phone=read_phone(phone),
        email=read_email(email),
        teacher_id=teacher_row.id if teacher_row is not None else None,
        admin_id=admin_row.id if admin_row is not None else None,
        failed_sign_ins=0,
        active=True,
    )
    _check_links(account)
    _check_unique(session, account)
    session.add(account)
    _flush(session)
    session.refresh(account)
    record_change(session, actor, "staff.added", ENTITY, account.login, None, _audited(account))
    return StaffView.of(account)


def _ascii_words(name: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    return [word for word in re.sub(r"[^a-z0-9 ]", "", plain).split() if word]


def suggest_login(session: Session, name: str, code: str) -> str:
    """A free login for a person: their first name ("meera"), else first.last, else the code ("t-101")."""
    words = _ascii_words(name)
    code_login = re.sub(r"[^a-z0-9._-]", "", code.lower())
    candidates: list[str] = []
    if words:
        candidates.append(words[0])
    if len(words) > 1:
        candidates.append(f"{words[0]}.{words[-1]}")
    candidates += [code_login, f"staff-{code_login}"]
    for candidate in candidates:
        if (
            LOGIN.fullmatch(candidate)
            and not session.execute(select(m.StaffAccount.id).where(m.StaffAccount.login == candidate)).first()
        ):
            return candidate
    raise Conflict(f"no free login for {code}: give one with --login", field="login", code="taken")


def _existing(session: Session, column: Any, value: int) -> m.StaffAccount | None:
    return session.execute(select(m.StaffAccount).where(column == value)).scalar_one_or_none()


def add_from_admin(
    session: Session, actor: str, admin_code: str, *, login: str | None = None, role: str = "admin"
) -> tuple[StaffView, bool]:
    """The account of the school's admin `admin_code` (ADM-1): made from their name, phone and e-mail, or the one
    they already have. (view, True when made now)."""
    admin = _admin(session, admin_code)
    assert admin is not None
    existing = _existing(session, m.StaffAccount.admin_id, admin.id)
    if existing is not None:
        return StaffView.of(existing), False
    if not admin.active:
        raise Conflict(f"the admin {admin.admin_code} has left", field="admin", code="inactive")
    view = add_account(
        session,
        actor,
        login=login or suggest_login(session, admin.name, admin.admin_code),
        name=admin.name,
        role=role,
        phone=admin.phone,
        email=admin.email,
        admin=admin.admin_code,
    )
    return view, True


def add_from_teacher(
    session: Session, actor: str, employee_id: str, *, login: str | None = None
) -> tuple[StaffView, bool]:
    """The teacher account of `employee_id` (T-101), made from their record or the one they already have."""
    teacher = _teacher(session, employee_id)
    assert teacher is not None
    existing = _existing(session, m.StaffAccount.teacher_id, teacher.id)
    if existing is not None:
        return StaffView.of(existing), False
    if not teacher.active:
        raise Conflict(f"the teacher {teacher.employee_id} has left", field="teacher", code="inactive")
    view = add_account(
        session,
        actor,
        login=login or suggest_login(session, teacher.name, teacher.employee_id),
        name=teacher.name,
        role="teacher",
        phone=teacher.phone,
        email=teacher.email,
        teacher=teacher.employee_id,
    )
    return view, True


@dataclass(frozen=True)
class FromSchool:
    """What `add_from_school` did: accounts made, accounts already there, people skipped (and why)."""

    added: list[StaffView]
    existing: list[StaffView]
    skipped: list[str]


def add_from_school(session: Session, actor: str) -> FromSchool:
    """An account for every active admin (role admin) and teacher (role teacher) of the school who has none;
    idempotent. Someone whose account cannot be made (their phone is another account's) is skipped and named."""
    added: list[StaffView] = []
    existing: list[StaffView] = []
    skipped: list[str] = []
    people: list[tuple[str, Any]] = [
        *(("admin", code) for code in session.execute(
            select(m.Admin.admin_code).where(m.Admin.active.is_(True)).order_by(m.Admin.admin_code)
        ).scalars()),
        *(("teacher", code) for code in session.execute(
            select(m.Teacher.employee_id).where(m.Teacher.active.is_(True)).order_by(m.Teacher.employee_id)
        ).scalars()),
    ]  # fmt: skip
    for kind, code in people:
        try:  # a refusal comes before anything is written (no savepoint needed: pysqlite's are unreliable)
            view, made = (add_from_admin if kind == "admin" else add_from_teacher)(session, actor, code)
        except RecordError as error:
            if not session.is_active:  # a failed flush (a concurrent change): the transaction is lost
                raise
            skipped.append(f"{code}: {error.message}")
            continue
        (added if made else existing).append(view)
    return FromSchool(added, existing, skipped)


def update_account(session: Session, actor: str, login: str, changes: dict[str, Any]) -> StaffView:
    """Change some of name, phone, email, role, teacher (employee id) and admin (admin code); None clears phone,
    email, teacher or admin. Unknown fields are refused. Nothing changed: no audit row."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise RecordError(f"{unknown[0]} cannot be changed here", field=unknown[0])
    if "role" in changes:
        _lock_admins(session)  # before the account itself: the same order as every other demotion
    account = find_account(session, login, lock=True)
    before = _audited(account)
    # Everything is checked before anything is set: a refused change leaves the row as it was.
    values: dict[str, Any] = {}
    if "name" in changes:
        values["name"] = read_name(changes["name"])
    if "phone" in changes:
        values["phone"] = read_phone(changes["phone"])
    if "email" in changes:
        values["email"] = read_email(changes["email"])
    if "teacher" in changes:
        teacher = _teacher(session, changes["teacher"])
        values["teacher_id"] = teacher.id if teacher is not None else None
    if "admin" in changes:
        admin = _admin(session, changes["admin"])
        values["admin_id"] = admin.id if admin is not None else None
    if "role" in changes:
        values["role"] = _role(changes["role"])
        if account.role == "admin" and values["role"] != "admin" and account.active:
            _keep_an_admin(session, account)
    proposed = m.StaffAccount(
        id=account.id,
        login=account.login,
        role=values.get("role", account.role),
        phone=values.get("phone", account.phone),
        teacher_id=values.get("teacher_id", account.teacher_id),
        admin_id=values.get("admin_id", account.admin_id),
    )  # never added to the session: only checked
    _check_links(proposed)
    _check_unique(session, proposed)
    for key, value in values.items():
        setattr(account, key, value)
    _flush(session)
    session.refresh(account)
    after = _audited(account)
    changed = [key for key in after if after[key] != before[key]]
    if changed:
        if before["role"] != after["role"]:
            revoke_account_tokens(session, account, actor, keep_roles=TOKEN_ROLES[account.role])
        record_change(
            session,
            actor,
            "staff.updated",
            ENTITY,
            account.login,
            {key: before[key] for key in changed},
            {key: after[key] for key in changed},
        )
    return StaffView.of(account)


def deactivate(session: Session, actor: str, login: str) -> StaffView:
    """The account can no longer sign in, and its tokens (every token of its login as subject issued before now, as
    `hsm staff tokens revoke --subject`, recorded or not), and those it issued through the API, are revoked;
    Conflict when it is already inactive or is the last active admin account."""
    _lock_admins(session)  # before the account itself: the same order as every other deactivation or demotion
    account = find_account(session, login, lock=True)
    if not account.active:
        raise Conflict(f"{account.login!r} is already deactivated", code="already_inactive")
    if account.role == "admin":
        _keep_an_admin(session, account)
    account.active = False
    account.deactivated_at = clock.utcnow()
    revoked = revoke_account_tokens(session, account, actor, and_issued_by_it=True)
    # And every token of its login as subject issued before now, recorded or not (`hsm staff tokens revoke --subject`).
    revoked_before = datetime.now(timezone.utc)
    session.add(m.AdminTokenRevocation(subject=account.login, revoked_before=revoked_before, revoked_by=actor[:60]))
    _flush(session)
    record_change(
        session,
        actor,
        "staff.deactivated",
        ENTITY,
        account.login,
        {"active": True},
        {"active": False, "tokens_revoked": revoked, "revoked_before": revoked_before.isoformat()},
    )
    return StaffView.of(account)


def reactivate(session: Session, actor: str, login: str) -> StaffView:
    """The account may sign in again (its old tokens stay revoked); Conflict when it is active."""
    account = find_account(session, login, lock=True)
    if account.active:
        raise Conflict(f"{account.login!r} is active", code="already_active")
    account.active = True
    account.deactivated_at = None
    account.failed_sign_ins = 0
    account.locked_until = None
    _check_unique(session, account)
    _flush(session)
    record_change(session, actor, "staff.reactivated", ENTITY, account.login, {"active": False}, {"active": True})
    return StaffView.of(account)


def set_password(session: Session, actor: str, login: str, password: str) -> StaffView:
    """Store a new password's hash (the rules: hsm.office.passwords.check_rules; PasswordRejected, a RecordError
    on field `password`, otherwise); it also lifts a lockout. The audit row says only that it was set."""
    account = find_account(session, login, lock=True)
    try:
        passwords.check_rules(password, account.login)
    except passwords.PasswordRejected as error:
        raise RecordError(str(error), field="password", code="weak_password") from error
    had = account.password_hash is not None
    account.password_hash = passwords.hash_password(password)
    account.failed_sign_ins = 0
    account.locked_until = None
    _flush(session)
    record_change(
        session, actor, "staff.password_set", ENTITY, account.login, {"has_password": had}, {"has_password": True}
    )
    return StaffView.of(account)
