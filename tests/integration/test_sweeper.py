"""The start-up replay and the orphan sweep (hsm/whatsapp/sweeper.py) on a real database: which acknowledged
messages they hand back to the channel, when, and in what order; never past an earlier message still being
processed; never a message that Rasa already has. `handle` here stands in for the channel: it claims, as the
channel does, and records the order."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import select, update

from devtools.chat import text_message, webhook_body
from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.people.identity import role_of
from hsm.whatsapp import claims, store, sweeper
from hsm.whatsapp.heartbeat import Heartbeat
from hsm.whatsapp.payloads import parse_webhook

ANITA, RAVI = "+917100000001", "+917100000002"
FAST = sweeper.SweepSettings(interval_s=0.05, received_after_s=0.2, stale_after_s=0.4)
# A holder stays fresh for the whole test (a loaded machine took over 0.4 s between a claim and the next sweep);
# a test ages its heartbeat with `silence` instead of waiting for it to go stale.
PATIENT = dataclasses.replace(FAST, stale_after_s=30.0)


def receive(phone: str, words: str) -> str:
    (message,) = store.store_inbound(parse_webhook(webhook_body(phone, text_message(words))))
    return message.wamid


class Channel:
    """Claims what it is handed (like the channel) and remembers what it processed, in order."""

    def __init__(self) -> None:
        self.processed: list[str] = []
        self.stale_after_s = FAST.stale_after_s  # as the sweep that hands it messages (`sweep` sets it)

    async def handle(self, message) -> None:
        if await asyncio.to_thread(claims.claim, message.wamid, None, self.stale_after_s):
            self.processed.append(message.text)
            await asyncio.to_thread(store.complete, message.wamid, message.phone, store.PROCESSED, role_of=role_of)


def sweep(channel: Channel, state: sweeper.SweepState, tracker_store=None, settings=FAST) -> list[str]:
    channel.stale_after_s = settings.stale_after_s

    async def once() -> list[str]:
        handed = await sweeper.sweep_unprocessed(
            channel.handle, state, settings, role_of=role_of, tracker_store=tracker_store
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
    assert claims.claim(busy)  # a live replica is processing it
    waiting, other = receive(ANITA, "help"), receive(RAVI, "hi")
    state = sweeper.SweepState()
    sweep(channel, state, settings=PATIENT)
    time.sleep(0.25)
    assert sweep(channel, state, settings=PATIENT) == [other]  # Anita's "help" must not overtake her "hi"
    store.complete(busy, ANITA, store.PROCESSED, role_of=role_of)  # the live replica finishes
    time.sleep(0.25)
    assert sweep(channel, state, settings=PATIENT) == [waiting]
    assert channel.processed == ["hi", "help"]  # Ravi's hi, then Anita's help


def test_a_dead_replicas_message_is_taken_over_and_processed_before_the_next(channel):
    orphan = receive(ANITA, "hi")
    assert claims.claim(orphan)  # ... and then its replica died
    after = receive(ANITA, "help")
    state = sweeper.SweepState()
    sweep(channel, state, settings=PATIENT)
    time.sleep(0.25)
    assert sweep(channel, state, settings=PATIENT) == []  # not stale yet: still blocks
    silence(orphan, 60)  # its replica's heartbeat stopped a minute ago
    assert sweep(channel, state, settings=PATIENT) == [orphan, after]
    assert channel.processed == ["hi", "help"]


def test_a_slow_replica_that_keeps_beating_is_never_taken_over(channel):
    busy, after = receive(ANITA, "hi"), receive(ANITA, "help")
    holder = claims.new_holder()
    assert claims.claim(busy, holder)
    beating = Heartbeat(every_s=0.05)  # the live replica's heartbeat, through a turn far longer than stale_after_s
    beating.hold(busy, holder)
    # Dead after 3 s of silence: a stall of the machine (both threads stop) must not pass for a dead replica.
    slow = dataclasses.replace(FAST, stale_after_s=3.0)
    state = sweeper.SweepState()
    for _ in range(4):
        time.sleep(1.0)
        assert sweep(channel, state, settings=slow) == []  # 4 s, past stale_after_s: "help" waits behind it
    beating.stop(wait_s=5)  # ... and now it was killed: the beats stop
    silence(busy, 60)
    assert sweep(channel, state, settings=slow) == [busy, after]
    assert channel.processed == ["hi", "help"]


def test_rows_claimed_by_a_version_without_heartbeats_are_taken_over_two_minutes_after_their_last_change(channel):
    fresh, old = receive(ANITA, "hi"), receive(RAVI, "hi")
    for wamid, ago in ((fresh, 1), (old, 3)):  # claimed by the old version (real clock, not HSM_NOW)
        assert claims.claim(wamid)
        with session_scope() as session:
            session.execute(
                update(m.WhatsAppMessage)
                .where(m.WhatsAppMessage.whatsapp_message_id == wamid)
                .values(
                    heartbeat_at=None,
                    holder=None,
                    updated_at=datetime.now(timezone.utc) - timedelta(minutes=ago),
                )
            )
    state = sweeper.SweepState()
    assert sweep(channel, state) == [old]  # the same rule as the claim's: handed over once, and claimed
    assert channel.processed == ["hi"]
    assert sweep(channel, state) == []  # the fresh one is still its old holder's


def test_a_message_rasa_already_has_is_only_marked_processed(channel):
    orphan = receive(ANITA, "hi")
    assert claims.claim(orphan)
    tracker = SimpleNamespace(events=[SimpleNamespace(type_name="user", message_id=orphan)])

    class Trackers:
        async def retrieve_full_tracker(self, sender_id):
            return tracker if sender_id == ANITA else None

    state = sweeper.SweepState()
    sweep(channel, state, Trackers())
    time.sleep(0.45)
    assert sweep(channel, state, lambda: Trackers()) == []
    assert channel.processed == []
    assert claims.claim(orphan) is None  # marked processed: nobody processes it again


class Trackers:
    """Rasa's tracker store, holding the turns of the given messages."""

    def __init__(self, phone: str, *wamids: str) -> None:
        self.phone = phone
        self.events = [SimpleNamespace(type_name="user", message_id=wamid) for wamid in wamids]

    async def retrieve_full_tracker(self, sender_id):
        return SimpleNamespace(events=self.events) if sender_id == self.phone else None


