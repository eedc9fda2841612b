"""Schedule actions (UC-2, UC-4): a teacher's day; a student's or parent's next classes; the school's timings."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import GuardedAction, caller, entity, in_session, user_text
from hsm.classes import family, teacher_day
from hsm.classes.dates import parse_date
from hsm.infra import clock
from hsm.outreach import faq


def show_schedule(session: Session, tracker: Tracker) -> tuple[str, list[dict]]:
    who = caller(session, tracker)
    today = clock.today()
    day = parse_date(user_text(tracker), today)
    if who.role == "teacher":
        assert who.person_id is not None  # a teacher is always a linked person
        return teacher_day.format_schedule(session, who.person_id, day or today, today), []
    if who.role in ("student", "guardian"):
        answer = family.next_classes_text(session, who, child_name=entity(tracker, "person"), day=day)
        return answer.text, [
            {"title": title, "payload": f'/check_schedule{{"person":"{title}"}}'} for title, _ in answer.choices
        ]
    timings = faq.answer(session, "timings") or ""
    return f"{timings}\nAsk me about a course (e.g. 'piano classes') to see its batches and timings.".strip(), []


class ActionShowSchedule(GuardedAction):
    capabilities = ("teacher_schedule", "next_class", "faq")

    def name(self) -> str:
        return "action_show_schedule"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        text, buttons = await in_session(lambda s: show_schedule(s, tracker))
        dispatcher.utter_message(text=text, buttons=buttons or None)
        return []
