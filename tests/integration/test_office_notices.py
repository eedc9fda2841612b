"""What outsiders can make the bot relay to the office: at most one "needs help" notice per number per
HSM_OFFICE_NOTICE_HOURS (remembered in the database), and their words quoted without Unicode format characters."""

from __future__ import annotations

import asyncio
import unicodedata

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import fallback
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.outreach import enrollment

PROSPECT = "+919700000999"


def _miss(text: str, misses: int) -> None:
    events = [
        {"event": "user", "text": "??", "parse_data": {"intent": {"name": "nlu_fallback"}}} for _ in range(misses)
    ]
    tracker = Tracker(
        PROSPECT,
        {"role": None},
        {"text": text, "intent": {"name": "nlu_fallback"}},
        events,
        False,
        None,
        {},
        "action_listen",
    )
    asyncio.run(fallback.ActionFallback().run(CollectingDispatcher(), tracker, {}))


def _collect(monkeypatch) -> list[list]:
    sent: list[list] = []

    async def deliver(notices):
        if notices:
            sent.append(list(notices))

    monkeypatch.setattr(fallback, "deliver", deliver)
    return sent


def test_one_office_notice_per_number_per_window(school_db, monkeypatch):
    sent = _collect(monkeypatch)
    for misses in (3, 4, 5):
        _miss("blah blah", misses)
    assert len(sent) == 1
    monkeypatch.setenv("HSM_NOW", "2026-12-01T22:00:00+05:30")  # 5½ hours later: still inside the 6 hours
    _miss("blah blah", 6)
    assert len(sent) == 1
    monkeypatch.setenv("HSM_NOW", "2026-12-01T22:31:00+05:30")  # 6 hours and a minute later
    _miss("blah blah", 7)
    assert len(sent) == 2


def test_the_window_is_configurable(school_db, monkeypatch):
    sent = _collect(monkeypatch)
    monkeypatch.setenv("HSM_OFFICE_NOTICE_HOURS", "1")
    _miss("blah", 2)
    monkeypatch.setenv("HSM_NOW", "2026-12-01T17:31:00+05:30")
    _miss("blah", 3)
    assert len(sent) == 2


def test_format_characters_never_reach_the_office_and_the_text_is_quoted(school_db, monkeypatch):
    sent = _collect(monkeypatch)
    _miss('pay to\u202e 1234 \u200bnow "please"', 2)
    (notices,) = sent
    for notice in notices:
        for text in (notice.text, *notice.template_params):
            assert not any(unicodedata.category(ch) == "Cf" for ch in text), text
            assert "“pay to 1234 now 'please'”" in text, text


def test_a_profile_name_reaches_the_lead_notice_without_format_characters(school_db):
    with session_scope() as session:
        _, notices = enrollment.create_lead(session, PROSPECT, "Ad\u202emin\u200b", "PIANO", 8, None, None)
        assert notices
        for notice in notices:
            for text in (notice.text, *notice.template_params):
                assert not any(unicodedata.category(ch) == "Cf" for ch in text), text
                assert "“Admin”" in text, text
        assert session.query(m.Lead).count() >= 1
