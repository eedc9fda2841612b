"""After an admin's announcement of closed days ("broadcast to all students: school closed on 14 Dec for
elections"), the answer to "also mark these days closed?": yes closes them for the announcement's audience
without telling the families again (they just got the announcement; only families whose makeup in those classes
is cancelled are messaged); no leaves them open."""

from __future__ import annotations

import json
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import GuardedAction, caller, in_session
from actions.pending import NO_CLOSURE_OFFER, actor_code
from hsm.outreach import closure_notices
from hsm.outreach.notices import Notice
from hsm.outreach.notify import deliver


class ActionClosureMark(GuardedAction):
    capabilities = ("closures",)

    def name(self) -> str:
        return "action_closure_mark"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        raw = tracker.get_slot("pending_closure")
        if not raw:
            dispatcher.utter_message(text="There are no announced days waiting to be marked closed.")
            return list(NO_CLOSURE_OFFER)
        offer = closure_notices.Offer.from_json(json.loads(raw))

        def mark(session: Session) -> tuple[list[str], list[Notice]]:
            who = caller(session, tracker)
            return closure_notices.accept_offer(session, f"admin:{actor_code(session, who)}", offer)

        lines, notices = await in_session(mark)
        await deliver(notices)
        marked = any("(closure #" in line for line in lines)
        title = "✅ Marked closed:" if marked else "Nothing was marked closed:"
        text = "\n".join([title, *lines])
        if marked:
            text += "\nSchedules, next-class answers and class reminders skip those classes; " + (
                f"only the families of the makeups cancelled were messaged ({len(notices)} number(s), credit back)."
                if notices
                else "nobody was messaged again."
            )
        dispatcher.utter_message(text=text)
        return list(NO_CLOSURE_OFFER)


class ActionClosureSkip(GuardedAction):
    capabilities = ("converse",)

    def name(self) -> str:
        return "action_closure_skip"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(text="Okay, those days stay open: classes go on as scheduled.")
        return list(NO_CLOSURE_OFFER)
