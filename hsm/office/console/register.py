"""The attendance register pages: the batch picker, a batch's month grid, a cell's correction, CSV and PDF."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy.orm import Session

from hsm.classes import register as reg
from hsm.classes.override import OverrideError, teacher_window_days
from hsm.classes.register_export import filename, register_csv, register_pdf
from hsm.infra import clock
from hsm.infra.db import session_scope
from hsm.office.console.guard import page
from hsm.office.console.render import SCHOOL_NAME, USER, html, redirect
from hsm.office.console.sessions import ConsoleUser
from hsm.people.identity import Identity

CORRECTABLE = (reg.PRESENT, reg.ABSENT)


@dataclass(frozen=True)
class Opened:
    """What a register request found: the register, or the HTTP status that refuses it."""

    register: reg.Register | None = None
    status: int = 200
    problem: str | None = None


def _open(session: Session, user: ConsoleUser, code: str, month_text: str | None) -> Opened:
    batch = reg.find_batch(session, code)
    if batch is None:
        return Opened(status=404)
    if user.is_teacher and batch.teacher_id != user.teacher_id:
        return Opened(status=403)
    try:
        month = reg.parse_month(month_text, clock.today())
    except reg.RegisterError as error:
        return Opened(reg.build_register(session, batch, clock.today().replace(day=1)), 400, str(error))
    return Opened(reg.build_register(session, batch, month))


def _load(user: ConsoleUser, code: str, month_text: str | None) -> Opened:
    with session_scope() as session:
        return _open(session, user, code, month_text)


def _correct(user: ConsoleUser, code: str, form: dict[str, str]) -> tuple[Opened, bool]:
    """The correction applied (committed; True), or the register and why it was refused (False)."""
    who = Identity(phone="", role="teacher" if user.is_teacher else user.role, person_id=user.teacher_id)
    with session_scope() as session:
        opened = _open(session, user, code, form.get("month"))
        if opened.register is None or opened.problem:
            return opened, False
        try:
            day = date.fromisoformat(form.get("day", ""))
        except ValueError:
            return Opened(opened.register, 400, "Pick the class day to correct."), False
        if form.get("status") not in CORRECTABLE:
            return Opened(opened.register, 400, "Choose present or absent."), False
        batch = reg.find_batch(session, code)
        assert batch is not None  # _open found it
        try:
            reg.correct_cell(
                session, who, batch, form.get("student", ""), day, form["status"], form.get("reason", ""), user.actor
            )
        except (reg.RegisterError, OverrideError) as error:
            session.rollback()
            return Opened(opened.register, 400, str(error)), False
    return opened, True


def _find_cell(register: reg.Register, enrollment_id: str, day: str) -> tuple[reg.Row | None, reg.Cell | None]:
    row = next((r for r in register.rows if r.enrollment_id == enrollment_id), None)
    cell = next((c for c in row.cells if c.day.isoformat() == day), None) if row else None
    return row, cell


def _context(request: web.Request, opened: Opened) -> dict[str, Any]:
    register = opened.register
    assert register is not None
    user: ConsoleUser = request[USER]
    wanted_student = request.query.get("student") or request.get("form_student", "")
    wanted_day = request.query.get("day") or request.get("form_day", "")
    row, cell = _find_cell(register, wanted_student, wanted_day)
    saved_row, saved_cell = _find_cell(register, *request.query.get("saved", "/").split("/", 1))
    oldest = clock.today() - timedelta(days=teacher_window_days()) if user.is_teacher else None
    return {
        "title": f"Register · {register.batch_name}",
        "r": register,
        "legend": reg.LEGEND,
        "month_value": f"{register.month:%Y-%m}",
        "editing": {"row": row, "cell": cell} if row and cell and cell.correctable else None,
        "oldest": oldest,
        "problem": opened.problem,
        "saved": {"row": saved_row, "cell": saved_cell} if saved_row and saved_cell else None,
        "statuses": CORRECTABLE,
        "reason": request.get("form_reason", ""),
    }


@page
async def get_register_index(request: web.Request) -> web.StreamResponse:
    user: ConsoleUser = request[USER]
    if request.query.get("batch"):
        query = urlencode({"month": request.query.get("month", "")})
        return redirect(f"/office/register/{request.query['batch'].strip()[:40]}?{query}")

    def batches() -> list[dict[str, str]]:
        with session_scope() as session:
            found = reg.batches_for(session, user.teacher_id if user.is_teacher else None)
            return [{"code": b.code, "name": b.name} for b in found]

    found = await asyncio.to_thread(batches)
    month = clock.today().strftime("%Y-%m")
    return html(request, "register_index.html", title="Register", batches=found, month=month)


@page
async def get_register(request: web.Request) -> web.StreamResponse:
    opened = await asyncio.to_thread(_load, request[USER], request.match_info["code"], request.query.get("month"))
    if opened.register is None:
        raise web.HTTPForbidden() if opened.status == 403 else web.HTTPNotFound()
    return html(request, "register.html", status=opened.status, **_context(request, opened))


@page
async def post_correction(request: web.Request) -> web.StreamResponse:
    form = {key: str(value) for key, value in (await request.post()).items()}
    code = request.match_info["code"]
    opened, saved = await asyncio.to_thread(_correct, request[USER], code, form)
    if opened.register is None:
        raise web.HTTPForbidden() if opened.status == 403 else web.HTTPNotFound()
    if not saved:
        request["form_student"], request["form_day"] = form.get("student", ""), form.get("day", "")
        request["form_reason"] = form.get("reason", "")[:300]
        return html(request, "register.html", status=opened.status, **_context(request, opened))
    month = f"{opened.register.month:%Y-%m}"
    query = urlencode({"month": month, "saved": f"{form.get('student', '').upper()}/{form.get('day')}"})
    return redirect(f"/office/register/{opened.register.batch_code}?{query}")


async def _export(request: web.Request) -> reg.Register:
    opened = await asyncio.to_thread(_load, request[USER], request.match_info["code"], request.query.get("month"))
    if opened.register is None:
        raise web.HTTPForbidden() if opened.status == 403 else web.HTTPNotFound()
    if opened.problem:
        raise web.HTTPBadRequest()
    return opened.register


def _download(body: bytes, content_type: str, name: str) -> web.Response:
    return web.Response(
        body=body,
        content_type=content_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


@page
async def get_register_csv(request: web.Request) -> web.StreamResponse:
    register = await _export(request)
    return _download(register_csv(register).encode("utf-8"), "text/csv", filename(register, "csv"))


@page
async def get_register_pdf(request: web.Request) -> web.StreamResponse:
    register = await _export(request)
    school = request.app.get(SCHOOL_NAME, "The school office")
    body = await asyncio.to_thread(register_pdf, register, school)
    return _download(body, "application/pdf", filename(register, "pdf"))
