"""A voice note through the channel's processing (hsm/whatsapp/processing.py) on a real database, with the sandbox
as Meta: heard clearly, its transcript goes to the dialogue as the sender's text, the first reply starts with
"🎤 I heard", and the transcript is kept as the message's text; heard unclearly, unreadable or too long, the sender
is asked to type it and the dialogue never sees it; with HSM_VOICE off the fixed reply stays. The transcriber here
gives set results (the engine is hsm.voice's, tested on its own); everything else is the real thing."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.people.identity import role_of
from hsm.whatsapp import render, store
from hsm.whatsapp.payloads import parse_webhook
from hsm.whatsapp.processing import UNUSABLE_REPLIES, MessageProcessing
from hsm.whatsapp.voice_notes import UNCLEAR_REPLY
from tests.unit.test_voice_media import TEACHER, VOICE_NOTE, meta  # noqa: F401 - `meta` is a fixture

HEARD = "all present except sarah"


@dataclass(frozen=True)
class Transcript:
    text: str
    confidence: float
    seconds: float = 3.0


class Transcriber:
    """Answers what it is set to, and notes who it transcribed for and how many bytes it was given."""

    def __init__(self, answer: Transcript | ValueError) -> None:
        self.answer = answer
        self.calls: list[tuple[str, int, float]] = []

    def __call__(self, wa_id: str, audio: bytes, max_seconds: float) -> Transcript:
        self.calls.append((wa_id, len(audio), max_seconds))
        if isinstance(self.answer, ValueError):
            raise self.answer
        return self.answer


class Rasa:
    """Stands in for the dialogue: answers a draft with Yes/No buttons, and notes the text and metadata it got."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def run_turn(self, message, text, replies) -> None:
        self.texts.append(text)
        buttons = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
        await replies.send(message.phone, render.render_choices("Guitar Beginner, today 5:00 PM: save?", buttons))

    async def last_intent(self, sender) -> str:
        return "inform_attendance"


async def process(meta, transcriber: Transcriber, rasa: Rasa) -> tuple[str, list[dict]]:  # noqa: F811
    note = await meta.voice_note()
    (fresh,) = store.store_inbound(parse_webhook(meta.webhook.notifications[-1]))
    async with meta.client(ledger=store.LEDGER) as client:
        processing = MessageProcessing(client, rasa, role_of=role_of, turns_at_once=1, transcribe=transcriber)
        await processing.handle(fresh)
    async with meta.http.get(meta.sandbox.make_url("/_sandbox/messages"), params={"to": TEACHER}) as answer:
        sent = (await answer.json())["messages"]
    return note.wamid, [message["payload"] for message in sent]


def stored(wamid: str) -> tuple[str | None, str | None]:
    with session_scope() as s:
        row = s.execute(select(m.WhatsAppMessage).where(m.WhatsAppMessage.whatsapp_message_id == wamid)).scalar_one()
        return row.status, row.content


def texts_of(payloads: list[dict]) -> list[str]:
    return [p["text"]["body"] if p["type"] == "text" else p["interactive"]["body"]["text"] for p in payloads]


@pytest.mark.asyncio
async def test_a_clear_voice_note_goes_to_the_dialogue_and_the_draft_says_what_was_heard(school_db, meta):  # noqa: F811
    transcriber, rasa = Transcriber(Transcript(HEARD, confidence=0.9)), Rasa()
    wamid, sent = await process(meta, transcriber, rasa)
    assert transcriber.calls == [(TEACHER.lstrip("+"), len(VOICE_NOTE), 60.0)]
    assert rasa.texts == [HEARD]
    assert texts_of(sent) == [f"🎤 I heard: “{HEARD}”\n\nGuitar Beginner, today 5:00 PM: save?"]
    assert sent[0]["type"] == "interactive"  # the draft's buttons are still there
    assert stored(wamid) == (store.PROCESSED, HEARD)  # the transcript is kept as the text; no audio anywhere


@pytest.mark.parametrize(
    "answer",
    [Transcript(HEARD, confidence=0.2), Transcript("", confidence=0.0)],
    ids=["low confidence", "nothing heard"],
)
@pytest.mark.asyncio
async def test_an_unclear_voice_note_is_not_guessed_at(school_db, meta, answer):  # noqa: F811
    rasa = Rasa()
    wamid, sent = await process(meta, Transcriber(answer), rasa)
    assert rasa.texts == []
    assert texts_of(sent) == [UNCLEAR_REPLY]
    assert stored(wamid) == (store.SKIPPED, None)


@pytest.mark.asyncio
async def test_audio_too_long_or_unreadable_gets_the_limit(school_db, meta, monkeypatch):  # noqa: F811
    monkeypatch.setenv("HSM_VOICE_MAX_SECONDS", "45")
    rasa = Rasa()
    transcriber = Transcriber(ValueError("the audio is 75 s long; at most 45 s are taken"))
    _, sent = await process(meta, transcriber, rasa)
    assert transcriber.calls[0][2] == 45.0
    assert rasa.texts == []
    assert texts_of(sent) == [
        "I couldn't make that out clearly; please type it or send it again (voice notes of up to 45 seconds)."
    ]


@pytest.mark.asyncio
async def test_a_voice_note_over_the_byte_limit_is_not_downloaded(school_db, meta, monkeypatch):  # noqa: F811
    monkeypatch.setenv("HSM_VOICE_MAX_BYTES", "1000")  # VOICE_NOTE is 10 kB
    transcriber, rasa = Transcriber(Transcript(HEARD, confidence=0.9)), Rasa()
    _, sent = await process(meta, transcriber, rasa)
    assert (transcriber.calls, rasa.texts) == ([], [])
    assert "voice notes of up to 60 seconds" in texts_of(sent)[0]


@pytest.mark.asyncio
async def test_with_voice_off_the_fixed_reply_stays(school_db, meta, monkeypatch):  # noqa: F811
    monkeypatch.setenv("HSM_VOICE", "off")
    transcriber, rasa = Transcriber(Transcript(HEARD, confidence=0.9)), Rasa()
    wamid, sent = await process(meta, transcriber, rasa)
    assert (transcriber.calls, rasa.texts) == ([], [])
    assert texts_of(sent) == [UNUSABLE_REPLIES["audio"]]
    assert stored(wamid) == (store.SKIPPED, None)
