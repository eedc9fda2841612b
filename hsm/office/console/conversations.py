"""Conversations: the recent WhatsApp numbers, a number's message log (refreshed live), and human takeover (take
over, reply: text inside the 24-hour window, an approved template outside it; hand back). Admins and office staff
only: a teacher may not read other people's conversations."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from hsm.infra.db import session_scope
from hsm.infra.phone import mask_phone
from hsm.office import conversations, takeover
from hsm.office.console.guard import page
from hsm.office.console.people_search import MAX_QUERY_CHARS, _page_number
from hsm.office.console.render import USER, html, redirect
from hsm.office.console.sender import console_client
from hsm.office.console.sessions import ConsoleUser
from hsm.records.changes import RecordError
from hsm.whatsapp.client import CloudApiError, OutsideServiceWindow

log = logging.getLogger("hsm.office.console")

TEXT_LIMIT = 4096
REPLY_NOTICES = {
    "taken": "You have taken this conversation over: the bot stays silent until you hand it back.",
    "handed_back": "Handed back: the bot answers this number again.",
    "sent": "Sent.",
}


def _staff(request: web.Request) -> ConsoleUser:
    """The signed-in admin or office staff member; a teacher is refused (403)."""
    user: ConsoleUser = request[USER]
    if user.is_teacher:
        raise web.HTTPForbidden()
    return user


def _conversation_id(request: web.Request) -> int:
    text = request.match_info["conversation_id"]
    if not text.isdigit() or len(text) > 12:
        raise web.HTTPNotFound()
    return int(text)


def _in_session(work: Any, *args: Any) -> Any:
    with session_scope() as session:
        return work(session, *args)


async def _run(work: Any, *args: Any) -> Any:
    """`work(session, *args)` in a thread and a transaction; a missing conversation is a 404."""
    try:
        return await asyncio.to_thread(_in_session, work, *args)
    except RecordError as error:
        if error.kind == "not_found":
            raise web.HTTPNotFound() from error
        raise


@page
async def get_conversations(request: web.Request) -> web.StreamResponse:
    _staff(request)
    text = " ".join(request.query.get("q", "").split())[:MAX_QUERY_CHARS]
    found = await _run(conversations.recent, text, _page_number(request.query.get("page")))
    return html(request, "conversations.html", title="Conversations", q=text, **found)


def _view(session: Any, conversation_id: int) -> dict[str, Any]:
    return {
        "conversation": conversations.conversation(session, conversation_id),
        "messages": conversations.messages(session, conversation_id),
        "templates": conversations.templates(session),
    }


async def _page(request: web.Request, status: int = 200, error: str | None = None, **form: Any) -> web.Response:
    view = await _run(_view, _conversation_id(request))
    who = view["conversation"]["name"] or view["conversation"]["phone"]
    notice = REPLY_NOTICES.get(request.query.get("notice", ""))
    context = {"text": "", "template": "", "parameters": "", **form}
    return html(
        request, "conversation.html", status=status, title=who, error=error, notice=notice, form=context, **view
    )


@page
async def get_conversation(request: web.Request) -> web.StreamResponse:
    _staff(request)
    return await _page(request)


@page
async def get_conversation_log(request: web.Request) -> web.StreamResponse:
    """The log alone, for the page's live refresh."""
    _staff(request)
    view = await _run(_view, _conversation_id(request))
    return html(request, "conversation_log.html", **view)


@page
async def post_take_over(request: web.Request) -> web.StreamResponse:
    user = _staff(request)
    conversation_id = _conversation_id(request)
    await _run(takeover.take_over, user.actor, user.login, conversation_id)
    return redirect(f"/office/conversations/{conversation_id}?notice=taken")


@page
async def post_hand_back(request: web.Request) -> web.StreamResponse:
    user = _staff(request)
    conversation_id = _conversation_id(request)
    try:
        await _run(takeover.hand_back, user.actor, conversation_id)
    except RecordError as error:
        return await _page(request, status=409, error=error.message)
    return redirect(f"/office/conversations/{conversation_id}?notice=handed_back")


def _form_text(form: Any, name: str, limit: int) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


async def _send(request: web.Request, phone: str, text: str, template: str, parameters: list[str]) -> dict[str, Any]:
    client = console_client(request.app)
    if template:
        result = await client.send_template(phone, template, "en", parameters)
        return {"type": "template", "template": template, "message_id": result.wamid}
    result = await client.send(phone, {"type": "text", "text": {"body": text}})
    return {"type": "text", "message_id": result.wamid}


@page
async def post_reply(request: web.Request) -> web.StreamResponse:
    user = _staff(request)
    conversation_id = _conversation_id(request)
    form = await request.post()
    text = _form_text(form, "text", TEXT_LIMIT + 1)
    template = _form_text(form, "template", 100)
    raw_parameters = _form_text(form, "parameters", 2000)
    parameters = [line.strip() for line in raw_parameters.splitlines() if line.strip()]
    kept = {"text": text, "template": template, "parameters": raw_parameters}
    if not template and not text:
        return await _page(request, status=400, error="Type a reply, or choose a template.", **kept)
    if len(text) > TEXT_LIMIT:
        return await _page(request, status=400, error=f"A reply holds at most {TEXT_LIMIT} characters.", **kept)
    if template and template not in {t["name"] for t in await _run(conversations.templates)}:
        return await _page(request, status=400, error="Choose one of the approved templates below.", **kept)
    try:
        phone = await _run(takeover.replying_to, user.login, conversation_id)
    except RecordError as error:
        return await _page(request, status=409, error=error.message, **kept)
    try:
        sent = await _send(request, phone, text, template, parameters)
    except OutsideServiceWindow:
        await _run(takeover.reply_refused, user.actor, conversation_id, {"error": "outside_service_window"})
        problem = "This number has not written in 24 hours: only an approved template can be sent. Choose one below."
        return await _page(request, status=422, error=problem, **kept)
    except CloudApiError as error:
        log.warning("console reply to %s not sent: %s", mask_phone(phone), error)
        await _run(takeover.reply_refused, user.actor, conversation_id, {"error": str(error)[:300]})
        return await _page(request, status=502, error=f"WhatsApp did not take the message: {error}", **kept)
    await _run(takeover.replied, user.actor, conversation_id, sent)
    return redirect(f"/office/conversations/{conversation_id}?notice=sent")
