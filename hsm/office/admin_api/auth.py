"""Who may call the admin API: the JWT check (HS256, ADMIN_JWT_SECRET), revoked tokens, the roles admin and staff,
and minting a token that passes (`hsm staff tokens issue`, POST /api/admin/tokens: hsm.office.admin_api.tokens).

Every /api call needs `Authorization: Bearer <JWT>`: HS256 only, signed with ADMIN_JWT_SECRET, with the claims `sub`,
`iss` "hsm", `aud` "hsm-admin-api" (or a list holding it), `iat` and `exp`. Times are checked against the real clock,
not HSM_NOW: `exp` not past, `iat` at most IAT_LEEWAY_S ahead, and `exp - iat` at most HSM_ADMIN_TOKEN_MAX_HOURS
(default 12). Subjects are compared in lower case (`normalise_subject`). A token issued before its subject's
latest revocation (`admin_token_revocations`) is refused. A token with a `jti` we recorded when issuing it
(`admin_tokens`) is refused when that row is revoked, or when its staff account is deactivated or no longer has a
role allowing the token's; a well-signed token whose `jti` we did not record (or that has none: an outside tool
signing with ADMIN_JWT_SECRET) is checked by its subject only. Every route's handler is marked `@requires(role)` or
`@public` (only /healthz and /metrics); one marked neither is refused to everyone (401). `role` "admin" may do
everything, "staff" all but broadcasts, staff accounts' changes, tokens, changes to teachers and admins, and an
enrollment's live balance (corrected, or set when admitting).
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

import jwt
from aiohttp import web
from aiohttp.web_urldispatcher import MatchInfoError
from jwt.exceptions import InvalidJTIError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hsm.infra import models as m
from hsm.infra.config import get_settings
from hsm.infra.db import session_scope
from hsm.office.admin_api.errors import ApiError, Handler, mask_path
from hsm.office.admin_api.state import CALLER, SECRET, is_console_path
from hsm.office.staff import TOKEN_ROLES

log = logging.getLogger("hsm.office.admin_api")

ROLES = ("admin", "staff")
MIN_SECRET_BYTES = 32
ISSUER = "hsm"  # the `iss` every token must carry
AUDIENCE = "hsm-admin-api"  # the `aud` every token must carry (or hold, as a list)
IAT_LEEWAY_S = 60  # how far ahead of this server's clock a token's `iat` may be (the issuer's clock may run fast)
SUBJECT_MAX_CHARS = 255  # admin_token_revocations.subject
JTI_MAX_CHARS = 64  # admin_tokens.jti
LAST_USED_EVERY = timedelta(minutes=5)  # how stale admin_tokens.last_used_at may get (a write at most that often)
_UNSAFE_IN_HEADER = re.compile(r'["\\\x00-\x1f\x7f]')


@dataclass(frozen=True)
class Caller:
    subject: str
    role: str
    issued_at: float = 0.0  # the token's `iat`, seconds since 1970
    jti: str | None = None  # the token's `jti`, if it has one
    staff_login: str | None = None  # the staff account the token was issued to (we recorded its jti)

    @property
    def actor(self) -> str:
        return f"api:{self.subject}"[:60]


class ConfigurationError(RuntimeError):
    """The API cannot start (ADMIN_JWT_SECRET missing)."""


def normalise_subject(subject: str) -> str:
    """A token's subject as issued, revoked and checked: without surrounding spaces, in lower case (staff logins are
    lower case; "Meera" and "meera" are one subject)."""
    return subject.strip().lower()


def requires(role: str) -> Callable[[Handler], Handler]:
    """Mark a handler as needing a token of `role` ("staff": staff or admin; "admin": admin only)."""

    def mark(handler: Handler) -> Handler:
        handler.required_role = role  # type: ignore[attr-defined]
        return handler

    return mark


def public(handler: Handler) -> Handler:
    """Mark a handler as answering without a token (only /healthz and /metrics): a handler marked neither `public` nor
    `requires(role)` is refused (401) to everyone."""
    handler.public = True  # type: ignore[attr-defined]
    return handler


def _token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise ApiError(
            401,
            "missing_token",
            "send Authorization: Bearer <token>",
            headers={"WWW-Authenticate": 'Bearer realm="hsm"'},
        )
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "invalid_token",
            "the Authorization header must be 'Bearer <token>'",
            headers={"WWW-Authenticate": 'Bearer error="invalid_request"'},
        )
    return token.strip()


def _refuse(code: str, message: str) -> ApiError:
    description = _UNSAFE_IN_HEADER.sub("", message)
    return ApiError(
        401,
        code,
        message,
        headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{description}"'},
    )


def _hours(hours: float) -> str:
    return f"{hours:g} hour{'' if hours == 1 else 's'}"


def _seconds(value: object) -> float | None:
    """A NumericDate claim as seconds since 1970; None unless a finite JSON number (a bool is not one)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int past a float's range
        return None
    return number if math.isfinite(number) else None


