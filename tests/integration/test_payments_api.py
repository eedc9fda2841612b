"""Office payments over the admin API and the `hsm payments` command, on SQLite and PostgreSQL, with the in-process
Cloud API sandbox: record (staff) and the receipt at the sandbox, list, receipt PDF, reverse (admin only, once)."""

from __future__ import annotations

import asyncio
from datetime import date

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from devtools.sandbox import SandboxConfig, create_app
from hsm.cli import main as hsm_main
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.office import admin_api
from hsm.whatsapp import store
from hsm.whatsapp.client import WhatsAppClient
from hsm.whatsapp.templates import TEMPLATES_FILE, import_templates
from tests.integration.test_admin_api import (
    ADMIN,
    FAST,
    PHONE_ID,
    SECRET,
    STAFF,
    TOKEN,
    audit_rows,
    error_of,
    user_wrote,
)

PAYMENTS = "/api/admin/payments"
JOHN, SUSAN = "+919876543210", "+919845000002"
JOHN_UPI = {
    "student": "HSM-24-001",
    "batch": "KEY-BEG-MWF18",
    "amount": 2000,
    "method": "upi",
    "reference": "412345678901",
}


@pytest_asyncio.fixture
async def api(school_db, monkeypatch):
    """(HTTP client of the admin API, the Cloud API sandbox server)."""
    monkeypatch.setenv("ADMIN_JWT_SECRET", SECRET)
    import_templates(TEMPLATES_FILE, school_db)
    sandbox = TestServer(create_app(SandboxConfig(access_token=TOKEN, phone_number_id=PHONE_ID)))
    await sandbox.start_server()
    whatsapp = WhatsAppClient(str(sandbox.make_url("/v21.0")), PHONE_ID, TOKEN, ledger=store.LEDGER, retry=FAST)
    client = TestClient(TestServer(admin_api.create_admin_app(client=whatsapp)))
    await client.start_server()
    yield client, sandbox
    await client.close()
    await whatsapp.close()
    await sandbox.close()


async def sandbox_get(sandbox: TestServer, path: str) -> aiohttp.ClientResponse:
    async with aiohttp.ClientSession() as http, http.get(sandbox.make_url(path)) as answer:
        await answer.read()
        return answer


async def sent_messages(sandbox: TestServer) -> list[dict]:
    async with aiohttp.ClientSession() as http, http.get(sandbox.make_url("/_sandbox/messages")) as answer:
        return (await answer.json())["messages"]


def enrollment_state(student: str, batch: str) -> tuple[date | None, int]:
    with session_scope() as session:
        enrollment = session.execute(
            select(m.Enrollment)
            .join(m.Student)
            .join(m.Batch)
            .where(m.Student.enrollment_id == student, m.Batch.code == batch)
        ).scalar_one()
        return enrollment.next_due, enrollment.classes_remaining


@pytest.mark.asyncio
async def test_staff_record_a_payment_and_the_family_gets_the_receipt(api):
    client, sandbox = api
    user_wrote(JOHN)
    answer = await client.post(PAYMENTS, json=JOHN_UPI, headers=STAFF)
    assert answer.status == 201, await answer.text()
    body = await answer.json()
    payment = body["payment"]
    assert body["receipt"] == {"status": "sent", "phone": JOHN}
    assert (payment["method"], payment["reference"], payment["recorded_by"]) == (
        "upi",
        "412345678901",
        "api:front-desk",
    )
    assert (payment["classes_added"], payment["due_before"], payment["due_after"]) == (8, "2026-12-20", "2027-01-20")
    assert enrollment_state("HSM-24-001", "KEY-BEG-MWF18") == (date(2027, 1, 20), 23)
    (sent,) = await sent_messages(sandbox)
    media = await sandbox_get(sandbox, f"/_sandbox/media/{sent['payload']['document']['id']}")
    assert media.status == 200 and media.content_type == "application/pdf"
    (row,) = audit_rows("payment.recorded")
    assert row.actor == "api:front-desk" and row.entity_id == str(payment["id"])


