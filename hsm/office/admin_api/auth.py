"""Who may call the admin API: the JWT check (HS256, ADMIN_JWT_SECRET) and the roles admin and staff.

Every /api call needs `Authorization: Bearer <JWT>`: HS256 only, signed with ADMIN_JWT_SECRET, with `exp` (checked
against the real clock, not HSM_NOW) and `sub`; `role` "admin" may do everything, "staff" all but broadcasts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import jwt
from aiohttp import web
from aiohttp.web_urldispatcher import MatchInfoError

from hsm.infra.config import get_settings
from hsm.office.admin_api.errors import ApiError, Handler
from hsm.office.admin_api.state import CALLER, SECRET

log = logging.getLogger("hsm.office.admin_api")

ROLES = ("admin", "staff")
MIN_SECRET_BYTES = 32


@dataclass(frozen=True)
class Caller:
    subject: str
    role: str

    @property
    def actor(self) -> str:
        return f"api:{self.subject}"[:60]


class ConfigurationError(RuntimeError):
    """The API cannot start (ADMIN_JWT_SECRET missing)."""


def requires(role: str) -> Callable[[Handler], Handler]:
    """Mark a handler as needing a token of `role` ("staff": staff or admin; "admin": admin only)."""

    def mark(handler: Handler) -> Handler:
        handler.required_role = role  # type: ignore[attr-defined]
        return handler

    return mark


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


def authenticate(token: str, secret: str) -> Caller:
    """The caller a token names; ApiError 401 for a bad token, 403 for an unknown role."""

    def refuse(code: str, message: str) -> ApiError:
        return ApiError(
            401,
            code,
            message,
            headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{message}"'},
        )

    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError as error:
        raise refuse("token_expired", "the token has expired") from error
    except jwt.InvalidSignatureError as error:
        raise refuse("invalid_signature", "the token's signature does not verify") from error
    except jwt.InvalidAlgorithmError as error:
        raise refuse("invalid_token", "only HS256 tokens are accepted") from error
    except jwt.MissingRequiredClaimError as error:
        raise refuse("invalid_token", f"the token has no '{error.claim}' claim") from error
    except jwt.InvalidTokenError as error:
        raise refuse("invalid_token", f"the token is not valid: {error}") from error
    role, subject = claims.get("role"), claims.get("sub")
    if not isinstance(subject, str) or not subject.strip():
        raise refuse("invalid_token", "the token's 'sub' must be a non-empty string")
    if role not in ROLES:
        raise ApiError(403, "forbidden", f"role {role!r} may not use this API (admin or staff)")
    return Caller(subject.strip(), role)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if isinstance(request.match_info, MatchInfoError):
        return await handler(request)  # 404 / 405
    required = getattr(request.match_info.handler, "required_role", None)
    if required is None:
        return await handler(request)
    caller = authenticate(_token(request), request.app[SECRET])
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
