"""The sender that delivers a broadcast at Meta's pace: token bucket, per-recipient claims, crash reconciliation.

Content. Free-form `text` goes to recipients inside the 24-hour service window (with a 5-minute margin); everyone
else gets the approved `template_name` with `template_params` (a parameter `{name}` becomes the recipient's first
name). A broadcast with only text skips recipients outside the window; one with only a template always uses it.

Exactly once, as far as WhatsApp allows. Meta's /messages has no idempotency key, so "exactly once" rests on
what we record, in this order, per recipient:

1. claim: `UPDATE broadcast_recipients SET attempts = attempts + 1 WHERE id = ? AND status = 'pending' AND
   attempts = 0` (committed). Only the worker whose UPDATE changed the row may send it, so two workers, or a
   restarted one, never send the same recipient. The claim is taken right before the request (after the rate
   limiter), so few recipients are ever claimed-but-unsent. A claimed row (pending, attempts > 0) is "in flight".
2. send: one `POST /messages` (the client retries 429/5xx/timeouts itself). The message carries
   `biz_opaque_callback_data = "hsm:broadcast:<id>:recipient:<id>"`, and the client records every send in
   `whatsapp_messages` (the payload, with that tag, plus Meta's wamid or the error) right after Meta answers.
3. finish: the recipient becomes `sent` with the wamid, or `failed` with the error.

A graceful stop (the run's task cancelled: SIGTERM to a job process, `hsm api` shutting down, or a fatal error in
another send) claims nothing new and lets the sends already in flight finish and record their outcome, so a
stop-and-restart misses nobody and repeats nobody.
After a hard crash a recipient may be left in flight. A run first reconciles those (`reconcile_in_flight`): the
`whatsapp_messages` row carrying its tag tells what happened (accepted: `sent` with that wamid; refused:
`failed`). With no such row, the crash fell between the claim and the client's record, and whether Meta
accepted the message cannot be known: the recipient is marked `failed` with "unknown outcome ..." for manual
review (`needs_review` in the progress) and is NOT resent. This chooses at-most-once over at-least-once for the
sends in flight at the moment of a hard crash (at most `concurrency`, about rate x Meta's latency: a few dozen at
80/s). A residual risk stays with the client: a request that times out after Meta accepted it is retried by the
client and may arrive twice (Meta offers no way to tell). Two runs of one broadcast at once (a job queued twice)
are safe: claims keep them apart; the second's reconciliation may briefly mark the first's in-flight recipients
"unknown outcome", which the first overwrites with the real outcome when its send returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hsm.infra import clock, metrics
from hsm.infra import models as m
from hsm.infra.config import DEFAULT_BROADCAST_RATE_PER_S
from hsm.infra.db import session_scope
from hsm.infra.phone import mask_phone
from hsm.outreach.broadcast.audience import OPTED_OUT, first_name, opted_out_phones
from hsm.outreach.broadcast.errors import BroadcastError
from hsm.outreach.broadcast.progress import _recipient_status, broadcast_progress
from hsm.whatsapp.client import CloudApiError, WhatsAppClient

log = logging.getLogger("hsm.outreach.broadcast")

DEFAULT_RATE_PER_S = DEFAULT_BROADCAST_RATE_PER_S  # Meta's default Cloud API throughput per business phone number
CHUNK_SIZE = 200
SERVICE_WINDOW = timedelta(hours=24)
WINDOW_MARGIN = timedelta(minutes=5)  # a window closing within this is treated as closed
NO_WINDOW = "outside the 24-hour window and no approved template"
UNKNOWN_OUTCOME = "unknown outcome: the worker stopped between claiming and recording this send; not resent"
NAME_PLACEHOLDER = "{name}"


class TokenBucket:
    """At most `rate` acquisitions per second on average, with bursts of up to `burst`."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = max(1.0, burst if burst is not None else rate / 10)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


@dataclass(frozen=True)
class _Content:
    text: str | None
    template_name: str | None
    language: str
    params: tuple[str, ...]


@dataclass(frozen=True)
class _Item:
    id: int
    phone: str
    name: str | None
    mode: str  # "text" | "template"


def callback_tag(broadcast_id: int, recipient_id: int) -> str:
    """What a broadcast message carries in `biz_opaque_callback_data` (and so in its `whatsapp_messages` row)."""
    return f"hsm:broadcast:{broadcast_id}:recipient:{recipient_id}"


