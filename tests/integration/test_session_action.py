"""`action_session_start` sets role and first name from the sender's phone number."""

import asyncio

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.session import ActionSessionStart


def run_session_start(sender_id: str) -> list[dict]:
    tracker = Tracker(sender_id, {}, {}, [], False, None, {}, "action_listen")
    return asyncio.run(ActionSessionStart().run(CollectingDispatcher(), tracker, {}))


def test_teacher_is_recognised_from_whatsapp_id(school_db):
    events = run_session_start("919811000101")
    assert events == [
        {"event": "session_started", "timestamp": None},
        {"event": "slot", "timestamp": None, "name": "role", "value": "teacher"},
        {"event": "slot", "timestamp": None, "name": "person_name", "value": "Rahul"},
        {"event": "action", "timestamp": None, "name": "action_listen", "policy": None, "confidence": None},
    ]


def test_unknown_number_is_a_prospect(school_db):
    events = run_session_start("447700900123")
    assert {"event": "slot", "timestamp": None, "name": "role", "value": "prospect"} in events
    assert {"event": "slot", "timestamp": None, "name": "person_name", "value": None} in events
