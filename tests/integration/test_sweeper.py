"""The orphan sweep (hsm/whatsapp/sweeper.py) on a real database: which acknowledged messages it hands back to the
channel, when, and in what order; never past an earlier message still being processed; never a message that Rasa
already has. `handle` here stands in for the channel: it claims, as the channel does, and records the order."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import pytest

from hsm.chat import text_message, webhook_body
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
            await asyncio.to_thread(store.complete, message.wamid, message.phone, store.PROCESSED)


def sweep(channel: Channel, state: sweeper.SweepState, tracker_store=None) -> list[str]:
    async def once() -> list[str]:
        handed = await sweeper.sweep_unprocessed(channel.handle, state, FAST, tracker_store=tracker_store)
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
    store.complete(busy, ANITA, store.PROCESSED)  # the live replica finishes
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
    assert store.claim(orphan) is False  # marked processed: nobody processes it again


def test_the_sweep_is_off_with_a_zero_interval(monkeypatch):
    monkeypatch.setenv("HSM_SWEEP_INTERVAL_S", "0")

    async def start():
        return sweeper.start_sweeper(Channel().handle)

    assert asyncio.run(start()) is None
    monkeypatch.setenv("HSM_SWEEP_STALE_AFTER_S", "soon")
    with pytest.raises(ValueError, match="HSM_SWEEP_STALE_AFTER_S"):
        sweeper.SweepSettings.from_env()