def left_processing(wamid: str, minutes_ago: float) -> None:
    """`wamid` claimed by a run whose last heartbeat was `minutes_ago`."""
    assert claims.claim(wamid)
    silence(wamid, minutes_ago * 60)


def silence(wamid: str, seconds: float) -> None:
    """Move `wamid`'s last heartbeat `seconds` into the past."""
    with session_scope() as session:
        session.execute(
            update(m.WhatsAppMessage)
            .where(m.WhatsAppMessage.whatsapp_message_id == wamid)
            .values(heartbeat_at=m.WhatsAppMessage.heartbeat_at - seconds)
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
    assert claims.claim(done)
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
    assert claims.claim(answered) is None  # marked processed


def test_replay_leaves_a_live_replicas_sender_to_the_sweep(channel):
    busy, waiting, other = receive(ANITA, "hi"), receive(ANITA, "help"), receive(RAVI, "hi")
    left_processing(busy, minutes_ago=0.1)  # another replica is on it right now (it beat 6 s ago)
    assert replay(channel) == [other]  # Anita's "help" must not overtake her "hi"
    assert channel.processed == ["hi"]
    assert claims.claim(waiting)  # still there for whoever comes next


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


def test_a_heartbeat_stamps_only_under_its_own_token_and_forgets_what_another_replica_took_over(db_url):
    mine, theirs = receive(ANITA, "hi"), receive(RAVI, "hi")
    beating = Heartbeat(every_s=3600)  # beats only when told to here
    for wamid in (mine, theirs):
        holder = claims.new_holder()
        assert claims.claim(wamid, holder)
        beating.hold(wamid, holder)
        silence(wamid, 60)  # as if this replica had been frozen for a minute
    assert claims.claim(theirs, stale_after_s=30) is claims.Claim.AGAIN  # another replica took it over meanwhile
    assert beating.still_holds(mine) and not beating.still_holds(theirs)
    beating.beat()
    assert beating.held() == [mine] and beating.still_holds(mine)
    assert claims.claim(mine, stale_after_s=30) is None  # stamped just now: alive
    beating.stop()
    assert beating.held() == []


def test_a_turn_held_past_the_longest_a_turn_takes_is_no_longer_kept_alive(db_url):
    hung = receive(ANITA, "hi")
    holder = claims.new_holder()
    assert claims.claim(hung, holder)
    beating = Heartbeat(every_s=3600, max_hold_s=0.2)
    beating.hold(hung, holder)
    time.sleep(0.3)
    silence(hung, 60)
    beating.beat()  # not stamped: another replica may take it over, and this one sends nothing more of it
    assert beating.held() == [] and not beating.still_holds(hung)
    assert claims.claim(hung, stale_after_s=30) is claims.Claim.AGAIN
    beating.stop()


def test_a_stored_message_that_cannot_be_read_again_is_failed_and_holds_nobody_back(channel):
    broken, after = receive(ANITA, "hi"), receive(ANITA, "help")
    with session_scope() as session:
        row = session.execute(
            select(m.WhatsAppMessage).where(m.WhatsAppMessage.whatsapp_message_id == broken)
        ).scalar_one()
        row.message_metadata = {"raw": {"id": broken, "type": "text"}}  # no sender, no body: unreadable
    state = sweeper.SweepState()
    sweep(channel, state)
    time.sleep(0.25)
    assert sweep(channel, state) == [after]
    assert channel.processed == ["help"]
    with session_scope() as session:
        assert (
            session.execute(
                select(m.WhatsAppMessage.status).where(m.WhatsAppMessage.whatsapp_message_id == broken)
            ).scalar_one()
            == store.FAILED
        )