@pytest.mark.asyncio
async def test_a_send_failure_still_answers_201_with_the_payment_recorded(api):
    client, sandbox = api
    async with aiohttp.ClientSession() as http:
        await http.post(sandbox.make_url("/_sandbox/faults"), json={"status": 500, "count": 20})
    answer = await client.post(PAYMENTS, json={**JOHN_UPI, "method": "cash", "reference": None}, headers=STAFF)
    assert answer.status == 201
    body = await answer.json()
    assert body["receipt"] == {"status": "failed", "phone": JOHN}
    assert enrollment_state("HSM-24-001", "KEY-BEG-MWF18") == (date(2027, 1, 20), 23)
    messages = await client.get(f"/api/whatsapp/messages/{JOHN}", headers=STAFF)
    (message,) = (await messages.json())["messages"]
    assert (message["type"], message["status"]) == ("template", "failed")


@pytest.mark.asyncio
async def test_refusals_are_400_404_409_and_change_nothing(api):
    client, _ = api
    cases = [
        ({**JOHN_UPI, "reference": None}, 400, "reference"),
        ({**JOHN_UPI, "date": "2026-12-02"}, 400, "date"),
        ({**JOHN_UPI, "amount": "2000"}, 400, "amount"),
        ({k: v for k, v in JOHN_UPI.items() if k != "amount"}, 400, "amount"),
        ({**JOHN_UPI, "batch": None}, 400, "batch"),
        ({**JOHN_UPI, "student": "HSM-99-999"}, 404, "student"),
        ({**JOHN_UPI, "dry_run": "yes"}, 400, "dry_run"),
        ({**JOHN_UPI, "note": "x"}, 400, "note"),
    ]
    for body, status, field in cases:
        error = await error_of(await client.post(PAYMENTS, json=body, headers=STAFF), status)
        assert error["field"] == field, (body, error)
    assert enrollment_state("HSM-24-001", "KEY-BEG-MWF18") == (date(2026, 12, 20), 15)
    assert (await client.post(PAYMENTS, json={**JOHN_UPI, "receipt": False}, headers=STAFF)).status == 201
    duplicate = await error_of(await client.post(PAYMENTS, json={**JOHN_UPI, "receipt": False}, headers=STAFF), 409)
    assert duplicate["code"] == "duplicate_reference"
    dry = await client.post(PAYMENTS, json={**JOHN_UPI, "reference": "999988887777", "dry_run": True}, headers=STAFF)
    assert dry.status == 200 and (await dry.json())["dry_run"] is True
    assert enrollment_state("HSM-24-001", "KEY-BEG-MWF18") == (date(2027, 1, 20), 23)


@pytest.mark.asyncio
async def test_list_receipt_pdf_and_reversal(api):
    client, _ = api
    recorded = await (await client.post(PAYMENTS, json={**JOHN_UPI, "receipt": False}, headers=STAFF)).json()
    payment_id = recorded["payment"]["id"]
    page = await (await client.get(PAYMENTS, params={"student": "HSM-24-001", "limit": "2"}, headers=STAFF)).json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 0)
    assert page["payments"][0]["id"] == payment_id and len(page["payments"]) == 2
    cash = await (await client.get(PAYMENTS, params={"method": "upi", "from": "2026-12-01"}, headers=STAFF)).json()
    assert [p["id"] for p in cash["payments"]] == [payment_id]
    assert (await error_of(await client.get(PAYMENTS, params={"from": "1/12"}, headers=STAFF), 400))["field"] == "from"
    assert (await error_of(await client.get(PAYMENTS, params={"limit": "0"}, headers=STAFF), 400))["field"] == "limit"

    pdf = await client.get(f"{PAYMENTS}/{payment_id}/receipt.pdf", headers=STAFF)
    assert pdf.status == 200 and pdf.content_type == "application/pdf"
    content = await pdf.read()
    assert content.startswith(b"%PDF") and recorded["payment"]["receipt_number"].encode() in content
    assert recorded["payment"]["receipt_number"] in pdf.headers["Content-Disposition"]
    await error_of(await client.get(f"{PAYMENTS}/999999/receipt.pdf", headers=STAFF), 404)
    assert (await error_of(await client.get(f"{PAYMENTS}/1/receipt.pdf", headers=STAFF), 409))["code"] == "no_receipt"

    reverse = f"{PAYMENTS}/{payment_id}/reverse"
    await error_of(await client.post(reverse, json={"reason": "wrong student"}, headers=STAFF), 403)
    await error_of(await client.post(reverse, json={}, headers=ADMIN), 400)
    answer = await client.post(reverse, json={"reason": "wrong student"}, headers=ADMIN)
    assert answer.status == 200
    reversed_ = (await answer.json())["payment"]
    assert reversed_["reversed_by"] == "api:meera" and reversed_["reversal_reason"] == "wrong student"
    assert enrollment_state("HSM-24-001", "KEY-BEG-MWF18") == (date(2026, 12, 20), 15)
    twice = await error_of(await client.post(reverse, json={"reason": "again"}, headers=ADMIN), 409)
    assert twice["code"] == "already_reversed"
    await error_of(await client.post(f"{PAYMENTS}/999999/reverse", json={"reason": "x"}, headers=ADMIN), 404)
    (row,) = audit_rows("payment.reversed")
    assert row.actor == "api:meera"


