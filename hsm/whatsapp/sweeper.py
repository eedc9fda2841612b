"""The start-up replay and the periodic sweep that hand acknowledged-but-orphaned inbound messages back to the channel.

The channel stores each inbound message before answering Meta 200, then claims and processes it in the
background; on start it replays what was left unprocessed (`replay_after_restart`: what an earlier run received
and never finished, except what Rasa's tracker shows it did). With several Rasa replicas that is not enough: a
replica that dies keeps its acknowledged messages until some replica *starts*. Every replica therefore runs this
sweep (cheap: one indexed query of the last day's unfinished inbound rows, every 30 s) and takes over

- a message still `received` after `received_after_s` (its replica died between the 200 and the claim, or is
  hopelessly behind: the channel's atomic `claim` decides who processes it, so taking one over is always safe);
- a message still `processing` whose holder has not shown it is alive for `stale_after_s` (its replica died while
  processing it: a live one stamps its messages every few seconds however slow its turn, hsm.whatsapp.heartbeat).
  It is handed over as it is: the channel's claim takes it over only from a silent holder (`claims.claim`, which
  also tells the channel that part of the turn may have been sent). If Rasa's tracker already holds that message
  (the replica died after Rasa saved the turn), it is only marked processed, so the conversation never sees it
  twice.

The age of a `received` message is measured by this process' monotonic clock between sweeps, and a holder's silence
on the database's clock (hsm.whatsapp.claims), so the sweep also works with `HSM_NOW` frozen. Per sender, messages
are handed over oldest first, one after the other (the next once `handle` returned for the previous), and never
past an earlier message that is still being processed elsewhere: the conversation's order is kept (and the channel
itself holds a sender's later message back until the earlier one is finished, `MessageProcessing`). A stored
message that cannot be parsed again is marked failed, so that it holds nobody's later messages back.

Wiring (in the processing runtime, `hsm.whatsapp.runtime`): `start_sweeper(handle, role_of=...,
tracker_store=...)` after the server started, `await stop_sweeper(task)` before it stops; `handle(message)` is the
channel's own per-sender, claiming path. `HSM_SWEEP_INTERVAL_S` (30; 0 turns the sweep off),
`HSM_SWEEP_RECEIVED_AFTER_S` (30) and `HSM_SWEEP_STALE_AFTER_S` (30) tune it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from hsm.infra import clock, correlation
from hsm.infra import models as m
from hsm.infra.config import Sweep, get_settings
from hsm.infra.db import session_scope
from hsm.infra.logmask import wamid_ref
from hsm.infra.phone import mask_phone
from hsm.whatsapp import claims, store
from hsm.whatsapp.payloads import InboundMessage, parse_webhook

log = logging.getLogger("hsm.whatsapp.sweeper")


Handle = Callable[[InboundMessage], Awaitable[Any]]


# The sweep's timings: the settings section itself (HSM_SWEEP_INTERVAL_S, HSM_SWEEP_RECEIVED_AFTER_S,
# HSM_SWEEP_STALE_AFTER_S); tests build their own.
SweepSettings = Sweep


def sweep_settings() -> SweepSettings:
    """The sweep's timings as configured now (hsm.infra.config)."""
    return get_settings().sweep


@dataclass(frozen=True)
class Pending:
    """One unfinished inbound row as the sweep saw it."""

    id: int
    wamid: str
    phone: str
    status: str
    updated_at: datetime
    metadata: dict
    heartbeat_at: float | None

    def holder_silent(self, stale_after_s: float, db_now: float) -> bool:
        """Whether the replica processing this row died: no heartbeat for `stale_after_s` by the database's clock
        (`db_now`), or, claimed by a version without heartbeats, no change for `claims.LEGACY_STALE` (as
        `claims.claim` judges it)."""
        if self.heartbeat_at is None:
            return self.updated_at is not None and clock.as_utc(self.updated_at) < claims.legacy_before()
        return db_now - self.heartbeat_at >= stale_after_s


@dataclass
class SweepState:
    """What earlier sweeps saw: the status of each unfinished message and since when (monotonic)."""

    seen: dict[str, tuple[str, float]] = field(default_factory=dict)
    handed: set[str] = field(default_factory=set)  # handed over, still queued in this process
    tasks: set[asyncio.Task] = field(default_factory=set)

    def age(self, row: Pending, now: float) -> float:
        """Seconds this row has been seen with the same status (0 the first time). Only a `received` row's age
        matters: a `processing` one is judged by its holder's heartbeat (`Pending.holder_silent`)."""
        earlier = self.seen.get(row.wamid)
        if earlier is None or earlier[0] != row.status:
            self.seen[row.wamid] = (row.status, now)
            return 0.0
        return now - earlier[1]


