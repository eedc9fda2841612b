"""The channel's processing (hsm/whatsapp/processing.py `MessageProcessing`) against the in-process sandbox on a real
database: a message holds one of the places inside Rasa while Rasa works on it, and gives it up while Meta
answers its sends, so one slow Graph API answer does not hold up other people's messages."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from devtools.chat import text_message, webhook_body
from devtools.sandbox import SandboxConfig, create_app
from hsm.infra import models as m
from hsm.infra.config import get_settings
from hsm.infra.db import session_scope
from hsm.infra.ratelimit import NOTICE_TEXT
from hsm.people.identity import role_of
from hsm.whatsapp import claims, store
from hsm.whatsapp.client import RetryPolicy, WhatsAppClient
from hsm.whatsapp.payloads import parse_webhook
from hsm.whatsapp.processing import FAILURE_REPLY, MessageProcessing, RasaTurnPermit

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


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class StandInMeta:
    """Stands in for the Graph API client: notes the read receipts and the sends."""

    def __init__(self) -> None:
        self.read: list[str] = []
        self.sent: list[tuple[str, str]] = []

    async def mark_read(self, wamid: str) -> bool:
        self.read.append(wamid)
        return True

    async def send(self, to: str, message: dict, *, replying: bool = False) -> None:
        self.sent.append((to, message["text"]["body"]))


class EchoRasa:
    """Answers every message with its own text; each turn takes a second of the fake clock."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    async def run_turn(self, message, text, replies) -> None:
        self.clock.now += 1.0
        await replies.send_text(message.phone, f"re: {text}")

    async def last_intent(self, sender) -> None:
        return None


def processing_on_a_fake_clock(meta: StandInMeta, user_per_min: int = 10, global_per_min: int = 100):
    from hsm.infra.ratelimit import InMemoryRateLimiter, RateLimits

    clock = FakeClock()

    async def sleep(seconds: float) -> None:  # waiting moves the fake clock on
        clock.now += seconds
        await asyncio.sleep(0)

    limiter = InMemoryRateLimiter(RateLimits(user_per_window=user_per_min, global_per_window=global_per_min), clock)
    processing = MessageProcessing(
        meta, EchoRasa(clock), role_of=role_of, turns_at_once=4, rate_limiter=limiter, sleep=sleep
    )
    return processing, clock


@pytest.mark.asyncio
async def test_more_senders_than_the_global_limit_are_all_answered_in_order(school_db):
    meta = StandInMeta()
    processing, clock = processing_on_a_fake_clock(meta)
    start = clock()
    senders = [f"+9171000{n:05d}" for n in range(120)]
    messages = [receive(phone, f"hello from {n}") for n, phone in enumerate(senders)]
    messages += [receive(senders[n], f"again from {n}") for n in range(3)]  # a few write twice
    await asyncio.gather(*(processing.handle(message) for message in messages))
    assert {status_of(message.wamid) for message in messages} == {store.PROCESSED}  # none skipped
    assert len(meta.sent) == 123 and not any("faster than I can answer" in text for _, text in meta.sent)
    for n in range(3):
        assert [text for to, text in meta.sent if to == senders[n]] == [f"re: hello from {n}", f"re: again from {n}"]
    assert sorted(meta.read) == sorted(message.wamid for message in messages)
    assert clock() - start >= 60.0  # the last ones waited for the minute's window to make room


@pytest.mark.asyncio
async def test_only_the_flooding_sender_is_refused_and_told(school_db):
    meta = StandInMeta()
    processing, _ = processing_on_a_fake_clock(meta, global_per_min=12)
    flood = [receive(ANITA, f"spam {n}") for n in range(13)]
    others = [receive(f"+9172000{n:05d}", "hi") for n in range(8)]
    await asyncio.gather(*(processing.handle(message) for message in flood + others))
    assert [status_of(message.wamid) for message in flood] == [store.PROCESSED] * 10 + [store.SKIPPED] * 3
    assert {status_of(message.wamid) for message in others} == {store.PROCESSED}
    to_anita = [text for to, text in meta.sent if to == ANITA]
    assert to_anita == [f"re: spam {n}" for n in range(10)] + [NOTICE_TEXT]
    assert [to for to, text in meta.sent if text == NOTICE_TEXT] == [ANITA]
    assert set(meta.read) == {message.wamid for message in flood[:10] + others}  # refused ones not marked read


@pytest.mark.asyncio
async def test_a_message_handed_over_again_while_it_waits_is_answered_once(school_db):
    meta = StandInMeta()
    processing, clock = processing_on_a_fake_clock(meta, global_per_min=1)
    start = clock()
    first, waiting = receive(ANITA, "one"), receive(RAVI, "two")
    # the sweep hands over the message still waiting for room (it looks orphaned: `received` for 30 s)
    await asyncio.gather(processing.handle(first), processing.handle(waiting), processing.handle(waiting))
    assert [text for _, text in meta.sent] == ["re: one", "re: two"]
    assert status_of(waiting.wamid) == store.PROCESSED
    assert clock() - start < 120  # the copy took no place in the window (it would have waited another minute)


