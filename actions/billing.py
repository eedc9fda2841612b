"""Billing actions (UC-5, UC-7): classes left, what is due, and a payment link for it."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import GuardedAction, caller, entity, in_session, payload
from hsm.classes import family
from hsm.classes.family import Answer
from hsm.money import payments, providers

NO_ONLINE_PAYMENTS = "Online payment isn't available right now. Please pay at the school office. 🙏"


def _child_buttons(answer: Answer, intent: str) -> list[dict] | None:
    return [{"title": name, "payload": payload(intent, person=name)} for name, _ in answer.choices] or None


class ActionClassesRemaining(GuardedAction):
    capabilities = ("classes_remaining",)

    def name(self) -> str:
        return "action_classes_remaining"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        answer = await in_session(lambda s: family.balance_text(s, caller(s, tracker), entity(tracker, "person")))
        dispatcher.utter_message(text=answer.text, buttons=_child_buttons(answer, "classes_remaining"))
        return []


class ActionPaymentStatus(GuardedAction):
    capabilities = ("payment_status",)

    def name(self) -> str:
        return "action_payment_status"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        answer = await in_session(lambda s: family.dues_text(s, caller(s, tracker), entity(tracker, "person")))
        dispatcher.utter_message(text=answer.text, buttons=_child_buttons(answer, "payment_status"))
        return []


class ActionPaymentLink(GuardedAction):
    """A payment link for each fee that is due (or overdue) for the caller's family, remembered before it is sent
    (only a link we made can be paid)."""

    capabilities = ("request_payment_link",)

    def name(self) -> str:
        return "action_payment_link"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        def due(session: Session):
            who = caller(session, tracker)
            if who.role not in ("student", "guardian"):
                return who, [], family.refusal_text(who), providers.payment_provider_from_env(session)
            items = payments.due_for_link(session, who, entity(tracker, "person"))
            return who, items, None, providers.payment_provider_from_env(session)

        who, items, refusal, provider = await in_session(due)
        if refusal:
            dispatcher.utter_message(text=refusal)
            return []
        if not items:
            dispatcher.utter_message(text="Nothing is due right now 🎉 I'll remind you before the next fee.")
            return []
        if provider is None:
            dispatcher.utter_message(text=NO_ONLINE_PAYMENTS)
            return []
        try:
            links = await payments.create_payment_links(provider, who, items)
            await in_session(lambda session: payments.remember_links(session, provider.name, links))
        except providers.PaymentError:
            dispatcher.utter_message(
                text="Sorry, I couldn't create a payment link just now. Please try again in a "
                "few minutes, or pay at the office."
            )
            return []
        dispatcher.utter_message(text=payments.payment_links_text(links))
        return []