# ------------------------------------------------------------------------------------------------ database


def unfinished_inbound(lookback: timedelta | None = store.LOOKBACK) -> list[Pending]:
    """Inbound messages received or processing, from the last `lookback` (None: all), oldest first."""
    query = (
        select(
            m.WhatsAppMessage.id,
            m.WhatsAppMessage.whatsapp_message_id,
            m.WhatsAppMessage.phone_number,
            m.WhatsAppMessage.status,
            m.WhatsAppMessage.updated_at,
            m.WhatsAppMessage.message_metadata,
            m.WhatsAppMessage.heartbeat_at,
        )
        .where(
            m.WhatsAppMessage.direction == "inbound", m.WhatsAppMessage.status.in_((store.RECEIVED, store.PROCESSING))
        )
        .order_by(m.WhatsAppMessage.created_at, m.WhatsAppMessage.id)
    )
    if lookback is not None:
        query = query.where(m.WhatsAppMessage.created_at >= clock.utcnow() - lookback)
    with session_scope() as session:
        rows = session.execute(query).all()
    return [Pending(*row) for row in rows if row[1]]


def inbound_message(row: Pending) -> InboundMessage | None:
    """The stored message as the channel parsed it when it arrived."""
    meta = row.metadata or {}
    raw = meta.get("raw") or {}
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"phone_number_id": meta.get("phone_number_id")},
        "messages": [raw],
    }
    if meta.get("profile_name"):
        value["contacts"] = [{"profile": {"name": meta["profile_name"]}, "wa_id": raw.get("from")}]
    body = {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": value}]}]}
    try:
        messages = parse_webhook(body).messages
    except Exception:  # noqa: BLE001 - one unreadable row must not stop the sweep
        log.exception("stored message %s cannot be parsed again", wamid_ref(row.wamid))
        return None
    if not messages:
        return None
    stored_id = meta.get(correlation.METADATA_KEY)  # the id it was accepted with (none for rows stored before ids)
    return dataclasses.replace(messages[0], correlation_id=stored_id) if stored_id else messages[0]


async def _mark_processed_if_rasa_has_it(tracker_store: Any, row: Pending, role_of: store.RoleLookup) -> bool:
    """True, and the message marked processed, when Rasa saved its turn (the replica died after that, before
    recording it)."""
    if tracker_store is None:
        return False
    tracker = await tracker_store.retrieve_full_tracker(row.phone)
    if tracker is None or not any(
        getattr(event, "message_id", None) == row.wamid
        for event in tracker.events
        if getattr(event, "type_name", None) == "user"
    ):
        return False
    await asyncio.to_thread(functools.partial(store.complete, row.wamid, row.phone, store.PROCESSED, role_of=role_of))
    log.warning(
        "message %s from %s was answered by a run or replica that died before recording it",
        wamid_ref(row.wamid),
        mask_phone(row.phone),
    )
    return True


# ------------------------------------------------------------------------------------------------ on start


async def replay_after_restart(
    dispatch: Callable[[InboundMessage], None], *, role_of: store.RoleLookup, tracker_store: Any = None
) -> list[str]:
    """On start, hand `dispatch` what was acknowledged and never finished, oldest first: every `received` message,
    and every `processing` one whose holder has been silent for HSM_SWEEP_STALE_AFTER_S (its run died) - unless
    Rasa's tracker already has it (the run died after Rasa saved the turn, before marking it processed): that one
    is only marked processed, so nobody gets the same answer twice. A sender with a message still in a live
    replica's hands is left to the sweep, which keeps their order. Returns the wamids handed over."""
    tracker_store = _resolve(tracker_store)
    rows = await asyncio.to_thread(unfinished_inbound, None)
    stale_after_s, db_now = sweep_settings().stale_after_s, await asyncio.to_thread(claims.db_now)
    handed: list[str] = []
    blocked: set[str] = set()
    for row in rows:
        if row.phone in blocked:
            continue
        if row.status == store.PROCESSING:
            if not row.holder_silent(stale_after_s, db_now):
                blocked.add(row.phone)
                continue
            if await _mark_processed_if_rasa_has_it(tracker_store, row, role_of):
                continue
        message = inbound_message(row)
        if message is None:
            await asyncio.to_thread(_give_up_on, row, role_of)
            continue
        dispatch(message)
        handed.append(row.wamid)
    return handed


def _give_up_on(row: Pending, role_of: store.RoleLookup) -> None:
    """A stored message that cannot be parsed again (`inbound_message` logged why): failed, for good."""
    store.complete(row.wamid, row.phone, store.FAILED, error="stored message cannot be parsed again", role_of=role_of)


def _resolve(tracker_store: Any) -> Any:
    """A tracker store given as itself or as a callable returning it (None when there is none yet)."""
    if callable(tracker_store) and not hasattr(tracker_store, "retrieve_full_tracker"):
        return tracker_store()
    return tracker_store


# ------------------------------------------------------------------------------------------------ the sweep


async def sweep_unprocessed(
    handle: Handle,
    state: SweepState,
    settings: SweepSettings | None = None,
    *,
    role_of: store.RoleLookup,
    tracker_store: Any = None,
) -> list[str]:
    """One sweep: hand orphaned messages to `handle` (one task per sender, in order). Returns the
    wamids handed over. `tracker_store` (or a callable returning it) lets an interrupted message that Rasa did
    finish be marked processed instead of being processed twice."""
    settings = settings or sweep_settings()
    tracker_store = _resolve(tracker_store)
    rows = await asyncio.to_thread(unfinished_inbound)
    db_now = await asyncio.to_thread(claims.db_now)
    now = time.monotonic()
    current = {row.wamid for row in rows}
    state.seen = {wamid: seen for wamid, seen in state.seen.items() if wamid in current}

    handed: list[str] = []
    by_sender: dict[str, list[InboundMessage]] = {}
    blocked: set[str] = set()  # senders with an earlier message still legitimately in someone's hands
    for row in rows:
        age = state.age(row, now)
        if row.phone in blocked:
            continue
        if row.wamid in state.handed:  # queued here already, waiting for its turn
            continue
        if row.status == store.PROCESSING:
            if not row.holder_silent(settings.stale_after_s, db_now):
                blocked.add(row.phone)
                continue
            if await _mark_processed_if_rasa_has_it(tracker_store, row, role_of):
                continue
        elif age < settings.received_after_s:
            blocked.add(row.phone)
            continue
        message = inbound_message(row)
        if message is None:
            await asyncio.to_thread(_give_up_on, row, role_of)
            continue
        log.warning(
            "taking over %s message %s from %s (left by another replica or an earlier run)",
            row.status,
            wamid_ref(row.wamid),
            mask_phone(row.phone),
        )
        state.handed.add(row.wamid)
        by_sender.setdefault(row.phone, []).append(message)
        handed.append(row.wamid)
    for messages in by_sender.values():  # one task per sender: its messages one after the other, oldest first
        task = asyncio.ensure_future(_run_in_order(handle, messages, state))
        state.tasks.add(task)
        task.add_done_callback(state.tasks.discard)
    return handed


async def _run_in_order(handle: Handle, messages: list[InboundMessage], state: SweepState) -> None:
    for message in messages:
        try:
            await handle(message)
        except Exception:  # noqa: BLE001 - the channel logs and records its own failures; keep sweeping
            log.exception("handling swept message %s failed", wamid_ref(message.wamid))
        finally:
            state.handed.discard(message.wamid)


async def run_sweeper(
    handle: Handle,
    settings: SweepSettings | None = None,
    *,
    role_of: store.RoleLookup,
    tracker_store: Any = None,
    state: SweepState | None = None,
) -> None:
    """Sweep every `settings.interval_s` until cancelled. A failed sweep (database down) is logged and retried."""
    settings = settings or sweep_settings()
    state = state or SweepState()
    while True:
        await asyncio.sleep(settings.interval_s)
        try:
            await sweep_unprocessed(handle, state, settings, role_of=role_of, tracker_store=tracker_store)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001
            log.exception("sweep for unprocessed WhatsApp messages failed; retrying in %.0f s", settings.interval_s)


def start_sweeper(
    handle: Handle, settings: SweepSettings | None = None, *, role_of: store.RoleLookup, tracker_store: Any = None
) -> asyncio.Task[None] | None:
    """Start the periodic sweep on the running loop; None when HSM_SWEEP_INTERVAL_S=0 turns it off."""
    settings = settings or sweep_settings()
    if settings.interval_s <= 0:
        return None
    log.info("sweeping for orphaned inbound messages every %.0f s", settings.interval_s)
    return asyncio.ensure_future(run_sweeper(handle, settings, role_of=role_of, tracker_store=tracker_store))


async def stop_sweeper(task: asyncio.Task[None] | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
