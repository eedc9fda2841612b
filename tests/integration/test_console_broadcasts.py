"""Console broadcasts over HTTP: compose → preview (counts, opted-out numbers left out, the template for those outside
the 24-hour window) → send through the broadcast services, progress, retry of the failed; teachers refused; CSRF."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.office import admin_api, staff
from hsm.whatsapp.templates import import_templates
from tests.integration.test_console import PASSWORD, SECRET, csrf_of, page, sign_in

pytestmark = pytest.mark.asyncio

TABLA = "TBL-BEG-SA16"  # Omar Sheikh, Siddharth Bose (his mother Rina), Nandini Rao (opted out)
OMAR, RINA = "+919845000037", "+919845000038"


@pytest_asyncio.fixture
async def app_client(school_db, monkeypatch):
    """The admin API's app with the demo school's staff accounts and templates; `queued` lists enqueued ids."""
    monkeypatch.setenv("ADMIN_JWT_SECRET", SECRET)
    import_templates(database_url=school_db)
    with session_scope() as session:
        staff.add_from_school(session, "test")
        for login in ("meera", "rahul"):
            staff.set_password(session, "test", login, PASSWORD)
    queued: list[int] = []
    client = TestClient(TestServer(admin_api.create_admin_app(enqueue=queued.append)))
    await client.start_server()
    client.queued = queued  # type: ignore[attr-defined]
    yield client
    await client.close()


def tabla_form(csrf: str, **extra: str) -> dict:
    return {
        "csrf": csrf,
        "audience": "batch",
        "batch": TABLA,
        "text": "Tabla class moves to 5 pm on Saturday.",
        **extra,
    }


def number(pattern: str, body: str) -> int:
    return int(re.search(pattern, body).group(1))


async def test_a_teacher_cannot_open_broadcasts(app_client):
    await sign_in(app_client, "rahul")
    body = await page(app_client, "/office/")
    assert "/office/broadcasts" not in body
    for path in ("/office/broadcasts", "/office/broadcasts/new"):
        await page(app_client, path, 403)
    response = await app_client.post("/office/broadcasts/preview", data=tabla_form(csrf_of(body)))
    assert response.status == 403


async def test_preview_counts_recipients_leaves_out_the_opted_out_and_offers_a_template(app_client):
    await sign_in(app_client, "meera")
    body = await page(app_client, "/office/broadcasts/new")
    response = await app_client.post("/office/broadcasts/preview", data=tabla_form(csrf_of(body)))
    assert response.status == 200
    body = await response.text()
    assert number(r'id="recipient-count"><strong>(\d+)</strong>', body) == 2
    assert number(r'id="opted-out-count">(\d+) opted out', body) == 1 and "Nandini Rao" in body
    assert "Omar Sheikh" in body and "Rina Bose" in body
    # Nobody wrote in the last 24 hours: both can only get a template, "announcement" by default, with the text.
    assert "0 wrote to us in the last 24 hours" in body
    assert '<option value="announcement" selected>' in body
    assert "📢 Hyderabad School of Music: Tabla class moves to 5 pm on Saturday." in body
    assert app_client.queued == []  # a preview sends nothing
    with session_scope() as session:
        assert session.execute(select(m.Broadcast)).first() is None


async def test_preview_counts_the_window_and_refuses_bad_numbers(app_client):
    with session_scope() as session:
        session.add(
            m.WhatsAppMessage(
                phone_number=OMAR, direction="inbound", content="hi", status="processed", created_at=clock.utcnow()
            )
        )
    await sign_in(app_client, "meera")
    csrf = csrf_of(await page(app_client, "/office/broadcasts/new"))
    body = await (await app_client.post("/office/broadcasts/preview", data=tabla_form(csrf))).text()
    assert "1 wrote to us in the last 24 hours" in body and "1 did not" in body
    form = {"csrf": csrf, "audience": "custom", "numbers": f"{OMAR}\n12", "text": "Hello"}
    body = await (await app_client.post("/office/broadcasts/preview", data=form)).text()
    assert "Not valid phone numbers: 12" in body and re.search(r"<button[^>]*disabled>Send to 1 recipient", body)
    response = await app_client.post("/office/broadcasts/preview", data={**form, "text": "  "})
    assert response.status == 422 and "the text is empty" in await response.text()


async def test_csrf_is_required_to_preview_send_and_retry(app_client):
    await sign_in(app_client, "meera")
    await page(app_client, "/office/broadcasts/new")
    for path in ("/office/broadcasts/preview", "/office/broadcasts", "/office/broadcasts/1/retry"):
        form = tabla_form("")
        del form["csrf"]
        response = await app_client.post(path, data=form, allow_redirects=False)
        assert response.status == 403, path
    with session_scope() as session:
        assert session.execute(select(m.Broadcast)).first() is None


async def test_send_then_progress_then_retry_the_failed(app_client):
    await sign_in(app_client, "meera")
    csrf = csrf_of(await page(app_client, "/office/broadcasts/new"))
    form = tabla_form(csrf, template="announcement", params_for="announcement", param="Tabla moves to 5 pm")
    response = await app_client.post("/office/broadcasts", data=form, allow_redirects=False)
    assert response.status == 303
    broadcast_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert app_client.queued == [broadcast_id]
    with session_scope() as session:
        broadcast = session.get(m.Broadcast, broadcast_id)
        assert broadcast.created_by == "console:meera" and broadcast.template_name == "announcement"
        assert broadcast.template_params == ["Tabla moves to 5 pm"]
        statuses = {r.phone_number: r.status for r in session.execute(select(m.BroadcastRecipient)).scalars()}
        assert statuses == {OMAR: "pending", RINA: "pending", "+919845000039": "skipped"}
        # What the sender would do: Omar's delivered, Rina's refused by Meta; the broadcast is done.
        for recipient in session.execute(select(m.BroadcastRecipient)).scalars():
            if recipient.phone_number == OMAR:
                recipient.status = "delivered"
            elif recipient.phone_number == RINA:
                recipient.status, recipient.error_message = "failed", "HTTP 400: not a WhatsApp number"
        broadcast.status, broadcast.finished_at = "done", clock.utcnow() - timedelta(hours=1)
    body = await page(app_client, f"/office/broadcasts/{broadcast_id}")
    assert number(r'id="stage-delivered">.*?class="num">(\d+)<', body) == 1
    assert number(r'id="stage-failed">.*?class="num">(\d+)<', body) == 1
    assert "http-equiv" not in body  # finished and settled: no more refreshing
    assert "Rina Bose" in body and "not a WhatsApp number" in body
    failed_only = await page(app_client, f"/office/broadcasts/{broadcast_id}?status=failed")
    assert "Rina Bose" in failed_only and "Omar Sheikh" not in failed_only
    listing = await page(app_client, "/office/broadcasts")
    assert f'href="/office/broadcasts/{broadcast_id}"' in listing and "1 delivered" in listing

    response = await app_client.post(
        f"/office/broadcasts/{broadcast_id}/retry", data={"csrf": csrf}, allow_redirects=False
    )
    assert response.status == 303 and response.headers["Location"].endswith("?notice=retried")
    assert app_client.queued == [broadcast_id, broadcast_id]
    with session_scope() as session:
        rina = session.execute(
            select(m.BroadcastRecipient).where(m.BroadcastRecipient.phone_number == RINA)
        ).scalar_one()
        assert (rina.status, rina.attempts, rina.error_message) == ("pending", 0, None)
        assert session.get(m.Broadcast, broadcast_id).status == "queued"
        audit = session.execute(select(m.AuditLog).where(m.AuditLog.action == "broadcast.retried")).scalar_one()
        assert audit.actor == "console:meera" and audit.after == {"status": "queued", "retried": 1}
    body = await page(app_client, f"/office/broadcasts/{broadcast_id}")
    assert 'http-equiv="refresh"' in body  # queued again: the page refreshes itself
