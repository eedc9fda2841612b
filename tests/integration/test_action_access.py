"""Every action declares who may run it, and the one central check enforces it: every role × every action.
Refusals are hsm.people.access's fixed texts: no names, no balances, no digits, nothing that confirms anyone exists."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import pkgutil
import re

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

import actions
from actions.common import GuardedAction
from hsm.people import access

PHONES = {
    "admin": "+919800000001",
    "teacher": "+919811000101",
    "student": "+919876543210",
    "guardian": "+919845000007",
    "prospect": "+919700000999",
}
UNGUARDED = {"action_session_start"}  # it is the one that finds out who is writing


def all_actions() -> list[type[Action]]:
    for module in pkgutil.iter_modules(actions.__path__):
        importlib.import_module(f"actions.{module.name}")
    found, todo = [], list(Action.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("actions.") and not inspect.isabstract(cls):
            found.append(cls)
    return sorted(found, key=lambda cls: cls().name())


GUARDED = [cls for cls in all_actions() if issubclass(cls, GuardedAction)]


def test_every_custom_action_is_guarded_with_known_capabilities():
    from rasa_sdk.forms import FormValidationAction

    for cls in all_actions():
        if issubclass(cls, FormValidationAction) or cls().name() in UNGUARDED:
            continue
        assert issubclass(cls, GuardedAction), f"{cls.__name__} does not declare who may run it"
        assert cls.capabilities and all(c in access.PERMISSIONS for c in cls.capabilities), cls.__name__


@pytest.mark.parametrize("role", list(PHONES))
def test_the_matrix(school_db, role, monkeypatch):
    ran: list[str] = []

    async def fake_act(self, dispatcher, tracker, domain):
        ran.append(self.name())
        return []

    for cls in GUARDED:
        monkeypatch.setattr(cls, "act", fake_act)
        tracker = Tracker(
            PHONES[role],
            {"role": None},
            {"text": "hi", "intent": {"name": "greet"}},
            [],
            False,
            None,
            {},
            "action_listen",
        )
        dispatcher = CollectingDispatcher()
        asyncio.run(cls().run(dispatcher, tracker, {}))
        expected = any(role in access.PERMISSIONS[c] for c in cls.capabilities)
        if expected:
            assert ran[-1:] == [cls().name()] and dispatcher.messages == [], (role, cls.__name__)
        else:
            assert ran[-1:] != [cls().name()], (role, cls.__name__)
            (message,) = dispatcher.messages
            refusal = message["text"]
            assert refusal == access.refusal_text(access_identity(role), cls.capabilities[0])
            assert not re.search(r"\d|₹|Rahul|John|Kavitha|Meera|Aarav|Anika", refusal), refusal
        ran.clear()


def access_identity(role: str):
    from hsm.infra.db import session_scope
    from hsm.people.identity import identify

    with session_scope() as session:
        return identify(session, PHONES[role])
