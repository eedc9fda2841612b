"""Rasa channel for the WhatsApp Cloud API. Input: verify, parse, store, answer Meta, then hand over to Rasa in
the background, in order per sender. Output: render the bot's replies within Meta's limits and send them through
`hsm.whatsapp.client`.

The web server's loop only verifies, stores (hsm.whatsapp.intake: one writer, group commit) and answers. Everything
after the 200 (`MessageProcessing`: claim, Rasa, the action server, sending, completion) runs elsewhere, because
Rasa runs its models synchronously on the loop that calls it: on a loop thread of its own in this process
(`hsm.whatsapp.loop_thread`, the default), or with `HSM_WHATSAPP_WORKERS=N` in N worker processes that each load
the model (connectors/whatsapp_workers.py), so the models use every core and never hold up the webhook.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.log import access_logger
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic_cors.core import SANIC_CORS_EVALUATED

from connectors.whatsapp_workers import ProcessingWorkers, worker_count
from hsm.infra.config import get_settings
from hsm.infra.phone import mask_phone
from hsm.infra.ratelimit import NOTICE_TEXT, rate_limiter_from_env
from hsm.rasa_glue import speedups as rasa_speedups
from hsm.rasa_glue import stores as rasa_stores
from hsm.whatsapp import render, store, sweeper
from hsm.whatsapp.client import CloudApiError, WhatsAppClient
from hsm.whatsapp.intake import IntakeWriter
from hsm.whatsapp.loop_thread import LoopThread
from hsm.whatsapp.payloads import InboundMessage, InvalidWebhook, parse_webhook
from hsm.whatsapp.signature import verify_signature

log = logging.getLogger("hsm.whatsapp.channel")
rasa_speedups.install()

MAX_BODY_BYTES = 1_000_000  # Meta's notifications are a few kB; anything near this is not from Meta
CHANNEL = "whatsapp"

# What we answer to messages the bot cannot read. Reactions, deletions and edits get no answer at all.
UNUSABLE_REPLIES = {
    "audio": "I can't listen to voice notes yet 🙏 Please type your message instead.",
    "location": "Thanks for the location! I can only read text, so please type your question.",
    "contacts": "Thanks! I can't use shared contacts; please type your question.",
    "unsupported": "Sorry, I couldn't read that message. Please send it as text.",
}
MEDIA_REPLY = "I can only read text messages for now 🙏 Please type your question, e.g. 'next class' or 'help'."
SILENT_TYPES = {"reaction", "revoke", "edit", "system", "ephemeral"}
FAILURE_REPLY = "Sorry, something went wrong on our side. Please try again in a minute."

# How many messages are inside Rasa at once (on the processing loop): enough to overlap one message's action
# server call with another's models; more only makes each of them wait longer. A message gives its slot up while
# Meta answers each of its sends (`RasaSlot`): those answers take a few hundred milliseconds over the internet.
PROCESSING_CONCURRENCY = int(os.environ.get("HSM_WHATSAPP_CONCURRENCY", "4"))

def unusable_reply(message: InboundMessage) -> str | None:
    """A short answer for a message without text the bot can act on; None when silence is right."""
    if message.type in SILENT_TYPES:
        return None
    return UNUSABLE_REPLIES.get(message.type, MEDIA_REPLY)


class RasaSlot:
    """One of a processing loop's places inside Rasa (`PROCESSING_CONCURRENCY` of them), held by a message while
    Rasa works on it. `while_waiting()` gives it up for an await that only waits (a Graph API call, a few hundred
    milliseconds at Meta), so another message's models run meanwhile, and takes it back after."""

    def __init__(self, places: asyncio.Semaphore) -> None:
        self._places = places
        self._held = False

    async def __aenter__(self) -> RasaSlot:
        await self._places.acquire()
        self._held = True
        return self

    async def __aexit__(self, *_: object) -> None:
        self._give_up()

    def _give_up(self) -> None:
        if self._held:
            self._held = False
            self._places.release()

    @contextlib.asynccontextmanager
    async def while_waiting(self) -> AsyncIterator[None]:
        if not self._held:  # outside `async with` (a reply sent after Rasa is done): nothing to give up
            yield
            return
        self._give_up()
        try:
            yield
        finally:
            await self._places.acquire()  # if this is cancelled, the slot is not held and not given back twice
            self._held = True


