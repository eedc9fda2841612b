"""The async Cloud API client against the in-process sandbox: retries, no retry on 4xx, records, 24-hour rule,
templates; and the channel's store: statuses only move forward, numbered options, sessions."""

from __future__ import annotations

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from sqlalchemy import select, update

from devtools.chat import text_message, webhook_body
from devtools.sandbox import SandboxConfig, create_app
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.people.identity import role_of
from hsm.whatsapp import claims, store
from hsm.whatsapp.client import CloudApiError, OutsideServiceWindow, RetryPolicy, WhatsAppClient
from hsm.whatsapp.payloads import STATUS_RANK, StatusUpdate, WebhookBatch, parse_webhook, status_may_replace

TOKEN, PHONE_ID = "unit-token", "100000000000077"
PARENT = "+919845000007"  # Kavitha Reddy
FAST = RetryPolicy(attempts=4, base_delay_s=0.01, max_delay_s=0.05, timeout_s=5.0)  # a loaded machine can stall 1 s


@pytest_asyncio.fixture
async def sandbox():
    server = TestServer(create_app(SandboxConfig(access_token=TOKEN, phone_number_id=PHONE_ID)))
    await server.start_server()
    yield server
    await server.close()


def client_for(server: TestServer, **options) -> WhatsAppClient:
    return WhatsAppClient(str(server.make_url("/v21.0")), PHONE_ID, TOKEN, ledger=store.LEDGER, retry=FAST, **options)


def user_wrote(phone: str, text: str = "hi") -> None:
    store.store_inbound(parse_webhook(webhook_body(phone, text_message(text))))


async def sandbox_messages(server: TestServer) -> list[dict]:
    async with aiohttp.ClientSession() as http, http.get(server.make_url("/_sandbox/messages")) as answer:
        return (await answer.json())["messages"]


async def inject(server: TestServer, fault: dict) -> None:
    async with aiohttp.ClientSession() as http, http.post(server.make_url("/_sandbox/faults"), json=fault) as answer:
        assert answer.status < 300


def outbound_rows(phone: str) -> list[m.WhatsAppMessage]:
    with session_scope() as s:
        return (
            s.execute(
                select(m.WhatsAppMessage)
                .where(m.WhatsAppMessage.phone_number == phone, m.WhatsAppMessage.direction == "outbound")
                .order_by(m.WhatsAppMessage.id)
            )
            .scalars()
            .all()
        )


@pytest.mark.asyncio
async def test_send_records_the_wamid(school_db, sandbox):
    user_wrote(PARENT)
    async with client_for(sandbox) as client:
        result = await client.send(PARENT, {"type": "text", "text": {"body": "Anika's class is at 10:00 AM"}})
    (sent,) = await sandbox_messages(sandbox)
    assert sent["id"] == result.wamid and sent["payload"]["to"] == "919845000007"
    (row,) = outbound_rows(PARENT)
    assert (row.whatsapp_message_id, row.status, row.content) == (
        result.wamid,
        "accepted",
        "Anika's class is at 10:00 AM",
    )


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500, "count": 2},
        {"status": 429, "count": 3},
        {"status": 503, "count": 1},
        # Far past the timeout, and retried. Client and sandbox share one event loop: with the delay near the
        # timeout, one stall of the loop past both deadlines let the sandbox answer the abandoned send too.
        {"delay_s": 30.0, "count": 1},
    ],
)
async def test_transient_failures_are_retried_until_one_message_goes_out(school_db, sandbox, fault):
    user_wrote(PARENT)
    await inject(sandbox, fault)
    async with client_for(sandbox) as client:
        await client.send(PARENT, {"type": "text", "text": {"body": "hello"}})
    assert len(await sandbox_messages(sandbox)) == 1
    assert [r.status for r in outbound_rows(PARENT)] == ["accepted"]


@pytest.mark.asyncio
async def test_persistent_failure_gives_up_and_records_it(school_db, sandbox):
    user_wrote(PARENT)
    await inject(sandbox, {"status": 500, "count": 10})
    async with client_for(sandbox) as client:
        with pytest.raises(CloudApiError) as caught:
            await client.send(PARENT, {"type": "text", "text": {"body": "hello"}})
    assert caught.value.status == 500
    (row,) = outbound_rows(PARENT)
    assert row.status == "failed" and row.whatsapp_message_id is None


@pytest.mark.asyncio
async def test_a_4xx_is_not_retried(school_db, sandbox):
    user_wrote(PARENT)
    bad = {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "x"},
            "action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": "A title that is far too long"}}]},
        },
    }
    async with client_for(sandbox) as client:
        with pytest.raises(CloudApiError) as caught:
            await client.send(PARENT, bad)
    assert caught.value.code == 131009 and "title" in (caught.value.details or "")
    async with aiohttp.ClientSession() as http, http.get(sandbox.make_url("/_sandbox/stats")) as answer:
        assert (await answer.json())["rejected"] == 1


