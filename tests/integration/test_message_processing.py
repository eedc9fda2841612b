"""The channel's processing (hsm/whatsapp/processing.py `MessageProcessing`) against the in-process sandbox on a real
database: a message holds one of the places inside Rasa while Rasa works on it, and gives it up while Meta
answers its sends, so one slow Graph API answer does not hold up other people's messages."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from devtools.chat import text_message, webhook_body
from devtools.sandbox import SandboxConfig, create_app
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.people.identity import role_of
from hsm.whatsapp import store
from hsm.whatsapp.client import RetryPolicy, WhatsAppClient
from hsm.whatsapp.payloads import parse_webhook
from hsm.whatsapp.processing import MessageProcessing, RasaTurnPermit

TOKEN, PHONE_ID = "unit-token", "100000000000078"
ANITA, RAVI = "+917100000011", "+917100000012"
GRAPH_LATENCY_S = 0.3


@pytest_asyncio.fixture
async def slow_meta():
    server = TestServer(
        create_app(SandboxConfig(access_token=TOKEN, phone_number_id=PHONE_ID, latency_s=GRAPH_LATENCY_S))
    )
    await server.start_server()
    yield server
    await server.close()


class Rasa:
    """Stands in for Rasa (a `Dialogue`): works on the message for a while (an action server call, say), then sends
    one reply through the turn's replies, and notes each step."""

    def __init__(self) -> None:
        self.steps: list[str] = []

    async def run_turn(self, message, text, replies) -> None:
        name = "Anita" if message.phone == ANITA else "Ravi"
        self.steps.append(f"{name} in Rasa")
        await asyncio.sleep(0.05)
        self.steps.append(f"{name} sending")
        await replies.send_text(message.phone, f"Hello {name}")
        self.steps.append(f"{name} sent")

    async def last_intent(self, sender) -> None:
        return None


def receive(phone: str, words: str):
    (message,) = store.store_inbound(parse_webhook(webhook_body(phone, text_message(words))))
    return message


def status_of(wamid: str) -> str:
    with session_scope() as s:
        return s.execute(
            select(m.WhatsAppMessage.status).where(m.WhatsAppMessage.whatsapp_message_id == wamid)
        ).scalar_one()


@pytest.mark.asyncio
async def test_a_message_waiting_for_meta_lets_the_next_one_into_rasa(school_db, slow_meta):
    rasa = Rasa()
    client = WhatsAppClient(
        str(slow_meta.make_url("/v21.0")),
        PHONE_ID,
        TOKEN,
        ledger=store.LEDGER,
        record_inline=True,
        retry=RetryPolicy(attempts=1, timeout_s=5),
    )
    processing = MessageProcessing(client, rasa, role_of=role_of, turns_at_once=1)  # one turn inside Rasa at once
    anita, ravi = receive(ANITA, "hi"), receive(RAVI, "hello")
    try:
        await asyncio.gather(processing.handle(anita), processing.handle(ravi))
    finally:
        await client.close()
    assert rasa.steps == [
        "Anita in Rasa",
        "Anita sending",  # Ravi waits while Anita is in Rasa...
        "Ravi in Rasa",
        "Ravi sending",  # ...but not while Meta takes its time answering Anita's send
        "Anita sent",
        "Ravi sent",
    ]
    assert status_of(anita.wamid) == status_of(ravi.wamid) == store.PROCESSED
    async with aiohttp.ClientSession() as http, http.get(slow_meta.make_url("/_sandbox/messages")) as answer:
        sent = (await answer.json())["messages"]
    assert sorted(message["payload"]["text"]["body"] for message in sent) == ["Hello Anita", "Hello Ravi"]


@pytest.mark.asyncio
async def test_a_slot_is_never_given_back_twice_or_kept_after_the_turn():
    places = asyncio.Semaphore(1)
    async with RasaTurnPermit(places) as permit:
        assert places.locked()
        async with permit.released_while_sending():
            assert not places.locked()  # someone else may go into Rasa meanwhile
        assert places.locked()  # taken back
    assert not places.locked()
    async with permit.released_while_sending():  # a reply sent after the turn (the failure notice) takes no place
        assert not places.locked()
    assert not places.locked()

    async with RasaTurnPermit(places) as permit:

        async def wait_then_be_cancelled() -> None:
            async with permit.released_while_sending():
                await places.acquire()  # another message takes the place meanwhile...
            raise AssertionError("not reached: cancelled while taking the place back")

        waiting = asyncio.create_task(wait_then_be_cancelled())
        await asyncio.sleep(0.01)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
    places.release()  # ...and gives it back: the cancelled turn gave up its own exactly once
    assert not places.locked()
    async with RasaTurnPermit(places):
        assert places.locked()
