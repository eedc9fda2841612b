"""The leads pipeline over the admin API (staff; reopening an enrolled or lost lead: admin):

GET  /api/admin/leads                    filtered (status, course, since, search), newest first, paginated
GET  /api/admin/leads/{lead_id}          one lead with its history
POST /api/admin/leads/{lead_id}/move     move it (hsm.outreach.leads.MOVES), with a note
POST /api/admin/leads/{lead_id}/convert  admit the student it asked for and mark it enrolled (one transaction)
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from typing import Any

from aiohttp import web

from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.office.admin_api.admissions import (
    ENROLLMENT_FIELDS,
    admission_json,
    check_admin_fields,
    check_fee,
    enrollment_values,
)
from hsm.office.admin_api.auth import Caller, requires
from hsm.office.admin_api.errors import ApiError, bad_request
from hsm.office.admin_api.inputs import _id_path, _string, page, page_query, read_json
from hsm.office.admin_api.sessions import _iso
from hsm.office.admin_api.state import CALLER
from hsm.outreach import leads
from hsm.people.admissions import convert_lead

log = logging.getLogger("hsm.office.admin_api")

MOVE_FIELDS = {"status", "note", "trial_at", "batch", "course", "reason", "student"}
CONVERT_FIELDS = ENROLLMENT_FIELDS | {"student_name", "guardian_name", "guardian_relation", "note"}


def lead_json(lead: m.Lead, events: list[m.LeadEvent] | None = None) -> dict[str, Any]:
    """A lead as the API shows it; `trial_at` in the school's time, other timestamps in UTC."""
    trial_at = clock.as_utc(lead.trial_at).astimezone(clock.school_timezone()) if lead.trial_at else None
    view: dict[str, Any] = {
        "id": lead.id,
        "name": lead.name,
        "phone": lead.phone,
        "course": {"code": lead.course.code, "name": lead.course.name} if lead.course else None,
        "student_age": lead.student_age,
        "level": lead.level,
        "preferred_slot": lead.preferred_slot,
        "source": lead.source,
        "status": lead.status,
        "moves": list(leads.MOVES[lead.status]),
        "notes": lead.notes,
        "trial_at": trial_at.isoformat() if trial_at else None,
        "trial_batch": lead.trial_batch.code if lead.trial_batch else None,
        "student": lead.student.enrollment_id if lead.student else None,
        "lost_reason": lead.lost_reason,
        "created_at": _iso(lead.created_at),
        "updated_at": _iso(lead.updated_at),
    }
    if events is not None:
        view["events"] = [
            {
                "from_status": event.from_status,
                "to_status": event.to_status,
                "note": event.note,
                "details": event.details or {},
                "actor": event.actor,
                "created_at": _iso(event.created_at),
            }
            for event in events
        ]
    return view


def _with_history(session, lead: m.Lead) -> dict[str, Any]:  # noqa: ANN001 - a SQLAlchemy Session
    return lead_json(lead, leads.lead_events(session, lead.id))


# ------------------------------------------------------------------------------------------------ reading


def _filter(request: web.Request) -> leads.LeadFilter:
    query = request.query
    statuses = tuple(part.strip() for part in query.get("status", "").split(",") if part.strip()) or None
    since = None
    if query.get("since"):
        try:
            since = date.fromisoformat(query["since"].strip())
        except ValueError:
            raise bad_request("since", f"{query['since'][:24]!r} is not a date (YYYY-MM-DD)") from None
    for key, limit in (("course", 200), ("search", leads.SEARCH_MAX_CHARS)):
        if len(query.get(key, "")) > limit:
            raise bad_request(key, f"at most {limit} characters")
    return leads.LeadFilter(statuses, query.get("course") or None, since, query.get("search") or None)


def _list(wanted: leads.LeadFilter, limit: int, offset: int) -> dict[str, Any]:
    with session_scope() as session:
        rows, total = leads.list_leads(session, wanted, limit, offset)
        return page("leads", [lead_json(row) for row in rows], total, limit, offset)


@requires("staff")
async def get_leads(request: web.Request) -> web.Response:
    wanted = _filter(request)
    limit, offset = page_query(request)
    return web.json_response(await asyncio.to_thread(_list, wanted, limit, offset))


def _one(lead_id: int) -> dict[str, Any]:
    with session_scope() as session:
        return _with_history(session, leads.get_lead(session, lead_id))


@requires("staff")
async def get_lead(request: web.Request) -> web.Response:
    lead_id = _id_path(request, "lead_id")
    return web.json_response(await asyncio.to_thread(_one, lead_id))


# ------------------------------------------------------------------------------------------------ changing


def _move(caller: Caller, lead_id: int, status: str, values: dict[str, Any]) -> dict[str, Any]:
    with session_scope() as session:
        try:
            lead = leads.move_lead(session, lead_id, status, caller.actor, may_reopen=caller.role == "admin", **values)
        except leads.ReopenNeedsAdmin as error:
            raise ApiError(403, "forbidden", error.message, "status") from None
        return _with_history(session, lead)


@requires("staff")
async def post_move(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    lead_id = _id_path(request, "lead_id")
    body = await read_json(request, MOVE_FIELDS)
    status = _string(body, "status", limit=20)
    trial_at = _string(body, "trial_at", required=False, limit=100)
    values = {
        "note": _string(body, "note", required=False, limit=leads.NOTE_MAX_CHARS),
        "trial_at": leads.parse_when(trial_at) if trial_at else None,
        "batch": _string(body, "batch", required=False, limit=40),
        "course": _string(body, "course", required=False, limit=200),
        "reason": _string(body, "reason", required=False, limit=leads.REASON_MAX_CHARS),
        "student": _string(body, "student", required=False, limit=20),
    }
    moved = await asyncio.to_thread(_move, caller, lead_id, status, values)
    log.info("%s moved lead %d to %s", caller.actor, lead_id, status)
    return web.json_response(moved)


def _convert(caller: Caller, lead_id: int, values: dict[str, Any]) -> dict[str, Any]:
    with session_scope() as session:
        if caller.role != "admin" and values["fee"] is not None:
            lead = leads.get_lead(session, lead_id, for_update=True)  # as convert_lead reads it
            trial_batch = lead.trial_batch.code if lead.trial_batch else None
            check_fee(session, caller, values["batch_code"] or trial_batch, values["plan"], values["fee"])
        lead, admission = convert_lead(session, caller.actor, lead_id, **values)
        return {"lead": _with_history(session, lead), **admission_json(admission)}


@requires("staff")
async def post_convert(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    lead_id = _id_path(request, "lead_id")
    body = await read_json(request, CONVERT_FIELDS)
    values = enrollment_values(body)
    values.update(
        student_name=_string(body, "student_name", required=False, limit=200),
        guardian_name=_string(body, "guardian_name", required=False, limit=200),
        guardian_relation=_string(body, "guardian_relation", required=False, limit=40),
        note=_string(body, "note", required=False, limit=leads.NOTE_MAX_CHARS),
    )
    check_admin_fields(caller, values)
    converted = await asyncio.to_thread(_convert, caller, lead_id, values)
    log.info("%s converted lead %d into %s", caller.actor, lead_id, converted["student"]["enrollment_id"])
    return web.json_response(converted)
