"""A conversation whose number lost its role starts a new session in the role it has now (SchoolTrackerStore with
the check the WhatsApp channel installs, `connectors.whatsapp.role_now`), on the school's database."""

from __future__ import annotations

import asyncio
import time

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import select

from connectors.whatsapp import role_now
from hsm.infra import models as m
from hsm.infra.config import PROJECT_ROOT
from hsm.infra.db import session_scope
from hsm.people import lifecycle
from hsm.people.identity import role_of
from hsm.rasa_glue import stores
from hsm.whatsapp import store as whatsapp_store

RAHUL = "+919811000101"


@pytest.fixture
def store(school_db):
    domain = Domain.load(str(PROJECT_ROOT / "domain.yml"))
    tracker_store = stores.SchoolTrackerStore(domain=domain)
    stores.check_roles_with(role_now)
    yield tracker_store
    stores.check_roles_with(None)
    tracker_store.engine.dispose()


def teachers_session(domain: Domain) -> DialogueStateTracker:
    events = [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        SlotSet("role", "teacher"),
        SlotSet("person_name", "Rahul"),
        ActionExecuted("action_listen"),
        UserUttered("my schedule", {"name": "check_schedule", "confidence": 0.9}),
        ActionExecuted("action_show_schedule"),
        ActionExecuted("action_listen"),
    ]
    return DialogueStateTracker.from_events(RAHUL, events, domain.slots)


def test_a_teacher_who_left_is_a_prospect_in_a_new_session(store):
    asyncio.run(store.save(teachers_session(store.domain)))
    kept = asyncio.run(store.retrieve(RAHUL))
    assert kept.get_slot("role") == "teacher" and len(kept.events) == 7  # the session from SessionStarted

    with session_scope() as session:
        lifecycle.set_active(session, "cli:test", "teacher", "T-101", False, "moved away")
    restarted = asyncio.run(store.retrieve(RAHUL))
    assert restarted.get_slot("role") == "prospect" and restarted.get_slot("person_name") is None
    assert [type(e).__name__ for e in list(restarted.events)[-5:]] == [
        "ActionExecuted",
        "SessionStarted",
        "SlotSet",
        "SlotSet",
        "ActionExecuted",
    ]
    assert restarted.latest_action_name == "action_listen"
    asyncio.run(store.save(restarted))
    again = asyncio.run(store.retrieve(RAHUL))  # the new session is the one stored: no second restart
    assert again.get_slot("role") == "prospect" and len(again.events) == 4

    with session_scope() as session:
        lifecycle.set_active(session, "cli:test", "teacher", "T-101", True)
    back = asyncio.run(store.retrieve(RAHUL))
    assert (back.get_slot("role"), back.get_slot("person_name")) == ("teacher", "Rahul")


def test_a_role_chosen_by_the_caller_is_kept_while_the_number_holds_it(store):
    assert role_now("+919845000007", "guardian") is None
    assert role_now("+919845000007", "teacher") == ("guardian", "Kavitha")
    assert role_now("+919999999999", "prospect") is None
    assert role_now("+919999999999", None) == ("prospect", None)  # after linking: the role is read again


def test_without_a_check_nothing_changes(store):
    stores.check_roles_with(None)
    with session_scope() as session:
        lifecycle.set_active(session, "cli:test", "teacher", "T-101", False, "moved away")
    asyncio.run(store.save(teachers_session(store.domain)))
    assert asyncio.run(store.retrieve(RAHUL)).get_slot("role") == "teacher"


def test_a_failing_check_keeps_the_conversation(store, caplog):
    def broken(sender_id: str, role: str | None, since: float) -> None:
        raise RuntimeError("database unreachable")

    asyncio.run(store.save(teachers_session(store.domain)))
    stores.check_roles_with(broken)
    kept = asyncio.run(store.retrieve(RAHUL))
    assert kept is not None and kept.get_slot("role") == "teacher" and len(kept.events) == 7
    assert "the role check failed" in caplog.text


def test_a_conversation_the_office_cleared_starts_afresh_at_the_next_message(store):
    prospect = "+919700000990"
    events = [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        SlotSet("role", "prospect"),
        ActionExecuted("action_listen"),
        UserUttered("piano classes for my son", {"name": "enrollment_inquiry", "confidence": 0.9}),
        SlotSet("enroll_course", "PIANO"),
        ActiveLoop("enrollment_form"),
        SlotSet("requested_slot", "enroll_age"),
        ActionExecuted("action_listen"),
    ]
    asyncio.run(store.save(DialogueStateTracker.from_events(prospect, events, store.domain.slots)))
    whatsapp_store.touch_session(prospect, role_of=role_of)
    kept = asyncio.run(store.retrieve(prospect))
    assert kept.active_loop_name == "enrollment_form" and kept.get_slot("enroll_course") == "PIANO"

    with session_scope() as session:  # what POST /api/whatsapp/sessions/clear leaves in the session row
        row = session.execute(select(m.WhatsAppSession).where(m.WhatsAppSession.phone_number == prospect)).scalar_one()
        row.context = {whatsapp_store.CLEARED_AT: time.time()}
    fresh = asyncio.run(store.retrieve(prospect))
    assert fresh.active_loop_name is None and fresh.get_slot("enroll_course") is None
    assert fresh.get_slot("role") == "prospect" and fresh.latest_action_name == "action_listen"
    asyncio.run(store.save(fresh))
    assert len(asyncio.run(store.retrieve(prospect)).events) == 4  # cleared once: the new session goes on
