"""Everything after Meta's 200 for one stored inbound message: wait for room under the global rate limit (refused
only over the sender's own limit), claim it, mark it read, run the dialogue's turn (unless a staff member has taken
the number over), send the replies, complete it; one sender's messages one after the other, in the order they
arrived.

The dialogue engine (Rasa) is not named here: the connector gives a `Dialogue`, which runs one turn and sends its
replies through the `ReplySender` it is handed. The same processing runs on the in-process runtime's loop thread
or in a worker process (`hsm.whatsapp.runtime`).

The database statements (claim, record a send, complete) run right on the processing loop, as Rasa's own tracker
store does: each is a fraction of a millisecond, less than handing it to a thread and back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

from hsm.infra import correlation, metrics
from hsm.infra.config import get_settings
from hsm.infra.logmask import wamid_ref
from hsm.infra.phone import mask_phone
from hsm.infra.ratelimit import NOTICE_TEXT, GlobalLimitQueue, RateLimiter, rate_limiter_from_env
from hsm.whatsapp import render, store, voice_notes
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

    def __init__(self, client: WhatsAppClient, permit: RasaTurnPermit | None = None, already_sent: int = 0) -> None:
        self.client = client
        self.permit = permit
        self.offered: list[render.Option] | None = None  # None: this turn offered no choice
        self.already_sent = already_sent  # the first replies of a turn an interrupted run sent: not sent again
        self.preface: str | None = None  # a line the turn's first reply starts with ("🎤 I heard: ...")

    async def send(self, recipient: str, rendered: render.Rendered) -> None:
        if rendered.options:
            self.offered = rendered.options
        messages = rendered.messages
        if self.preface and messages:
            messages, self.preface = voice_notes.prefaced(messages, self.preface), None
        for message in messages:
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

    async def run(self, sender: str, work: Callable[[], Awaitable[None]]) -> None:
        lock, users = self._locks.get(sender, (asyncio.Lock(), 0))
        self._locks[sender] = (lock, users + 1)
        try:
            async with lock:
                await work()
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
                await self._in_order.run(message.phone, lambda: self._process(message))
        finally:
            self._in_hand.discard(message.wamid)
            metrics.REPLY_LATENCY.observe(time.perf_counter() - started)

    def _complete(
        self,
        message: InboundMessage,
        status: str,
        last_intent: str | None = None,
        options: list[str] | None = None,
        error: str | None = None,
        transcript: str | None = None,
    ) -> None:
        store.complete(
            message.wamid,
            message.phone,
            status,
            last_intent,
            options,
            error,
            role_of=self.role_of,
            transcript=transcript,
        )
        metrics.MESSAGES_IN.labels(message.type, status).inc()

    async def _process(self, message: InboundMessage) -> None:
        # At the global limit this waits for room (senders take turns); only the sender's own limit refuses.
        decision = await self._global_queue.admit(message.phone)
        metrics.RATE_LIMIT.labels(decision.reason or "allowed").inc()
        claimed = store.claim(message.wamid)
        if claimed is None:
            return  # another replica or an earlier run has it
        # A run cut short (a replica killed mid-turn) may have sent part of this turn: the same turn again skips those.
        replies = ReplySender(
            self.client, already_sent=store.replies_sent_for(message) if claimed is store.Claim.AGAIN else 0
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
            self._complete(message, store.SKIPPED, error=f"rate limited ({decision.reason})")
            return
        if store.handled_by_staff(message.phone):  # taken over: stored and shown in the console, the bot stays silent
            self._complete(message, store.HELD)  # no blue ticks: no one has read it yet
            return
        self._spawn(self.client.mark_read(message.wamid))  # blue ticks only for a message about to be answered
        try:
            transcript: str | None = None
            if message.type == "audio" and self.transcribe is not None and get_settings().voice.enabled:
                note = await voice_notes.hear(message, self.client, self.transcribe, get_settings().voice)
                if note.reply is not None:
                    await replies.send_text(message.phone, note.reply)
                    self._complete(message, store.SKIPPED)
                    return
                transcript = note.transcript
                replies.preface = voice_notes.heard_line(str(transcript))
            text = transcript or self._text_for_dialogue(message)
            if text is None:
                reply = unusable_reply(message)
                if reply:
                    await replies.send_text(message.phone, reply)
                self._complete(message, store.SKIPPED)
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
            self._complete(message, store.PROCESSED, last_intent, offered, transcript=transcript)
            await self._rate_limiter.arecord_success(message.phone)
        except Exception as error:  # noqa: BLE001 - one bad message must not stop the channel
            log.exception("processing %s from %s failed", wamid_ref(message.wamid), mask_phone(message.phone))
            replies.permit = None
            await self._rate_limiter.arecord_failure(message.phone)
            self._complete(message, store.FAILED, error=f"{type(error).__name__}: {error}")
            await replies.send_text(message.phone, FAILURE_REPLY)

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