class WhatsAppOutput(OutputChannel):
    """Sends one conversation turn's replies and remembers the options offered in it. Given the `slot` the turn
    holds in Rasa, it gives the slot up while Meta answers each send."""

    def __init__(self, client: WhatsAppClient, slot: RasaSlot | None = None) -> None:
        self.client = client
        self.slot = slot
        self.offered: list[render.Option] | None = None  # None: this turn offered no choice

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    async def _send(self, recipient_id: str, rendered: render.Rendered) -> None:
        if rendered.options:
            self.offered = rendered.options
        for message in rendered.messages:
            try:
                async with self.slot.while_waiting() if self.slot else contextlib.nullcontext():
                    await self.client.send(recipient_id, message, replying=True)
            except CloudApiError:
                pass  # logged and recorded as failed by the client; the rest of the turn still goes out

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._send(recipient_id, render.Rendered(render.text_messages(text)))

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: list[dict[str, Any]],
                                     **kwargs: Any) -> None:
        await self._send(recipient_id, render.render_choices(text, buttons))

    async def send_quick_replies(self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]],
                                 **kwargs: Any) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._send(recipient_id, render.Rendered([render.render_image(image)]))

    async def send_attachment(self, recipient_id: str, attachment: Any, **kwargs: Any) -> None:
        if isinstance(attachment, dict):
            message = render.render_document(str(attachment.get("url") or attachment.get("link") or ""),
                                             attachment.get("filename"), attachment.get("caption"))
        else:
            message = render.render_document(str(attachment))
        await self._send(recipient_id, render.Rendered([message]))

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        messages = render.render_custom(json_message)
        if not messages:
            log.warning("custom response without a WhatsApp message object ignored: %s", sorted(json_message))
        await self._send(recipient_id, render.Rendered(messages))

    async def send_elements(self, recipient_id: str, elements: Any, **kwargs: Any) -> None:
        for element in elements:
            title = f"{element.get('title', '')}\n{element.get('subtitle', '')}".strip()
            await self.send_text_with_buttons(recipient_id, title, element.get("buttons", []))