def _message_tag(row: m.WhatsAppMessage) -> str | None:
    payload = (row.message_metadata or {}).get("payload") or {}
    return payload.get("biz_opaque_callback_data") if isinstance(payload, dict) else None


def _start_run(broadcast_id: int) -> _Content | None:
    """Mark the broadcast running; None when it is finished or cancelled (nothing to do)."""
    with session_scope() as session:
        broadcast = session.get(m.Broadcast, broadcast_id)
        if broadcast is None:
            raise BroadcastError("broadcast_id", f"no broadcast {broadcast_id}", "not_found")
        if broadcast.status in ("done", "cancelled"):
            return None
        broadcast.status = "running"
        broadcast.started_at = broadcast.started_at or clock.utcnow()
        template = None
        if broadcast.template_name:
            template = (
                session.execute(
                    select(m.WhatsAppTemplate).where(
                        m.WhatsAppTemplate.template_name == broadcast.template_name,
                        m.WhatsAppTemplate.status == "approved",
                    )
                )
                .scalars()
                .first()
            )
            if template is None:
                log.error(
                    "broadcast %d: template %s is no longer approved; only in-window recipients get the text",
                    broadcast_id,
                    broadcast.template_name,
                )
        return _Content(
            broadcast.text,
            template.template_name if template else None,
            template.language if template else "en",
            tuple(broadcast.template_params or ()),
        )


def reconcile_in_flight(broadcast_id: int) -> Counter:
    """Settle recipients a crashed worker left claimed: by the `whatsapp_messages` row carrying their tag, else
    `failed` with an unknown outcome (never resent). Returns how many became each status."""
    outcome: Counter = Counter()
    with session_scope() as session:
        rows = (
            session.execute(
                select(m.BroadcastRecipient)
                .where(
                    m.BroadcastRecipient.broadcast_id == broadcast_id,
                    m.BroadcastRecipient.status == "pending",
                    m.BroadcastRecipient.attempts > 0,
                )
                .order_by(m.BroadcastRecipient.id)
            )
            .scalars()
            .all()
        )
        for recipient in rows:
            tag = callback_tag(broadcast_id, recipient.id)
            claimed_at = clock.as_utc(recipient.updated_at) - timedelta(minutes=1)
            records = [
                row
                for row in session.execute(
                    select(m.WhatsAppMessage)
                    .where(
                        m.WhatsAppMessage.phone_number == recipient.phone_number,
                        m.WhatsAppMessage.direction == "outbound",
                        m.WhatsAppMessage.created_at >= claimed_at,
                    )
                    .order_by(m.WhatsAppMessage.id)
                ).scalars()
                if _message_tag(row) == tag
            ]
            accepted = [row for row in records if row.whatsapp_message_id]
            if accepted:
                recipient.status = _recipient_status(accepted[0].status)
                recipient.whatsapp_message_id = accepted[0].whatsapp_message_id
                recipient.error_message = None
            elif records:
                recipient.status = "failed"
                recipient.error_message = (records[-1].error_message or "send failed")[:1000]
            else:
                recipient.status, recipient.error_message = "failed", UNKNOWN_OUTCOME
            recipient.updated_at = clock.utcnow()
            outcome[recipient.status] += 1
            log.warning(
                "broadcast %d: recipient %s was left in flight; now %s%s",
                broadcast_id,
                mask_phone(recipient.phone_number),
                recipient.status,
                " (needs review)" if recipient.error_message == UNKNOWN_OUTCOME else "",
            )
    return outcome


def phones_in_window(session: Session, phones: Sequence[str], now: datetime) -> set[str]:
    """The numbers whose last inbound message keeps the 24-hour window open at `now` (less WINDOW_MARGIN)."""
    open_since = now - SERVICE_WINDOW + WINDOW_MARGIN
    rows = session.execute(
        select(m.WhatsAppMessage.phone_number, func.max(m.WhatsAppMessage.created_at))
        .where(m.WhatsAppMessage.direction == "inbound", m.WhatsAppMessage.phone_number.in_(list(phones)))
        .group_by(m.WhatsAppMessage.phone_number)
    )
    return {phone for phone, last in rows if last is not None and clock.as_utc(last) >= open_since}