class CutShortRasa:
    """A turn that sends its replies one by one; with `cut_after`, the run dies (a replica killed) after that many
    sends, before Rasa would have saved the turn."""

    def __init__(self, cut_after: int | None = None) -> None:
        self.cut_after = cut_after

    async def run_turn(self, message, text, replies) -> None:
        for number, words in enumerate(["Which class?", "Guitar or piano?", "Tap one."], start=1):
            await replies.send_text(message.phone, words)
            if number == self.cut_after:
                await asyncio.Event().wait()  # never returns: cancelled below, as the replica dies

    async def last_intent(self, sender) -> None:
        return None


@pytest.mark.asyncio
async def test_a_turn_cut_short_by_a_dead_replica_is_finished_without_sending_its_replies_twice(school_db, slow_meta):
    def client() -> WhatsAppClient:
        url = str(slow_meta.make_url("/v21.0"))
        retry = RetryPolicy(attempts=1, timeout_s=5)
        return WhatsAppClient(url, PHONE_ID, TOKEN, ledger=store.LEDGER, record_inline=True, retry=retry)

    async def sent_to_anita() -> list[str]:
        async with aiohttp.ClientSession() as http, http.get(slow_meta.make_url("/_sandbox/messages")) as answer:
            return [m["payload"]["text"]["body"] for m in (await answer.json())["messages"] if m["to"] == ANITA]

    earlier, message = receive(ANITA, "hi"), receive(ANITA, "mark attendance")
    first_client, second_client = client(), client()
    try:
        await MessageProcessing(first_client, CutShortRasa(), role_of=role_of, turns_at_once=1).handle(
            earlier
        )  # a whole turn
        dying = asyncio.create_task(
            MessageProcessing(first_client, CutShortRasa(cut_after=2), role_of=role_of, turns_at_once=1).handle(message)
        )
        while claims.replies_sent_for(message) < 2:  # both sends accepted by Meta and recorded
            await asyncio.sleep(0.05)
        dying.cancel()  # the replica is killed: the message stays `processing`
        await asyncio.gather(dying, return_exceptions=True)
        assert status_of(message.wamid) == store.PROCESSING
        with session_scope() as s:  # its heartbeat stopped: the sweep finds it silent and hands it to another replica
            row = s.execute(select(m.WhatsAppMessage).where(m.WhatsAppMessage.whatsapp_message_id == message.wamid))
            row.scalar_one().heartbeat_at -= get_settings().sweep.stale_after_s + 1
        await MessageProcessing(second_client, CutShortRasa(), role_of=role_of, turns_at_once=1).handle(message)
    finally:
        await first_client.close()
        await second_client.close()
    turn = ["Which class?", "Guitar or piano?", "Tap one."]
    assert await sent_to_anita() == turn + turn  # the earlier turn's replies, then this turn's, each once
    assert status_of(message.wamid) == store.PROCESSED


def silence_holder_of(wamid: str) -> None:
    """The replica holding `wamid` died: its heartbeat stopped longer ago than HSM_SWEEP_STALE_AFTER_S."""
    with session_scope() as s:
        row = s.execute(select(m.WhatsAppMessage).where(m.WhatsAppMessage.whatsapp_message_id == wamid)).scalar_one()
        row.heartbeat_at -= get_settings().sweep.stale_after_s + 1


@pytest.mark.asyncio
async def test_a_later_message_waits_until_the_replica_holding_the_earlier_one_finishes(school_db):
    meta = StandInMeta()
    processing, _ = processing_on_a_fake_clock(meta)
    earlier, later = receive(ANITA, "one"), receive(ANITA, "two")
    assert claims.claim(earlier.wamid) is claims.Claim.FIRST  # another replica is answering "one"
    waiting = asyncio.create_task(processing.handle(later))
    await asyncio.sleep(0.6)
    assert meta.sent == [] and status_of(later.wamid) == store.RECEIVED  # not even claimed meanwhile
    store.complete(earlier.wamid, ANITA, store.PROCESSED, role_of=role_of)  # that replica is done
    await asyncio.wait_for(waiting, 5)
    assert meta.sent == [(ANITA, "re: two")]


@pytest.mark.asyncio
async def test_a_dead_replicas_earlier_message_handed_here_is_answered_before_the_later_one(school_db):
    meta = StandInMeta()
    processing, _ = processing_on_a_fake_clock(meta)
    earlier, later = receive(ANITA, "one"), receive(ANITA, "two")
    assert claims.claim(earlier.wamid)  # ... and then that replica was killed
    waiting = asyncio.create_task(processing.handle(later))  # "two" reached this replica: it waits for "one"
    await asyncio.sleep(0.4)
    silence_holder_of(earlier.wamid)
    await asyncio.wait_for(asyncio.gather(processing.handle(earlier), waiting), 5)  # the sweep hands "one" here
    assert meta.sent == [(ANITA, "re: one"), (ANITA, "re: two")]
    assert status_of(earlier.wamid) == status_of(later.wamid) == store.PROCESSED


