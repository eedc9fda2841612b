"""The Cloud API sandbox answers like Meta: auth, limits, faults, inspection, long-poll and signed status callbacks."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import hashlib
import hmac
import json
import socket
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from devtools.sandbox import SandboxConfig, add_sandbox_command, config_from_args, config_from_env, create_app

TOKEN = "test-token"
PHONE_NUMBER_ID = "123456789012345"
APP_SECRET = "test-secret"
SEND_PATH = f"/v21.0/{PHONE_NUMBER_ID}/messages"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
STUDENT = "+919876543210"
PARENT = "+919812345678"


def text_message(body: str = "Hello from HSM", to: str = STUDENT) -> dict:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"body": body},
    }


def button_message(titles: list[str]) -> dict:
    buttons = [{"type": "reply", "reply": {"id": f"b{index}", "title": title}} for index, title in enumerate(titles)]
    return {
        "messaging_product": "whatsapp",
        "to": STUDENT,
        "type": "interactive",
        "interactive": {
            "type": "button",
            "header": {"type": "text", "text": "Attendance"},
            "body": {"text": "Save this attendance?"},
            "footer": {"text": "HSM"},
            "action": {"buttons": buttons},
        },
    }


def list_message(row_count: int = 3, description: str = "Tue/Thu 17:00", sections: int = 1) -> dict:
    rows = [
        {"id": f"batch-{index}", "title": f"Guitar {index}", "description": description} for index in range(row_count)
    ]
    per_section = -(-row_count // sections)
    section_list = [
        {"title": f"Section {number}", "rows": rows[number * per_section : (number + 1) * per_section]}
        for number in range(sections)
    ]
    return {
        "messaging_product": "whatsapp",
        "to": STUDENT,
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": "Which batch?"},
            "action": {"button": "Choose batch", "sections": section_list},
        },
    }


def template_message(language: dict | None = None, parameter_text: str = "Asha") -> dict:
    template = {
        "name": "fee_reminder",
        "language": language or {"code": "en"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": parameter_text}]}],
    }
    if language == {}:
        del template["language"]
    return {"messaging_product": "whatsapp", "to": STUDENT, "type": "template", "template": template}


def image_message(link: str = "https://example.com/timetable.png") -> dict:
    return {
        "messaging_product": "whatsapp",
        "to": STUDENT,
        "type": "image",
        "image": {"link": link, "caption": "December timetable"},
    }


def sandbox_config(**overrides) -> SandboxConfig:
    return SandboxConfig(access_token=TOKEN, phone_number_id=PHONE_NUMBER_ID, **overrides)


@pytest_asyncio.fixture
async def client() -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(sandbox_config()))) as test_client:
        yield test_client


async def send(client: TestClient, body, headers: dict | None = None) -> tuple[int, dict]:
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    response = await client.post(SEND_PATH, data=data, headers=AUTH if headers is None else headers)
    return response.status, await response.json()


async def recorded(client: TestClient, **params) -> list[dict]:
    response = await client.get("/_sandbox/messages", params={key: str(value) for key, value in params.items()})
    assert response.status == 200
    return (await response.json())["messages"]


async def stats(client: TestClient) -> dict:
    return await (await client.get("/_sandbox/stats")).json()


async def stats_once(client: TestClient, key: str, value: int) -> dict:
    """The sandbox's stats once `key` reached `value` (up to 5 s): the webhook has a callback a moment before the
    sandbox has read its answer and counted it."""
    for _ in range(250):
        counts = await stats(client)
        if counts[key] >= value:
            return counts
        await asyncio.sleep(0.02)
    return counts


# ---------------------------------------------------------------- authorization and request shape


@pytest.mark.asyncio
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Basic {TOKEN}"}])
async def test_a_send_without_the_right_bearer_token_is_refused_like_graph(client, headers):
    status, answer = await send(client, text_message(), headers=headers)
    assert status == 401
    assert answer["error"]["type"] == "OAuthException"
    assert answer["error"]["code"] == 190
    assert answer["error"]["fbtrace_id"]
    assert await recorded(client) == []
    assert (await stats(client))["rejected"] == 1


@pytest.mark.asyncio
async def test_an_unknown_phone_number_id_is_refused_with_code_100(client):
    response = await client.post("/v21.0/999/messages", json=text_message(), headers=AUTH)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == 100


@pytest.mark.asyncio
async def test_a_path_without_a_graph_version_is_not_found(client):
    response = await client.post(f"/latest/{PHONE_NUMBER_ID}/messages", json=text_message(), headers=AUTH)
    assert response.status == 404


@pytest.mark.asyncio
@pytest.mark.parametrize("body", ["not json", "[1, 2]", "", '"text"'])
async def test_a_body_that_is_not_a_json_object_is_refused_with_code_100(client, body):
    status, answer = await send(client, body)
    assert status == 400
    assert answer["error"]["code"] == 100


# ---------------------------------------------------------------- Meta's limits


def _without(body: dict, *path: str | int) -> dict:
    body = copy.deepcopy(body)
    target = body
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return body


INVALID_SENDS = {
    "button title of 21 chars": (
        button_message(["Yes", "x" * 21]),
        131009,
        "Button title length invalid. Min length: 1, Max length: 20",
    ),
    "4 buttons": (button_message(["One", "Two", "Three", "Four"]), 131009, "Invalid buttons count"),
    "duplicate button titles": (button_message(["Yes", "Yes"]), 131009, "Button titles must be unique"),
    "11 list rows": (list_message(row_count=11, sections=2), 131009, "Total row count exceed max allowed count: 10"),
    "row description of 73 chars": (
        list_message(description="d" * 73),
        131009,
        "Row description length invalid. Min length: 0, Max length: 72",
    ),
    "two sections without titles": (
        _without(list_message(row_count=2, sections=2), "interactive", "action", "sections", 0, "title"),
        100,
        "sections'][0]['title'] is required",
    ),
    "text of 4097 chars": (
        text_message("x" * 4097),
        131009,
        "Text body length invalid. Min length: 1, Max length: 4096",
    ),
    "empty text": (text_message(""), 131009, "Text body length invalid"),
    "text without body": (_without(text_message(), "text", "body"), 100, "The parameter text['body'] is required."),
    "media link not http": (image_message("ftp://example.com/a.png"), 131009, "is not a valid URI"),
    "media link not a URL": (image_message("timetable.png"), 131009, "is not a valid URI"),
    "media without link or id": (_without(image_message(), "image", "link"), 100, "image['link'] or image['id']"),
    "template without language": (template_message(language={}), 100, "template['language'] is required"),
    "template with an empty text parameter": (template_message(parameter_text=""), 131009, "must not be empty"),
    "missing messaging_product": (_without(text_message(), "messaging_product"), 100, "messaging_product"),
    "wrong messaging_product": ({**text_message(), "messaging_product": "sms"}, 131009, "messaging_product"),
    "missing to": (_without(text_message(), "to"), 100, "The parameter to is required."),
    "to is not a phone number": (text_message(to="+91 98765-43210x"), 131009, "Param to must be a phone number"),
    "unknown type": ({**text_message(), "type": "poll"}, 131009, "Param type must be one of"),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("body, code, details", INVALID_SENDS.values(), ids=INVALID_SENDS.keys())
async def test_a_send_breaking_a_cloud_api_rule_is_refused_and_not_recorded(client, body, code, details):
    status, answer = await send(client, body)
    assert status == 400
    error = answer["error"]
    assert error["code"] == code
    assert error["type"] == "OAuthException"
    assert error["error_data"]["messaging_product"] == "whatsapp"
    assert details in error["error_data"]["details"]
    if code == 131009:
        assert error["message"] == "(#131009) Parameter value is not valid"
    assert await recorded(client) == []
    assert (await stats(client))["rejected"] == 1


# ---------------------------------------------------------------- accepted sends


VALID_SENDS = {
    "text": text_message(),
    "text of 4096 chars": text_message("x" * 4096),
    "buttons": button_message(["Yes, save", "Edit", "Cancel"]),
    "button title of 20 chars": button_message(["x" * 20]),
    "list": list_message(),
    "list of 10 rows in 2 sections": list_message(row_count=10, sections=2, description="d" * 72),
    "template": template_message(),
    "image": image_message(),
    "reaction": {
        "messaging_product": "whatsapp",
        "to": STUDENT,
        "type": "reaction",
        "reaction": {"message_id": "wamid.abc", "emoji": "👍"},
    },
    "reply with context": {**text_message(), "context": {"message_id": "wamid.abc"}},
}


@pytest.mark.asyncio
@pytest.mark.parametrize("body", VALID_SENDS.values(), ids=VALID_SENDS.keys())
async def test_a_valid_send_is_answered_like_meta_and_recorded(client, body):
    status, answer = await send(client, body)
    assert status == 200, answer
    assert answer["messaging_product"] == "whatsapp"
    assert answer["contacts"] == [{"input": body["to"], "wa_id": "919876543210"}]
    [sent] = answer["messages"]
    assert sent["id"].startswith("wamid.")
    [message] = await recorded(client)
    assert message["seq"] == 1
    assert message["id"] == sent["id"]
    assert message["to"] == STUDENT
    assert message["type"] == body["type"]
    assert message["payload"] == body
    assert message["received_at"]


@pytest.mark.asyncio
async def test_each_send_gets_its_own_wamid_and_the_next_seq(client):
    ids = [(await send(client, text_message(f"message {n}")))[1]["messages"][0]["id"] for n in range(3)]
    assert len(set(ids)) == 3
    assert [message["seq"] for message in await recorded(client)] == [1, 2, 3]


@pytest.mark.asyncio
async def test_mark_as_read_answers_success_and_is_kept_as_a_read_receipt(client):
    body = {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.inbound1",
        "typing_indicator": {"type": "text"},
    }
    status, answer = await send(client, body)
    assert (status, answer) == (200, {"success": True})
    receipts = (await (await client.get("/_sandbox/read-receipts")).json())["read_receipts"]
    assert [receipt["message_id"] for receipt in receipts] == ["wamid.inbound1"]
    assert receipts[0]["typing_indicator"] is True
    assert await recorded(client) == []

    status, answer = await send(client, {"messaging_product": "whatsapp", "status": "read"})
    assert status == 400 and answer["error"]["code"] == 100


# ---------------------------------------------------------------- fault injection


async def inject(client: TestClient, **fault) -> None:
    response = await client.post("/_sandbox/faults", json=fault)
    assert response.status == 200, await response.text()


@pytest.mark.asyncio
async def test_two_injected_500s_fail_two_sends_then_the_next_goes_through(client):
    await inject(client, status=500, count=2)
    for _ in range(2):
        status, answer = await send(client, text_message())
        assert status == 500
        assert answer["error"]["code"] == 131000
        assert answer["error"]["message"] == "(#131000) Something went wrong"
    status, _ = await send(client, text_message())
    assert status == 200
    assert len(await recorded(client)) == 1
    counts = await stats(client)
    assert (counts["accepted"], counts["faults_served"], counts["rejected"]) == (1, 2, 0)


@pytest.mark.asyncio
@pytest.mark.parametrize("http_status, code", [(429, 130429), (503, 2)])
async def test_injected_rate_limit_and_unavailability_carry_metas_codes(client, http_status, code):
    await inject(client, status=http_status)
    status, answer = await send(client, text_message())
    assert (status, answer["error"]["code"]) == (http_status, code)
    assert answer["error"]["type"] == "OAuthException"


@pytest.mark.asyncio
async def test_faults_can_be_listed_and_cleared(client):
    await inject(client, status=500, count=3)
    assert (await (await client.get("/_sandbox/faults")).json())["faults"][0]["remaining"] == 3
    await client.delete("/_sandbox/faults")
    assert (await send(client, text_message()))[0] == 200


@pytest.mark.asyncio
@pytest.mark.parametrize("fault", [{"status": 200}, {"count": 2}, {"status": 500, "count": 0}, {"delay_s": -1}])
async def test_a_malformed_fault_is_refused(client, fault):
    response = await client.post("/_sandbox/faults", json=fault)
    assert response.status == 400


@contextlib.asynccontextmanager
async def served_like_run_app(app: web.Application) -> AsyncIterator[str]:
    """Serve `app` as `run_sandbox` does (handlers outlive clients that hang up); yield its base URL."""
    runner = web.AppRunner(app, handler_cancellation=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@pytest.mark.asyncio
async def test_a_delay_fault_makes_a_client_time_out_and_records_nothing():
    async with served_like_run_app(create_app(sandbox_config())) as base_url, aiohttp.ClientSession() as http:
        # 2 s, well past the 0.1 s timeout: one stall of the shared event loop past both would record the send
        await http.post(f"{base_url}/_sandbox/faults", json={"delay_s": 2.0, "count": 1})
        with pytest.raises(asyncio.TimeoutError):
            await http.post(
                base_url + SEND_PATH, json=text_message("lost"), headers=AUTH, timeout=aiohttp.ClientTimeout(total=0.1)
            )
        async with http.post(base_url + SEND_PATH, json=text_message("retried"), headers=AUTH) as response:
            assert response.status == 200
        await asyncio.sleep(2.05)  # the abandoned request finishes its delay
        async with http.get(f"{base_url}/_sandbox/messages") as response:
            bodies = [message["payload"]["text"]["body"] for message in (await response.json())["messages"]]
        async with http.get(f"{base_url}/_sandbox/stats") as response:
            counts = await response.json()
    assert bodies == ["retried"]
    assert (counts["accepted"], counts["faults_served"]) == (1, 1)


@pytest.mark.asyncio
async def test_a_delay_fault_answers_late_for_a_patient_client(client):
    await inject(client, delay_s=0.2)
    started = time.monotonic()
    status, _ = await send(client, text_message())
    assert status == 200
    assert time.monotonic() - started >= 0.2


@pytest.mark.asyncio
async def test_with_a_latency_every_graph_call_answers_late_but_a_send_is_visible_on_arrival():
    async with TestClient(TestServer(create_app(sandbox_config(latency_s=0.3)))) as slow:
        started = time.monotonic()
        sending = asyncio.create_task(send(slow, text_message("your class is at 17:00")))
        seen = await recorded(slow, to=STUDENT, wait=2)  # the long-poll sees it before Meta's answer is back
        assert [m["payload"]["text"]["body"] for m in seen] == ["your class is at 17:00"]
        assert not sending.done()
        status, answer = await sending
        assert status == 200 and answer["messages"][0]["id"] == seen[0]["id"]
        assert time.monotonic() - started >= 0.3
        started = time.monotonic()
        read = await slow.post(
            SEND_PATH, json={"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.X"}, headers=AUTH
        )
        assert read.status == 200 and time.monotonic() - started >= 0.3
        started = time.monotonic()
        refused, _ = await send(slow, text_message(""))  # a refusal takes as long as an answer
        assert refused == 400 and time.monotonic() - started >= 0.3


# ---------------------------------------------------------------- inspection


@pytest.mark.asyncio
async def test_messages_filter_by_recipient_with_or_without_plus_and_after_seq(client):
    for to, body in [(STUDENT, "one"), (PARENT, "two"), (STUDENT.lstrip("+"), "three")]:
        assert (await send(client, text_message(body, to=to)))[0] == 200
    assert [m["seq"] for m in await recorded(client, to=STUDENT)] == [1, 3]
    assert [m["seq"] for m in await recorded(client, to=STUDENT.lstrip("+"))] == [1, 3]
    raw_plus = await client.get(f"/_sandbox/messages?to={STUDENT}")  # an unencoded "+" arrives as a space
    assert [m["seq"] for m in (await raw_plus.json())["messages"]] == [1, 3]
    assert [m["to"] for m in await recorded(client, to=PARENT)] == [PARENT]
    assert [m["seq"] for m in await recorded(client, after=1)] == [2, 3]
    assert [m["seq"] for m in await recorded(client, to=STUDENT, after=1)] == [3]


@pytest.mark.asyncio
async def test_a_long_poll_returns_as_soon_as_a_message_arrives(client):
    async def poll() -> tuple[list[dict], float]:
        started = time.monotonic()
        messages = await recorded(client, to=STUDENT, wait=30)
        return messages, time.monotonic() - started

    waiting = asyncio.create_task(poll())
    await asyncio.sleep(0.1)
    assert not waiting.done()
    await send(client, text_message(to=PARENT))  # someone else's message does not end the wait
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await send(client, text_message("your class is at 17:00"))
    messages, elapsed = await asyncio.wait_for(waiting, 10)
    assert [message["payload"]["text"]["body"] for message in messages] == ["your class is at 17:00"]
    assert elapsed < 10  # long before the poll's own 30 s


@pytest.mark.asyncio
async def test_a_long_poll_for_anyone_returns_with_the_first_message_to_anyone(client):
    await send(client, text_message(to=STUDENT))
    waiting = asyncio.create_task(recorded(client, after=1, wait=30))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    await send(client, text_message("see you", to=PARENT))
    messages = await asyncio.wait_for(waiting, 10)
    assert [(message["seq"], message["to"]) for message in messages] == [(2, PARENT)]


@pytest.mark.asyncio
async def test_a_long_poll_with_nothing_new_returns_empty_after_the_wait(client):
    started = time.monotonic()
    assert await recorded(client, wait=0.2) == []
    assert 0.2 <= time.monotonic() - started < 5  # it waited, and then did not hang


@pytest.mark.asyncio
async def test_clearing_messages_keeps_seq_growing(client):
    await send(client, text_message())
    await send(client, {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.x"})
    assert (await client.delete("/_sandbox/messages")).status == 200
    assert await recorded(client) == []
    assert (await (await client.get("/_sandbox/read-receipts")).json())["read_receipts"] == []
    await send(client, text_message())
    assert [message["seq"] for message in await recorded(client)] == [2]


@pytest.mark.asyncio
async def test_healthz_and_bad_query_parameters(client):
    assert await (await client.get("/healthz")).json() == {"ok": True}
    assert (await client.get("/_sandbox/messages?after=abc")).status == 400
    assert (await client.get("/_sandbox/messages?to=abc")).status == 400


@pytest.mark.asyncio
async def test_record_file_gets_one_json_line_per_accepted_send(tmp_path):
    record = tmp_path / "sends.jsonl"
    async with TestClient(TestServer(create_app(sandbox_config(record_file=str(record))))) as test_client:
        await send(test_client, text_message("one"))
        await send(test_client, text_message("x" * 5000))
        await send(test_client, text_message("two"))
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert [(line["seq"], line["payload"]["text"]["body"]) for line in lines] == [(1, "one"), (2, "two")]


# ---------------------------------------------------------------- status callbacks


class FakeWebhook:
    """A tiny stand-in for the bot's webhook that keeps every callback (and can fail the first few)."""

    def __init__(self, fail_first: int = 0) -> None:
        self.calls: list[tuple[bytes, str]] = []
        self.fail_first = fail_first
        self.arrived = asyncio.Event()
        self.expected = 0

    async def handle(self, request: web.Request) -> web.Response:
        if self.fail_first > 0:
            self.fail_first -= 1
            return web.Response(status=500)
        self.calls.append((await request.read(), request.headers.get("X-Hub-Signature-256", "")))
        if len(self.calls) >= self.expected:
            self.arrived.set()
        return web.json_response({"status": "ok"})

    async def wait_for(self, count: int, timeout: float = 3.0) -> None:
        self.expected = count
        if len(self.calls) < count:
            await asyncio.wait_for(self.arrived.wait(), timeout)

    def statuses(self) -> list[dict]:
        return [json.loads(raw)["entry"][0]["changes"][0]["value"]["statuses"][0] for raw, _ in self.calls]


