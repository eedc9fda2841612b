"""The channel's webhook handlers themselves (connectors/whatsapp.py), without a server: Meta's verification compares
the token in constant time; a POST keeps only what is addressed to our phone number and not a stale replay."""

from __future__ import annotations

import asyncio
import hmac
import json
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from connectors.whatsapp import WhatsAppInput
from devtools.chat import text_message, webhook_body
from hsm.whatsapp.payloads import WebhookBatch
from hsm.whatsapp.runtime import ClientSettings
from hsm.whatsapp.signature import sign

VERIFY_TOKEN = "verify-tok\u00e9n-42"  # not ASCII: a naive hmac.compare_digest on str would raise
APP_SECRET = "app-secret"
OURS = "100000000000042"
NOW = "2026-12-01T16:30:00+05:30"
NOW_UTC = datetime(2026, 12, 1, 11, 0, tzinfo=timezone.utc)


class RecordingIntake:
    """Stands in for the IntakeWriter: remembers each batch it is asked to store, reports nothing new."""

    def __init__(self) -> None:
        self.batches: list[WebhookBatch] = []

    async def store(self, batch: WebhookBatch) -> list[Any]:
        self.batches.append(batch)
        return []

    def stored_wamids(self) -> list[str]:
        return [message.wamid for batch in self.batches for message in batch.messages]

    def stored_statuses(self) -> list[str]:
        return [status.wamid for batch in self.batches for status in batch.statuses]


@pytest.fixture
def channel(monkeypatch) -> WhatsAppInput:
    monkeypatch.setenv("HSM_NOW", NOW)
    channel = WhatsAppInput(VERIFY_TOKEN, APP_SECRET, ClientSettings("http://graph.invalid/v21.0", OURS, "token"))
    channel._intake = RecordingIntake()  # type: ignore[assignment]
    return channel


def handler(channel: WhatsAppInput, method: str) -> Any:
    """The blueprint's /webhook handler for this method, as Sanic would call it."""

    async def on_new_message(_: Any) -> None:
        return None

    blueprint = channel.blueprint(on_new_message)
    (route,) = [r for r in blueprint._future_routes if r.uri == "/webhook" and method in r.methods]
    return route.handler


def verify(channel: WhatsAppInput, args: dict[str, str]) -> Any:
    return asyncio.run(handler(channel, "GET")(SimpleNamespace(args=args)))


def post(channel: WhatsAppInput, body: dict) -> Any:
    raw = json.dumps(body).encode()
    request = SimpleNamespace(ctx=SimpleNamespace(), body=raw, headers={"X-Hub-Signature-256": sign(raw, APP_SECRET)})
    return asyncio.run(handler(channel, "POST")(request))


# --- GET: Meta's verification -----------------------------------------------------------------------------------


def test_the_verify_token_is_compared_in_constant_time(channel, monkeypatch):
    compared: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    answer = verify(channel, {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158"})
    assert (answer.status, answer.body) == (200, b"1158")
    assert compared, "the token was not compared with hmac.compare_digest"


@pytest.mark.parametrize(
    "args",
    [
        {"hub.mode": "subscribe", "hub.challenge": "x"},  # no token at all
        {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "x"},
        {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "x"},
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN[:-1], "hub.challenge": "x"},
        {"hub.mode": "subscribe", "hub.verify_token": "t\u00f6ken \u2603", "hub.challenge": "x"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "x"},
    ],
)
def test_a_missing_or_wrong_token_is_refused(channel, args):
    assert verify(channel, args).status == 403


# --- POST: only our number, nothing older than Meta's retries ---------------------------------------------------


def _message_body(phone_number_id: str, wamid: str, sent_at: datetime = NOW_UTC) -> dict:
    body = webhook_body("+919845000007", text_message("hi", wamid=wamid), phone_number_id=phone_number_id)
    body["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = str(int(sent_at.timestamp()))
    return body


def _status_body(phone_number_id: str, wamid: str, sent_at: datetime = NOW_UTC) -> dict:
    status = {"id": wamid, "status": "read", "timestamp": str(int(sent_at.timestamp())), "recipient_id": "919845000007"}
    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": phone_number_id}, "statuses": [status]}
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }


def test_a_message_for_our_number_is_stored(channel):
    assert post(channel, _message_body(OURS, "wamid.OURS")).status == 200
    assert post(channel, _status_body(OURS, "wamid.OUR_STATUS")).status == 200
    assert channel._intake.stored_wamids() == ["wamid.OURS"]  # type: ignore[attr-defined]
    assert channel._intake.stored_statuses() == ["wamid.OUR_STATUS"]  # type: ignore[attr-defined]


def test_messages_and_statuses_for_another_number_of_the_app_are_acknowledged_and_not_stored(channel, caplog):
    assert post(channel, _message_body("100000000000099", "wamid.THEIRS")).status == 200
    assert post(channel, _status_body("100000000000099", "wamid.THEIR_STATUS")).status == 200
    assert channel._intake.stored_wamids() == []  # type: ignore[attr-defined]
    assert channel._intake.stored_statuses() == []  # type: ignore[attr-defined]
    assert any("another phone number" in r.getMessage() for r in caplog.records)


def test_a_replay_older_than_metas_retries_is_acknowledged_and_not_stored(channel, caplog):
    eight_days_ago = NOW_UTC - timedelta(days=8)
    assert post(channel, _message_body(OURS, "wamid.REPLAYED", eight_days_ago)).status == 200
    assert post(channel, _status_body(OURS, "wamid.OLD_STATUS", eight_days_ago)).status == 200
    assert post(channel, _message_body(OURS, "wamid.SIX_DAYS", NOW_UTC - timedelta(days=6))).status == 200
    assert channel._intake.stored_wamids() == ["wamid.SIX_DAYS"]  # type: ignore[attr-defined]
    assert channel._intake.stored_statuses() == []  # type: ignore[attr-defined]
    assert any("replay" in r.getMessage() for r in caplog.records)