@pytest.mark.asyncio
async def test_a_slow_turn_keeps_its_message_alive_and_nobody_takes_it_over(school_db, monkeypatch):
    monkeypatch.setenv("HSM_SWEEP_STALE_AFTER_S", "1.2")  # a heartbeat every 0.2 s
    release = asyncio.Event()

    class SlowRasa(EchoRasa):
        async def run_turn(self, message, text, replies) -> None:
            await release.wait()  # a turn far longer than the time after which a silent holder is dead
            await super().run_turn(message, text, replies)

    meta = StandInMeta()
    processing = MessageProcessing(meta, SlowRasa(FakeClock()), role_of=role_of, turns_at_once=1)
    message = receive(ANITA, "one")
    turn = asyncio.create_task(processing.handle(message))
    await asyncio.sleep(3.0)
    # Still beating: another replica may not take it. Judged at 2.5 s of silence, so that a stall of a second
    # does not pass for a dead holder; one that never beat has been silent for 3 s.
    assert claims.claim(message.wamid, stale_after_s=2.5) is None
    release.set()
    await asyncio.wait_for(turn, 5)
    assert meta.sent == [(ANITA, "re: one")]
    processing.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("then", ["sends more", "fails"])
async def test_a_holder_that_was_frozen_while_its_message_was_taken_over_sends_and_finishes_nothing(
    school_db, monkeypatch, then
):
    """A replica frozen (SIGSTOP, a paused VM) longer than HSM_SWEEP_STALE_AFTER_S looks dead: another one takes its
    message over. When it wakes, nothing more of its turn is sent (not even the failure notice, should the turn fail),
    and the message is left to the new holder to finish."""
    monkeypatch.setenv("HSM_SWEEP_STALE_AFTER_S", "600")  # no beat of its own during the test
    meta, resume = StandInMeta(), asyncio.Event()

    class TwoPartRasa(EchoRasa):
        async def run_turn(self, message, text, replies) -> None:
            await replies.send_text(message.phone, "part one")
            await resume.wait()  # frozen here...
            if then == "fails":
                raise ConnectionError("the action server went away while we slept")
            await replies.send_text(message.phone, "part two")

    processing = MessageProcessing(meta, TwoPartRasa(FakeClock()), role_of=role_of, turns_at_once=1)
    message = receive(ANITA, "one")
    frozen = asyncio.create_task(processing.handle(message))
    while not meta.sent:
        await asyncio.sleep(0.05)
    silence_holder_of(message.wamid)
    assert claims.claim(message.wamid) is claims.Claim.AGAIN  # ...while another replica takes the message over
    resume.set()
    await asyncio.wait_for(frozen, 5)
    assert meta.sent == [(ANITA, "part one")]
    assert status_of(message.wamid) == store.PROCESSING  # the new holder's to finish
    assert not processing._heartbeat.held()
    processing.close()


@pytest.mark.asyncio
async def test_a_turn_that_fails_tells_the_sender_and_is_recorded_failed(school_db):
    class BrokenRasa(EchoRasa):
        async def run_turn(self, message, text, replies) -> None:
            raise ConnectionError("the action server is down")

    meta = StandInMeta()
    processing = MessageProcessing(meta, BrokenRasa(FakeClock()), role_of=role_of, turns_at_once=1)
    message = receive(ANITA, "one")
    await processing.handle(message)
    assert meta.sent == [(ANITA, FAILURE_REPLY)]
    assert status_of(message.wamid) == store.FAILED


@pytest.mark.asyncio
async def test_an_earlier_message_nobody_takes_up_is_passed_by_once_and_not_waited_for_again(school_db, monkeypatch):
    monkeypatch.setenv("HSM_SWEEP_INTERVAL_S", "0")  # no sweep: the earlier message stays `received` for good
    monkeypatch.setenv("HSM_SWEEP_RECEIVED_AFTER_S", "0.3")
    monkeypatch.setattr("hsm.whatsapp.processing.EARLIER_SLACK_S", 1.7)  # patience: 2 s
    meta = StandInMeta()
    processing, _ = processing_on_a_fake_clock(meta)
    receive(ANITA, "lost")
    second, third = receive(ANITA, "two"), receive(ANITA, "three")
    started = time.monotonic()
    await asyncio.wait_for(processing.handle(second), 8)
    waited = time.monotonic() - started
    await asyncio.wait_for(processing.handle(third), 8)
    assert 1.5 <= waited < 6 and time.monotonic() - started - waited < 1.5  # the third did not wait again
    assert meta.sent == [(ANITA, "re: two"), (ANITA, "re: three")]
