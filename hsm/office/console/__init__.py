"""The office console: HTML pages under /office/ on the admin API's port (sign-in, Today, People, Register,
Conversations, Leads, Broadcasts, Analytics, Import and export)."""

from __future__ import annotations

import asyncio

from aiohttp import web
from sqlalchemy import select

from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.office.console.analytics_page import add_analytics_routes
from hsm.office.console.broadcasts import add_broadcast_routes
from hsm.office.console.code_sign_in import get_code_sign_in, post_code_request, post_code_verify
from hsm.office.console.conversations import (
    get_conversation,
    get_conversation_log,
    get_conversations,
    post_hand_back,
    post_reply,
    post_take_over,
)
from hsm.office.console.guard import console_middleware, open_page
from hsm.office.console.imports import add_import_routes
from hsm.office.console.leads import get_lead, get_leads, post_enroll, post_move
from hsm.office.console.people_search import get_people
from hsm.office.console.person_pages import add_person_routes
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
CONVERSATION_SCRIPT = (STATIC / "conversation.js").read_text(encoding="utf-8")


@open_page
async def get_style(request: web.Request) -> web.StreamResponse:
    return web.Response(
        text=STYLE, content_type="text/css", charset="utf-8", headers={"Cache-Control": "public, max-age=3600"}
    )


@open_page
async def get_conversation_script(request: web.Request) -> web.StreamResponse:
    return web.Response(
        text=CONVERSATION_SCRIPT,
        content_type="text/javascript",
        charset="utf-8",
        headers={"Cache-Control": "public, max-age=3600"},
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
    app.router.add_get("/office/sign-in/code", get_code_sign_in, allow_head=False)
    app.router.add_post("/office/sign-in/code", post_code_request)
    app.router.add_post("/office/sign-in/code/verify", post_code_verify)
    app.router.add_get("/office/conversations", get_conversations, allow_head=False)
    app.router.add_get("/office/conversations/{conversation_id}", get_conversation, allow_head=False)
    app.router.add_get("/office/conversations/{conversation_id}/log", get_conversation_log, allow_head=False)
    app.router.add_post("/office/conversations/{conversation_id}/take-over", post_take_over)
    app.router.add_post("/office/conversations/{conversation_id}/hand-back", post_hand_back)
    app.router.add_post("/office/conversations/{conversation_id}/reply", post_reply)
    app.router.add_get("/office/static/conversation.js", get_conversation_script, allow_head=False)
    add_person_routes(app)
    add_import_routes(app)
    add_broadcast_routes(app)
    add_analytics_routes(app)

    async def read_school_name(app: web.Application) -> None:
        app[SCHOOL_NAME] = await asyncio.to_thread(_school_name)

    app.on_startup.append(read_school_name)  # type: ignore[arg-type]
