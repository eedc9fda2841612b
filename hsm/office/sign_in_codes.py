"""Signing in to the office with a one-time code sent over WhatsApp: six digits to the account's phone on file,
kept only as a keyed hash, valid CODE_LIFETIME, used once, void after MAX_TRIES wrong tries, at most MAX_CODES per
account per CODES_WINDOW. Every request and try on an account is audited (never the code). Times are the real
clock, not HSM_NOW: a frozen clock must not freeze expiry."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.phone import InvalidPhoneNumber, normalise_phone
from hsm.office.staff import ENTITY, LOGIN, StaffView
from hsm.records.changes import record_change
from hsm.whatsapp import store
from hsm.whatsapp.client import WhatsAppClient

CODE_DIGITS = 6
CODE_LIFETIME = timedelta(minutes=10)
MAX_TRIES = 5
MAX_CODES = 3
CODES_WINDOW = timedelta(minutes=15)
CODE_TEMPLATE = "office_sign_in_code"  # AUTHENTICATION, in templates/whatsapp_templates.yaml
CODE_TEXT = "{code} is your sign-in code for the school office. It expires in 10 minutes. Do not share it."


@dataclass(frozen=True)
class CodeOutcome:
    """What happened: "sent" (a code for `phone`), "ok" (signed in: `account`), or a refusal for the log and the
    audit trail ("unknown", "inactive", "no_phone", "too_many", "no_code", "expired", "wrong"). People see one
    neutral message for every refusal."""

    outcome: str
    account: StaffView | None = None
    phone: str | None = None
    code: str | None = None
    code_id: int | None = None  # the code's row: a later code has a greater id

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def code_hash(secret: str, account_id: int, code: str) -> str:
    """The stored form of a code: HMAC-SHA256 under a key derived from ADMIN_JWT_SECRET, bound to the account."""
    key = hmac.new(secret.encode(), b"hsm-console:sign-in-code", hashlib.sha256).digest()
    return hmac.new(key, f"{account_id}:{code}".encode(), hashlib.sha256).hexdigest()


def find_account(session: Session, who: str) -> m.StaffAccount | None:
    """The account a person typed: its login, or its phone in any usual spelling."""
    text = (who or "").strip().lower()[:100]
    if LOGIN.fullmatch(text):
        return session.execute(
            select(m.StaffAccount).where(m.StaffAccount.login == text).with_for_update()
        ).scalar_one_or_none()
    try:
        phone = normalise_phone(text)
    except InvalidPhoneNumber:
        return None
    return session.execute(
        select(m.StaffAccount).where(m.StaffAccount.phone == phone).with_for_update()
    ).scalar_one_or_none()


def _usable(account: m.StaffAccount) -> bool:
    left = (account.teacher is not None and not account.teacher.active) or (
        account.admin is not None and not account.admin.active
    )
    return bool(account.active) and not left


def _refuse(session: Session, account: m.StaffAccount, outcome: str, **details: object) -> CodeOutcome:
    record_change(
        session,
        f"console:{account.login}",
        "console.code_refused",
        ENTITY,
        account.login,
        None,
        {"reason": outcome, **details},
    )
    return CodeOutcome(outcome, StaffView.of(account))


def issue_code(session: Session, secret: str, who: str, now: datetime | None = None) -> CodeOutcome:
    """A fresh code for the account `who` names (its older codes void), to be sent to its phone; refused for an
    unknown, inactive or phoneless account, or past MAX_CODES in CODES_WINDOW."""
    now = now or _now()
    account = find_account(session, who)
    if account is None:
        return CodeOutcome("unknown")
    if not _usable(account):
        return _refuse(session, account, "inactive")
    if not account.phone:
        return _refuse(session, account, "no_phone")
    recent = session.execute(
        select(func.count())
        .select_from(m.ConsoleSignInCode)
        .where(m.ConsoleSignInCode.staff_account_id == account.id, m.ConsoleSignInCode.created_at > now - CODES_WINDOW)
    ).scalar_one()
    if recent >= MAX_CODES:
        return _refuse(session, account, "too_many", codes_in_window=recent)
    session.execute(
        update(m.ConsoleSignInCode)
        .where(m.ConsoleSignInCode.staff_account_id == account.id, m.ConsoleSignInCode.used_at.is_(None))
        .values(used_at=now)
    )
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    row = m.ConsoleSignInCode(
        staff_account_id=account.id,
        code_hash=code_hash(secret, account.id, code),
        created_at=now,
        expires_at=now + CODE_LIFETIME,
        tries=0,
    )
    session.add(row)
    session.flush()
    record_change(
        session,
        f"console:{account.login}",
        "console.code_sent",
        ENTITY,
        account.login,
        None,
        {"expires_at": now + CODE_LIFETIME},
    )
    return CodeOutcome("sent", StaffView.of(account), account.phone, code, row.id)


def code_is_live(session: Session, code_id: int, now: datetime | None = None) -> bool:
    """Whether the code `code_id` can still sign in: not used, not voided by a newer code or wrong tries, unexpired."""
    row = session.get(m.ConsoleSignInCode, code_id)
    return row is not None and row.used_at is None and clock.as_utc(row.expires_at) > (now or _now())


def verify_code(session: Session, secret: str, who: str, code: str, now: datetime | None = None) -> CodeOutcome:
    """Sign in with the latest code of the account `who` names: right, unexpired, unused and with tries left."""
    now = now or _now()
    account = find_account(session, who)
    if account is None:
        return CodeOutcome("unknown")
    if not _usable(account):
        return _refuse(session, account, "inactive")
    row = session.execute(
        select(m.ConsoleSignInCode)
        .where(m.ConsoleSignInCode.staff_account_id == account.id, m.ConsoleSignInCode.used_at.is_(None))
        .order_by(m.ConsoleSignInCode.id.desc())
        .limit(1)
        .with_for_update()
    ).scalar_one_or_none()
    if row is None:
        return _refuse(session, account, "no_code")
    if clock.as_utc(row.expires_at) <= now:
        row.used_at = now
        return _refuse(session, account, "expired")
    typed = "".join(code.split())[: CODE_DIGITS * 2]
    if not hmac.compare_digest(row.code_hash, code_hash(secret, account.id, typed)):
        row.tries += 1
        if row.tries >= MAX_TRIES:
            row.used_at = now  # void: a fresh code is needed
        return _refuse(session, account, "wrong", tries=row.tries, void=row.tries >= MAX_TRIES)
    row.used_at = now
    account.last_sign_in_at = now
    record_change(
        session,
        f"console:{account.login}",
        "staff.signed_in",
        ENTITY,
        account.login,
        None,
        {"last_sign_in_at": now, "method": "whatsapp_code"},
    )
    return CodeOutcome("ok", StaffView.of(account))


async def send_code(client: WhatsAppClient, phone: str, code: str) -> None:
    """The code over WhatsApp from the school's number: a text inside the 24-hour window, else the approved
    AUTHENTICATION template (raises CloudApiError when neither can go)."""
    if await asyncio.to_thread(store.in_service_window, phone):
        await client.send(phone, {"type": "text", "text": {"body": CODE_TEXT.format(code=code)}})
    else:
        await client.send_template(phone, CODE_TEMPLATE, "en", [code], copy_code=code)
