"""The questions the leave and enrollment forms ask, one `action_ask_<slot>` action per slot.

Rasa's form looks for `action_ask_<slot>` before `utter_ask_<slot>` (rasa/core/actions/forms.py,
`_name_of_utterance`), so the forms ask through these actions. They are actions, not domain responses, because
`rasa data validate --fail-on-warning` counts a response as used only when a story or rule runs it
(rasa/validator.py, `verify_utterances_in_stories`), and a form's questions never appear in a story or rule: the
form runs them itself. The same holds for a response an action sends, hence actions/texts.py.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import GuardedAction
from hsm.outreach.enquiry import SELF

LEVEL_BUTTONS = [{"title": level, "payload": level} for level in ("Beginner", "Intermediate", "Advanced")]


@dataclass(frozen=True)
class Question:
    capability: str  # the capability of the form that asks (hsm.people.access.PERMISSIONS)
    text: str
    buttons: tuple[dict[str, str], ...] = ()
    to_learner: str | None = None  # the question when the learner is writing (slot enroll_for = "self")


QUESTIONS: dict[str, Question] = {
    "leave_date": Question(
        "report_leave", "Which day(s) will you be on leave? (e.g. 'tomorrow', 'Friday', '3 Dec', '3rd to 5th Dec')"
    ),
    "leave_reason": Question("report_leave", "What's the reason? (Say 'skip' if you'd rather not say.)"),
    "enroll_age": Question("enrollment_inquiry", "How old is the student?", to_learner="How old are you?"),
    "enroll_level": Question(
        "enrollment_inquiry", "What's their experience level?", tuple(LEVEL_BUTTONS), "What's your experience level?"
    ),
    "enroll_preference": Question(
        "enrollment_inquiry",
        "Which days or times suit you? (e.g. 'weekends', 'weekday evenings', 'after 5pm', or 'any')",
    ),
}


class AskForSlot(GuardedAction):
    """Ask for `slot`, guarded by the capability of the form that asks (the central check, as for every action)."""

    @property
    @abc.abstractmethod
    def slot(self) -> str:
        """The form slot this action asks for."""

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        question = QUESTIONS[self.slot]
        learner = question.to_learner and tracker.get_slot("enroll_for") == SELF
        dispatcher.utter_message(
            text=question.to_learner if learner else question.text, buttons=list(question.buttons) or None
        )
        return []


# One action class a question (the action server registers every subclass of Action it finds).
ASK_ACTIONS = [
    type(f"Ask_{slot}", (AskForSlot,), {"slot": slot, "capabilities": (question.capability,), "__module__": __name__})
    for slot, question in QUESTIONS.items()
]
