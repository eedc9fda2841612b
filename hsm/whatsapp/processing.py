"""Everything after Meta's 200 for one stored inbound message: wait for the sender's earlier messages (wherever they
are being answered), wait for room under the global rate limit (refused only over the sender's own limit), claim it
(a lease kept alive by hsm.whatsapp.heartbeat), mark it read, run the dialogue's turn (unless a staff member has
taken the number over), send the replies while the lease is still ours, complete it; one sender's messages one
after the other, in the order they arrived.

The dialogue engine (Rasa) is not named here: the connector gives a `Dialogue`, which runs one turn and sends its
replies through the `ReplySender` it is handed. The same processing runs on the in-process runtime's loop thread
or in a worker process (`hsm.whatsapp.runtime`).

The database statements (claim, record a send, complete) run right on the processing loop, as Rasa's own tracker
store does: each is a fraction of a millisecond, less than handing it to a thread and back.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol, TypeVar

from hsm.infra import correlation, metrics
from hsm.infra.config import get_settings
from hsm.infra.logmask import wamid_ref
from hsm.infra.phone import mask_phone
from hsm.infra.ratelimit import NOTICE_TEXT, Decision, GlobalLimitQueue, RateLimiter, rate_limiter_from_env
from hsm.whatsapp import claims, heartbeat, render, store, voice_notes
from hsm.whatsapp.client import CloudApiError, WhatsAppClient
from hsm.whatsapp.payloads import InboundMessage

log = logging.getLogger(__name__)

# What we answer to messages the bot cannot read. Reactions, deletions and edits get no answer at all.
UNUSABLE_REPLIES = {
    "audio": "I can't listen to voice notes yet 🙏 Please type your message instead.",  # HSM_VOICE off
    "location": "Thanks for the location! I can only read text, so please type your question.",
    "contacts": "Thanks! I can't use shared contacts; please type your question.",
    "unsupported": "Sorry, I couldn't read that message. Please send it as text.",
}
MEDIA_REPLY = "I can only read text messages for now 🙏 Please type your question, e.g. 'next class' or 'help'."
SILENT_TYPES = {"reaction", "revoke", "edit", "system", "ephemeral"}
FAILURE_REPLY = "Sorry, something went wrong on our side. Please try again in a minute."
EARLIER_POLL_S = 0.25  # how often a message waiting for the sender's earlier one looks again (one indexed query)
EARLIER_SLACK_S = 10.0  # beyond the sweep's own timings, how long an earlier message may take to be taken up
T = TypeVar("T")


def unusable_reply(message: InboundMessage) -> str | None:
    """A short answer for a message without text the bot can act on; None when silence is right."""
    if message.type in SILENT_TYPES:
        return None
    return UNUSABLE_REPLIES.get(message.type, MEDIA_REPLY)


class RasaTurnPermit:
    """A permit to run one turn inside the dialogue engine: `turns_at_once` permits per processing loop
    (`HSM_WHATSAPP_CONCURRENCY`), enough to overlap one message's action-server call with another's models.
    `released_while_sending()` gives the permit up for an await that only waits for Meta (a Graph API call, a few
    hundred milliseconds over the internet), so another message's models run meanwhile, and takes it back after."""

    def __init__(self, turns_at_once: asyncio.Semaphore) -> None:
        self._turns_at_once = turns_at_once
        self._held = False

    async def __aenter__(self) -> RasaTurnPermit:
        await self._turns_at_once.acquire()
        self._held = True
        return self

    async def __aexit__(self, *_: object) -> None:
        self._give_back()

    def _give_back(self) -> None:
        if self._held:
            self._held = False
            self._turns_at_once.release()

    @contextlib.asynccontextmanager
    async def released_while_sending(self) -> AsyncIterator[None]:
        if not self._held:  # outside `async with` (a reply sent after the turn): nothing to give up
            yield
            return
        self._give_back()
        try:
            yield
        finally:
            await self._turns_at_once.acquire()  # if this is cancelled, the permit is not held, not given back twice
            self._held = True


