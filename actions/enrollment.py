"""Enrollment actions (UC-6): course facts, the questions still open, fitting batches, and a lead on yes."""

from __future__ import annotations

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.common import GuardedAction, entity, in_session, user_text
from actions.texts import NO_CALL_TEXT
from hsm.infra import models as m
from hsm.outreach import enquiry, enrollment
from hsm.outreach.notify import deliver

ENROLL_SLOTS = ("enroll_course", "enroll_age", "enroll_level", "enroll_preference", "enroll_for", "enroll_step")
ANY_TIME = {"any", "anything", "any time", "anytime", "no preference", "flexible", "whatever", "all"}
NOT_APPLICABLE = "n/a"


def _start(session: Session, tracker: Tracker) -> tuple[list[str], list[EventType]]:
    text = user_text(tracker)
    course_text = entity(tracker, "instrument") or text
    info = enrollment.course_info(session, course_text)
    if info is None:
        if entity(tracker, "instrument"):  # a course we don't teach: say so, and what we do teach
            return [enrollment.unknown_course_text(session, course_text)], _done()
        courses = session.execute(select(m.Course.name).order_by(m.Course.id)).scalars().all()
        return [f"We teach {', '.join(courses)}. Which course are you interested in?"], _done()
    said = enquiry.read_enquiry(text)  # everything the message already says: the form asks only the rest
    age = said.age
    level = entity(tracker, "level") or said.level
    messages = [enrollment.course_info_text(info)]
    events = [
        SlotSet("enroll_step", None),
        SlotSet("enroll_course", info.code),
        SlotSet("enroll_age", str(age) if age else None),
        SlotSet("enroll_level", enrollment.normalise_level(level) if level else None),
        SlotSet("enroll_preference", said.preference),
        SlotSet("enroll_for", said.lessons_for),
    ]
    if enrollment.age_check(info, age):  # the form's age validation says why; nothing more to ask
        events += [SlotSet("enroll_level", NOT_APPLICABLE), SlotSet("enroll_preference", NOT_APPLICABLE)]
    return messages, events


def _done() -> list[EventType]:
    """Nothing to ask: fill the form's slots so it ends at once, with no course chosen."""
    return [
        SlotSet("enroll_course", None),
        SlotSet("enroll_age", NOT_APPLICABLE),
        SlotSet("enroll_level", NOT_APPLICABLE),
        SlotSet("enroll_preference", NOT_APPLICABLE),
    ]


class ActionEnrollmentStart(GuardedAction):
    capabilities = ("enrollment_inquiry",)

    def name(self) -> str:
        return "action_enrollment_start"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        messages, events = await in_session(lambda s: _start(s, tracker))
        for text in messages:
            dispatcher.utter_message(text=text)
        return events


class ValidateEnrollmentForm(FormValidationAction):
    def name(self) -> str:
        return "validate_enrollment_form"

    async def validate_enroll_age(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None or value == NOT_APPLICABLE:  # None: set empty by action_enrollment_start, still to ask
            return {"enroll_age": value}
        age = enquiry.parse_age(str(value))
        if age is None:
            dispatcher.utter_message(text="Please tell me the age as a number, e.g. '8'.")
            return {"enroll_age": None}
        info = await in_session(lambda s: enrollment.course_info(s, tracker.get_slot("enroll_course")))
        too_young = enrollment.age_check(info, age) if info else None
        if too_young:
            dispatcher.utter_message(text=too_young)
            return {"enroll_age": str(age), "enroll_level": NOT_APPLICABLE, "enroll_preference": NOT_APPLICABLE}
        return {"enroll_age": str(age)}

    async def validate_enroll_level(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None or value == NOT_APPLICABLE:
            return {"enroll_level": value}
        return {"enroll_level": enrollment.normalise_level(str(value))}

    async def validate_enroll_preference(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None or value == NOT_APPLICABLE:
            return {"enroll_preference": value}
        text = " ".join(str(value).split())[:200]
        return {"enroll_preference": "any" if text.lower() in ANY_TIME or not text else text}


def _offer(session: Session, tracker: Tracker) -> tuple[str, bool]:
    code = tracker.get_slot("enroll_course")
    info = enrollment.course_info(session, code) if code else None
    if info is None:
        return "", False
    age_text = tracker.get_slot("enroll_age")
    age = int(age_text) if age_text and age_text.isdigit() else None
    if enrollment.age_check(info, age):
        return "Would you like an administrator to call you about a course that fits now?", True
    level = tracker.get_slot("enroll_level")
    preference = tracker.get_slot("enroll_preference")
    options = enrollment.fitting_batches(
        session, info.code, age, level, None if preference in (None, "any", NOT_APPLICABLE) else preference
    )
    return enrollment.batches_text(info, options, level), True


class ActionEnrollmentOffer(GuardedAction):
    capabilities = ("enrollment_inquiry",)

    def name(self) -> str:
        return "action_enrollment_offer"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        text, offer = await in_session(lambda s: _offer(s, tracker))
        if not offer:
            return [SlotSet(name, None) for name in ENROLL_SLOTS]
        buttons = [{"title": "Yes, call me", "payload": "/affirm"}, {"title": "No, thanks", "payload": "/deny"}]
        dispatcher.utter_message(text=text, buttons=buttons)
        return [SlotSet("enroll_step", "offer")]


def _profile_name(session: Session, phone: str) -> str | None:
    """The WhatsApp profile name the user's last message carried (the channel stores it)."""
    meta = session.execute(
        select(m.WhatsAppMessage.message_metadata)
        .where(m.WhatsAppMessage.phone_number == phone, m.WhatsAppMessage.direction == "inbound")
        .order_by(m.WhatsAppMessage.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return (meta or {}).get("profile_name")


class ActionEnrollmentLead(GuardedAction):
    capabilities = ("enrollment_inquiry",)

    def name(self) -> str:
        return "action_enrollment_lead"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        def lead(session: Session):
            age = tracker.get_slot("enroll_age")
            level = tracker.get_slot("enroll_level")
            preference = tracker.get_slot("enroll_preference")
            row, notices = enrollment.create_lead(
                session,
                tracker.sender_id,
                _profile_name(session, tracker.sender_id),
                tracker.get_slot("enroll_course"),
                int(age) if age and age.isdigit() else None,
                None if level == NOT_APPLICABLE else level,
                None if preference in (NOT_APPLICABLE, None) else preference,
                lessons_for=tracker.get_slot("enroll_for"),
            )
            return enrollment.lead_confirmation_text(row), notices

        text, notices = await in_session(lead)
        await deliver(notices)
        dispatcher.utter_message(text=text)
        return [SlotSet(name, None) for name in ENROLL_SLOTS]


class ActionEnrollmentNoCall(GuardedAction):
    capabilities = ("enrollment_inquiry",)

    def name(self) -> str:
        return "action_enrollment_no_call"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(text=NO_CALL_TEXT)
        return [SlotSet(name, None) for name in ENROLL_SLOTS]
