"""The caller's number itself: stop/start messages (per kind), link an unknown number to a student with a mailed
code, and switch between the roles a number holds ("as parent")."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import GuardedAction, caller, in_session, user_text
from hsm.people import access, linking, subscriptions


class ActionSubscription(GuardedAction):
    """STOP / START, "stop reminders", "start announcements"."""

    capabilities = ("opt_out", "opt_in")

    def name(self) -> str:
        return "action_subscription"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        text = user_text(tracker)
        command = subscriptions.parse_subscription_command(text)
        if command is None:  # the classifier heard an opt-out/in the strict parser did not: go by the intent
            intent = tracker.get_intent_of_latest_message()
            command = ("opt_out" if intent == "opt_out" else "opt_in", tuple(subscriptions.KINDS))
        action, kinds = command

        def apply(session):
            change = subscriptions.opt_out if action == "opt_out" else subscriptions.opt_in
            change(session, tracker.sender_id, list(kinds))

        await in_session(apply)
        dispatcher.utter_message(text=subscriptions.confirmation_text(action, kinds))
        return []


class ActionLink(GuardedAction):
    """ "I'm Mary Thomas's mother, enrollment ID HSM-24-002" → a code by e-mail; the code → linked."""

    capabilities = ("link_identity",)

    def name(self) -> str:
        return "action_link"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        text = user_text(tracker)
        if linking.parse_code(text):
            reply = await linking.complete_link(tracker.sender_id, text)
            dispatcher.utter_message(text=reply)
            return [SlotSet("role", None)]  # the next action_session_start (or caller()) sees the new role
        request = linking.parse_link_request(text)
        if request is None:
            dispatcher.utter_message(
                text="To link this number, send the student's enrollment ID and your relation, "
                "e.g. 'I'm the mother of HSM-24-000'."
            )
            return []
        dispatcher.utter_message(text=await linking.start_link(tracker.sender_id, request))
        return []


class ActionSwitchRole(GuardedAction):
    capabilities = ("switch_role",)

    def name(self) -> str:
        return "action_switch_role"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        who = await in_session(lambda s: caller(s, tracker))
        switched = access.switch_role(who, user_text(tracker))
        if switched is None:
            dispatcher.utter_message(text="This number has only one role with us, so there is nothing to switch.")
            return []
        name = switched.name.split()[0] if switched.name else None
        dispatcher.utter_message(text=access.switched_reply(switched))
        return [SlotSet("role", switched.role), SlotSet("person_name", name)]
