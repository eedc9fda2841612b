"""Signing in to the office with a staff account's password (the console uses it): one scrypt check per attempt
whatever the outcome, so its timing does not say whether a login exists; a lockout after MAX_FAILED_SIGN_INS wrong
passwords in a row, recorded on the account; and an audit row for every attempt on an account (never the
password). Times are the real clock, not HSM_NOW: a frozen clock must not freeze a lockout."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm.infra import clock
from hsm.infra import models as m
from hsm.office import passwords
from hsm.office.staff import ENTITY, LOGIN, StaffView
from hsm.records.changes import record_change

MAX_FAILED_SIGN_INS = 5
LOCKOUT = timedelta(minutes=15)


@dataclass(frozen=True)
class SignIn:
    """The outcome of a password check: "ok", "wrong" (or no such login, or no password set), "locked" (too many
    wrong passwords: until `locked_until`), "inactive" (the account, or the teacher or admin it is, has left).
    Show people one neutral message for all but "ok"; the outcome is for logs and the audit trail."""

    outcome: str
    account: StaffView | None = None
    locked_until: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def _linked_person_left(account: m.StaffAccount) -> bool:
    return (account.teacher is not None and not account.teacher.active) or (
        account.admin is not None and not account.admin.active
    )


def verify_password(
    session: Session, login: str, password: str, *, actor: str | None = None, now: datetime | None = None
) -> SignIn:
    """Check a sign-in. Every outcome costs one scrypt computation, so its timing does not tell whether the login
    exists. A wrong password counts on the row; the MAX_FAILED_SIGN_INS-th locks the account for LOCKOUT (checked
    by no password, right or wrong, until then). Success clears the count, records `last_sign_in_at` and stores a
    stronger hash when the cost has gone up. Audited as staff.signed_in, staff.sign_in_failed, staff.locked and
    staff.sign_in_refused (locked or inactive); an unknown login has no account to audit."""
    now = now or datetime.now(timezone.utc)
    text = (login or "").strip().lower()
    account = (
        session.execute(
            select(m.StaffAccount).where(m.StaffAccount.login == text).with_for_update()
        ).scalar_one_or_none()
        if LOGIN.fullmatch(text)
        else None
    )
    if account is None:
        passwords.verify(password, None)
        return SignIn("wrong")
    actor = actor or f"console:{account.login}"
    locked_until = clock.as_utc(account.locked_until)
    if locked_until is not None and locked_until > now:
        passwords.verify(password, None)
        record_change(session, actor, "staff.sign_in_refused", ENTITY, account.login, None, {"reason": "locked"})
        return SignIn("locked", StaffView.of(account), locked_until)
    matches = passwords.verify(password, account.password_hash)
    if not account.active or _linked_person_left(account):
        record_change(session, actor, "staff.sign_in_refused", ENTITY, account.login, None, {"reason": "inactive"})
        return SignIn("inactive", StaffView.of(account))
    if not matches:
        account.failed_sign_ins = (account.failed_sign_ins or 0) + 1
        if account.failed_sign_ins >= MAX_FAILED_SIGN_INS:
            account.failed_sign_ins = 0
            account.locked_until = now + LOCKOUT
            record_change(session, actor, "staff.locked", ENTITY, account.login, None, {"locked_until": now + LOCKOUT})
            return SignIn("locked", StaffView.of(account), now + LOCKOUT)
        record_change(
            session,
            actor,
            "staff.sign_in_failed",
            ENTITY,
            account.login,
            None,
            {"failed_sign_ins": account.failed_sign_ins},
        )
        return SignIn("wrong", StaffView.of(account))
    if passwords.needs_rehash(account.password_hash):
        account.password_hash = passwords.hash_password(password)
    account.failed_sign_ins = 0
    account.locked_until = None
    account.last_sign_in_at = now
    record_change(session, actor, "staff.signed_in", ENTITY, account.login, None, {"last_sign_in_at": now})
    return SignIn("ok", StaffView.of(account))
