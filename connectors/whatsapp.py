"""Rasa channel for the WhatsApp Cloud API (`connectors.whatsapp.WhatsAppInput` in credentials.yml).

Input: verify, parse, store (group commit, `hsm.whatsapp.intake`), answer Meta, then hand each new message over to
the processing runtime (`hsm.whatsapp.runtime`), which claims it, runs Rasa's turn, sends the replies and completes
it, in order per sender. Output: the bot's replies rendered within Meta's limits (`hsm.whatsapp.render`) and sent
through the runtime's `ReplySender`. `RasaDialogue` is the one place where processing meets Rasa's agent;
`transcribe_voice_note` the one place where it meets the offline speech engine (hsm.voice).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.log import access_logger
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic_cors.core import SANIC_CORS_EVALUATED

from hsm.infra import clock, correlation, logformat, metrics
from hsm.infra.config import check_settings_or_exit, database_url, get_settings
from hsm.infra.db import session_scope
from hsm.infra.logmask import wamid_ref
from hsm.infra.phone import mask_phone
from hsm.people.identity import identity_if_role_lost, role_of
from hsm.rasa_glue import startup, stores, worker_agent
from hsm.voice.transcribe import Transcript, transcribe
from hsm.voice.vocabulary import vocabulary_for
from hsm.whatsapp import render, store
from hsm.whatsapp.intake import IntakeWriter
from hsm.whatsapp.payloads import InboundMessage, InvalidWebhook, parse_webhook
from hsm.whatsapp.processing import ReplySender
from hsm.whatsapp.runtime import ClientSettings, ProcessingRuntime, ProcessingWiring, choose_runtime
from hsm.whatsapp.signature import verify_signature, verify_token_matches

log = logging.getLogger("hsm.whatsapp.channel")

MAX_BODY_BYTES = 1_000_000  # Meta's notifications are a few kB; anything near this is not from Meta
CHANNEL = "whatsapp"


class WhatsAppOutput(OutputChannel):
    """Rasa's output channel for one conversation turn: renders each reply and sends it through `replies`."""

    def __init__(self, replies: ReplySender) -> None:
        self.replies = replies

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.replies.send(recipient_id, render.Rendered(render.text_messages(text)))

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.replies.send(recipient_id, render.render_choices(text, buttons))

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.replies.send(recipient_id, render.Rendered([render.render_image(image)]))

    async def send_attachment(self, recipient_id: str, attachment: Any, **kwargs: Any) -> None:
        if isinstance(attachment, dict):
            message = render.render_document(
                str(attachment.get("url") or attachment.get("link") or ""),
                attachment.get("filename"),
                attachment.get("caption"),
            )
        else:
            message = render.render_document(str(attachment))
        await self.replies.send(recipient_id, render.Rendered([message]))

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        messages = render.render_custom(json_message)
        if not messages:
            log.warning("custom response without a WhatsApp message object ignored: %s", sorted(json_message))
        await self.replies.send(recipient_id, render.Rendered(messages))

    async def send_elements(self, recipient_id: str, elements: Any, **kwargs: Any) -> None:
        for element in elements:
            title = f"{element.get('title', '')}\n{element.get('subtitle', '')}".strip()
            await self.send_text_with_buttons(recipient_id, title, element.get("buttons", []))


class RasaDialogue:
    """The processing's `Dialogue` on a Rasa agent: a turn is `handle_message` with a `WhatsAppOutput`."""

    def __init__(
        self, handle_message: Callable[[UserMessage], Awaitable[Any]], tracker_store: Callable[[], Any]
    ) -> None:
        self.handle_message = handle_message
        self.tracker_store = tracker_store

    async def run_turn(self, message: InboundMessage, text: str, replies: ReplySender) -> None:
        await self.handle_message(
            UserMessage(
                text,
                WhatsAppOutput(replies),
                sender_id=message.phone,
                input_channel=CHANNEL,
                message_id=message.wamid,
                metadata={
                    "wamid": message.wamid,
                    "type": message.type,
                    "voice": message.type == "audio",  # the text is a voice note's transcript
                    "title": message.title,
                    "profile_name": message.profile_name,
                    correlation.METADATA_KEY: message.correlation_id,  # the action server logs with it
                },
            )
        )

    async def last_intent(self, sender: str) -> str | None:
        """The intent Rasa just saved for this sender; loads the conversation only when the tracker store is not
        ours (hsm.rasa_glue.stores.SchoolTrackerStore remembers it when it saves)."""
        remembered = stores.latest_intent(sender)
        if remembered:
            return remembered
        tracker_store = self.tracker_store()
        if tracker_store is None:
            return None
        tracker = await tracker_store.retrieve(sender)
        if tracker is None:
            return None
        return (tracker.latest_message.intent or {}).get("name") if tracker.latest_message else None


def transcribe_voice_note(wa_id: str, audio: bytes, max_seconds: float) -> Transcript:
    """The processing's `Transcriber` (runs in a thread, in whichever process processes the note): a teacher's voice
    note heard with their batches' names, instruments and times as the vocabulary, anyone else's with the general
    model."""
    return transcribe(audio, vocabulary=vocabulary_for(database_url(), wa_id), max_seconds=max_seconds)


def role_now(sender_id: str, role: str | None, since: float | None = None) -> tuple[str, str | None] | None:
    """The tracker store's check before each turn (`stores.RoleCheck`): None while the number still holds the
    session's `role` and the office has not cleared its conversation after `since` (its last event), else its role
    and first name now (a teacher who left: ("prospect", None))."""
    if since is not None and store.cleared_after(sender_id, since):
        role = None  # the office cleared it: a new session in whatever the number is now
    with session_scope() as session:
        who = identity_if_role_lost(session, sender_id, role)
    return None if who is None else (who.role, who.name.split()[0] if who.name else None)


