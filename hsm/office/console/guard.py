"""Who may open a console page: the session cookie checked on every request, CSRF on every POST, HTML errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web
from aiohttp.web_urldispatcher import MatchInfoError

from hsm.infra.config import get_settings
from hsm.infra.db import session_scope
from hsm.office.admin_api.state import SECRET, is_console_path
from hsm.office.console import sessions
from hsm.office.console.render import SECURITY_HEADERS, USER, error_page, redirect

log = logging.getLogger("hsm.office.console")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SIGN_IN_PATH = "/office/sign-in"
HOME = "/office/"


def page(handler: Handler) -> Handler:
    """A page for signed-in staff (POSTs also need the session's CSRF token)."""
    handler.console_access = "signed_in"  # type: ignore[attr-defined]
    return handler


def upload_page(max_bytes: int) -> Callable[[Handler], Handler]:
    """A signed-in page whose POST may carry a file of up to `max_bytes` (the app's own limit is far smaller)."""

    def mark(handler: Handler) -> Handler:
        handler.console_max_body = max_bytes  # type: ignore[attr-defined]
        return page(handler)

    return mark


def open_page(handler: Handler) -> Handler:
    """A page anyone may open (the sign-in form, the style sheet); a console route marked neither is refused."""
    handler.console_access = "open"  # type: ignore[attr-defined]
    return handler


def secure_request(request: web.Request) -> bool:
    """Whether the cookie must be Secure: HTTPS (directly or behind a proxy saying so), or production."""
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.secure or forwarded == "https" or get_settings().deployment.production


def set_session_cookie(request: web.Request, response: web.StreamResponse, value: str) -> None:
    response.set_cookie(
        sessions.COOKIE, value, path="/office", httponly=True, samesite="Lax", secure=secure_request(request)
    )


def drop_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(sessions.COOKIE, path="/office")


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a console path of ours, else the Today page."""
    if not value or not value.startswith(HOME) or value.startswith("//") or "\\" in value or len(value) > 500:
        return HOME
    return value


def _load_user(session_id: str) -> sessions.ConsoleUser | None:
    with session_scope() as session:
        return sessions.current(session, session_id)


async def signed_in_user(request: web.Request) -> sessions.ConsoleUser | None:
    session_id = sessions.session_id_of(request.app[SECRET], request.cookies.get(sessions.COOKIE))
    if session_id is None:
        return None
    return await asyncio.to_thread(_load_user, session_id)


def _to_sign_in(request: web.Request, had_cookie: bool) -> web.Response:
    target = SIGN_IN_PATH
    if request.method == "GET":
        target += f"?next={quote(request.path_qs, safe='')}"
        if had_cookie:
            target += "&notice=expired"
    elif had_cookie:
        target += "?notice=expired"
    response = redirect(target)
    if had_cookie:
        drop_session_cookie(response)
    return response


async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    match_info = request.match_info
    if isinstance(match_info, MatchInfoError):
        return error_page(request, match_info.http_exception.status)
    access = getattr(match_info.handler, "console_access", None)
    if access not in ("open", "signed_in"):  # default-deny: a console handler nobody marked answers nobody
        log.error("refused %s %s: its handler is marked neither @page nor @open_page", request.method, request.path)
        return error_page(request, 404)
    if access == "signed_in":
        max_body = getattr(match_info.handler, "console_max_body", None)
        if max_body is not None:
            request = request.clone(client_max_size=max_body)
        user = await signed_in_user(request)
        if user is None:
            return _to_sign_in(request, sessions.COOKIE in request.cookies)
        request[USER] = user
        if request.method not in ("GET", "HEAD"):
            form = await request.post()
            if not sessions.csrf_ok(request.app[SECRET], user.session_id, form.get("csrf")):
                log.warning("refused %s %s: CSRF token missing or wrong", request.method, request.path)
                return error_page(request, 403)
    return await handler(request)


@web.middleware
async def console_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """For /office paths: the session and CSRF checks, HTML error pages and the security headers; other paths
    pass through (the admin API's middlewares leave /office alone)."""
    if not is_console_path(request.path):
        return await handler(request)
    try:
        response = await _guarded(request, handler)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        response = error_page(request, error.status)
    except Exception:  # noqa: BLE001 - an HTML page, the details in the log
        log.exception("%s %s failed", request.method, request.path)
        response = error_page(request, 500)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    log.info("%s %s -> %d", request.method, request.path, response.status)
    return response