@pytest_asyncio.fixture
async def webhook_server() -> AsyncIterator[tuple[FakeWebhook, TestServer]]:
    hook = FakeWebhook()
    app = web.Application()
    app.router.add_post("/webhooks/whatsapp/webhook", hook.handle)
    async with TestServer(app) as server:
        yield hook, server


def callback_config(server: TestServer, **overrides) -> SandboxConfig:
    return sandbox_config(
        app_secret=APP_SECRET,
        webhook_url=str(server.make_url("/webhooks/whatsapp/webhook")),
        status_delay_s=0.01,
        callback_backoff_s=0.01,
        **overrides,
    )


@pytest.mark.asyncio
async def test_each_send_is_followed_by_signed_sent_delivered_read_callbacks_in_order(webhook_server):
    hook, server = webhook_server
    async with TestClient(TestServer(create_app(callback_config(server)))) as test_client:
        _, answer = await send(test_client, template_message())
        wamid = answer["messages"][0]["id"]
        await hook.wait_for(3)
        assert (await stats_once(test_client, "callbacks_sent", 3))["callbacks_sent"] == 3
    for raw, signature in hook.calls:
        expected = "sha256=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(signature, expected)
    assert [status["status"] for status in hook.statuses()] == ["sent", "delivered", "read"]
    notification = json.loads(hook.calls[0][0])
    assert notification["object"] == "whatsapp_business_account"
    change = notification["entry"][0]["changes"][0]
    assert change["field"] == "messages"
    assert change["value"]["messaging_product"] == "whatsapp"
    assert change["value"]["metadata"] == {"display_phone_number": "15550001234", "phone_number_id": PHONE_NUMBER_ID}
    sent = hook.statuses()[0]
    assert sent["id"] == wamid
    assert sent["recipient_id"] == "919876543210"
    assert sent["timestamp"].isdigit()
    assert sent["conversation"]["expiration_timestamp"].isdigit()
    assert sent["pricing"]["category"] == "utility"
    assert len({status["conversation"]["id"] for status in hook.statuses()}) == 1


