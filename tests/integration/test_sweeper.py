"""The start-up replay and the orphan sweep (hsm/whatsapp/sweeper.py) on a real database: which acknowledged
messages they hand back to the channel, when, and in what order; never past an earlier message still being
processed; never a message that Rasa already has. `handle` here stands in for the channel: it claims, as the
channel does, and records the order."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import update

from devtools.chat import text_message, webhook_body
from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.people.identity import role_of
from hsm.whatsapp import store, sweeper
from hsm.whatsapp.payloads import parse_webhook

ANITA, RAVI = "+917100000001", "+917100000002"
FAST = sweeper.SweepSettings(interval_s=0.05, received_after_s=0.2, stale_after_s=0.4)


def receive(phone: str, words: str) -> str:
    (message,) = store.store_inbound(parse_webhook(webhook_body(phone, text_message(words))))
    return message.wamid


class Channel:
    """Claims what it is handed (like the channel) and remembers what it processed, in order."""

    def __init__(self) -> None:
        self.processed: list[str] = []

    async def handle(self, message) -> None:
        if await asyncio.to_thread(store.claim, message.wamid):
            self.processed.append(message.text)
            await asyncio.to_thread(store.complete, message.wamid, message.phone, store.PROCESSED, role_of=role_of)


def sweep(channel: Channel, state: sweeper.SweepState, tracker_store=None) -> list[str]:
    async def once() -> list[str]:
        handed = await sweeper.sweep_unprocessed(
            channel.handle, state, FAST, role_of=role_of, tracker_store=tracker_store
        )
        await asyncio.gather(*list(state.tasks))
        return handed

    return asyncio.run(once())


@pytest.fixture
def channel(db_url) -> Channel:
    return Channel()


def test_received_messages_are_taken_over_after_a_while_in_order(channel):
    first, second = receive(ANITA, "hi"), receive(ANITA, "help")
    state = sweeper.SweepState()
    assert sweep(channel, state) == []  # just arrived: its own replica is about to claim it
    time.sleep(0.25)
    assert sweep(channel, state) == [first, second]
    assert channel.processed == ["hi", "help"]
    assert sweep(channel, state) == []  # done: nothing left


def test_a_message_in_someone_elses_hands_holds_back_that_sender_only(channel):
    busy = receive(ANITA, "hi")
    assert store.claim(busy)  # a live replica is processing it
    waiting, other = receive(ANITA, "help"), receive(RAVI, "hi")
    state = sweeper.SweepState()
    sweep(channel, state)
    time.sleep(0.25)
    assert sweep(channel, state) == [other]  # Anita's "help" must not overtake her "hi"
    store.complete(busy, ANITA, store.PROCESSED, role_of=role_of)  # the live replica finishes
    time.sleep(0.25)
    assert sweep(channel, state) == [waiting]
    assert channel.processed == ["hi", "help"]  # Ravi's hi, then Anita's help


def test_a_dead_replicas_message_is_released_and_processed_before_the_next(channel):
    orphan = receive(ANITA, "hi")
    assert store.claim(orphan)  # ... and then its replica died
    after = receive(ANITA, "help")
    state = sweeper.SweepState()
    sweep(channel, state)
    time.sleep(0.25)
    assert sweep(channel, state) == []  # not stale yet: still blocks
    time.sleep(0.25)
    assert sweep(channel, state) == [orphan, after]
    assert channel.processed == ["hi", "help"]


def test_a_message_rasa_already_has_is_only_marked_processed(channel):
    orphan = receive(ANITA, "hi")
    assert store.claim(orphan)
    tracker = SimpleNamespace(events=[SimpleNamespace(type_name="user", message_id=orphan)])

    class Trackers:
        async def retrieve_full_tracker(self, sender_id):
            return tracker if sender_id == ANITA else None

    state = sweeper.SweepState()
    sweep(channel, state, Trackers())
    time.sleep(0.45)
    assert sweep(channel, state, lambda: Trackers()) == []
    assert channel.processed == []
    assert store.claim(orphan) is None  # marked processed: nobody processes it again


class Trackers:
    """Rasa's tracker store, holding the turns of the given messages."""

    def __init__(self, phone: str, *wamids: str) -> None:
        self.phone = phone
        self.events = [SimpleNamespace(type_name="user", message_id=wamid) for wamid in wamids]

    async def retrieve_full_tracker(self, sender_id):
        return SimpleNamespace(events=self.events) if sender_id == self.phone else None


