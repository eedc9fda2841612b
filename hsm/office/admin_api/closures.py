"""The office's closures: GET /api/admin/closures (staff and admin; paginated, ?from=&to=, ?include_cancelled=),
POST /api/admin/closures (admin: close days, families of the affected batches told once; makeups booked into those
classes cancelled, credits back, their families told) and POST
/api/admin/closures/{closure_id}/cancel (admin: reopen; families who were told are told the classes are back on).

Refusals are the records' (`hsm.classes.closures`): 400 (no reason, end before start, too long, wholly past, unknown
batch), 404 (no such closure), 409 (a duplicate, days already closed, already cancelled)."""

from __future__ import annotations

import asyncio
import logging
from datetime import date

from aiohttp import web

from hsm.classes import closures
from hsm.infra.db import session_scope
from hsm.office.admin_api.auth import Caller, requires
from hsm.office.admin_api.errors import bad_request
from hsm.office.admin_api.inputs import (
    _id_path,
    _string,
    _string_list,
    body_flag,
    date_value,
    page,
    page_query,
    query_flag,
    read_json,
)
from hsm.office.admin_api.state import CALLER, ENQUEUE
from hsm.outreach import closure_notices
from hsm.outreach.notices import Notice
from hsm.outreach.notify import deliver

log = logging.getLogger("hsm.office.admin_api")

CLOSURE_FIELDS = {"start_date", "end_date", "reason", "batches", "notify"}
CANCEL_FIELDS = {"notify"}


def _listed(first: date | None, last: date | None, cancelled: bool, limit: int, offset: int) -> dict:
    with session_scope() as session:
        rows, total = closures.list_closures(
            session, first=first, last=last, include_cancelled=cancelled, limit=limit, offset=offset
        )
        return page("closures", [closures.describe(row) for row in rows], total, limit, offset)


@requires("staff")
async def get_closures(request: web.Request) -> web.Response:
    limit, offset = page_query(request)
    first, last = date_value(request.query.get("from"), "from"), date_value(request.query.get("to"), "to")
    if first and last and last < first:
        raise bad_request("to", "is before from")
    cancelled = query_flag(request, "include_cancelled", False)
    listed = await asyncio.to_thread(_listed, first, last, cancelled, limit, offset)
    return web.json_response(listed)


def _answer(outcome: closure_notices.Outcome) -> dict:
    data = closures.describe(outcome.closure)
    data["notice"] = {
        "broadcast_id": outcome.broadcast_id,
        "recipients": outcome.recipients,
        "not_told": outcome.not_told,
        "makeups_cancelled": outcome.makeups_cancelled,
    }
    return data


async def _queue(request: web.Request, answer: dict) -> None:
    broadcast_id = answer["notice"]["broadcast_id"]
    if broadcast_id is None:
        return
    try:
        await asyncio.to_thread(request.app[ENQUEUE], broadcast_id)
    except Exception as error:  # noqa: BLE001 - the closure and its broadcast are stored: a retry would duplicate
        log.error("closure notice broadcast %d is stored but could not be queued (%s)", broadcast_id, error)
        answer["notice"]["warning"] = "stored, but the queue is unreachable: it starts when the worker next starts"


def _close(
    caller: Caller, start: date, end: date, reason: str, batches: list[str] | None, notify: bool
) -> tuple[dict, list[Notice]]:
    with session_scope() as session:
        outcome = closure_notices.close(session, caller.actor, start, end, reason, batches, notify=notify)
        return _answer(outcome), outcome.notices


async def _tell_makeups(answer: dict, notices: list[Notice]) -> None:
    """Send the notices of the makeups the closure cancelled (it is committed: a failure is only reported)."""
    answer["notice"]["makeup_families_told"] = 0
    if not notices:
        return
    try:
        answer["notice"]["makeup_families_told"] = (await deliver(notices)).delivered
    except Exception as error:  # noqa: BLE001 - the closure stands; the office sees who was not told
        log.error("closure %d: makeup notices not sent (%s)", answer["id"], error)


@requires("admin")
async def post_closure(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    body = await read_json(request, CLOSURE_FIELDS)
    start = date_value(body.get("start_date"), "start_date", required=True)
    end = date_value(body.get("end_date"), "end_date") or start
    reason = _string(body, "reason", limit=closures.MAX_REASON_CHARS)
    batches = _string_list(body, "batches")
    if batches is not None and not batches:
        raise bad_request("batches", "name at least one batch code, or leave it out for the whole school")
    notify = body_flag(body, "notify", True)
    answer, notices = await asyncio.to_thread(_close, caller, start, end, reason, batches, notify)
    await _queue(request, answer)
    await _tell_makeups(answer, notices)
    log.info("%s closed %s to %s (closure %d)", caller.actor, start, end, answer["id"])
    return web.json_response(answer, status=201)


def _reopen(caller: Caller, closure_id: int, notify: bool) -> dict:
    with session_scope() as session:
        return _answer(closure_notices.reopen(session, caller.actor, closure_id, notify=notify))


@requires("admin")
async def post_closure_cancel(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    closure_id = _id_path(request, "closure_id")
    body = await read_json(request, CANCEL_FIELDS) if await request.read() else {}
    notify = body_flag(body, "notify", True)
    answer = await asyncio.to_thread(_reopen, caller, closure_id, notify)
    await _queue(request, answer)
    log.info("%s reopened closure %d", caller.actor, closure_id)
    return web.json_response(answer)