@pytest.mark.asyncio
async def test_without_auto_read_the_callbacks_stop_at_delivered(webhook_server):
    hook, server = webhook_server
    async with TestClient(TestServer(create_app(callback_config(server, auto_read=False)))) as test_client:
        await send(test_client, text_message())
        await hook.wait_for(2)
        await asyncio.sleep(0.1)
    assert [status["status"] for status in hook.statuses()] == ["sent", "delivered"]


@pytest.mark.asyncio
async def test_a_failing_webhook_is_retried_and_order_is_kept(webhook_server):
    hook, server = webhook_server
    hook.fail_first = 2
    async with TestClient(TestServer(create_app(callback_config(server)))) as test_client:
        await send(test_client, text_message())
        await hook.wait_for(3)
        counts = await stats_once(test_client, "callbacks_sent", 3)
    assert [status["status"] for status in hook.statuses()] == ["sent", "delivered", "read"]
    assert (counts["callbacks_sent"], counts["callbacks_failed"]) == (3, 0)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.asyncio
async def test_an_unreachable_webhook_is_counted_and_never_breaks_sends():
    config = sandbox_config(
        app_secret=APP_SECRET,
        webhook_url=f"http://127.0.0.1:{_closed_port()}/hook",
        status_delay_s=0.0,
        callback_attempts=2,
        callback_backoff_s=0.01,
        auto_read=False,
    )
    async with TestClient(TestServer(create_app(config))) as test_client:
        assert (await send(test_client, text_message()))[0] == 200
        counts = await stats_once(test_client, "callbacks_failed", 2)
        assert (counts["callbacks_sent"], counts["callbacks_failed"]) == (0, 2)
        assert (await send(test_client, text_message()))[0] == 200


