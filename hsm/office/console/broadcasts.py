"""Broadcast pages: compose, preview, send, watch the progress (the page refreshes itself), retry the failed, list."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from aiohttp import web

from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.office.admin_api.state import ENQUEUE
from hsm.office.console.broadcast_drafts import Draft, choices, preview
from hsm.office.console.guard import page
from hsm.office.console.people_search import _page_number
from hsm.office.console.render import USER, html, redirect
from hsm.office.console.sessions import ConsoleUser
from hsm.outreach.broadcast import history
from hsm.outreach.broadcast.creation import create_broadcast
from hsm.outreach.broadcast.errors import BroadcastError
from hsm.outreach.broadcast.progress import broadcast_progress
from hsm.outreach.broadcast.retry import retry_failed

log = logging.getLogger("hsm.office.console")

LIST_SIZE = 20
RECIPIENT_PAGE = 50
REFRESH_S = 3
SETTLING = timedelta(minutes=15)  # after a broadcast finishes, statuses keep coming in for a while
STATUS_WORDS = {
    "pending": "queued",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "failed": "failed",
    "skipped": "left out",
}


def staff_only(request: web.Request) -> ConsoleUser:
    """The list and the progress of broadcasts are the office's (admins and staff); a teacher is refused."""
    user: ConsoleUser = request[USER]
    if user.is_teacher:
        raise web.HTTPForbidden()
    return user


def admin_only(request: web.Request) -> ConsoleUser:
    """Composing, sending and retrying a broadcast are the admins' (DESIGN: admins broadcast; as the API's
    POST /api/whatsapp/broadcast)."""
    user: ConsoleUser = request[USER]
    if not user.is_admin:
        raise web.HTTPForbidden()
    return user


def _broadcast_id(request: web.Request) -> int:
    text = request.match_info["broadcast_id"]
    if not text.isdigit() or len(text) > 12:
        raise web.HTTPNotFound()
    return int(text)


def _choices() -> dict[str, Any]:
    with session_scope() as session:
        return choices(session)


async def _compose(request: web.Request, draft: Draft, error: BroadcastError | None = None) -> web.Response:
    options = await asyncio.to_thread(_choices)
    status = 422 if error else 200
    return html(
        request, "broadcast_new.html", status=status, title="New broadcast", draft=draft, error=error, **options
    )


@page
async def get_new(request: web.Request) -> web.StreamResponse:
    admin_only(request)
    return await _compose(request, Draft(batch=request.query.get("batch", "")[:40]))


@page
async def post_edit(request: web.Request) -> web.StreamResponse:
    """Back from the preview to the form, as it was filled in."""
    admin_only(request)
    return await _compose(request, Draft.from_form(await request.post()))


def _preview(draft: Draft) -> dict[str, Any]:
    with session_scope() as session:
        return preview(session, draft)


@page
async def post_preview(request: web.Request) -> web.StreamResponse:
    admin_only(request)
    draft = Draft.from_form(await request.post())
    try:
        shown = await asyncio.to_thread(_preview, draft)
    except BroadcastError as error:
        return await _compose(request, draft, error)
    return html(request, "broadcast_preview.html", title="Check and send", draft=draft, error=None, **shown)


def _create(user: ConsoleUser, draft: Draft, shown: dict[str, Any]) -> int:
    with session_scope() as session:
        template = shown["template_name"] or None
        broadcast = create_broadcast(
            session, user.actor, draft.audience(), shown["text"], template, shown["params"] if template else ()
        )
        return broadcast.id


async def _enqueue(request: web.Request, broadcast_id: int) -> bool:
    try:
        await asyncio.to_thread(request.app[ENQUEUE], broadcast_id)
    except Exception as error:  # noqa: BLE001 - the broadcast is stored: it starts when the worker next starts
        log.error("broadcast %d is stored but could not be queued: %s", broadcast_id, error)
        return False
    return True