def _next_chunk(broadcast_id: int, after_id: int, size: int, content: _Content) -> tuple[list[_Item], int | None]:
    """The next unclaimed recipients after `after_id`, each with how it will be reached; those that cannot be
    (opted out since, or outside the window with no template) are marked skipped here. (items, last id seen)."""
    with session_scope() as session:
        rows = session.execute(
            select(m.BroadcastRecipient.id, m.BroadcastRecipient.phone_number, m.BroadcastRecipient.name)
            .where(
                m.BroadcastRecipient.broadcast_id == broadcast_id,
                m.BroadcastRecipient.status == "pending",
                m.BroadcastRecipient.attempts == 0,
                m.BroadcastRecipient.id > after_id,
            )
            .order_by(m.BroadcastRecipient.id)
            .limit(size)
        ).all()
        if not rows:
            return [], None
        phones = [row.phone_number for row in rows]
        opted_out = opted_out_phones(session, phones, "announcements")
        in_window = phones_in_window(session, phones, clock.utcnow()) if content.text else set()
        items: list[_Item] = []
        for row in rows:
            reason = None
            if row.phone_number in opted_out:
                reason = OPTED_OUT
            elif content.text and row.phone_number in in_window:
                items.append(_Item(row.id, row.phone_number, row.name, "text"))
            elif content.template_name:
                items.append(_Item(row.id, row.phone_number, row.name, "template"))
            else:
                reason = NO_WINDOW
            if reason:
                session.execute(
                    update(m.BroadcastRecipient)
                    .where(
                        m.BroadcastRecipient.id == row.id,
                        m.BroadcastRecipient.status == "pending",
                        m.BroadcastRecipient.attempts == 0,
                    )
                    .values(status="skipped", error_message=reason, updated_at=clock.utcnow())
                    .execution_options(synchronize_session=False)
                )
        return items, rows[-1].id


