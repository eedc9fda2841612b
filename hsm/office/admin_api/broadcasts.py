"""POST /api/whatsapp/broadcast (queue a broadcast, admin only) and GET /api/whatsapp/broadcasts/{id} (progress)."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from sqlalchemy import func, select

from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.office.admin_api.auth import Caller, requires
from hsm.office.admin_api.errors import ApiError, bad_request
from hsm.office.admin_api.inputs import _id_path, _string, _string_list, read_json
from hsm.office.admin_api.state import CALLER, ENQUEUE, PREFIX
from hsm.outreach import broadcast as bc

log = logging.getLogger("hsm.office.admin_api")


BROADCAST_FIELDS = {
    "recipient_type",
    "batch_code",
    "course_code",
    "recipient_list",
    "text",
    "template_name",
    "parameters",
}
# Well-formed requests naming something that does not exist or cannot be used: 422; other refusals are 400 (the
# parameters too: a wrong count, an unknown or a missing name is a request that does not fit the template).
UNPROCESSABLE = {
    "unknown_template",
    "template_not_approved",
    "unknown_batch",
    "unknown_course",
    "empty_audience",
}
ERROR_FIELDS = {
    "audience.code": None,
    "audience.phones": "recipient_list",
    "audience.kind": "recipient_type",
    "audience": "recipient_type",
    "template_params": "parameters",
}


def _audience(body: dict) -> dict:
    kind = body.get("recipient_type")
    if kind is None:
        raise bad_request("recipient_type", "is required", "missing_field")
    if kind not in bc.AUDIENCE_KINDS:
        raise bad_request("recipient_type", f"must be one of {', '.join(bc.AUDIENCE_KINDS)}")
    if kind in ("batch", "course"):
        key = f"{kind}_code"
        return {"kind": kind, "code": _string(body, key).strip()}
    if kind == "custom":
        phones = body.get("recipient_list")
        if phones is None:
            raise bad_request("recipient_list", "is required for recipient_type custom", "missing_field")
        if not isinstance(phones, list) or not phones or not all(isinstance(p, str) for p in phones):
            raise bad_request("recipient_list", "must be a non-empty list of phone numbers (strings)")
        return {"kind": kind, "phones": phones}
    return {"kind": kind}


def _error_field(error: bc.BroadcastError, audience: dict) -> str:
    if error.field == "audience.code":
        return f"{audience['kind']}_code"
    if error.field.startswith("template_params"):
        return "parameters" + error.field[len("template_params") :]
    return ERROR_FIELDS.get(error.field) or error.field


def _parameters(body: dict) -> list[str] | dict[str, str]:
    """`parameters`: positional (["Asha", ...]) or named after the template's variables ({"student_name": ...})."""
    value = body.get("parameters")
    if isinstance(value, dict):
        if not all(isinstance(key, str) and isinstance(item, str) for key, item in value.items()):
            raise bad_request("parameters", "must be a list of strings or an object of strings by parameter name")
        return value
    return _string_list(body, "parameters") or []


def _create(
    caller: Caller, audience: dict, text: str | None, template: str | None, parameters: list[str] | dict[str, str]
) -> dict:
    with session_scope() as session:
        broadcast = bc.create_broadcast(session, caller.actor, audience, text, template, parameters)
        counts = dict(
            session.execute(
                select(m.BroadcastRecipient.status, func.count())
                .where(m.BroadcastRecipient.broadcast_id == broadcast.id)
                .group_by(m.BroadcastRecipient.status)
            ).all()
        )
        return {
            "broadcast_id": broadcast.id,
            "recipients": counts.get("pending", 0),
            "skipped_opted_out": counts.get("skipped", 0),
            "status": broadcast.status,
        }


@requires("admin")
async def post_broadcast(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    body = await read_json(request, BROADCAST_FIELDS)
    audience = _audience(body)
    text = body.get("text")
    if text is not None and not isinstance(text, str):
        raise bad_request("text", "must be a string")
    template = body.get("template_name")
    if template is not None and not isinstance(template, str):
        raise bad_request("template_name", "must be a string")
    parameters = _parameters(body)
    try:
        created = await asyncio.to_thread(_create, caller, audience, text, template, parameters)
    except bc.BroadcastError as error:
        status = 422 if error.code in UNPROCESSABLE else 400
        raise ApiError(status, error.code, error.message, _error_field(error, audience), error.details) from error
    try:
        await asyncio.to_thread(request.app[ENQUEUE], created["broadcast_id"])
    except Exception as error:  # noqa: BLE001 - the broadcast exists: answering an error would invite a repeat
        log.error(
            "broadcast %d is stored but could not be queued (%s); it starts when `hsm worker` (or, "
            "without Redis, `hsm api`) next starts",
            created["broadcast_id"],
            error,
        )
        created["warning"] = "stored, but the queue is unreachable: it starts when the worker next starts"
    created["progress_url"] = f"{PREFIX}/broadcasts/{created['broadcast_id']}"
    return web.json_response(created, status=202)


def _progress(broadcast_id: int) -> dict | None:
    with session_scope() as session:
        try:
            return bc.broadcast_progress(session, broadcast_id)
        except bc.BroadcastError:
            return None


@requires("admin")
async def get_broadcast(request: web.Request) -> web.Response:
    broadcast_id = _id_path(request, "broadcast_id")
    progress = await asyncio.to_thread(_progress, broadcast_id)
    if progress is None:
        raise ApiError(404, "not_found", f"no broadcast {broadcast_id}")
    return web.json_response(progress)