class ReplySender:
    """Sends one turn's replies (already fitted to Meta's limits by `hsm.whatsapp.render`) and remembers the
    options offered in it; while Meta answers each send, the turn's permit is given up."""

    def __init__(
        self,
        client: WhatsAppClient,
        permit: RasaTurnPermit | None = None,
        already_sent: int = 0,
        still_ours: Callable[[], bool] | None = None,
    ) -> None:
        self.client = client
        self.permit = permit
        self.offered: list[render.Option] | None = None  # None: this turn offered no choice
        self.already_sent = already_sent  # the first replies of a turn an interrupted run sent: not sent again
        self.preface: str | None = None  # a line the turn's first reply starts with ("🎤 I heard: ...")
        self.still_ours = still_ours  # asked before each send: False once another replica took the message over
        self.taken_over = False

    async def send(self, recipient: str, rendered: render.Rendered) -> None:
        if rendered.options:
            self.offered = rendered.options
        messages = rendered.messages
        if self.preface and messages:
            messages, self.preface = voice_notes.prefaced(messages, self.preface), None
        for message in messages:
            if self.taken_over or (self.still_ours is not None and not self.still_ours()):
                if not self.taken_over:
                    log.warning("another replica took this message over: no more replies to %s", mask_phone(recipient))
                self.taken_over = True
                return
            if self.already_sent:
                self.already_sent -= 1
                log.info(
                    "not sending a %s reply again to %s: sent before the run was cut",
                    message.get("type"),
                    mask_phone(recipient),
                )
                continue
            try:
                async with self.permit.released_while_sending() if self.permit else contextlib.nullcontext():
                    await self.client.send(recipient, message, replying=True)
            except CloudApiError:
                pass  # logged and recorded as failed by the client; the rest of the turn still goes out

    async def send_text(self, recipient: str, text: str) -> None:
        await self.send(recipient, render.Rendered(render.text_messages(text)))


class Dialogue(Protocol):
    """The dialogue engine as processing sees it."""

    async def run_turn(self, message: InboundMessage, text: str, replies: ReplySender) -> None:
        """One turn of `message`'s conversation on `text` (its text or button payload), every reply sent through
        `replies`."""

    async def last_intent(self, sender: str) -> str | None:
        """The intent the engine recognised in `sender`'s latest turn, if it knows."""