def _check_times(claims: dict, max_hours: float, now: float) -> float:
    """The token's `iat`, after checking that `iat` and `exp` are numbers, `iat` is not in the future and the
    lifetime is within the cap."""
    issued_at, expires_at = _seconds(claims["iat"]), _seconds(claims["exp"])
    if issued_at is None:
        raise _refuse("invalid_token", "the token's 'iat' must be a number (seconds since 1970)")
    if expires_at is None:
        raise _refuse("invalid_token", "the token's 'exp' must be a number (seconds since 1970)")
    if issued_at > now + IAT_LEEWAY_S:
        raise _refuse(
            "invalid_token",
            f"the token was issued in the future ('iat' is more than {IAT_LEEWAY_S} s ahead of the server's clock)",
        )
    lifetime = expires_at - issued_at
    if lifetime <= 0:
        raise _refuse("invalid_token", "the token's 'exp' is not after its 'iat'")
    if lifetime > max_hours * 3600:
        lives = f"{lifetime:.0f} s" if lifetime < 1e12 else "for ever"
        raise _refuse(
            "invalid_token",
            f"a token may live at most {_hours(max_hours)} from 'iat' to 'exp' (HSM_ADMIN_TOKEN_MAX_HOURS); this "
            f"one would live {lives}: get a new one (hsm staff tokens issue)",
        )
    return issued_at


