"""Receipts on WhatsApp against the in-process Cloud API sandbox: the PDF uploaded to /media, then a document
message inside the 24-hour window or the approved `payment_receipt` template with the PDF as its header outside it;
retries and the send ledger as for every send; a failed send leaves the payment recorded and its message failed."""

from __future__ import annotations

import logging

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from devtools.sandbox import SandboxConfig, create_app
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.money import office_payments as op
from hsm.people import subscriptions
from hsm.whatsapp.client import CloudApiError, Document
from hsm.whatsapp.templates import TEMPLATES_FILE, import_templates
from tests.integration.test_whatsapp_client import (
    PHONE_ID,
    TOKEN,
    client_for,
    inject,
    outbound_rows,
    sandbox_messages,
    user_wrote,
)

JOHN, SUSAN = "+919876543210", "+919845000002"
PDF = Document(b"%PDF-1.4\n% test\n%%EOF\n", "HSM-R-000099.pdf")


@pytest_asyncio.fixture
async def sandbox():
    server = TestServer(create_app(SandboxConfig(access_token=TOKEN, phone_number_id=PHONE_ID)))
    await server.start_server()
    yield server
    await server.close()


@pytest.fixture
def templates(school_db):
    import_templates(TEMPLATES_FILE, school_db)


def record(**overrides) -> op.PaymentView:
    fields = {"student": "HSM-24-001", "batch": "KEY-BEG-MWF18", "amount": 2000, "method": "cash"}
    with session_scope() as session:
        return op.record_office_payment(session, recorded_by="cli:meera", **{**fields, **overrides})


async def media_bytes(server, media_id: str) -> bytes:
    async with aiohttp.ClientSession() as http, http.get(server.make_url(f"/_sandbox/media/{media_id}")) as answer:
        assert answer.status == 200
        return await answer.read()


@pytest.mark.asyncio
async def test_inside_the_window_the_receipt_is_a_document_message(school_db, templates, sandbox):
    user_wrote(JOHN)
    payment = record()
    async with client_for(sandbox) as client:
        delivery = await op.send_receipt(payment.id, client)
    assert (delivery.status, delivery.phone) == ("sent", JOHN)
    (sent,) = await sandbox_messages(sandbox)
    document = sent["payload"]["document"]
    assert sent["type"] == "document" and document["filename"] == f"{payment.receipt_number}.pdf"
    assert "Your receipt" in document["caption"] and "next payment due 20 Jan 2027" in document["caption"]
    pdf = await media_bytes(sandbox, document["id"])
    assert pdf.startswith(b"%PDF") and payment.receipt_number.encode() in pdf
    (row,) = outbound_rows(JOHN)
    assert (row.message_type, row.status, row.whatsapp_message_id) == ("document", "accepted", sent["id"])


@pytest.mark.asyncio
async def test_outside_the_window_the_receipt_is_the_template_with_the_pdf_as_its_header(school_db, templates, sandbox):
    payment = record(student="HSM-24-002", batch=None)
    async with client_for(sandbox) as client:
        delivery = await op.send_receipt(payment.id, client)
    assert (delivery.status, delivery.phone) == ("template", SUSAN)
    (sent,) = await sandbox_messages(sandbox)
    template = sent["payload"]["template"]
    header, body = template["components"]
    assert template["name"] == "payment_receipt" and header["type"] == "header"
    assert [p["text"] for p in body["parameters"]] == [
        "Susan",
        "2000",
        "1 Dec 2026",
        "Mary's Guitar",
        payment.receipt_number,
    ]
    media = header["parameters"][0]["document"]
    assert media["filename"] == f"{payment.receipt_number}.pdf"
    assert (await media_bytes(sandbox, media["id"])).startswith(b"%PDF")
    assert [(r.message_type, r.content, r.status) for r in outbound_rows(SUSAN)] == [
        ("template", "payment_receipt", "accepted")
    ]


@pytest.mark.asyncio
async def test_a_failed_send_leaves_the_payment_recorded_and_the_message_failed(school_db, templates, sandbox, caplog):
    user_wrote(JOHN)
    payment = record()
    await inject(sandbox, {"status": 500, "count": 10})
    caplog.set_level(logging.INFO)
    async with client_for(sandbox) as client:
        delivery = await op.send_receipt(payment.id, client)
    assert delivery.status == "failed"
    with session_scope() as session:
        stored = session.get(m.Payment, payment.id)
        assert stored.reversed_at is None and stored.receipt_number == payment.receipt_number
    (row,) = outbound_rows(JOHN)
    assert (row.message_type, row.status) == ("document", "failed") and "upload failed" in row.error_message
    assert await sandbox_messages(sandbox) == []
    assert JOHN not in caplog.text and "+91******3210" in caplog.text


@pytest.mark.asyncio
async def test_no_client_configured_is_a_failed_receipt_not_an_error(school_db, templates, monkeypatch):
    monkeypatch.delenv("WHATSAPP_ACCESS_TOKEN", raising=False)
    monkeypatch.delenv("WHATSAPP_PHONE_NUMBER_ID", raising=False)
    payment = record()
    assert (await op.send_receipt(payment.id)).status == "failed"


@pytest.mark.asyncio
async def test_an_opted_out_family_gets_no_receipt(school_db, templates, sandbox):
    with session_scope() as session:
        subscriptions.opt_out(session, JOHN, "reminders")
    payment = record()
    async with client_for(sandbox) as client:
        assert (await op.send_receipt(payment.id, client)).status == "opted_out"
    assert await sandbox_messages(sandbox) == []


# ---------------------------------------------------------------- the client's uploads


@pytest.mark.asyncio
async def test_an_upload_is_retried_like_a_send(school_db, templates, sandbox):
    user_wrote(JOHN)
    await inject(sandbox, {"status": 503, "count": 2})
    async with client_for(sandbox) as client:
        result = await client.send_document(JOHN, PDF, "Your receipt")
    (sent,) = await sandbox_messages(sandbox)
    assert sent["id"] == result.wamid and await media_bytes(sandbox, sent["payload"]["document"]["id"]) == PDF.content


@pytest.mark.asyncio
async def test_a_document_outside_the_window_is_refused_before_uploading(school_db, templates, sandbox):
    async with client_for(sandbox) as client:
        with pytest.raises(CloudApiError, match="24 hours"):
            await client.send_document(SUSAN, PDF)
    async with aiohttp.ClientSession() as http, http.get(sandbox.make_url("/_sandbox/media")) as answer:
        assert (await answer.json())["media"] == []


@pytest.mark.asyncio
async def test_template_headers_must_match_the_template(school_db, templates, sandbox):
    parameters = ["Susan", "2000", "1 Dec 2026", "Guitar", "HSM-R-000099"]
    async with client_for(sandbox) as client:
        with pytest.raises(CloudApiError, match="needs a document header"):
            await client.send_template(SUSAN, "payment_receipt", "en", parameters)
        with pytest.raises(CloudApiError, match="has no document header"):
            await client.send_template(SUSAN, "announcement", "en", ["hello"], header_document=PDF)
    assert await sandbox_messages(sandbox) == []
    with session_scope() as session:
        template = session.execute(select(m.WhatsAppTemplate).filter_by(template_name="payment_receipt")).scalar_one()
        assert (template.header_format, template.status) == ("DOCUMENT", "approved")
