"""The office console: HTML pages under /office/ on the admin API's port (sign-in, Today, People, Register, Leads)."""

from __future__ import annotations

import asyncio

from aiohttp import web
from sqlalchemy import select

from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.office.console.guard import console_middleware, open_page
from hsm.office.console.leads import get_lead, get_leads, post_enroll, post_move
from hsm.office.console.people import get_people
from hsm.office.console.register import (
    get_register,
    get_register_csv,
    get_register_index,
    get_register_pdf,
    post_correction,
)
from hsm.office.console.render import SCHOOL_NAME, STATIC
from hsm.office.console.sign_in_pages import get_office, get_sign_in, post_sign_in, post_sign_out
from hsm.office.console.student_actions import get_receipt, get_student, post_active, post_edit, post_payment
from hsm.office.console.today import get_today

__all__ = ["add_console_routes", "console_middleware"]

STYLE = (STATIC / "console.css").read_text(encoding="utf-8")


@open_page
async def get_style(request: web.Request) -> web.StreamResponse:
    return web.Response(
        text=STYLE, content_type="text/css", charset="utf-8", headers={"Cache-Control": "public, max-age=3600"}
    )


def _school_name() -> str:
    try:
        with session_scope() as session:
            name = session.execute(select(m.School.name).limit(1)).scalar_one_or_none()
    except Exception:  # noqa: BLE001 - no database yet: the pages still answer, with a plain title
        return "The school office"
    return name or "The school office"


def add_console_routes(app: web.Application) -> None:
    """The console's routes on the admin API's app (its middleware is in the app's list: `console_middleware`)."""
    app.router.add_get("/office", get_office, allow_head=False)
    app.router.add_get("/office/", get_today, allow_head=False)
    app.router.add_get("/office/sign-in", get_sign_in, allow_head=False)
    app.router.add_post("/office/sign-in", post_sign_in)
    app.router.add_post("/office/sign-out", post_sign_out)
    app.router.add_get("/office/people", get_people, allow_head=False)
    app.router.add_get("/office/students/{enrollment_id}", get_student, allow_head=False)
    app.router.add_post("/office/students/{enrollment_id}/edit", post_edit)
    app.router.add_post("/office/students/{enrollment_id}/active", post_active)
    app.router.add_post("/office/students/{enrollment_id}/payment", post_payment)
    app.router.add_get("/office/payments/{payment_id}/receipt.pdf", get_receipt, allow_head=False)
    app.router.add_get("/office/register", get_register_index, allow_head=False)
    app.router.add_get("/office/register/{code}", get_register, allow_head=False)
    app.router.add_post("/office/register/{code}/correct", post_correction)
    app.router.add_get("/office/register/{code}/export.csv", get_register_csv, allow_head=False)
    app.router.add_get("/office/register/{code}/export.pdf", get_register_pdf, allow_head=False)
    app.router.add_get("/office/leads", get_leads, allow_head=False)
    app.router.add_get("/office/leads/{lead_id}", get_lead, allow_head=False)
    app.router.add_post("/office/leads/{lead_id}/move", post_move)
    app.router.add_post("/office/leads/{lead_id}/enroll", post_enroll)
    app.router.add_get("/office/static/console.css", get_style, allow_head=False)

    async def read_school_name(app: web.Application) -> None:
        app[SCHOOL_NAME] = await asyncio.to_thread(_school_name)

    app.on_startup.append(read_school_name)  # type: ignore[arg-type]
