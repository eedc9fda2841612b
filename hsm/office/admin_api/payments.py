"""Payments taken at the office, over the admin API: record one (staff; the receipt goes to the family after the
payment is committed), list them, a receipt's PDF, and reversal (admin). The work is `hsm.money.office_payments`.

POST /api/admin/payments                          record (201; dry_run: 200, nothing saved)
GET  /api/admin/payments?student=&method=&from=&to=&limit=&offset=
GET  /api/admin/payments/{payment_id}/receipt.pdf
POST /api/admin/payments/{payment_id}/reverse     admin only
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from hsm.infra.db import session_scope
from hsm.money import office_payments as op
from hsm.money.receipts import Receipt, receipt_pdf
from hsm.office.admin_api.auth import Caller, requires
from hsm.office.admin_api.errors import ApiError, bad_request
from hsm.office.admin_api.inputs import _id_path, _string, body_flag, date_value, page, page_query, read_json
from hsm.office.admin_api.send import _client
from hsm.office.admin_api.state import ADMIN_PREFIX, CALLER

PAYMENTS = f"{ADMIN_PREFIX}/payments"


def _record(caller: Caller, fields: dict, dry_run: bool) -> op.PaymentView:
    with session_scope() as session:
        return op.record_office_payment(session, recorded_by=caller.actor, dry_run=dry_run, **fields)


@requires("staff")
async def post_payment(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    body = await read_json(request, {"student", "batch", "amount", "method", "reference", "date", "dry_run", "receipt"})
    dry_run, receipt = body_flag(body, "dry_run", False), body_flag(body, "receipt", True)
    if body.get("amount") is None:
        raise bad_request("amount", "is required", "missing_field")
    fields = {
        "student": _string(body, "student", limit=40),
        "batch": _string(body, "batch", required=False, limit=40),
        "amount": body["amount"],
        "method": _string(body, "method", limit=10),
        "reference": _string(body, "reference", required=False, limit=60),
        "paid_on": _string(body, "date", required=False, limit=20),
    }
    payment = await asyncio.to_thread(_record, caller, fields, dry_run)
    if dry_run:
        return web.json_response({"dry_run": True, "payment": payment.as_json()})
    answer: dict = {"payment": payment.as_json(), "receipt": {"status": "not_sent", "phone": None}}
    if receipt:  # the payment is committed: whatever happens to the receipt, it stands
        try:
            client = _client(request.app)
        except ApiError:
            client = None  # sending is not configured: send_receipt reports the failure
        delivery = await op.send_receipt(payment.id, client)
        answer["receipt"] = {"status": delivery.status, "phone": delivery.phone}
    return web.json_response(answer, status=201)


def _list(request: web.Request) -> dict:
    query = request.query
    limit, offset = page_query(request)
    method = query.get("method") or None
    with session_scope() as session:
        total, payments = op.list_payments(
            session,
            student=query.get("student") or None,
            method=op.check_method(method) if method else None,
            since=date_value(query.get("from"), "from"),
            until=date_value(query.get("to"), "to"),
            limit=limit,
            offset=offset,
        )
    return page("payments", [payment.as_json() for payment in payments], total, limit, offset)


@requires("staff")
async def get_payments(request: web.Request) -> web.Response:
    return web.json_response(await asyncio.to_thread(_list, request))


def _receipt(payment_id: int) -> Receipt:
    with session_scope() as session:
        return op.receipt_for(session, payment_id)


@requires("staff")
async def get_receipt_pdf(request: web.Request) -> web.Response:
    receipt = await asyncio.to_thread(_receipt, _id_path(request, "payment_id"))
    pdf = await asyncio.to_thread(receipt_pdf, receipt)
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{receipt.filename}"'},
    )


def _reverse(caller: Caller, payment_id: int, reason: str, dry_run: bool) -> op.PaymentView:
    with session_scope() as session:
        return op.reverse_payment(session, payment_id, reason, caller.actor, dry_run=dry_run)


@requires("admin")
async def post_reverse(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    payment_id = _id_path(request, "payment_id")
    body = await read_json(request, {"reason", "dry_run"})
    reason = _string(body, "reason", limit=op.MAX_REASON)
    dry_run = body_flag(body, "dry_run", False)
    payment = await asyncio.to_thread(_reverse, caller, payment_id, reason, dry_run)
    return web.json_response({"dry_run": dry_run, "payment": payment.as_json()})


def add_payment_routes(app: web.Application) -> None:
    app.router.add_post(PAYMENTS, post_payment)
    app.router.add_get(PAYMENTS, get_payments, allow_head=False)
    app.router.add_get(f"{PAYMENTS}/{{payment_id}}/receipt.pdf", get_receipt_pdf, allow_head=False)
    app.router.add_post(f"{PAYMENTS}/{{payment_id}}/reverse", post_reverse)