@pytest.mark.asyncio
async def test_no_callbacks_without_an_app_secret(webhook_server):
    hook, server = webhook_server
    config = callback_config(server)
    config.app_secret = None
    async with TestClient(TestServer(create_app(config))) as test_client:
        await send(test_client, text_message())
        await asyncio.sleep(0.1)
    assert hook.calls == []


# ---------------------------------------------------------------- configuration and CLI


def test_config_from_env_has_local_defaults(monkeypatch):
    for name in ("WHATSAPP_ACCESS_TOKEN", "WHATSAPP_PHONE_NUMBER_ID", "WHATSAPP_APP_SECRET", "HSM_SANDBOX_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    config = config_from_env()
    assert (config.access_token, config.phone_number_id, config.app_secret) == (
        "sandbox-token",
        "100000000000001",
        "sandbox-secret",
    )
    assert config.webhook_url == "http://localhost:5005/webhooks/whatsapp/webhook"


def test_config_from_env_reads_the_environment_then_overrides(monkeypatch):
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", "tok")
    monkeypatch.setenv("WHATSAPP_PHONE_NUMBER_ID", "42")
    monkeypatch.setenv("WHATSAPP_APP_SECRET", "sec")
    monkeypatch.setenv("HSM_SANDBOX_WEBHOOK_URL", "")
    config = config_from_env(auto_read=False)
    assert (config.access_token, config.phone_number_id, config.app_secret) == ("tok", "42", "sec")
    assert config.webhook_url is None
    assert config.auto_read is False


def test_the_sandbox_sub_command_parses_its_options(monkeypatch):
    monkeypatch.delenv("HSM_SANDBOX_WEBHOOK_URL", raising=False)
    parser = argparse.ArgumentParser(prog="hsm")
    add_sandbox_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["sandbox", "--port", "9000", "--webhook-url", "http://bot/hook", "--no-auto-read", "--record", "sends.jsonl"]
    )
    assert (args.host, args.port, callable(args.handler)) == ("127.0.0.1", 9000, True)
    config = config_from_args(args)
    assert (config.webhook_url, config.auto_read, config.record_file) == ("http://bot/hook", False, "sends.jsonl")
    assert config_from_args(parser.parse_args(["sandbox", "--no-statuses"])).webhook_url is None
    assert parser.parse_args(["sandbox"]).port == 8090
    assert config.latency_s == 0


def test_the_graph_latency_comes_from_the_option_or_the_environment_and_must_be_sensible(monkeypatch, capsys):
    parser = argparse.ArgumentParser(prog="hsm")
    add_sandbox_command(parser.add_subparsers(dest="command"))
    monkeypatch.setenv("HSM_SANDBOX_LATENCY_MS", "250")
    assert config_from_env().latency_s == 0.25
    assert config_from_args(parser.parse_args(["sandbox", "--latency-ms", "40"])).latency_s == 0.04
    for wrong in ("soon", "-5", "90000"):
        monkeypatch.setenv("HSM_SANDBOX_LATENCY_MS", wrong)
        with pytest.raises(ValueError, match="HSM_SANDBOX_LATENCY_MS"):
            config_from_env()
    monkeypatch.delenv("HSM_SANDBOX_LATENCY_MS")
    args = parser.parse_args(["sandbox", "--latency-ms", "fast"])
    assert args.handler(args) == 2  # refused before anything starts
    assert "--latency-ms='fast' is not a number of milliseconds" in capsys.readouterr().err
