"""`action_session_start`: resolve who is writing (phone number -> role and person) once per session."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from hsm.infra.db import session_scope
from hsm.people.identity import Identity, identify


def _identify_sender(sender_id: str) -> Identity:
    with session_scope() as session:
        return identify(session, sender_id)


class ActionSessionStart(Action):
    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        # The channel uses the sender's WhatsApp number as the conversation id.
        who = await asyncio.to_thread(_identify_sender, tracker.sender_id)
        return [
            SessionStarted(),
            SlotSet("role", who.role),
            SlotSet("person_name", who.name.split()[0] if who.name else None),
            ActionExecuted("action_listen"),
        ]