@page
async def post_send(request: web.Request) -> web.StreamResponse:
    user = admin_only(request)
    draft = Draft.from_form(await request.post())
    try:
        shown = await asyncio.to_thread(_preview, draft)
        broadcast_id = await asyncio.to_thread(_create, user, draft, shown)
    except BroadcastError as error:
        try:
            shown = await asyncio.to_thread(_preview, draft)
        except BroadcastError:
            return await _compose(request, draft, error)
        return html(
            request, "broadcast_preview.html", status=422, title="Check and send", draft=draft, error=error, **shown
        )
    queued = await _enqueue(request, broadcast_id)
    return redirect(f"/office/broadcasts/{broadcast_id}" + ("" if queued else "?notice=unqueued"))


def _progress(broadcast_id: int, status: str | None, number: int) -> dict[str, Any] | None:
    with session_scope() as session:
        broadcast = session.get(m.Broadcast, broadcast_id)
        if broadcast is None:
            return None
        totals = broadcast_progress(session, broadcast_id)
        found = history.recipients(session, broadcast_id, status, number, RECIPIENT_PAGE)
        finished = broadcast.finished_at
        in_transit = totals["sent"] - totals["delivered"]
        live = broadcast.status in ("queued", "running") or (
            in_transit > 0 and finished is not None and clock.utcnow() - clock.as_utc(finished) < SETTLING
        )
        rows = [
            {"name": r.name, "phone": r.phone_number, "status": r.status, "error": r.error_message, "at": r.updated_at}
            for r in found.rows
        ]
        return {"totals": totals, "found": found, "rows": rows, "live": live, "created_at": broadcast.created_at}


@page
async def get_progress(request: web.Request) -> web.StreamResponse:
    staff_only(request)
    broadcast_id = _broadcast_id(request)
    status = request.query.get("status", "")
    status = status if status in STATUS_WORDS else ""
    number = _page_number(request.query.get("page"))
    view = await asyncio.to_thread(_progress, broadcast_id, status or None, number)
    if view is None:
        raise web.HTTPNotFound()
    return html(
        request,
        "broadcast.html",
        title=f"Broadcast {broadcast_id}",
        shown_status=status,
        words=STATUS_WORDS,
        refresh_s=REFRESH_S,
        notice=request.query.get("notice", ""),
        **view,
    )


def _retry(user: ConsoleUser, broadcast_id: int) -> int:
    with session_scope() as session:
        return retry_failed(session, broadcast_id, user.actor)


@page
async def post_retry(request: web.Request) -> web.StreamResponse:
    user = admin_only(request)
    broadcast_id = _broadcast_id(request)
    try:
        count = await asyncio.to_thread(_retry, user, broadcast_id)
    except BroadcastError as error:
        if error.code == "not_found":
            raise web.HTTPNotFound() from error
        return redirect(f"/office/broadcasts/{broadcast_id}?notice=busy")
    if count == 0:
        return redirect(f"/office/broadcasts/{broadcast_id}?notice=nothing")
    queued = await _enqueue(request, broadcast_id)
    return redirect(f"/office/broadcasts/{broadcast_id}?notice=" + ("retried" if queued else "unqueued"))


def _list(number: int) -> history.Page:
    with session_scope() as session:
        found = history.list_broadcasts(session, number, LIST_SIZE)
        for row in found.rows:
            session.expunge(row["broadcast"])
        return found


@page
async def get_list(request: web.Request) -> web.StreamResponse:
    staff_only(request)
    found = await asyncio.to_thread(_list, _page_number(request.query.get("page")))
    return html(request, "broadcasts.html", title="Broadcasts", found=found)


def add_broadcast_routes(app: web.Application) -> None:
    app.router.add_get("/office/broadcasts", get_list, allow_head=False)
    app.router.add_get("/office/broadcasts/new", get_new, allow_head=False)
    app.router.add_post("/office/broadcasts/new", post_edit)
    app.router.add_post("/office/broadcasts/preview", post_preview)
    app.router.add_post("/office/broadcasts", post_send)
    app.router.add_get("/office/broadcasts/{broadcast_id}", get_progress, allow_head=False)
    app.router.add_post("/office/broadcasts/{broadcast_id}/retry", post_retry)
