"""Signing in to the console with a password, and signing out: one neutral message for every failed sign-in; each
client address may fail only so often (hsm.office.console.address_limit)."""

from __future__ import annotations

import asyncio
import logging
import secrets

from aiohttp import web

from hsm.infra.db import session_scope
from hsm.office import sign_in
from hsm.office.admin_api.state import SECRET
from hsm.office.console import address_limit, sessions
from hsm.office.console.guard import (
    HOME,
    drop_session_cookie,
    open_page,
    page,
    safe_next,
    secure_request,
    set_session_cookie,
    signed_in_user,
)
from hsm.office.console.render import USER, error_page, html, redirect

log = logging.getLogger("hsm.office.console")

FAILED = (
    "That login and password did not work. Check them and try again; after several tries, wait 15 minutes or ask "
    "an admin."
)
NOTICES = {
    "signed_out": "You have signed out.",
    "expired": "Your session has ended. Sign in again to go on.",
}
MAX_LOGIN_CHARS = 100
MAX_PASSWORD_CHARS = 1024


def sign_in_form(request: web.Request, template: str, *, status: int = 200, **context: object) -> web.Response:
    """A sign-in form (password or one-time code) with its CSRF token, which signs the SIGN_IN_COOKIE's value."""
    value = request.cookies.get(sessions.SIGN_IN_COOKIE) or ""
    if not (16 <= len(value) <= 100):
        value = secrets.token_urlsafe(24)
    context.setdefault("next", safe_next(request.query.get("next")))
    response = html(
        request,
        template,
        status=status,
        title="Sign in",
        notice=NOTICES.get(request.query.get("notice", "")),
        sign_in_csrf=sessions.sign_in_token(request.app[SECRET], value),
        **context,
    )
    response.set_cookie(
        sessions.SIGN_IN_COOKIE, value, path="/office", httponly=True, samesite="Lax", secure=secure_request(request)
    )
    return response


def signed_in_response(request: web.Request, session_id: str, form_next: object) -> web.Response:
    """The redirect after a sign-in that worked: the session's cookie set, the sign-in form's dropped."""
    response = redirect(safe_next(form_next if isinstance(form_next, str) else None))
    set_session_cookie(request, response, sessions.cookie_value(request.app[SECRET], session_id))
    response.del_cookie(sessions.SIGN_IN_COOKIE, path="/office")
    return response


def _form(request: web.Request, *, status: int = 200, login: str = "", error: str | None = None) -> web.Response:
    return sign_in_form(request, "sign_in.html", status=status, login=login, error=error)


@open_page
async def get_sign_in(request: web.Request) -> web.StreamResponse:
    if await signed_in_user(request) is not None:
        return redirect(safe_next(request.query.get("next")))
    return _form(request)


def _check(login: str, password: str, old_session: str | None) -> tuple[sign_in.SignIn, str | None]:
    """The sign-in's outcome and, when it worked, the new session's id (a signed-in old session is ended)."""
    with session_scope() as session:
        outcome = sign_in.verify_password(session, login, password)
        if not outcome.ok or outcome.account is None:
            return outcome, None
        if old_session is not None:
            sessions.end(session, old_session)
        session_id = sessions.new_session_id()
        sessions.start(session, outcome.account.login, session_id)
        return outcome, session_id


@open_page
async def post_sign_in(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    secret = request.app[SECRET]
    if not sessions.sign_in_token_ok(secret, request.cookies.get(sessions.SIGN_IN_COOKIE), form.get("csrf")):
        log.warning("refused a sign-in: its CSRF token is missing or wrong")
        return error_page(request, 403)
    login, password = form.get("login"), form.get("password")
    login = login.strip()[:MAX_LOGIN_CHARS] if isinstance(login, str) else ""
    password = password if isinstance(password, str) else ""
    turn = await address_limit.take_turn(request, address_limit.FAILURES)
    if not turn.allowed:
        return turn.refuse(_form(request, status=429, login=login, error=turn.message))
    if not login or not password or len(password) > MAX_PASSWORD_CHARS:
        return _form(request, status=401, login=login, error=FAILED)
    old = sessions.session_id_of(secret, request.cookies.get(sessions.COOKIE))
    outcome, session_id = await asyncio.to_thread(_check, login, password, old)
    if session_id is None:
        log.info("console sign-in refused (%s)", outcome.outcome)  # the outcome is for the log, never the page
        return _form(request, status=401, login=login, error=FAILED)
    await turn.give_back()  # it worked: only failures count
    return signed_in_response(request, session_id, form.get("next"))


def _end(session_id: str) -> None:
    with session_scope() as session:
        sessions.end(session, session_id)


@page
async def post_sign_out(request: web.Request) -> web.StreamResponse:
    await asyncio.to_thread(_end, request[USER].session_id)
    response = redirect("/office/sign-in?notice=signed_out")
    drop_session_cookie(response)
    return response


@open_page
async def get_office(request: web.Request) -> web.StreamResponse:
    """/office without its slash."""
    return redirect(HOME)