@pytest.mark.asyncio
async def test_free_form_outside_24_hours_is_refused_and_logged(school_db, sandbox, monkeypatch):
    monkeypatch.setenv("HSM_NOW", "2026-12-01T10:00:00+05:30")
    user_wrote(PARENT)
    monkeypatch.setenv("HSM_NOW", "2026-12-02T10:00:01+05:30")
    async with client_for(sandbox) as client:
        with pytest.raises(OutsideServiceWindow):
            await client.send(PARENT, {"type": "text", "text": {"body": "reminder"}})
        with pytest.raises(OutsideServiceWindow):
            await client.send("+919845000016", {"type": "text", "text": {"body": "never wrote to us"}})
    assert await sandbox_messages(sandbox) == []
    assert outbound_rows(PARENT)[0].status == "failed"


@pytest.mark.asyncio
async def test_templates_must_be_approved_and_get_their_variables(school_db, sandbox):
    with session_scope() as s:
        s.add(
            m.WhatsAppTemplate(
                template_name="fee_reminder",
                language="en",
                category="UTILITY",
                status="approved",
                content="Hi {{1}}, your fee of ₹{{2}} is due on {{3}}.",
                variables=["name", "amount", "date"],
            )
        )
        s.add(m.WhatsAppTemplate(template_name="promo", language="en", status="pending", content="Sale!"))
    async with client_for(sandbox) as client:
        await client.send_template("+919845000016", "fee_reminder", "en", ["Geetha", "2500", "2 Dec"])
        with pytest.raises(CloudApiError, match="needs 3"):
            await client.send_template("+919845000016", "fee_reminder", "en", ["Geetha"])
        with pytest.raises(CloudApiError, match="not approved"):
            await client.send_template("+919845000016", "promo")
    (sent,) = await sandbox_messages(sandbox)
    assert sent["payload"]["template"]["components"][0]["parameters"][1] == {"type": "text", "text": "2500"}


def status(wamid: str, value: str) -> StatusUpdate:
    return StatusUpdate(wamid=wamid, status=value, recipient=None, timestamp=None, errors=(), raw={})


def test_statuses_only_move_forward(school_db):
    store.record_outbound("+919845000007", {"type": "text", "text": {"body": "x"}}, "wamid.A", store.ACCEPTED)
    assert store.apply_statuses([status("wamid.A", "delivered")]) == 1
    assert store.apply_statuses([status("wamid.A", "sent")]) == 0
    assert store.apply_statuses([status("wamid.A", "read"), status("wamid.A", "delivered")]) == 1
    failed = StatusUpdate("wamid.A", "failed", None, None, ({"code": 131047, "title": "Re-engagement"},), {})
    assert store.apply_statuses([failed]) == 0  # read is final
    with session_scope() as s:
        row = s.execute(select(m.WhatsAppMessage).filter_by(whatsapp_message_id="wamid.A")).scalar_one()
        assert row.status == "read"
    store.record_outbound("+919845000007", {"type": "text", "text": {"body": "y"}}, "wamid.B", store.ACCEPTED)
    assert (
        store.apply_statuses(
            [StatusUpdate("wamid.B", "failed", None, None, ({"code": 131047, "title": "Re-engagement message"},), {})]
        )
        == 1
    )
    with session_scope() as s:
        row = s.execute(select(m.WhatsAppMessage).filter_by(whatsapp_message_id="wamid.B")).scalar_one()
        assert (row.status, row.error_code, row.error_message) == ("failed", 131047, "Re-engagement message")


def test_the_database_moves_a_status_exactly_when_the_rule_says(school_db):
    """Every held status (none yet, accepted, each ranked one, one we do not rank) against every incoming one:
    the single compare-and-set UPDATE agrees with `status_may_replace`."""
    held_statuses = [store.ACCEPTED, *STATUS_RANK, "deleted"]
    incoming = [*STATUS_RANK, "deleted"]
    for i, held in enumerate(held_statuses):
        for j, new in enumerate(incoming):
            wamid = f"wamid.RULE{i}x{j}"
            store.record_outbound("+919845000007", {"type": "text", "text": {"body": "x"}}, wamid, store.ACCEPTED)
            if held != store.ACCEPTED:
                with session_scope() as s:
                    s.execute(
                        update(m.WhatsAppMessage)
                        .where(m.WhatsAppMessage.whatsapp_message_id == wamid)
                        .values(status=held)
                    )
            expected = status_may_replace(None if held == store.ACCEPTED else held, new)
            assert store.apply_statuses([status(wamid, new)]) == int(expected), (held, new)
            with session_scope() as s:
                now = s.execute(
                    select(m.WhatsAppMessage.status).where(m.WhatsAppMessage.whatsapp_message_id == wamid)
                ).scalar_one()
            assert now == (new if expected else held), (held, new)


def test_a_status_never_touches_an_inbound_message_or_an_unknown_id(school_db):
    (inbound,) = store.store_inbound(parse_webhook(webhook_body(PARENT, text_message("hi", wamid="wamid.IN1"))))
    assert store.apply_statuses([status("wamid.IN1", "delivered"), status("wamid.NOPE", "read")]) == 0
    with session_scope() as s:
        assert (
            s.execute(
                select(m.WhatsAppMessage.status).where(m.WhatsAppMessage.whatsapp_message_id == inbound.wamid)
            ).scalar_one()
            == store.RECEIVED
        )