async def load_rasa_dialogue_in_worker(source: worker_agent.AgentSource) -> RasaDialogue:
    """A worker process's dialogue: Rasa set up and the agent loaded as in the server (runs in the worker)."""
    worker_agent.set_up_like_rasa_run(source)
    logformat.configure("rasa-worker")
    startup.prepare_rasa_process(role_check=role_now)
    agent = await worker_agent.load_agent(source)
    startup.after_model_loaded()
    return RasaDialogue(agent.handle_message, lambda: agent.tracker_store)


class WhatsAppInput(InputChannel):
    """Serves `/webhooks/whatsapp/webhook`: Meta's verification (GET) and notifications (POST)."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        check_settings_or_exit()  # the Rasa server is starting: a bad setting stops it here, in one line
        credentials = credentials or {}
        settings = get_settings().whatsapp
        verify_token = credentials.get("verify_token") or settings.verify_token
        app_secret = credentials.get("app_secret") or settings.app_secret
        access_token = credentials.get("access_token") or settings.access_token
        phone_number_id = credentials.get("phone_number_id") or settings.phone_number_id
        api_url = credentials.get("api_url") or settings.api_url
        if not all((verify_token, app_secret, access_token, phone_number_id)):
            cls.raise_missing_credentials_exception()
        logformat.configure("rasa")  # after Rasa's own logging set-up, which swapped logging.yml's handler
        startup.prepare_rasa_process(role_check=role_now)  # this is the Rasa server's process, starting
        metrics.serve("channel")
        return cls(
            str(verify_token), str(app_secret), ClientSettings(str(api_url), str(phone_number_id), str(access_token))
        )

    def __init__(self, verify_token: str, app_secret: str, client: ClientSettings) -> None:
        self.verify_token = verify_token
        self.app_secret = app_secret
        self.client = client
        self._intake = IntakeWriter()
        self._runtime: ProcessingRuntime | None = None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("whatsapp_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            if self._runtime is not None and not self._runtime.ready():
                return response.json({"status": "starting", "workers": self._runtime.describe()}, status=503)
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            args = request.args
            if args.get("hub.mode") == "subscribe" and verify_token_matches(
                args.get("hub.verify_token"), self.verify_token
            ):
                return response.text(args.get("hub.challenge") or "")
            return response.json({"error": "verification failed"}, status=403)

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            started = time.perf_counter()
            answer = await store_and_answer(request)
            metrics.WEBHOOK_ACK.labels(str(answer.status)).observe(time.perf_counter() - started)
            return answer

        async def store_and_answer(request: Request) -> HTTPResponse:
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
                # Only what is addressed to our phone number, and not older than Meta's retries (a replay)
                batch = parse_webhook(
                    json.loads(raw), for_phone_number_id=self.client.phone_number_id, received_at=clock.utcnow()
                )
            except (ValueError, InvalidWebhook) as error:
                return response.json({"error": f"malformed payload: {error}"}, status=400)
            fresh = await self._intake.store(batch)  # the only work Meta waits for (group commit)
            metrics.delivery_statuses(batch.statuses)
            for message in fresh:
                log.info(
                    "accepted %s message %s from %s",
                    message.type,
                    wamid_ref(message.wamid),
                    mask_phone(message.phone),
                    extra={correlation.LOG_FIELD: message.correlation_id},
                )
            if fresh:  # handed over once the answer is out: in a burst, every answer goes before any hand-over
                asyncio.get_running_loop().call_soon(self._hand_over_all, fresh)
            return response.text("EVENT_RECEIVED")

        @webhook.listener("before_server_start")
        async def start_processing(app: Any, _loop: Any) -> None:
            if not access_logger.isEnabledFor(logging.INFO):
                # Sanic builds an access log record for every request, which Rasa's level for its libraries
                # (LOG_LEVEL_LIBRARIES, ERROR by default) then drops: don't build it (read per connection).
                app.config.ACCESS_LOG = False
            logformat.configure()  # Sanic's own handlers, added since the channel was created
            self._intake.start()
            settings = get_settings().whatsapp
            wiring = ProcessingWiring(
                client=self.client,
                role_of=role_of,
                turns_at_once=settings.concurrency,
                dialogue=RasaDialogue(on_new_message, lambda: _tracker_store_of(app)),
                transcribe=transcribe_voice_note,
            )
            self._runtime = choose_runtime(settings.workers, wiring)  # the one place the runtime is chosen
            await self._runtime.start()

        @webhook.listener("after_server_start")
        async def serve(app: Any, _loop: Any) -> None:
            startup.after_model_loaded()  # Rasa's before_server_start has loaded the model by now
            assert self._runtime is not None
            # What a worker process loads (the model Rasa has loaded by now), if the runtime has workers
            source = worker_agent.AgentSource.of_this_server(str(app.ctx.agent.processor.model_path))
            await self._runtime.serve(
                tracker_store=lambda: _tracker_store_of(app),
                load_dialogue=functools.partial(load_rasa_dialogue_in_worker, source),
            )

        @webhook.listener("before_server_stop")
        async def stop_processing(_app: Any, _loop: Any) -> None:
            if self._runtime is not None:
                await self._runtime.stop()
            await asyncio.to_thread(self._intake.stop)

        return webhook

    def _hand_over_all(self, messages: list[InboundMessage]) -> None:
        assert self._runtime is not None
        for message in messages:
            self._runtime.hand_over(message)


def _tracker_store_of(app: Any) -> Any:
    agent = getattr(getattr(app, "ctx", None), "agent", None)
    return agent.tracker_store if agent is not None else None