def authenticate(token: str, secret: str, *, max_hours: float | None = None, now: float | None = None) -> Caller:
    """The caller a token names; ApiError 401 for a bad token, 403 for an unknown role. `max_hours` (default:
    HSM_ADMIN_TOKEN_MAX_HOURS) caps `exp - iat`; `now` (default: the real clock) is for tests. Revocations are
    checked apart (`check_not_revoked`): they need the database."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            # iat is checked below, with a leeway that exp does not get.
            options={"require": ["exp", "iat", "sub", "iss", "aud"], "verify_iat": False},
        )
    except jwt.ExpiredSignatureError as error:
        raise _refuse("token_expired", "the token has expired") from error
    except jwt.InvalidSignatureError as error:
        raise _refuse("invalid_signature", "the token's signature does not verify") from error
    except jwt.InvalidAlgorithmError as error:
        raise _refuse("invalid_token", "only HS256 tokens are accepted") from error
    except jwt.MissingRequiredClaimError as error:
        raise _refuse("invalid_token", f"the token has no '{error.claim}' claim") from error
    except jwt.InvalidIssuerError as error:
        raise _refuse("invalid_token", f"the token's 'iss' must be '{ISSUER}'") from error
    except jwt.InvalidAudienceError as error:
        raise _refuse("invalid_token", f"the token's 'aud' must be '{AUDIENCE}'") from error
    except InvalidJTIError as error:
        raise _refuse(
            "invalid_token", f"the token's 'jti' must be a string of 1 to {JTI_MAX_CHARS} characters"
        ) from error
    except jwt.InvalidTokenError as error:
        raise _refuse("invalid_token", f"the token is not valid: {error}") from error
    if max_hours is None:
        max_hours = get_settings().admin_api.token_max_hours
    issued_at = _check_times(claims, max_hours, time.time() if now is None else now)
    role, subject = claims.get("role"), claims.get("sub")
    if not isinstance(subject, str) or not subject.strip():
        raise _refuse("invalid_token", "the token's 'sub' must be a non-empty string")
    subject = normalise_subject(subject)
    if len(subject) > SUBJECT_MAX_CHARS:
        raise _refuse("invalid_token", f"the token's 'sub' is longer than {SUBJECT_MAX_CHARS} characters")
    jti = claims.get("jti")
    if jti is not None and (not isinstance(jti, str) or not jti or len(jti) > JTI_MAX_CHARS):
        raise _refuse("invalid_token", f"the token's 'jti' must be a string of 1 to {JTI_MAX_CHARS} characters")
    if role not in ROLES:
        raise ApiError(403, "forbidden", f"role {role!r} may not use this API (admin or staff)")
    return Caller(subject, role, issued_at, jti)


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)  # SQLite gives naive UTC


def _latest_revocation(session: Session, subject: str) -> datetime | None:
    latest = session.execute(
        select(m.AdminTokenRevocation.revoked_before)
        .where(func.lower(m.AdminTokenRevocation.subject) == normalise_subject(subject))
        .order_by(m.AdminTokenRevocation.revoked_before.desc())
        .limit(1)
    ).scalar_one_or_none()
    return None if latest is None else _as_utc(latest)


def revoked_before(subject: str) -> datetime | None:
    """When `subject`'s tokens were last revoked (those issued before it are refused); None: never."""
    with session_scope() as session:
        return _latest_revocation(session, subject)


def _check_recorded(session: Session, caller: Caller, now: datetime) -> Caller:
    """The caller, with its staff account, when we recorded the token's jti; 401 when that record refuses it (also
    when the admin or teacher the account is has left). One lookup by the unique jti (the account, its admin and
    teacher by primary key, joined); `last_used_at` is written at most
    every LAST_USED_EVERY."""
    row = session.execute(
        select(
            m.AdminToken.id,
            m.AdminToken.revoked_at,
            m.AdminToken.last_used_at,
            m.StaffAccount.login,
            m.StaffAccount.active,
            m.StaffAccount.role,
            m.Admin.active,
            m.Teacher.active,
        )
        .outerjoin(m.StaffAccount, m.StaffAccount.id == m.AdminToken.staff_account_id)
        .outerjoin(m.Admin, m.Admin.id == m.StaffAccount.admin_id)
        .outerjoin(m.Teacher, m.Teacher.id == m.StaffAccount.teacher_id)
        .where(m.AdminToken.jti == caller.jti)
    ).one_or_none()
    if row is None:
        return caller  # not one of ours: an outside tool's token, checked by its subject only
    token_id, revoked_at, last_used_at, login, account_active, account_role, admin_active, teacher_active = row
    # The account, or the admin or teacher it is (hsm people deactivate: they left), is inactive.
    active = account_active and admin_active is not False and teacher_active is not False
    if revoked_at is not None:
        raise _refuse(
            "token_revoked",
            f"this token was revoked at {_as_utc(revoked_at).isoformat(timespec='seconds')}: get a new one "
            "(hsm staff tokens issue)",
        )
    if login is not None and not active:
        who = "is deactivated" if not account_active else "belongs to someone who has left the school"
        raise _refuse("account_deactivated", f"the staff account {login!r} {who}")
    if login is not None and caller.role not in TOKEN_ROLES.get(account_role, ()):
        raise _refuse("token_revoked", f"the staff account {login!r} may no longer hold a {caller.role} token")
    if last_used_at is None or _as_utc(last_used_at) < now - LAST_USED_EVERY:
        session.execute(update(m.AdminToken).where(m.AdminToken.id == token_id).values(last_used_at=now))
    return replace(caller, staff_login=login)


