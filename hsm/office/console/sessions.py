"""Console sessions: the signed cookie, its server-side record (`console_sessions`), expiry and CSRF tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm.infra import clock
from hsm.infra import models as m
from hsm.records.changes import record_change

COOKIE = "hsm_console"  # the session: "<random id>.<HMAC of it>"
SIGN_IN_COOKIE = "hsm_console_sign_in"  # before a session: the random value the sign-in form's CSRF token signs
IDLE = timedelta(minutes=30)  # a session unused this long is over
ABSOLUTE = timedelta(hours=12)  # and any session after this long, however busy
LAST_SEEN_EVERY = timedelta(minutes=1)  # `last_seen_at` is written at most this often
ENTITY = "staff_accounts"


def _key(secret: str, purpose: str) -> bytes:
    """A key of its own for each purpose, derived from the admin API's secret (ADMIN_JWT_SECRET)."""
    return hmac.new(secret.encode(), f"hsm-console:{purpose}".encode(), hashlib.sha256).digest()


def _mac(secret: str, purpose: str, value: str) -> str:
    digest = hmac.new(_key(secret, purpose), value.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def cookie_value(secret: str, session_id: str) -> str:
    return f"{session_id}.{_mac(secret, 'cookie', session_id)}"


def session_id_of(secret: str, cookie: str | None) -> str | None:
    """The session id a cookie carries, or None when it is missing or its signature does not verify."""
    if not cookie or "." not in cookie or len(cookie) > 200:
        return None
    session_id, _, signature = cookie.rpartition(".")
    return session_id if hmac.compare_digest(signature, _mac(secret, "cookie", session_id)) else None


def csrf_token(secret: str, session_id: str) -> str:
    """The session's CSRF token: every POST form carries it; derived, so nothing more is stored."""
    return _mac(secret, "csrf", session_id)


def csrf_ok(secret: str, session_id: str | None, token: object) -> bool:
    if not session_id or not isinstance(token, str) or not token:
        return False
    return hmac.compare_digest(token, csrf_token(secret, session_id))


def id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def real_now() -> datetime:
    """The real clock: a frozen HSM_NOW must not freeze expiry."""
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class ConsoleUser:
    """Who is signed in: their account's login, name and role; `teacher_id` for role teacher."""

    login: str
    name: str
    role: str
    teacher_id: int | None
    session_id: str  # the cookie's id (only its hash is stored)

    @property
    def is_teacher(self) -> bool:
        return self.role == "teacher"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def actor(self) -> str:
        return f"console:{self.login}"[:60]


def start(
    session: Session, account_login: str, session_id: str, now: datetime | None = None, method: str = "password"
) -> None:
    """Record a new session of the account, audited as console.signed_in (with how: password or whatsapp_code)."""
    now = now or real_now()
    account = session.execute(select(m.StaffAccount).where(m.StaffAccount.login == account_login)).scalar_one()
    session.add(
        m.ConsoleSession(
            id_hash=id_hash(session_id),
            staff_account_id=account.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + ABSOLUTE,
        )
    )
    session.flush()
    record_change(
        session, f"console:{account.login}", "console.signed_in", ENTITY, account.login, None, {"method": method}
    )


def _person_left(account: m.StaffAccount) -> bool:
    return (account.teacher is not None and not account.teacher.active) or (
        account.admin is not None and not account.admin.active
    )


def current(session: Session, session_id: str, now: datetime | None = None) -> ConsoleUser | None:
    """The user of a live session, touching its `last_seen_at`; None when it is unknown, signed out, past its
    absolute or idle expiry, or its account (or the teacher or admin it is) is no longer active."""
    now = now or real_now()
    row = session.execute(
        select(m.ConsoleSession).where(m.ConsoleSession.id_hash == id_hash(session_id))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    if clock.as_utc(row.expires_at) <= now or clock.as_utc(row.last_seen_at) <= now - IDLE:
        return None
    account = row.staff_account
    if not account.active or _person_left(account):
        return None
    if clock.as_utc(row.last_seen_at) <= now - LAST_SEEN_EVERY:
        row.last_seen_at = now
    return ConsoleUser(account.login, account.name, account.role, account.teacher_id, session_id)


def end(session: Session, session_id: str, now: datetime | None = None) -> str | None:
    """Sign a session out (revoke it), audited as console.signed_out; the login, or None when it was not live."""
    row = session.execute(
        select(m.ConsoleSession).where(m.ConsoleSession.id_hash == id_hash(session_id))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    row.revoked_at = now or real_now()
    login = row.staff_account.login
    record_change(session, f"console:{login}", "console.signed_out", ENTITY, login, None, {"revoked": True})
    return login


def sign_in_token(secret: str, value: str) -> str:
    """The sign-in form's CSRF token: it signs the random value of SIGN_IN_COOKIE (there is no session yet)."""
    return _mac(secret, "sign-in", value)


def sign_in_token_ok(secret: str, value: str | None, token: object) -> bool:
    if not value or not isinstance(token, str) or not token:
        return False
    return hmac.compare_digest(token, sign_in_token(secret, value))
