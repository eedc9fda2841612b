"""The student card's changes over HTTP: edit with the records' validators, deactivate and reactivate with a
reason, record an office payment (the balance and the receipt link after it, a bad amount refused), CSRF, and
teachers refused."""

from __future__ import annotations

import pytest

from hsm.infra import models as m
from hsm.infra.db import session_scope
from tests.integration import test_console as base
from tests.integration.test_console import audit, csrf_of, error_text, page, sign_in

pytestmark = pytest.mark.asyncio
client = base.client  # the admin API's app with the demo school's staff accounts
CARD = "/office/students/HSM-24-009"  # Mohammed Irfan, GTR-BEG-TT17 only


async def post(client, action: str, body: str, **fields: str):
    form = {"csrf": csrf_of(body), **fields}
    return await client.post(f"{CARD}/{action}", data=form, allow_redirects=False)


async def test_editing_the_details_uses_the_records_validators(client):
    await sign_in(client, "meera")
    body = await page(client, CARD)
    response = await post(client, "edit", body, name="Mohammed Irfan", phone="12ab", email="")
    assert response.status == 400
    refused = await response.text()
    assert "is not a valid phone number" in error_text(refused)
    assert 'value="12ab"' in refused  # what was typed is kept
    response = await post(client, "edit", body, name="Mohammed Irfan Ali", phone="", email="irfan@example.com")
    assert response.status == 303
    after = await page(client, response.headers["Location"])
    assert "Details saved." in after and "Mohammed Irfan Ali" in after and "irfan@example.com" in after
    (row,) = audit("student.updated")
    assert row.actor == "console:meera" and row.after["name"] == "Mohammed Irfan Ali"


async def test_deactivating_needs_a_reason_and_reactivating_undoes_it(client):
    await sign_in(client, "meera")
    body = await page(client, CARD)
    response = await post(client, "active", body, active="0", reason=" ")
    assert response.status == 400
    assert "a reason is required" in error_text(await response.text())
    response = await post(client, "active", body, active="0", reason="moved to Pune")
    assert response.status == 303
    after = await page(client, CARD)
    assert '<span class="tag">left</span>' in after and "Reactivate" in after
    assert "Record a payment" not in after
    assert audit("student.deactivated")[0].after["reason"] == "moved to Pune"
    response = await post(client, "active", after, active="1", reason="")
    assert response.status == 303
    assert audit("student.reactivated")


async def test_a_cash_payment_changes_the_balance_and_has_a_receipt(client):
    await sign_in(client, "meera")
    body = await page(client, CARD)
    response = await post(client, "payment", body, amount="two thousand", method="cash")
    assert response.status == 400
    assert "is not whole rupees" in error_text(await response.text())
    response = await post(client, "payment", body, amount="2000", method="upi", reference="")
    assert response.status == 400
    assert "needs its reference" in error_text(await response.text())
    assert "overdue since Wed 25 Nov 2026" in body
    response = await post(client, "payment", body, amount="2,000", method="cash", reference="")
    assert response.status == 400
    assert "has several enrollments" in error_text(await response.text())
    response = await post(client, "payment", body, amount="2,000", method="cash", batch="GTR-BEG-TT17")
    assert response.status == 303
    after = await page(client, response.headers["Location"])
    assert "Payment recorded." in after and "₹2,000 on" in after
    assert "overdue since" not in after and "9 classes left" in after
    with session_scope() as session:
        payment = session.query(m.Payment).filter(m.Payment.recorded_by == "console:meera").one()
        receipt_number = payment.receipt_number
    assert f'href="/office/payments/{payment.id}/receipt.pdf">Receipt {receipt_number}</a>' in after
    pdf = await client.get(f"/office/payments/{payment.id}/receipt.pdf")
    assert pdf.status == 200 and (await pdf.read()).startswith(b"%PDF")
    assert audit("payment.recorded")[0].actor == "console:meera"


async def test_changes_need_the_csrf_token_and_are_for_the_office(client):
    await sign_in(client, "meera")
    response = await client.post(f"{CARD}/payment", data={"amount": "2000", "method": "cash"}, allow_redirects=False)
    assert response.status == 403
    client.session.cookie_jar.clear()
    await sign_in(client, "rahul")
    body = await page(client, CARD)
    assert "Record a payment" not in body and "Edit details" not in body
    response = await post(client, "payment", body, amount="2000", method="cash")
    assert response.status == 403
    assert audit("payment.recorded") == []
