"""Absence actions: a student or parent says a child will miss a class (the notice is recorded and the teacher told),
or answers an absence alert with "he was there" (the teacher is asked to check)."""

from __future__ import annotations

from datetime import date
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import GuardedAction, caller, entity, in_session, payload, user_text
from hsm.classes import absence_alerts, absences
from hsm.infra import clock
from hsm.infra.phone import mask_phone
from hsm.outreach.notices import Notice
from hsm.outreach.notify import deliver


def _buttons(choices: list[absences.Choice] | tuple[absences.Choice, ...]) -> list[dict]:
    return [{"title": c.title, "payload": payload(c.intent, **c.entities)} for c in choices]


def _payload_day(tracker: Tracker) -> date | None:
    try:
        return date.fromisoformat(str(entity(tracker, "date")))
    except ValueError:
        return None  # a date entity in typed text ("tomorrow"): the text itself is read


def take_notice(session: Session, tracker: Tracker) -> dict[str, Any]:
    """The plan for the message; when it names one class, the recorded notice, the teacher's message and both
    possible replies (the teacher reached or not)."""
    who = caller(session, tracker)
    typed = user_text(tracker)
    text = typed or tracker.get_slot("absence_text") or ""
    code = entity(tracker, "student_id")
    plan = absences.plan_notice(
        session,
        who,
        text,
        student_code=str(code) if code else None,
        batch_code=entity(tracker, "batch_code"),
        day=None if typed else _payload_day(tracker),
    )
    if plan.problem or plan.question:
        return {"text": plan.problem or plan.question, "buttons": _buttons(plan.choices), "text_slot": text}
    assert plan.student is not None and plan.meeting is not None  # neither a problem nor a question: one class
    today, own = clock.today(), who.role == "student"
    if plan.existing is not None:
        reply = absences.notice_reply(session, plan.existing, own, True, today, repeated=True)
        return {"text": reply.text, "buttons": _buttons(reply.buttons)}
    notice = absences.record_absence_notice(
        session,
        plan.student.id,
        plan.meeting.batch.id,
        plan.meeting.class_date,
        reporter_role=who.role,
        reporter_name=who.name or "",
        reporter_phone=who.phone[:16],
        reason=text,
        actor=f"whatsapp:{mask_phone(who.phone)}",
    )
    return {
        "teacher": absences.teacher_notice(session, notice, today),
        "told": absences.notice_reply(session, notice, own, True, today),
        "not_told": absences.notice_reply(session, notice, own, False, today),
    }


class ActionAbsenceNotice(GuardedAction):
    """A student or parent saying they will miss a class: recorded for that class, the teacher told at once."""

    capabilities = ("absence_notice",)

    def name(self) -> str:
        return "action_absence_notice"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        outcome = await in_session(lambda s: take_notice(s, tracker))
        if "text" in outcome:
            dispatcher.utter_message(text=outcome["text"], buttons=outcome["buttons"] or None)
            return [SlotSet("absence_text", outcome.get("text_slot"))]
        teacher: Notice | None = outcome["teacher"]
        told = teacher is not None and (await deliver([teacher], kind=None)).delivered == 1
        reply: absences.NoticeReply = outcome["told" if told else "not_told"]
        dispatcher.utter_message(text=reply.text, buttons=_buttons(reply.buttons) or None)
        return [SlotSet("absence_text", None)]


class ActionAbsenceDispute(GuardedAction):
    """A student or parent answering an absence alert ("he was there"): the teacher is asked to check."""

    capabilities = ("absence_notice",)

    def name(self) -> str:
        return "action_absence_dispute"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        def dispute(session: Session) -> absence_alerts.Dispute:
            who = caller(session, tracker)
            return absence_alerts.dispute_absence(session, who, user_text(tracker), f"whatsapp:{mask_phone(who.phone)}")

        outcome = await in_session(dispute)
        report = await deliver(outcome.notices, kind=None)
        dispatcher.utter_message(text=outcome.told(report.delivered == len(outcome.notices)))
        return []
