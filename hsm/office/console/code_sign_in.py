"""Signing in to the console with a one-time code over WhatsApp: ask for a code (login or phone), then type it.
One neutral answer whether or not a code went out, and one for every code that does not work; each client
address may ask and fail only so often (hsm.office.console.address_limit)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from hsm.infra.db import session_scope
from hsm.infra.phone import mask_phone
from hsm.office import sign_in_codes
from hsm.office.admin_api.state import SECRET
from hsm.office.console import address_limit, sessions
from hsm.office.console.guard import open_page, safe_next, signed_in_user
from hsm.office.console.render import error_page, redirect
from hsm.office.console.sender import console_client
from hsm.office.console.sign_in_pages import MAX_LOGIN_CHARS, sign_in_form, signed_in_response
from hsm.whatsapp.client import CloudApiError

log = logging.getLogger("hsm.office.console")

SENT = (
    "If that account has a phone number on file, a 6-digit code is on its way to its WhatsApp. It works once, for "
    "10 minutes."
)
FAILED = "That code did not work. Check it and try again, or ask for a new code."
TEMPLATE = "sign_in_code.html"


def _form_value(form: Any, name: str, limit: int) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _next_of(form: Any) -> str:
    value = form.get("next")
    return safe_next(value if isinstance(value, str) else None)


async def _csrf_ok(request: web.Request) -> bool:
    form = await request.post()
    ok = sessions.sign_in_token_ok(request.app[SECRET], request.cookies.get(sessions.SIGN_IN_COOKIE), form.get("csrf"))
    if not ok:
        log.warning("refused a code sign-in step: its CSRF token is missing or wrong")
    return ok


@open_page
async def get_code_sign_in(request: web.Request) -> web.StreamResponse:
    if await signed_in_user(request) is not None:
        return redirect(safe_next(request.query.get("next")))
    return sign_in_form(request, TEMPLATE, step="ask", who="", error=None, sent=None)


def _issue(secret: str, who: str) -> sign_in_codes.CodeOutcome:
    with session_scope() as session:
        return sign_in_codes.issue_code(session, secret, who)


@dataclass(frozen=True)
class _Sending:
    code_id: int
    task: asyncio.Task


# The latest code on its way per phone (a reference, so that no task is collected unfinished).
_SENDING: dict[str, _Sending] = {}


def _still_live(code_id: int) -> bool:
    with session_scope() as session:
        return sign_in_codes.code_is_live(session, code_id)


async def _send_code(app: web.Application, phone: str, code: str, code_id: int, before: asyncio.Task | None) -> None:
    """Send `code` once the phone's previous send has ended, and only if no newer code has voided it meanwhile: a
    slow or retried send must not land after the newer code, or the code on the phone's screen would be the dead
    one. The previous send is stopped first (its code is void), so the new code does not wait out its retries."""
    if before is not None:
        before.cancel()
        await asyncio.wait([before])
    try:
        if not await asyncio.to_thread(_still_live, code_id):
            log.info("sign-in code to %s not sent: a newer code voided it", mask_phone(phone))
            return
        await sign_in_codes.send_code(console_client(app), phone, code)
    except CloudApiError as error:
        log.error("sign-in code to %s not sent: %s", mask_phone(phone), error)
    except Exception:  # a task's error would otherwise surface only when it is collected, if ever
        log.exception("sign-in code to %s not sent", mask_phone(phone))


def _send_in_order(app: web.Application, phone: str, code: str, code_id: int) -> None:
    """Start sending `code` after the phone's send in flight, which it stops; unless that one carries a newer code
    (two requests at once, whose codes came back from their threads out of order): then this void code is dropped."""
    current = _SENDING.get(phone)
    before = None
    if current is not None and not current.task.done() and current.task.get_loop() is asyncio.get_running_loop():
        if current.code_id > code_id:
            log.info("sign-in code to %s not sent: a newer code is on its way", mask_phone(phone))
            return
        before = current.task
    sending = _Sending(code_id, asyncio.create_task(_send_code(app, phone, code, code_id, before)))
    _SENDING[phone] = sending
    sending.task.add_done_callback(lambda _: _SENDING.pop(phone) if _SENDING.get(phone) is sending else None)


async def finish_sends(timeout_s: float = 5.0) -> None:
    """Wait up to `timeout_s` for the codes still on their way from this event loop (each phone's latest send
    waits for the one it voided). The admin API calls it before its client closes, so that a code just asked for
    is not cut off; a send may stop a superseded one, so the number sent is known only after this."""
    loop = asyncio.get_running_loop()
    pending = [s.task for s in list(_SENDING.values()) if not s.task.done() and s.task.get_loop() is loop]
    if pending:
        await asyncio.wait(pending, timeout=timeout_s)


@open_page
async def post_code_request(request: web.Request) -> web.StreamResponse:
    if not await _csrf_ok(request):
        return error_page(request, 403)
    form = await request.post()
    who = _form_value(form, "who", MAX_LOGIN_CHARS)
    next_page = _next_of(form)
    if not who:
        return sign_in_form(
            request, TEMPLATE, status=400, step="ask", who="", next=next_page, sent=None,
            error="Type your login or your phone number.",
        )  # fmt: skip
    turn = await address_limit.take_turn(request, address_limit.CODES)
    if not turn.allowed:
        return turn.refuse(
            sign_in_form(
                request, TEMPLATE, status=429, step="ask", who=who, next=next_page, sent=None, error=turn.message
            )
        )
    outcome = await asyncio.to_thread(_issue, request.app[SECRET], who)
    if outcome.outcome == "sent" and outcome.phone and outcome.code and outcome.code_id is not None:
        # Sent after the answer, so that its time says nothing about whether the account exists.
        _send_in_order(request.app, outcome.phone, outcome.code, outcome.code_id)
    else:
        log.info("sign-in code refused (%s)", outcome.outcome)  # for the log only: the page says the same
    return sign_in_form(request, TEMPLATE, step="code", who=who, next=next_page, error=None, sent=SENT)


def _verify(secret: str, who: str, code: str, old_session: str | None) -> str | None:
    """The new session's id when the code works (a signed-in old session is ended), else None."""
    with session_scope() as session:
        outcome = sign_in_codes.verify_code(session, secret, who, code)
        if not outcome.ok or outcome.account is None:
            log.info("code sign-in refused (%s)", outcome.outcome)
            return None
        if old_session is not None:
            sessions.end(session, old_session)
        session_id = sessions.new_session_id()
        sessions.start(session, outcome.account.login, session_id, method="whatsapp_code")
        return session_id


@open_page
async def post_code_verify(request: web.Request) -> web.StreamResponse:
    if not await _csrf_ok(request):
        return error_page(request, 403)
    form = await request.post()
    who = _form_value(form, "who", MAX_LOGIN_CHARS)
    code = _form_value(form, "code", 20)
    secret = request.app[SECRET]
    turn = await address_limit.take_turn(request, address_limit.FAILURES)
    if not turn.allowed:
        return turn.refuse(
            sign_in_form(
                request, TEMPLATE, status=429, step="code", who=who, next=_next_of(form), sent=None, error=turn.message
            )
        )
    old = sessions.session_id_of(secret, request.cookies.get(sessions.COOKIE))
    session_id = await asyncio.to_thread(_verify, secret, who, code, old) if who and code else None
    if session_id is None:
        return sign_in_form(
            request, TEMPLATE, status=401, step="code", who=who, next=_next_of(form), sent=None, error=FAILED
        )
    await turn.give_back()  # it worked: only failures count
    return signed_in_response(request, session_id, form.get("next"))
