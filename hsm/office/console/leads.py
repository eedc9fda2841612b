"""Leads: the pipeline as a board (a list per status on a phone), a lead's page with its history, moving it
(hsm.outreach.leads.move_lead) and enrolling it (hsm.people.admissions.convert_lead); for the office, not teachers."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.office.console.guard import page
from hsm.office.console.people_search import MAX_QUERY_CHARS, _page_number
from hsm.office.console.render import USER, html, redirect
from hsm.office.console.sessions import ConsoleUser
from hsm.outreach import leads
from hsm.people.admissions import convert_lead
from hsm.records.changes import RecordError

BOARD_ROWS = 8  # leads per column on the board (with how many in all, and a link to the full list)
PAGE_SIZE = 20
LABELS = {
    "new": "New",
    "contacted": "Contacted",
    "trial_booked": "Trial booked",
    "enrolled": "Enrolled",
    "lost": "Lost",
}


def _office_only(request: web.Request) -> ConsoleUser:
    user: ConsoleUser = request[USER]
    if user.is_teacher:
        raise web.HTTPForbidden()
    return user


def _card(lead: m.Lead) -> dict[str, Any]:
    return {
        "id": lead.id,
        "name": lead.name or "(no name given)",
        "phone": lead.phone,
        "course": lead.course.name if lead.course else None,
        "created_at": lead.created_at,
        "trial_at": lead.trial_at,
        "trial_batch": lead.trial_batch.code if lead.trial_batch else None,
        "student": lead.student.enrollment_id if lead.student else None,
        "status": lead.status,
    }


def board(session: Session, search: str) -> list[dict[str, Any]]:
    """Each status's newest leads (matching `search`) and how many it has."""
    columns = []
    for status in leads.STATUSES:
        rows, total = leads.list_leads(session, leads.LeadFilter((status,), search=search or None), BOARD_ROWS, 0)
        columns.append({"status": status, "label": LABELS[status], "rows": [_card(r) for r in rows], "total": total})
    return columns


def one_status(session: Session, status: str, search: str, page_number: int) -> dict[str, Any]:
    wanted = leads.LeadFilter((status,), search=search or None)
    rows, total = leads.list_leads(session, wanted, PAGE_SIZE, (page_number - 1) * PAGE_SIZE)
    pages = max(1, -(-total // PAGE_SIZE))
    return {"rows": [_card(r) for r in rows], "total": total, "page": page_number, "pages": pages}


def lead_page(session: Session, lead_id: int) -> dict[str, Any]:
    lead = leads.get_lead(session, lead_id)
    batches = list(session.execute(select(m.Batch).where(m.Batch.active.is_(True)).order_by(m.Batch.code)).scalars())
    plans = sorted({plan.plan for batch in batches for plan in batch.course.plans})
    return {
        "lead": {**_card(lead), "age": lead.student_age, "level": lead.level, "slot": lead.preferred_slot},
        "lost_reason": lead.lost_reason,
        "notes": lead.notes,
        "history": [
            {"when": e.created_at, "from": e.from_status, "to": e.to_status, "note": e.note, "actor": e.actor}
            for e in leads.lead_events(session, lead.id)
        ],
        "moves": [s for s in leads.MOVES[lead.status] if s != "enrolled"],
        "can_enroll": lead.status in leads.OPEN,
        "batches": [{"code": b.code, "name": b.name} for b in batches],
        "plans": plans,
    }


@page
async def get_leads(request: web.Request) -> web.StreamResponse:
    _office_only(request)
    search = " ".join(request.query.get("q", "").split())[:MAX_QUERY_CHARS]
    status = request.query.get("status", "")
    if status and status not in leads.STATUSES:
        raise web.HTTPNotFound()

    def load() -> dict[str, Any]:
        with session_scope() as session:
            if status:
                return {"listing": one_status(session, status, search, _page_number(request.query.get("page")))}
            return {"columns": board(session, search)}

    found = await asyncio.to_thread(load)
    return html(request, "leads.html", title="Leads", q=search, column=status, labels=LABELS, **found)


def _lead_id(request: web.Request) -> int:
    try:
        return int(request.match_info["lead_id"])
    except ValueError:
        raise web.HTTPNotFound() from None


def _show(lead_id: int) -> dict[str, Any] | None:
    with session_scope() as session:
        try:
            return lead_page(session, lead_id)
        except leads.NotFound:
            return None


async def _render(request: web.Request, problem: str | None = None, status: int = 200) -> web.StreamResponse:
    view = await asyncio.to_thread(_show, _lead_id(request))
    if view is None:
        raise web.HTTPNotFound()
    form = request.get("lead_form", {})
    saved = request.query.get("saved") == "1"
    return html(
        request, "lead.html", status=status, title=view["lead"]["name"], problem=problem, saved=saved,
        labels=LABELS, form=form, **view,
    )  # fmt: skip


@page
async def get_lead(request: web.Request) -> web.StreamResponse:
    _office_only(request)
    return await _render(request)


def _field(form: dict[str, str], name: str) -> str | None:
    return " ".join(form.get(name, "").split()) or None


def _move(user: ConsoleUser, lead_id: int, form: dict[str, str]) -> None:
    with session_scope() as session:
        trial_at = form.get("trial_at", "").strip()
        leads.move_lead(
            session,
            lead_id,
            form.get("status", ""),
            user.actor,
            note=_field(form, "note"),
            trial_at=leads.parse_when(trial_at) if trial_at else None,
            batch=_field(form, "batch"),
            reason=_field(form, "reason"),
            may_reopen=user.role == "admin",
        )


def _enroll(user: ConsoleUser, lead_id: int, form: dict[str, str]) -> None:
    with session_scope() as session:
        if not _field(form, "plan"):
            raise RecordError("choose the plan (monthly, quarterly, ...)", "plan", "missing_field")
        convert_lead(
            session,
            user.actor,
            lead_id,
            plan=form["plan"].strip(),
            batch_code=_field(form, "batch"),
            student_name=_field(form, "student_name"),
            guardian_name=_field(form, "guardian_name"),
            note=_field(form, "note"),
        )


async def _change(request: web.Request, change: Any) -> web.StreamResponse:
    user = _office_only(request)
    lead_id = _lead_id(request)
    form = {key: str(value)[:1000] for key, value in (await request.post()).items() if key != "csrf"}
    try:
        await asyncio.to_thread(change, user, lead_id, form)
    except leads.NotFound:
        raise web.HTTPNotFound() from None
    except RecordError as error:
        request["lead_form"] = form
        return await _render(request, error.message, 409 if error.kind == "conflict" else 400)
    return redirect(f"/office/leads/{lead_id}?saved=1")


@page
async def post_move(request: web.Request) -> web.StreamResponse:
    return await _change(request, _move)


@page
async def post_enroll(request: web.Request) -> web.StreamResponse:
    return await _change(request, _enroll)