def test_a_group_commit_applies_every_status_in_each_messages_own_order(school_db):
    """The writer's group of POSTs, one status each, as Meta sends them: statuses of different messages are
    moved together, and one message's statuses still count in the order they arrived ("failed" after "read" is
    stale, "read" after "failed" too)."""
    for wamid in ("wamid.G0", "wamid.G1", "wamid.G2", "wamid.G3"):
        store.record_outbound(PARENT, {"type": "text", "text": {"body": "x"}}, wamid, store.ACCEPTED)
    rejected = ({"code": 131026, "title": "Message undeliverable"},)
    arriving = [
        status("wamid.G0", "sent"),
        status("wamid.G1", "read"),
        status("wamid.G0", "read"),
        StatusUpdate("wamid.G2", "failed", None, None, rejected, {}),
        StatusUpdate("wamid.G0", "failed", None, None, rejected, {}),
        StatusUpdate("wamid.G3", "failed", None, None, rejected, {}),
        status("wamid.G3", "read"),
        status("wamid.G1", "delivered"),
    ]
    store.store_inbound_many(
        [WebhookBatch(messages=(), statuses=(one,), errors=(), ignored_fields=()) for one in arriving]
    )
    with session_scope() as s:
        rows = {
            row.whatsapp_message_id: (row.status, row.error_code)
            for row in s.execute(
                select(m.WhatsAppMessage).where(m.WhatsAppMessage.whatsapp_message_id.like("wamid.G%"))
            ).scalars()
        }
    assert rows == {
        "wamid.G0": ("read", None),
        "wamid.G1": ("read", None),
        "wamid.G2": ("failed", 131026),
        "wamid.G3": ("failed", 131026),
    }
    assert (
        store.apply_statuses(
            [
                status("wamid.G0", "played"),
                status("wamid.G1", "played"),
                status("wamid.G1", "played"),
                status("wamid.G2", "read"),
            ]
        )
        == 2
    )


def test_ids_and_status_words_longer_than_meta_sends_are_skipped_and_the_rest_stored(school_db):
    """Nothing Meta sends is longer than our columns; a POST that is would otherwise fail on PostgreSQL (value too
    long) and be retried by Meta forever, taking the good messages beside it down too."""
    store.record_outbound(PARENT, {"type": "text", "text": {"body": "x"}}, "wamid.LONG0", store.ACCEPTED)
    body = webhook_body(PARENT, text_message("hi", wamid="wamid.GOOD1"))
    value = body["entry"][0]["changes"][0]["value"]
    value["messages"] += [
        {**text_message("long id", wamid="wamid." + "x" * 300), "from": "919845000007"},
        {**text_message("long sender", wamid="wamid.LONG2"), "from": "9" * 200},
    ]
    value["statuses"] = [
        {"id": "wamid.LONG0", "status": "s" * 25, "timestamp": "1700000000"},
        {"id": "wamid." + "y" * 300, "status": "delivered", "timestamp": "1700000000"},
        {"id": "wamid.LONG0", "status": "delivered", "timestamp": "1700000000"},
    ]
    fresh = store.store_inbound(parse_webhook(body))
    assert [message.wamid for message in fresh] == ["wamid.GOOD1"]
    with session_scope() as s:
        assert (
            s.execute(
                select(m.WhatsAppMessage.status).where(m.WhatsAppMessage.whatsapp_message_id == "wamid.LONG0")
            ).scalar_one()
            == "delivered"
        )


def test_duplicates_are_stored_once_and_claimed_once(school_db):
    body = webhook_body(PARENT, text_message("hi", wamid="wamid.DUP1"))
    assert len(store.store_inbound(parse_webhook(body))) == 1
    assert store.store_inbound(parse_webhook(body)) == []
    assert claims.claim("wamid.DUP1") is claims.Claim.FIRST
    assert claims.claim("wamid.DUP1") is None
    store.complete("wamid.DUP1", PARENT, store.PROCESSED, role_of=role_of)
    assert claims.claim("wamid.DUP1") is None


def test_numbered_options_and_sessions(school_db):
    store.touch_session(PARENT, options=["/a", "/b", "/c"], role_of=role_of)
    assert store.resolve_option(PARENT, "2") == "/b"
    assert store.resolve_option(PARENT, "opt:3") == "/c"
    assert store.resolve_option(PARENT, "4") is None
    assert store.resolve_option(PARENT, "two") is None
    store.touch_session(PARENT, options=[], role_of=role_of)
    assert store.resolve_option(PARENT, "2") is None
    store.touch_session(PARENT, "greet", role_of=role_of)
    info = store.session_info(PARENT)
    assert (info.user_type, info.last_intent) == ("guardian", "greet")
    assert (info.expires_at - store.clock.utcnow()).total_seconds() == 30 * 60
