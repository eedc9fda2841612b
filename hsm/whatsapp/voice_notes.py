"""A voice note on its way into the conversation: fetched from Meta at once (hsm.whatsapp.media), transcribed off the
processing loop by the transcriber the connector wires in, and either handed on as the sender's text (the bot's
first reply then starts with "🎤 I heard: “…”") or answered with "please type it" when it was not heard clearly. The
audio lives only in memory; what is kept is the transcript, as the message's text. Logs name no transcript."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

from hsm.infra import metrics
from hsm.infra.logmask import wamid_ref
from hsm.infra.phone import mask_phone
from hsm.infra.settings_voice import Voice
from hsm.whatsapp.client import WhatsAppClient
from hsm.whatsapp.media import MediaUnavailable, fetch_media
from hsm.whatsapp.payloads import InboundMessage
from hsm.whatsapp.render import INTERACTIVE_BODY_LIMIT, TEXT_LIMIT

log = logging.getLogger(__name__)

UNCLEAR_REPLY = "I couldn't make that out clearly; please type it or send it again."


class Heard(Protocol):
    """What the transcriber heard (hsm.voice.transcribe.Transcript)."""

    @property
    def text(self) -> str: ...

    @property
    def confidence(self) -> float: ...


class Transcriber(Protocol):
    """The sender's voice note as text, biased towards what that sender is likely to say (blocking: a second or
    so of CPU). Raises ValueError for audio it cannot read or longer than `max_seconds`."""

    def __call__(self, wa_id: str, audio: bytes, max_seconds: float) -> Heard: ...


@dataclass(frozen=True)
class VoiceNote:
    """What became of one voice note: `transcript` for the dialogue, or `reply` for the sender instead."""

    outcome: str  # a fixed word for metrics: heard, unclear, unreadable, too_large, expired, checksum, unavailable
    transcript: str | None = None
    reply: str | None = None


def too_long_reply(settings: Voice) -> str:
    return f"{UNCLEAR_REPLY[:-1]} (voice notes of up to {settings.max_seconds:g} seconds)."


async def hear(message: InboundMessage, client: WhatsAppClient, transcribe: Transcriber, settings: Voice) -> VoiceNote:
    """Fetch and transcribe `message`'s audio; a transcript only when heard with at least the minimum confidence."""
    note = await _hear(message, client, transcribe, settings)
    metrics.VOICE_NOTES.labels(note.outcome).inc()
    log.info("voice note %s from %s: %s", wamid_ref(message.wamid), mask_phone(message.phone), note.outcome)
    return note


async def _hear(message: InboundMessage, client: WhatsAppClient, transcribe: Transcriber, settings: Voice) -> VoiceNote:
    described = message.media or {}
    media_id = str(described.get("id") or "")
    if not media_id:
        return VoiceNote("unavailable", reply=UNCLEAR_REPLY)
    try:
        media = await fetch_media(
            client, media_id, max_bytes=settings.max_bytes, sha256=str(described.get("sha256") or "") or None
        )
    except MediaUnavailable as problem:
        log.warning("voice note %s not fetched: %s", wamid_ref(message.wamid), problem)
        reply = too_long_reply(settings) if problem.reason == "too_large" else UNCLEAR_REPLY
        return VoiceNote(problem.reason, reply=reply)
    started = time.perf_counter()
    try:
        # ~1 s of CPU: in a thread, so that the processing loop keeps serving other senders meanwhile
        heard = await asyncio.to_thread(transcribe, message.wa_id, media.content, settings.max_seconds)
    except ValueError as problem:
        log.info("voice note %s unreadable or too long: %s", wamid_ref(message.wamid), problem)
        return VoiceNote("unreadable", reply=too_long_reply(settings))
    finally:
        metrics.VOICE_TRANSCRIPTION.observe(time.perf_counter() - started)
    text = " ".join(heard.text.split())
    if not text or heard.confidence < settings.min_confidence:
        return VoiceNote("unclear", reply=UNCLEAR_REPLY)
    return VoiceNote("heard", transcript=text)


def heard_line(transcript: str) -> str:
    return f"🎤 I heard: “{transcript}”"


def prefaced(messages: list[dict[str, Any]], line: str) -> list[dict[str, Any]]:
    """`messages` with `line` above the first one's text when it fits Meta's limits, else as a message before."""
    first = messages[0] if messages else {}
    if first.get("type") == "text":
        body = f"{line}\n\n{first['text']['body']}"
        if len(body) <= TEXT_LIMIT:
            return [{**first, "text": {**first["text"], "body": body}}, *messages[1:]]
    if first.get("type") == "interactive" and "body" in first["interactive"]:
        body = f"{line}\n\n{first['interactive']['body']['text']}"
        if len(body) <= INTERACTIVE_BODY_LIMIT:
            interactive = {**first["interactive"], "body": {**first["interactive"]["body"], "text": body}}
            return [{**first, "interactive": interactive}, *messages[1:]]
    return [{"type": "text", "text": {"body": line, "preview_url": False}}, *messages]
