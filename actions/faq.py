"""FAQ actions: answer a general question from the school's FAQ data, or offer the topics as a menu."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import GuardedAction
from hsm.infra.db import session_scope
from hsm.outreach import faq


def _lookup(topic: str | None) -> tuple[str | None, list[tuple[str, str]]]:
    with session_scope() as session:
        return faq.answer(session, topic), faq.topics(session)


def topic_buttons(topics: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"title": title, "payload": "/general_query" + json.dumps({"faq_topic": topic})} for topic, title in topics]


class ActionAnswerFaq(GuardedAction):
    capabilities = ("faq",)

    def name(self) -> str:
        return "action_answer_faq"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        topic = next(tracker.get_latest_entity_values("faq_topic"), None) or tracker.get_slot("faq_topic")
        answer, topics = await asyncio.to_thread(_lookup, topic)
        if answer:
            dispatcher.utter_message(text=answer)
        else:
            dispatcher.utter_message(text="Here is what people often ask about:", buttons=topic_buttons(topics))
        return [SlotSet("faq_topic", None)]


class ActionShowMenu(GuardedAction):
    capabilities = ("help",)

    def name(self) -> str:
        return "action_show_menu"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        _, topics = await asyncio.to_thread(_lookup, None)
        dispatcher.utter_message(text="Popular questions:", buttons=topic_buttons(topics))
        return []