def _claim(recipient_id: int) -> bool:
    """Step 1 of the protocol: only the worker whose update changes the row may send to it."""
    with session_scope() as session:
        result = session.execute(
            update(m.BroadcastRecipient)
            .where(
                m.BroadcastRecipient.id == recipient_id,
                m.BroadcastRecipient.status == "pending",
                m.BroadcastRecipient.attempts == 0,
            )
            .values(attempts=m.BroadcastRecipient.attempts + 1, updated_at=clock.utcnow())
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def _record(recipient_id: int, status: str, wamid: str | None, error: str | None) -> None:
    """Step 3: the outcome (by id alone, so it also corrects a concurrent reconciliation's guess)."""
    with session_scope() as session:
        session.execute(
            update(m.BroadcastRecipient)
            .where(m.BroadcastRecipient.id == recipient_id)
            .values(status=status, whatsapp_message_id=wamid, error_message=error, updated_at=clock.utcnow())
            .execution_options(synchronize_session=False)
        )


def _finish_run(broadcast_id: int) -> dict:
    with session_scope() as session:
        left = session.execute(
            select(func.count())
            .select_from(m.BroadcastRecipient)
            .where(m.BroadcastRecipient.broadcast_id == broadcast_id, m.BroadcastRecipient.status == "pending")
        ).scalar_one()
        broadcast = session.get(m.Broadcast, broadcast_id)
        if left == 0 and broadcast.status == "running":
            broadcast.status = "done"
            broadcast.finished_at = clock.utcnow()
        return broadcast_progress(session, broadcast_id)


class _Sender:
    """One run over a broadcast's unclaimed recipients: rate-limited, bounded, stoppable without loss."""

    def __init__(
        self,
        broadcast_id: int,
        client: WhatsAppClient,
        content: _Content,
        rate_per_s: float,
        concurrency: int,
        chunk_size: int,
    ) -> None:
        self.broadcast_id = broadcast_id
        self.client = client
        self.content = content
        self.bucket = TokenBucket(rate_per_s)
        self.slots = asyncio.Semaphore(concurrency)
        self.chunk_size = chunk_size
        self.in_flight: set[asyncio.Task] = set()
        self.fatal: BaseException | None = None
        self.outcomes: Counter = Counter()

    def message(self, item: _Item) -> dict:
        tag = callback_tag(self.broadcast_id, item.id)
        if item.mode == "text":
            return {
                "type": "text",
                "text": {"body": self.content.text, "preview_url": False},
                "biz_opaque_callback_data": tag,
            }
        params = [p.replace(NAME_PLACEHOLDER, first_name(item.name)) for p in self.content.params]
        components = [{"type": "body", "parameters": [{"type": "text", "text": p} for p in params]}] if params else []
        return {
            "type": "template",
            "template": {
                "name": self.content.template_name,
                "language": {"code": self.content.language},
                "components": components,
            },
            "biz_opaque_callback_data": tag,
        }

    async def deliver(self, item: _Item) -> None:
        if not await asyncio.to_thread(_claim, item.id):
            self.outcomes["claimed_elsewhere"] += 1
            return
        try:
            # replying=True: the window was checked when the chunk was prepared (templates need none).
            result = await self.client.send(item.phone, self.message(item), replying=True)
        except CloudApiError as error:
            detail = f"{error} (HTTP {error.status}, code {error.code})" if error.status else str(error)
            await asyncio.to_thread(_record, item.id, "failed", None, detail[:1000])
            self.outcomes["failed"] += 1
            metrics.BROADCAST_SENDS.labels("failed").inc()
            return
        await asyncio.to_thread(_record, item.id, "sent", result.wamid or None, None)
        self.outcomes["sent"] += 1
        metrics.BROADCAST_SENDS.labels("sent").inc()

    def _done(self, task: asyncio.Task) -> None:
        self.in_flight.discard(task)
        self.slots.release()
        if not task.cancelled() and task.exception() is not None and self.fatal is None:
            self.fatal = task.exception()
            log.error("broadcast %d: stopping after an unexpected error: %r", self.broadcast_id, self.fatal)

    async def run(self) -> None:
        after_id = 0
        fetch = asyncio.create_task(
            asyncio.to_thread(_next_chunk, self.broadcast_id, after_id, self.chunk_size, self.content)
        )
        try:
            while self.fatal is None:
                items, last_id = await fetch
                if last_id is None:
                    break
                fetch = asyncio.create_task(
                    asyncio.to_thread(_next_chunk, self.broadcast_id, last_id, self.chunk_size, self.content)
                )
                for item in items:
                    await self.slots.acquire()
                    if self.fatal is not None:
                        self.slots.release()
                        break
                    await self.bucket.acquire()
                    task = asyncio.create_task(self.deliver(item))
                    self.in_flight.add(task)
                    task.add_done_callback(self._done)
        finally:
            if not fetch.done():
                fetch.cancel()
            with contextlib.suppress(BaseException):
                await fetch
            # A graceful stop: the sends already started finish and record their outcome, even if the stop (a
            # cancellation) arrives while we wait for them; the cancellation is passed on afterwards.
            cancelled = False
            while self.in_flight:
                try:
                    await asyncio.shield(asyncio.gather(*self.in_flight, return_exceptions=True))
                except asyncio.CancelledError:
                    cancelled = True
            if cancelled:
                raise asyncio.CancelledError
        if self.fatal is not None:
            raise self.fatal


async def run_broadcast(
    broadcast_id: int,
    client: WhatsAppClient,
    rate_per_s: float = DEFAULT_RATE_PER_S,
    *,
    concurrency: int | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> dict:
    """Send a broadcast to its unclaimed recipients (resuming one that was interrupted) and return its progress.

    Sends at most `rate_per_s` messages a second (token bucket), `concurrency` at a time (default: the rate, 4 to
    100). Cancelling it stops claiming, waits for the sends in flight, then raises CancelledError: a later run
    carries on where it stopped."""
    if rate_per_s <= 0:
        raise ValueError("rate_per_s must be positive")
    content = await asyncio.to_thread(_start_run, broadcast_id)
    if content is None:
        return await asyncio.to_thread(_progress, broadcast_id)
    settled = await asyncio.to_thread(reconcile_in_flight, broadcast_id)
    if settled:
        log.warning("broadcast %d: settled recipients left in flight: %s", broadcast_id, dict(settled))
    concurrency = concurrency or max(4, min(100, int(rate_per_s)))
    sender = _Sender(broadcast_id, client, content, rate_per_s, concurrency, chunk_size)
    started = time.monotonic()
    log.info("broadcast %d: sending at up to %.0f/s, %d at a time", broadcast_id, rate_per_s, concurrency)
    await sender.run()
    progress = await asyncio.to_thread(_finish_run, broadcast_id)
    log.info(
        "broadcast %d: run finished in %.1fs: %s; totals sent %d, failed %d, skipped %d, queued %d",
        broadcast_id,
        time.monotonic() - started,
        dict(sender.outcomes),
        progress["sent"],
        progress["failed"],
        progress["skipped"],
        progress["queued"],
    )
    return progress


def _progress(broadcast_id: int) -> dict:
    with session_scope() as session:
        return broadcast_progress(session, broadcast_id)