class _SenderLocks:
    """One FIFO lock per sender, so one person's messages reach Rasa in the order they arrived."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    async def __call__(self, sender: str, work: Callable[[], Awaitable[None]]) -> None:
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


class WhatsAppInput(InputChannel):
    """`connectors.whatsapp.WhatsAppInput` in credentials.yml; serves `/webhooks/whatsapp/webhook`."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = credentials or {}
        settings = get_settings()
        verify_token = credentials.get("verify_token") or settings.whatsapp_verify_token
        app_secret = credentials.get("app_secret") or settings.whatsapp_app_secret
        access_token = credentials.get("access_token") or settings.whatsapp_access_token
        phone_number_id = credentials.get("phone_number_id") or settings.whatsapp_phone_number_id
        api_url = credentials.get("api_url") or settings.whatsapp_api_url
        if not all((verify_token, app_secret, access_token, phone_number_id)):
            cls.raise_missing_credentials_exception()
        client = WhatsAppClient(str(api_url), str(phone_number_id), str(access_token), record_inline=True)
        return cls(str(verify_token), str(app_secret), client)

    def __init__(self, verify_token: str, app_secret: str, client: WhatsAppClient) -> None:
        self.verify_token = verify_token
        self.app_secret = app_secret
        self.client = client
        self._sweep_task: asyncio.Task | None = None
        self._processing = LoopThread("whatsapp-processing")
        self._processor: MessageProcessing | None = None
        self._workers: ProcessingWorkers | None = None
        self._intake = IntakeWriter()

    # -------------------------------------------------------------------------------------------- HTTP

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("whatsapp_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            if self._workers is not None and not self._workers.ready():
                return response.json({"status": "starting", "workers": self._workers.describe()}, status=503)
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            args = request.args
            if args.get("hub.mode") == "subscribe" and args.get("hub.verify_token") == self.verify_token:
                return response.text(args.get("hub.challenge") or "")
            return response.json({"error": "verification failed"}, status=403)

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            # Meta's servers call this, never a browser: Rasa's CORS middleware need not work out headers for it
            # (a tenth of the webhook's CPU under load).
            setattr(request.ctx, SANIC_CORS_EVALUATED, "1")
            raw = request.body or b""
            if len(raw) > MAX_BODY_BYTES:
                return response.json({"error": "payload too large"}, status=413)
            signature = request.headers.get("X-Hub-Signature-256")
            if not signature:
                return response.json({"error": "missing X-Hub-Signature-256"}, status=401)
            if not verify_signature(raw, signature, self.app_secret):
                return response.json({"error": "invalid signature"}, status=403)
            try:
                batch = parse_webhook(json.loads(raw))
            except (ValueError, InvalidWebhook) as error:
                return response.json({"error": f"malformed payload: {error}"}, status=400)
            fresh = await self._intake.store(batch)  # the only work Meta waits for (group commit)
            if fresh:  # handed over once the answer is out: in a burst, every answer goes before any hand-over
                asyncio.get_running_loop().call_soon(self._dispatch_all, fresh)
            return response.text("EVENT_RECEIVED")

        @webhook.listener("before_server_start")
        async def start_processing(app: Any, _loop: Any) -> None:
            if not access_logger.isEnabledFor(logging.INFO):
                # Sanic builds an access log record for every request, which Rasa's level for its libraries
                # (LOG_LEVEL_LIBRARIES, ERROR by default) then drops: don't build it (read per connection).
                app.config.ACCESS_LOG = False
            self._processing.start()
            self._intake.start()
            if not worker_count():  # else the workers build their own
                self._processor = MessageProcessing(self.client, on_new_message, lambda: _tracker_store_of(app))

        @webhook.listener("after_server_start")
        async def start_workers_replay_and_sweep(app: Any, _loop: Any) -> None:
            count = worker_count()
            if count:  # Rasa's work in processes of their own (connectors/whatsapp_workers.py)
                self._workers = ProcessingWorkers(count, model_path=str(app.ctx.agent.processor.model_path),
                                                  client=self.client)
                await asyncio.to_thread(self._workers.start)
            rasa_speedups.freeze_loaded_objects()  # the model is loaded by now (Rasa's before_server_start)
            replayed = await sweeper.replay_after_restart(self._dispatch, tracker_store=lambda: _tracker_store_of(app))
            if replayed:
                log.info("replaying %d message(s) received but not processed before the restart", len(replayed))

            # Messages another replica acknowledged and then died with are picked up here (hsm/whatsapp/sweeper.py).
            async def dispatch(message: InboundMessage) -> None:
                self._dispatch(message)

            async def start() -> asyncio.Task | None:
                return sweeper.start_sweeper(self._processor.handle if self._workers is None else dispatch,
                                             tracker_store=lambda: _tracker_store_of(app))

            self._sweep_task = await self._processing.run(start())

        @webhook.listener("before_server_stop")
        async def stop_processing(_app: Any, _loop: Any) -> None:
            async def close() -> None:
                await sweeper.stop_sweeper(self._sweep_task)
                await self.client.close()

            await self._processing.run(close())
            await asyncio.to_thread(self._processing.stop)
            await asyncio.to_thread(self._intake.stop)
            if self._workers is not None:
                await asyncio.to_thread(self._workers.stop)

        return webhook

    def _dispatch_all(self, messages: list[InboundMessage]) -> None:
        for message in messages:
            self._dispatch(message)

    def _dispatch(self, message: InboundMessage) -> None:
        """Hand a stored message over for processing: to its sender's worker process, or the processing loop."""
        if self._workers is not None:
            self._workers.dispatch(message)
        else:
            assert self._processor is not None
            self._processing.submit(self._processor.handle(message))


def _tracker_store_of(app: Any) -> Any:
    agent = getattr(getattr(app, "ctx", None), "agent", None)
    return agent.tracker_store if agent is not None else None


class MessageProcessing:
    """Everything after the 200, for one process: claim the stored message, check the rate limit, hand it to Rasa
    (`handle_message`, i.e. the agent's), send the replies, complete it. Runs on the channel's processing loop,
    or in a worker process (connectors/whatsapp_workers.py).

    The channel's database statements (claim, record a send, complete) run right on that loop, as Rasa's own
    tracker store does: each is a fraction of a millisecond, less than handing it to a thread and back."""

    def __init__(self, client: WhatsAppClient, handle_message: Callable[[UserMessage], Awaitable[Any]],
                 tracker_store: Callable[[], Any]) -> None:
        self.client = client
        self.handle_message = handle_message
        self.tracker_store = tracker_store
        self._in_order = _SenderLocks()
        self._tasks: set[asyncio.Task] = set()
        self._rasa_places: asyncio.Semaphore | None = None  # created on the processing loop
        self._rate_limiter = rate_limiter_from_env()

    def _spawn(self, work: Awaitable[None]) -> None:
        """A background task on the processing loop (the caller's)."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def handle(self, message: InboundMessage) -> None:
        """Claim, answer and complete one stored inbound message (after any earlier one from the same sender)."""
        await self._in_order(message.phone, lambda: self._process(message))

    async def _process(self, message: InboundMessage) -> None:
        if not store.claim(message.wamid):
            return  # another replica or an earlier run has it
        self._spawn(self.client.mark_read(message.wamid))
        output = WhatsAppOutput(self.client)
        decision = await self._rate_limiter.acheck(message.phone)
        if not decision.allowed:  # over the limit: one polite notice per window, and the message is not replayed
            log.warning("rate limit (%s) for %s: message %s skipped", decision.reason, mask_phone(message.phone),
                        message.wamid)
            if decision.notify:
                await output.send_text_message(message.phone, NOTICE_TEXT)
            store.complete(message.wamid, message.phone, store.SKIPPED, None, None, f"rate limited ({decision.reason})")
            return
        try:
            text = await self._text_for_rasa(message)
            if text is None:
                reply = unusable_reply(message)
                if reply:
                    await output.send_text_message(message.phone, reply)
                store.complete(message.wamid, message.phone, store.SKIPPED)
                return
            if self._rasa_places is None:
                self._rasa_places = asyncio.Semaphore(PROCESSING_CONCURRENCY)
            async with RasaSlot(self._rasa_places) as slot:
                output.slot = slot
                await self.handle_message(UserMessage(
                    text, output, sender_id=message.phone, input_channel=CHANNEL, message_id=message.wamid,
                    metadata={"wamid": message.wamid, "type": message.type, "title": message.title,
                              "profile_name": message.profile_name},
                ))
            options = [o.payload for o in output.offered or []]
            last_intent = await self._last_intent(message.phone)
            store.complete(message.wamid, message.phone, store.PROCESSED, last_intent, options)
            await self._rate_limiter.arecord_success(message.phone)
        except Exception as error:  # noqa: BLE001 - one bad message must not stop the channel
            log.exception("processing %s from %s failed", message.wamid, mask_phone(message.phone))
            await self._rate_limiter.arecord_failure(message.phone)
            store.complete(message.wamid, message.phone, store.FAILED, None, None, f"{type(error).__name__}: {error}")
            await output.send_text_message(message.phone, FAILURE_REPLY)

    async def _text_for_rasa(self, message: InboundMessage) -> str | None:
        """The text or payload Rasa should see: reply ids as payloads, "2" as the second option offered."""
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

    async def _last_intent(self, sender_id: str) -> str | None:
        """The intent Rasa just saved for this sender; loads the conversation only when the tracker store is not
        ours (hsm.rasa_glue.stores.SchoolTrackerStore remembers it when it saves)."""
        remembered = rasa_stores.latest_intent(sender_id)
        if remembered:
            return remembered
        tracker_store = self.tracker_store()
        if tracker_store is None:
            return None
        tracker = await tracker_store.retrieve(sender_id)
        if tracker is None:
            return None
        return (tracker.latest_message.intent or {}).get("name") if tracker.latest_message else None
