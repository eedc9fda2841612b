"""Makeup class actions: a family books a makeup with a credit (the open slots as a list, one tap books) or cancels
it; the host batch's teacher is told (hsm.classes.makeup_chat)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import GuardedAction, caller, entity, in_session
from hsm.classes import makeup_chat
from hsm.classes.makeup_chat import Reply
from hsm.outreach.notify import deliver
from hsm.records.changes import RecordError
from hsm.whatsapp.render import render_list


def say(dispatcher: CollectingDispatcher, reply: Reply, lead: str | None = None) -> None:
    text = f"{lead}\n\n{reply.text}" if lead else reply.text
    if reply.rows:
        dispatcher.utter_message(json_message=render_list(text, reply.rows))
    else:
        dispatcher.utter_message(text=text, buttons=reply.buttons or None)


class ActionBookMakeup(GuardedAction):
    """`/book_makeup`: the open slots (or which child, or why none); a tapped slot row books it."""

    capabilities = ("makeup",)

    def name(self) -> str:
        return "action_book_makeup"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        slot = entity(tracker, "makeup_slot")
        person = entity(tracker, "person")
        if not slot:
            say(dispatcher, await in_session(lambda s: makeup_chat.offer(s, caller(s, tracker), person)))
            return []
        try:
            reply = await in_session(lambda s: makeup_chat.book_slot(s, caller(s, tracker), str(slot)))
        except RecordError as refused:  # the seat went to someone else, or the credit was used: what is left
            again = await in_session(lambda s: makeup_chat.offer(s, caller(s, tracker), None))
            say(dispatcher, again, lead=refused.message)
            return []
        await deliver(reply.notices, kind=None)
        say(dispatcher, reply)
        return []


class ActionCancelMakeup(GuardedAction):
    """`/cancel_makeup`: cancel the family's booked makeup (asking which when there are several)."""

    capabilities = ("makeup",)

    def name(self) -> str:
        return "action_cancel_makeup"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        booking, person = entity(tracker, "makeup_booking"), entity(tracker, "person")
        try:
            reply = await in_session(lambda s: makeup_chat.cancel(s, caller(s, tracker), person, booking))
        except RecordError as refused:
            dispatcher.utter_message(text=refused.message)
            return []
        await deliver(reply.notices, kind=None)
        say(dispatcher, reply)
        return []
