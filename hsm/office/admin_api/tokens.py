"""Admin API tokens: issuing them (recorded by `jti` in `admin_tokens`; the token itself is shown once and never
stored), listing them, and revoking one (by jti) or every token of a subject issued before now (kept in
`admin_token_revocations`). Every change is written to `audit_log`, never with a token in it. `hsm staff tokens`
(hsm.office.admin_cli) and the routes below use the same functions.

GET  /api/admin/tokens                  the tokens we issued (active ones, or `?all=true`), paginated (admin)
POST /api/admin/tokens                  issue one: the answer holds the token, once (admin)
POST /api/admin/tokens/{jti}/revoke     revoke one token (admin)
POST /api/admin/tokens/revoke           revoke every token of a subject issued before now (admin)
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from aiohttp import web
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.office import staff
from hsm.office.admin_api.auth import (
    JTI_MAX_CHARS,
    ROLES,
    SUBJECT_MAX_CHARS,
    Caller,
    issue_token,
    lifetime_seconds,
    normalise_subject,
    requires,
)
from hsm.office.admin_api.errors import ApiError, bad_request
from hsm.office.admin_api.inputs import _string, page, page_query, query_flag, read_json
from hsm.office.admin_api.state import CALLER, SECRET
from hsm.records.changes import Conflict, NotFound, RecordError, record_change

log = logging.getLogger("hsm.office.admin_api")

LABEL_MAX_CHARS = 100
JTI_PREFIX_MIN = 8  # the CLI revokes by a prefix of at least this many characters (`tokens list` shows 12)
_HEX = re.compile(r"[0-9a-f]+")


@dataclass(frozen=True)
class TokenView:
    """What we keep of an issued token (never the token)."""

    jti: str
    subject: str
    role: str
    staff: str | None  # the staff account's login
    label: str | None
    issued_at: datetime
    expires_at: datetime
    issued_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, row: m.AdminToken) -> TokenView:
        return cls(
            jti=row.jti,
            subject=row.subject,
            role=row.role,
            staff=row.staff_account.login if row.staff_account is not None else None,
            label=row.label,
            issued_at=clock.as_utc(row.issued_at),
            expires_at=clock.as_utc(row.expires_at),
            issued_by=row.issued_by,
            revoked_at=clock.as_utc(row.revoked_at),
            revoked_by=row.revoked_by,
            last_used_at=clock.as_utc(row.last_used_at),
        )

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= datetime.now(timezone.utc) else "active"

    def as_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "jti": self.jti,
            "subject": self.subject,
            "role": self.role,
            "staff": self.staff,
            "label": self.label,
            "status": self.status,
            "issued_at": iso(self.issued_at),
            "expires_at": iso(self.expires_at),
            "issued_by": self.issued_by,
            "revoked_at": iso(self.revoked_at),
            "revoked_by": self.revoked_by,
            "last_used_at": iso(self.last_used_at),
        }


def _audited(view: TokenView) -> dict[str, Any]:
    return {
        "jti": view.jti,
        "subject": view.subject,
        "role": view.role,
        "staff": view.staff,
        "label": view.label,
        "expires_at": view.expires_at,
    }


# ------------------------------------------------------------------------------------------------ issuing


def issue_recorded_token(
    session: Session,
    secret: str,
    issued_by: str,
    *,
    role: str,
    subject: str | None = None,
    staff_login: str | None = None,
    hours: float | None = None,
    label: str | None = None,
    sign: bool = True,
) -> tuple[str | None, TokenView]:
    """Issue a token for a staff account (`staff_login`) or a bare `subject` (an outside tool, a script): its jti
    is recorded in `admin_tokens` and `audit_log` in the caller's transaction. Show the token only once that has
    committed (an unrecorded token is still accepted, as an outside tool's). A subject that is a staff login is
    that account's token. An account must be active and may hold only the roles its own allows (an admin's:
    admin or staff; a staff member's: staff; a teacher's: none). `sign=False` (a dry run) makes no token.
    RecordError (a bad field), NotFound (no such account), Conflict (a deactivated account)."""
    if (subject is None) == (staff_login is None):
        raise RecordError("give a subject or a staff login (one of them)", field="subject")
    if role not in ROLES:
        raise RecordError(f"the role must be one of {', '.join(ROLES)}", field="role")
    if label is not None and (not label.strip() or len(label) > LABEL_MAX_CHARS):
        raise RecordError(f"a label is 1 to {LABEL_MAX_CHARS} characters", field="label")
    account: m.StaffAccount | None = None
    if staff_login is not None:
        account = staff.find_account(session, staff_login)
    else:
        assert subject is not None
        subject = normalise_subject(subject)
        if not subject or len(subject) > SUBJECT_MAX_CHARS:
            raise RecordError(f"the subject must be 1 to {SUBJECT_MAX_CHARS} characters", field="subject")
        account = session.execute(select(m.StaffAccount).where(m.StaffAccount.login == subject)).scalar_one_or_none()
    if account is not None:
        if not account.active:
            raise Conflict(f"the staff account {account.login!r} is deactivated", field="staff", code="inactive")
        if role not in staff.TOKEN_ROLES[account.role]:
            allowed = " or ".join(staff.TOKEN_ROLES[account.role]) or "no"
            raise RecordError(
                f"the {account.role} account {account.login!r} may hold {allowed} tokens, not {role}",
                field="role",
                code="role_not_allowed",
            )
        subject = account.login
    assert subject is not None
    try:
        lifetime = lifetime_seconds(hours)
    except ValueError as error:
        raise RecordError(str(error), field="hours") from error
    jti = secrets.token_hex(16)
    now = int(time.time())
    token = issue_token(secret, subject, role, hours, now=now, jti=jti) if sign else None
    row = m.AdminToken(
        jti=jti,
        subject=subject,
        role=role,
        staff_account_id=account.id if account is not None else None,
        label=label.strip() if label else None,
        issued_at=datetime.fromtimestamp(now, timezone.utc),
        expires_at=datetime.fromtimestamp(now + lifetime, timezone.utc),
        issued_by=issued_by[:60],
    )
    session.add(row)
    session.flush()
    view = TokenView.of(row)
    record_change(session, issued_by, "admin_tokens.issued", "admin_tokens", jti, None, _audited(view))
    return token, view


# ------------------------------------------------------------------------------------------------ listing


def list_tokens(
    session: Session, *, include_all: bool = False, limit: int | None = None, offset: int = 0
) -> tuple[list[TokenView], int]:
    """The tokens we issued, newest first: live ones (not revoked, not expired), or all; a page and the total."""
    where = []
    if not include_all:
        where = [m.AdminToken.revoked_at.is_(None), m.AdminToken.expires_at > datetime.now(timezone.utc)]
    total = session.execute(select(func.count()).select_from(m.AdminToken).where(*where)).scalar_one()
    query = (
        select(m.AdminToken)
        .where(*where)
        .order_by(m.AdminToken.issued_at.desc(), m.AdminToken.id.desc())
        .offset(offset)
    )
    rows = session.execute(query if limit is None else query.limit(limit)).scalars().all()
    return [TokenView.of(row) for row in rows], total


# ------------------------------------------------------------------------------------------------ revoking


def find_token(session: Session, jti: str, *, prefix: bool = False) -> m.AdminToken:
    """The token with this jti (or, with `prefix`, the one jti starting with these 8+ hex characters)."""
    text = (jti or "").strip()
    if not text or len(text) > JTI_MAX_CHARS:
        raise RecordError(f"a jti is 1 to {JTI_MAX_CHARS} characters", field="jti")
    row = session.execute(select(m.AdminToken).where(m.AdminToken.jti == text)).scalar_one_or_none()
    if row is None and prefix and len(text) >= JTI_PREFIX_MIN and _HEX.fullmatch(text):
        rows = session.execute(select(m.AdminToken).where(m.AdminToken.jti.startswith(text)).limit(2)).scalars().all()
        if len(rows) > 1:
            raise Conflict(f"more than one token's jti starts with {text!r}: give more of it", field="jti")
        row = rows[0] if rows else None
    if row is None:
        raise NotFound(f"no token with jti {text!r}", field="jti")
    return row


def revoke_token(session: Session, revoked_by: str, jti: str, *, prefix: bool = False) -> TokenView:
    """Refuse one token from now on (401 token_revoked); Conflict when it already is."""
    row = find_token(session, jti, prefix=prefix)
    if row.revoked_at is not None:
        raise Conflict(f"the token {row.jti[:12]}... is already revoked", field="jti", code="already_revoked")
    row.revoked_at = datetime.now(timezone.utc)
    row.revoked_by = revoked_by[:60]
    session.flush()
    view = TokenView.of(row)
    record_change(
        session,
        revoked_by,
        "admin_tokens.revoked",
        "admin_tokens",
        row.jti,
        {"revoked_at": None},
        {"subject": view.subject, "revoked_at": view.revoked_at},
    )
    return view


@dataclass(frozen=True)
class Revocation:
    id: int | None  # None: a dry run, nothing stored
    subject: str
    revoked_before: datetime
    revoked_by: str
    tokens_revoked: int = 0  # the recorded tokens of the subject this revoked

    def as_json(self) -> dict:
        return {
            "subject": self.subject,
            "revoked_before": self.revoked_before.isoformat(),
            "revoked_by": self.revoked_by,
            "tokens_revoked": self.tokens_revoked,
        }


def revoke_tokens(subject: str, revoked_by: str, *, dry_run: bool = False) -> Revocation:
    """Refuse from now on every token of `subject` issued before now (the real clock, as tokens' `iat`): one row in
    admin_token_revocations, the subject's recorded tokens marked revoked, and one row in audit_log (actor
    `revoked_by`), in one transaction. ValueError for an empty or over-long subject. The subject is normalised
    (`normalise_subject`: "Meera" revokes meera's tokens)."""
    subject = normalise_subject(subject)
    if not subject or len(subject) > SUBJECT_MAX_CHARS:
        raise ValueError(f"the subject must be 1 to {SUBJECT_MAX_CHARS} characters")
    now = datetime.now(timezone.utc)
    actor = revoked_by[:60]
    with staff.change_scope(dry_run) as session:
        row = m.AdminTokenRevocation(subject=subject, revoked_before=now, revoked_by=actor)
        session.add(row)
        marked = session.execute(
            update(m.AdminToken)
            .where(
                func.lower(m.AdminToken.subject) == subject,
                m.AdminToken.revoked_at.is_(None),
                m.AdminToken.issued_at <= now,
            )
            .values(revoked_at=now, revoked_by=actor)
            .execution_options(synchronize_session=False)
        ).rowcount
        session.flush()
        revocation = Revocation(None if dry_run else row.id, subject, now, actor, marked or 0)
        record_change(
            session, actor, "admin_tokens.revoked", "admin_token_revocations", row.id, None, revocation.as_json()
        )
    return revocation


# ------------------------------------------------------------------------------------------------ routes


def _hours(body: dict) -> float | None:
    value = body.get("hours")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise bad_request("hours", "must be a number of hours")
    return float(value)


def _list(include_all: bool, limit: int, offset: int) -> dict:
    with session_scope() as session:
        views, total = list_tokens(session, include_all=include_all, limit=limit, offset=offset)
    return page("tokens", [view.as_json() for view in views], total, limit, offset)


@requires("admin")
async def get_tokens(request: web.Request) -> web.Response:
    limit, offset = page_query(request)
    include_all = query_flag(request, "all", False)
    return web.json_response(await asyncio.to_thread(_list, include_all, limit, offset))


def _issue(secret: str, caller: Caller, body: dict) -> tuple[str, TokenView]:
    with staff.change_scope() as session:
        token, view = issue_recorded_token(
            session,
            secret,
            caller.actor,
            role=_string(body, "role", limit=10),
            subject=_string(body, "subject", False, SUBJECT_MAX_CHARS),
            staff_login=_string(body, "staff", False, 40),
            hours=_hours(body),
            label=_string(body, "label", False, LABEL_MAX_CHARS),
        )
    assert token is not None
    return token, view  # committed: now it may be shown


@requires("admin")
async def post_tokens(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    body = await read_json(request, {"subject", "staff", "role", "hours", "label"})
    token, view = await asyncio.to_thread(_issue, request.app[SECRET], caller, body)
    log.info("%s issued a %s token %s... for %r", caller.actor, view.role, view.jti[:12], view.subject)
    return web.json_response({"token": token, **view.as_json()}, status=201)


def _revoke_one(caller: Caller, jti: str) -> TokenView:
    with staff.change_scope() as session:
        return revoke_token(session, caller.actor, jti)


@requires("admin")
async def post_token_revoke(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    jti = request.match_info["jti"]
    if len(jti) > JTI_MAX_CHARS:
        raise ApiError(404, "not_found", "no token with this jti", "jti")
    view = await asyncio.to_thread(_revoke_one, caller, jti)
    log.info("%s revoked the token %s...", caller.actor, view.jti[:12])
    return web.json_response(view.as_json())


@requires("admin")
async def post_tokens_revoke(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    body = await read_json(request, {"subject"})
    subject = normalise_subject(_string(body, "subject", limit=SUBJECT_MAX_CHARS))
    revocation = await asyncio.to_thread(revoke_tokens, subject, caller.actor)
    log.info("%s revoked the tokens of %r issued before %s", caller.actor, subject, revocation.revoked_before)
    return web.json_response(revocation.as_json())