def left_processing(wamid: str, minutes_ago: float) -> None:
    """`wamid` claimed by a run that stopped touching it `minutes_ago`."""
    assert store.claim(wamid)
    with session_scope() as session:
        session.execute(
            update(m.WhatsAppMessage)
            .where(m.WhatsAppMessage.whatsapp_message_id == wamid)
            .values(updated_at=clock.utcnow() - timedelta(minutes=minutes_ago))
        )


def replay(channel: Channel, tracker_store=None) -> list[str]:
    async def once() -> list[str]:
        handed: list = []
        wamids = await sweeper.replay_after_restart(handed.append, role_of=role_of, tracker_store=tracker_store)
        for message in handed:  # as the channel would, one after the other
            await channel.handle(message)
        assert [message.wamid for message in handed] == wamids
        return wamids

    return asyncio.run(once())


def test_replay_after_restart_hands_over_what_was_never_finished_oldest_first(channel):
    first, done, second = receive(ANITA, "hi"), receive(ANITA, "fees"), receive(RAVI, "help")
    assert store.claim(done)
    store.complete(done, ANITA, store.PROCESSED, role_of=role_of)
    interrupted = receive(ANITA, "timings")
    left_processing(interrupted, minutes_ago=3)  # its run died while Rasa was on it
    assert replay(channel) == [first, second, interrupted]
    assert channel.processed == ["hi", "help", "timings"]
    assert replay(channel) == []


def test_replay_does_not_answer_twice_what_rasa_already_has(channel):
    answered, after = receive(ANITA, "hi"), receive(ANITA, "help")
    left_processing(answered, minutes_ago=3)  # Rasa saved the turn and replied; the run died before recording it
    assert replay(channel, lambda: Trackers(ANITA, answered)) == [after]
    assert channel.processed == ["help"]
    assert store.claim(answered) is None  # marked processed


def test_replay_leaves_a_live_replicas_sender_to_the_sweep(channel):
    busy, waiting, other = receive(ANITA, "hi"), receive(ANITA, "help"), receive(RAVI, "hi")
    left_processing(busy, minutes_ago=0.5)  # another replica is on it right now
    assert replay(channel) == [other]  # Anita's "help" must not overtake her "hi"
    assert channel.processed == ["hi"]
    assert store.claim(waiting)  # still there for whoever comes next


def test_replay_takes_what_was_acknowledged_whatever_its_age_and_number(channel):
    """The channel's checks (our phone number, Meta's 7-day retry horizon) are for webhooks as they arrive; a
    stored row parsed again at start-up is replayed, even one sent 8 days ago to a number id we no longer use."""
    body = webhook_body(ANITA, text_message("hi"), phone_number_id="100000000000099")
    message = body["entry"][0]["changes"][0]["value"]["messages"][0]
    message["timestamp"] = str(int((clock.utcnow() - timedelta(days=8)).timestamp()))
    (stored,) = store.store_inbound(parse_webhook(body))
    assert replay(channel) == [stored.wamid]
    assert channel.processed == ["hi"]


def test_the_sweep_is_off_with_a_zero_interval(monkeypatch):
    monkeypatch.setenv("HSM_SWEEP_INTERVAL_S", "0")

    async def start():
        return sweeper.start_sweeper(Channel().handle, role_of=role_of)

    assert asyncio.run(start()) is None
    monkeypatch.setenv("HSM_SWEEP_STALE_AFTER_S", "soon")
    with pytest.raises(ValueError, match="HSM_SWEEP_STALE_AFTER_S"):
        sweeper.sweep_settings()


def test_a_replayed_message_keeps_the_correlation_id_it_was_accepted_with(db_url):
    (accepted,) = store.store_inbound(parse_webhook(webhook_body(ANITA, text_message("hi"))))
    replayed: list = []
    assert asyncio.run(sweeper.replay_after_restart(replayed.append, role_of=role_of)) == [accepted.wamid]
    assert replayed[0].correlation_id == accepted.correlation_id