def check_not_revoked(caller: Caller) -> Caller:
    """The caller (with the staff account its token was issued to, if any); ApiError 401 `token_revoked` when the
    token was issued before its subject's latest revocation or its recorded jti was revoked, 401
    `account_deactivated` when its staff account is deactivated."""
    now = datetime.now(timezone.utc)
    with session_scope() as session:
        revoked = _latest_revocation(session, caller.subject)
        if revoked is not None and caller.issued_at < revoked.timestamp():
            raise _refuse(
                "token_revoked",
                f"the tokens of {caller.subject!r} issued before {revoked.isoformat(timespec='seconds')} were "
                "revoked: get a new one (hsm staff tokens issue)",
            )
        return caller if caller.jti is None else _check_recorded(session, caller, now)


def lifetime_seconds(hours: float | None) -> int:
    """A token's lifetime in whole seconds (rounded down: never past the cap); default and maximum:
    HSM_ADMIN_TOKEN_MAX_HOURS. ValueError for less than a second or more than the maximum."""
    max_hours = get_settings().admin_api.token_max_hours
    hours = max_hours if hours is None else hours
    seconds = int(hours * 3600) if math.isfinite(hours) else 0
    if not (seconds >= 1 and hours <= max_hours):
        raise ValueError(
            f"the lifetime must be at least 1 second and at most {_hours(max_hours)} (HSM_ADMIN_TOKEN_MAX_HOURS)"
        )
    return seconds


def issue_token(
    secret: str,
    subject: str,
    role: str,
    hours: float | None = None,
    now: float | None = None,
    jti: str | None = None,
) -> str:
    """A token the API accepts: HS256 over sub, role, iss, aud, iat (now), exp (`hours` later; default and
    maximum: HSM_ADMIN_TOKEN_MAX_HOURS) and `jti` when given. ValueError for a subject, role or lifetime the API
    would refuse. Only signs: hsm.office.admin_api.tokens.issue_recorded_token also records the jti. The subject is
    normalised (`normalise_subject`)."""
    subject = normalise_subject(subject)
    if not subject or len(subject) > SUBJECT_MAX_CHARS:
        raise ValueError(f"the subject must be 1 to {SUBJECT_MAX_CHARS} characters")
    if role not in ROLES:
        raise ValueError(f"the role must be one of {', '.join(ROLES)}")
    seconds = lifetime_seconds(hours)
    issued_at = int(time.time() if now is None else now)
    claims = {
        "sub": subject,
        "role": role,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": issued_at,
        "exp": issued_at + seconds,
    }
    if jti is not None:
        claims["jti"] = jti
    return jwt.encode(claims, secret, algorithm="HS256")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if is_console_path(request.path):  # the console has its own sessions (hsm.office.console.guard)
        return await handler(request)
    if isinstance(request.match_info, MatchInfoError):
        return await handler(request)  # 404 / 405
    route_handler = request.match_info.handler
    required = getattr(route_handler, "required_role", None)
    if required is None and getattr(route_handler, "public", False) is True:
        return await handler(request)
    if required not in ROLES:  # default-deny: a handler nobody marked answers nobody
        log.error(
            "refused %s %s: its handler is marked neither @public nor @requires(role)",
            request.method,
            mask_path(request.path),
        )
        raise ApiError(401, "unauthorized", "this route is not open to any token")
    caller = authenticate(_token(request), request.app[SECRET])
    caller = await asyncio.to_thread(check_not_revoked, caller)
    if required == "admin" and caller.role != "admin":
        raise ApiError(403, "forbidden", "this needs role admin")
    request[CALLER] = caller
    return await handler(request)


def jwt_secret() -> str:
    secret = get_settings().admin_api.jwt_secret
    if not secret:
        raise ConfigurationError("ADMIN_JWT_SECRET is not set: the admin API refuses to start without it")
    if len(secret.encode()) < MIN_SECRET_BYTES:
        log.warning("ADMIN_JWT_SECRET is shorter than %d bytes; use a long random secret", MIN_SECRET_BYTES)
    return secret
