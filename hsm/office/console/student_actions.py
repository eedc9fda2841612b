"""The student card's changes, for the office (not teachers): edit the contact fields (hsm.people.lifecycle),
deactivate or reactivate with a reason, record an office payment (hsm.money.office_payments, its receipt sent on
WhatsApp) and download a payment's receipt."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from hsm.infra.db import session_scope
from hsm.money import office_payments as op
from hsm.money.receipts import receipt_pdf
from hsm.office.admin_api.errors import ApiError
from hsm.office.admin_api.send import _client
from hsm.office.console.guard import page
from hsm.office.console.people import card
from hsm.office.console.render import USER, html, redirect
from hsm.office.console.sessions import ConsoleUser
from hsm.people import lifecycle
from hsm.records.changes import RecordError

log = logging.getLogger("hsm.office.console")
RECENT_PAYMENTS = 5
EDITABLE = ("name", "phone", "email")
SAVED = {"edit": "Details saved.", "active": "Saved.", "payment": "Payment recorded."}


def _office(request: web.Request) -> ConsoleUser:
    user: ConsoleUser = request[USER]
    if user.is_teacher:
        raise web.HTTPForbidden()
    return user


def office_card(user: ConsoleUser, enrollment_id: str) -> dict[str, Any] | None:
    """The card with, for the office, the student's recent payments (their receipts)."""
    with session_scope() as session:
        view = card(session, user, enrollment_id)
        if view is not None:
            view["payments"] = []
            if not user.is_teacher:
                _, view["payments"] = op.list_payments(session, student=view["enrollment_id"], limit=RECENT_PAYMENTS)
        return view


async def show_card(
    request: web.Request, problem: str | None = None, status: int = 200, form: dict[str, str] | None = None
) -> web.StreamResponse:
    """The student card page, with what was wrong with a form (and what was typed in it) when one was refused."""
    view = await asyncio.to_thread(office_card, request[USER], request.match_info["enrollment_id"])
    if view is None:
        raise web.HTTPNotFound()
    saved = SAVED.get(request.query.get("saved", ""))
    return html(
        request, "student.html", status=status, title=view["name"], student=view, problem=problem, saved=saved,
        form=form or {}, methods=op.METHODS,
    )  # fmt: skip


@page
async def get_student(request: web.Request) -> web.StreamResponse:
    return await show_card(request)


def _edit(user: ConsoleUser, enrollment_id: str, form: dict[str, str]) -> None:
    values = {field: form.get(field, "").strip() or None for field in EDITABLE if field in form}
    if not values.get("name"):
        raise RecordError("name cannot be empty", "name", "missing_field")
    with session_scope() as session:
        lifecycle.update_person(session, user.actor, "student", enrollment_id, values)


def _active(user: ConsoleUser, enrollment_id: str, form: dict[str, str]) -> None:
    active = form.get("active") == "1"
    if not active and not form.get("reason", "").strip():
        raise RecordError("say why the student is leaving (a reason is required)", "reason", "missing_field")
    with session_scope() as session:
        lifecycle.set_active(session, user.actor, "student", enrollment_id, active, form.get("reason"))


def _amount(text: str) -> int:
    cleaned = text.replace(",", "").replace("₹", "").strip()
    if not cleaned.isdigit():
        raise RecordError(f"amount: {text[:20]!r} is not whole rupees (e.g. 2000)", "amount")
    return int(cleaned)


def _payment(user: ConsoleUser, enrollment_id: str, form: dict[str, str]) -> int:
    with session_scope() as session:
        payment = op.record_office_payment(
            session,
            student=enrollment_id,
            amount=_amount(form.get("amount", "")),
            method=form.get("method", ""),
            recorded_by=user.actor,
            batch=form.get("batch") or None,
            reference=form.get("reference") or None,
            paid_on=form.get("paid_on") or None,
        )
        return payment.id


async def _change(request: web.Request, change: Callable[..., Any], saved: str) -> tuple[web.StreamResponse, Any]:
    user = _office(request)
    enrollment_id = request.match_info["enrollment_id"]
    form = {key: str(value)[:500] for key, value in (await request.post()).items() if key != "csrf"}
    try:
        result = await asyncio.to_thread(change, user, enrollment_id, form)
    except RecordError as error:
        if error.kind == "not_found" and error.field in ("enrollment_id", "student"):
            raise web.HTTPNotFound() from None
        status = 409 if error.kind == "conflict" else 400
        return await show_card(request, error.message, status, {"form": saved, **form}), None
    return redirect(f"/office/students/{enrollment_id.upper()}?saved={saved}"), result


@page
async def post_edit(request: web.Request) -> web.StreamResponse:
    return (await _change(request, _edit, "edit"))[0]


@page
async def post_active(request: web.Request) -> web.StreamResponse:
    return (await _change(request, _active, "active"))[0]


@page
async def post_payment(request: web.Request) -> web.StreamResponse:
    response, payment_id = await _change(request, _payment, "payment")
    if payment_id is not None:  # committed: the receipt goes to the family; a failure to send is only logged
        try:
            client = _client(request.app)
        except ApiError:
            client = None
        delivery = await op.send_receipt(payment_id, client)
        log.info("receipt of payment #%d: %s", payment_id, delivery.status)
    return response


def _receipt(payment_id: int) -> tuple[str, bytes]:
    with session_scope() as session:
        receipt = op.receipt_for(session, payment_id)
    return receipt.filename, receipt_pdf(receipt)


@page
async def get_receipt(request: web.Request) -> web.StreamResponse:
    _office(request)
    try:
        name, body = await asyncio.to_thread(_receipt, int(request.match_info["payment_id"]))
    except (ValueError, RecordError):
        raise web.HTTPNotFound() from None
    return web.Response(
        body=body,
        content_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"', "Cache-Control": "no-store"},
    )