# ---------------------------------------------------------------- hsm payments


def test_hsm_payments_record_list_reverse_and_receipt(school_db, capsys, tmp_path):
    def run(*argv: str) -> tuple[int, str, str]:
        status = hsm_main(["payments", *argv])
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    base = ("record", "--student", "HSM-24-002", "--amount", "2000", "--method", "bank", "--by", "meera")
    status, out, _ = run(*base, "--reference", "NEFT00998877", "--dry-run")
    assert status == 0 and out.startswith("would record payment") and "8 classes added" in out
    assert enrollment_state("HSM-24-002", "GTR-BEG-TT17") == (date(2026, 12, 8), 6)
    status, out, err = run(*base)
    assert status == 2 and "needs its reference" in err
    status, out, _ = run(*base, "--reference", "neft 0099 8877", "--no-receipt")
    assert status == 0 and "Bank transfer (ref. NEFT00998877)" in out and "HSM-24-002 Mary Thomas" in out
    assert enrollment_state("HSM-24-002", "GTR-BEG-TT17") == (date(2027, 1, 8), 14)
    status, _, err = run(*base, "--reference", "NEFT00998877")
    assert status == 2 and "already recorded" in err
    status, _, err = run(*base, "--reference", "NEFT11223344", "--date", "2027-01-01")
    assert status == 2 and "in the future" in err

    status, out, _ = run("list", "--student", "HSM-24-002")
    assert status == 0 and out.splitlines()[0] == "1 payment(s)"
    payment_id = int(out.splitlines()[1].split()[0].lstrip("#"))
    pdf = tmp_path / "receipt.pdf"
    status, out, _ = run("receipt", str(payment_id), "--out", str(pdf))
    assert status == 0 and pdf.read_bytes().startswith(b"%PDF")

    status, out, _ = run("reverse", str(payment_id), "--reason", "wrong amount", "--by", "meera")
    assert status == 0 and "8 classes taken back; next due back to 8 Dec 2026" in out
    assert enrollment_state("HSM-24-002", "GTR-BEG-TT17") == (date(2026, 12, 8), 6)
    status, _, err = run("reverse", str(payment_id), "--reason", "again")
    assert status == 2 and "already reversed" in err
    with session_scope() as session:
        assert session.get(m.Payment, payment_id).reversed_by == "cli:meera"


@pytest.mark.asyncio
async def test_hsm_payments_record_sends_the_receipt(api, capsys, monkeypatch):
    _, sandbox = api
    monkeypatch.setenv("WHATSAPP_API_URL", str(sandbox.make_url("/v21.0")))
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("WHATSAPP_PHONE_NUMBER_ID", PHONE_ID)
    argv = ["payments", "record", "--student", "HSM-24-002", "--amount", "2000", "--method", "cash"]
    status = await asyncio.to_thread(hsm_main, argv)  # the command runs its own event loop
    out = capsys.readouterr().out
    assert status == 0 and "receipt to +91******0002: template" in out
    (sent,) = await sent_messages(sandbox)
    assert sent["to"] == SUSAN and sent["payload"]["template"]["name"] == "payment_receipt"