class InOrderPerSender:
    """Runs each sender's work one piece at a time, in the order it was given (one FIFO lock per sender, dropped
    when nobody waits on it)."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    async def run(self, sender: str, work: Callable[[], Awaitable[T]]) -> T:
        lock, users = self._locks.get(sender, (asyncio.Lock(), 0))
        self._locks[sender] = (lock, users + 1)
        try:
            async with lock:
                return await work()
        finally:
            lock, users = self._locks[sender]
            if users <= 1:
                del self._locks[sender]
            else:
                self._locks[sender] = (lock, users - 1)


class MessageProcessing:
    """Claim, rate-limit, answer and complete stored inbound messages, for one process (`handle(message)`)."""

    def __init__(
        self,
        client: WhatsAppClient,
        dialogue: Dialogue,
        *,
        role_of: store.RoleLookup,
        turns_at_once: int,
        rate_limiter: RateLimiter | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        transcribe: voice_notes.Transcriber | None = None,
    ) -> None:
        self.client = client
        self.dialogue = dialogue
        self.transcribe = transcribe  # None: voice notes get the fixed "please type" reply
        self.role_of = role_of
        self.turns_at_once = turns_at_once
        self._in_order = InOrderPerSender()
        self._tasks: set[asyncio.Task[object]] = set()
        self._turn_permits: asyncio.Semaphore | None = None  # created on the processing loop
        self._rate_limiter = rate_limiter or rate_limiter_from_env()
        self._global_queue = GlobalLimitQueue(self._rate_limiter, sleep=sleep)
        self._in_hand: set[str] = set()  # wamids handled here now (a sweep may hand over one still waiting its turn)
        self._heartbeat = heartbeat.Heartbeat.for_stale_after(get_settings().sweep.stale_after_s)
        self._passed_by: set[str] = set()  # earlier messages nobody took up, not waited for again (_after_earlier_ones)

    def _spawn(self, work: Awaitable[object]) -> None:
        """A background task on the processing loop (the caller's)."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def handle(self, message: InboundMessage) -> None:
        """Claim, answer and complete one stored inbound message (after any earlier one from the same sender)."""
        if message.wamid in self._in_hand:  # already here, perhaps still waiting for room: one answer, one place
            return
        self._in_hand.add(message.wamid)
        started = time.perf_counter()
        try:
            with correlation.bound(message.correlation_id):  # on every line logged for it, here and in Rasa
                while not await self._in_order.run(message.phone, lambda: self._process(message)):
                    pass  # an earlier message of the sender was handed here meanwhile: after it, in the queue
        finally:
            self._in_hand.discard(message.wamid)
            metrics.REPLY_LATENCY.observe(time.perf_counter() - started)

    def _complete(
        self,
        message: InboundMessage,
        holder: str,
        status: str,
        last_intent: str | None = None,
        options: list[str] | None = None,
        error: str | None = None,
        transcript: str | None = None,
    ) -> None:
        """Finish `message`, unless another replica took it over meanwhile (then it is theirs to finish)."""
        finished = store.complete(
            message.wamid,
            message.phone,
            status,
            last_intent,
            options,
            error,
            role_of=self.role_of,
            transcript=transcript,
            holder=holder,
        )
        if finished:
            metrics.MESSAGES_IN.labels(message.type, status).inc()
        else:
            log.warning("%s was taken over by another replica before it was finished here", wamid_ref(message.wamid))

    async def _after_earlier_ones(self, message: InboundMessage) -> bool:
        """Wait while an earlier message of the sender is unfinished and someone will finish it: a replica still
        answering it (its heartbeat is fresh), or the sweep about to take it over (hsm.whatsapp.sweeper: a dead
        holder's, or one still `received`). False when one of them is queued here now (the sweep handed it to this
        process): `message` then goes back into the queue, behind it. An earlier message nobody has taken up in the
        longest the sweep can take (the sweep off, a row it cannot read) is passed by, and not waited for again."""
        sweep = get_settings().sweep
        patience = {
            store.RECEIVED: sweep.received_after_s + 2 * sweep.interval_s + EARLIER_SLACK_S,
            store.PROCESSING: sweep.stale_after_s + 2 * sweep.interval_s + EARLIER_SLACK_S,
        }
        first_seen: dict[str, float] = {}
        while earlier := [e for e in claims.earlier_unfinished(message) if e.wamid not in self._passed_by]:
            if self._in_hand.intersection(e.wamid for e in earlier):
                return False
            now = time.monotonic()
            stuck = []
            for row in earlier:
                waited = now - first_seen.setdefault(row.wamid, now)
                if row.silent_s is not None:  # being processed: alive, or dead and about to be taken over
                    silent = row.silent_s >= patience[store.PROCESSING]
                else:  # received (or claimed without a heartbeat): the sweep hands it over in time
                    silent = waited >= patience[store.RECEIVED]
                if silent:
                    stuck.append(row.wamid)
            if len(stuck) == len(earlier):
                log.warning(
                    "%s goes ahead of %d earlier message(s) nobody is processing", wamid_ref(message.wamid), len(stuck)
                )
                self._pass_by(stuck)
                return True
            await asyncio.sleep(EARLIER_POLL_S)
        return True

    def _pass_by(self, wamids: list[str]) -> None:
        if len(self._passed_by) > 10_000:  # a bound, not a cache: these are rare
            self._passed_by.clear()
        self._passed_by.update(wamids)

    async def _process(self, message: InboundMessage) -> bool:
        """Process `message`; False when it must wait behind an earlier one now queued here."""
        if not await self._after_earlier_ones(message):
            return False
        # At the global limit this waits for room (senders take turns); only the sender's own limit refuses.
        decision = await self._global_queue.admit(message.phone)
        metrics.RATE_LIMIT.labels(decision.reason or "allowed").inc()
        holder = claims.new_holder()
        claimed = claims.claim(message.wamid, holder)
        if claimed is None:
            return True  # another replica or an earlier run has it
        self._heartbeat.hold(message.wamid, holder)
        try:
            await self._answer(message, decision, claimed, holder)
        finally:
            self._heartbeat.drop(message.wamid)
        return True

    async def _answer(self, message: InboundMessage, decision: Decision, claimed: claims.Claim, holder: str) -> None:
        # A run cut short (a replica killed mid-turn) may have sent part of this turn: the same turn again skips those.
        replies = ReplySender(
            self.client,
            already_sent=claims.replies_sent_for(message) if claimed is claims.Claim.AGAIN else 0,
            still_ours=functools.partial(self._heartbeat.still_holds, message.wamid),
        )
        if not decision.allowed:  # over their own limit: one polite notice per window, and the message is not replayed
            log.warning(
                "rate limit (%s) for %s: message %s skipped",
                decision.reason,
                mask_phone(message.phone),
                wamid_ref(message.wamid),
            )
            if decision.notify:
                await replies.send_text(message.phone, NOTICE_TEXT)
            self._complete(message, holder, store.SKIPPED, error=f"rate limited ({decision.reason})")
            return
        if store.handled_by_staff(message.phone):  # taken over: stored and shown in the console, the bot stays silent
            self._complete(message, holder, store.HELD)  # no blue ticks: no one has read it yet
            return
        self._spawn(self.client.mark_read(message.wamid))  # blue ticks only for a message about to be answered
        try:
            transcript: str | None = None
            if message.type == "audio" and self.transcribe is not None and get_settings().voice.enabled:
                note = await voice_notes.hear(message, self.client, self.transcribe, get_settings().voice)
                if note.reply is not None:
                    await replies.send_text(message.phone, note.reply)
                    self._complete(message, holder, store.SKIPPED)
                    return
                transcript = note.transcript
                replies.preface = voice_notes.heard_line(str(transcript))
            text = transcript or self._text_for_dialogue(message)
            if text is None:
                reply = unusable_reply(message)
                if reply:
                    await replies.send_text(message.phone, reply)
                self._complete(message, holder, store.SKIPPED)
                return
            if self._turn_permits is None:
                self._turn_permits = asyncio.Semaphore(self.turns_at_once)
            async with RasaTurnPermit(self._turn_permits) as permit:
                replies.permit = permit
                await self.dialogue.run_turn(message, text, replies)
            replies.permit = None
            last_intent = await self.dialogue.last_intent(message.phone)
            metrics.intent(last_intent)
            offered = [o.payload for o in replies.offered or []]
            self._complete(message, holder, store.PROCESSED, last_intent, offered, transcript=transcript)
            await self._rate_limiter.arecord_success(message.phone)
        except Exception as error:  # noqa: BLE001 - one bad message must not stop the channel
            log.exception("processing %s from %s failed", wamid_ref(message.wamid), mask_phone(message.phone))
            replies.permit = None
            await self._rate_limiter.arecord_failure(message.phone)
            await replies.send_text(message.phone, FAILURE_REPLY)  # while the message is still ours (the lease)
            self._complete(message, holder, store.FAILED, error=f"{type(error).__name__}: {error}")

    def close(self) -> None:
        """Stop keeping messages alive (the processing stops): what is still in hand is left to the sweep."""
        self._heartbeat.stop()

    @staticmethod
    def _text_for_dialogue(message: InboundMessage) -> str | None:
        """The text or payload the dialogue should see: reply ids as payloads, "2" as the second option offered."""
        if message.type == "request_welcome":  # the user opened the chat for the first time
            return "/greet"
        if not message.usable:
            return None
        # Control characters mean nothing to the bot, and PostgreSQL cannot store NUL in Rasa's tracker.
        text = "".join(ch for ch in str(message.text) if ch in "\n\t" or unicodedata.category(ch) != "Cc").strip()
        if not text:
            return None
        if (message.is_reply and text.startswith("opt:")) or (not message.is_reply and text.rstrip(".)").isdigit()):
            chosen = store.resolve_option(message.phone, text)
            if chosen:
                return chosen
        return text
