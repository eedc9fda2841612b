"""Not understood or out of scope: say what the bot can do (buttons for the caller's role); the second miss in a
row offers a human: the number waits for one on the console's Today page (hsm.outreach.human_help) and the office is
told, with a link to the conversation (once per number per HSM_OFFICE_NOTICE_HOURS, the words quoted and cleaned:
hsm.outreach.notices)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import GuardedAction, caller, in_session, payload
from hsm.infra.config import get_settings
from hsm.outreach.human_help import ask_for_human
from hsm.outreach.notices import Notice, claim_office_notice, office_admins, staff_quote, staff_text
from hsm.outreach.notify import deliver

MISSES = {"nlu_fallback", "out_of_scope"}
MENUS = {
    "teacher": [
        ("Mark attendance", payload("mark_attendance")),
        ("My schedule", payload("check_schedule")),
        ("Report leave", payload("report_leave")),
    ],
    "student": [
        ("Next class", payload("check_schedule")),
        ("Classes left", payload("classes_remaining")),
        ("Fees due", payload("payment_status")),
    ],
    "admin": [("Help", payload("help"))],
    "prospect": [
        ("Courses & fees", payload("enrollment_inquiry")),
        ("Free trial class", payload("general_query", faq_topic="trial_class")),
        ("Timings", payload("general_query", faq_topic="timings")),
    ],
}
MENUS["guardian"] = MENUS["student"]


def _missed_twice(tracker: Tracker) -> bool:
    """Was the user's previous message also not understood (with nothing understood in between)?"""
    intents = [
        event.get("parse_data", {}).get("intent", {}).get("name")
        for event in tracker.events
        if event.get("event") == "user"
    ]
    return len(intents) >= 2 and intents[-1] in MISSES and intents[-2] in MISSES


def _office_notices(session: Session, phone: str, text: str) -> list[Notice]:
    """The number waits for a human; the admins' "needs help" notices with the conversation's link, at most once
    per number per HSM_OFFICE_NOTICE_HOURS (none otherwise)."""
    conversation_id = ask_for_human(session, phone, staff_text(text, 500))
    if not claim_office_notice(session, phone):
        return []
    link = f"{get_settings().admin_api.console_url.rstrip('/')}/conversations/{conversation_id}"
    summary = f"{phone} needs help on WhatsApp; last message: {staff_quote(text, 200)}. Answer: {link}"
    return [
        Notice(admin.phone, "admin", f"🙋 {summary}", "new_lead_admin", (summary,)) for admin in office_admins(session)
    ]


class ActionFallback(GuardedAction):
    capabilities = ("converse",)

    def name(self) -> str:
        return "action_fallback"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        text = (tracker.latest_message or {}).get("text") or ""
        twice = _missed_twice(tracker)

        def look_up(session: Session):
            who = caller(session, tracker)
            notices = _office_notices(session, who.phone, text) if twice else []
            return who.role, notices

        role, notices = await in_session(look_up)
        buttons = [{"title": title, "payload": target} for title, target in MENUS.get(role, MENUS["prospect"])]
        if twice:
            await deliver(notices)
            dispatcher.utter_message(
                text="Sorry, I still didn't get that. I've asked someone from the office to help you; they'll "
                "reply here soon. Meanwhile, here is what I can do:",
                buttons=buttons,
            )
        elif (tracker.latest_message or {}).get("intent", {}).get("name") == "out_of_scope":
            dispatcher.utter_message(
                text="Sorry, I can only help with Hyderabad School of Music matters. Here is what I can do:",
                buttons=buttons,
            )
        else:
            dispatcher.utter_message(text="Sorry, I didn't get that. Here is what I can do:", buttons=buttons)
        return []
