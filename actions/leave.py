"""Leave actions (UC-3): a teacher reports leave (date and reason asked only if missing), reviews the classes it
cancels, confirms; the admins and affected families are told. (A student's or parent's notice: actions/absence.py.)"""

from __future__ import annotations

from datetime import date
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.common import GuardedAction, caller, in_session, user_text
from hsm.classes import leave
from hsm.classes.dates import day_label, parse_date, time_label
from hsm.infra import clock
from hsm.outreach.notify import deliver

SKIP_WORDS = {"skip", "no", "none", "nothing", "-", "na", "n/a", "personal", "prefer not to say"}


class ActionLeaveStart(GuardedAction):
    """Take the date and reason from the first message ("can't come on Friday, fever") when it has them."""

    capabilities = ("report_leave",)

    def name(self) -> str:
        return "action_leave_start"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        text = user_text(tracker)
        day = parse_date(text, clock.today())
        reason = leave.reason_in(text)
        return [
            SlotSet("leave_step", None),
            SlotSet("leave_date", day.isoformat() if day else None),
            SlotSet("leave_reason", reason),
        ]


class ValidateLeaveForm(FormValidationAction):
    def name(self) -> str:
        return "validate_leave_form"

    async def validate_leave_date(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:  # not given in the first message: the form asks for it
            return {"leave_date": None}
        today = clock.today()
        day: date | None
        try:
            day = date.fromisoformat(str(value))
        except ValueError:
            day = parse_date(str(value or ""), today)
        if day is None:
            dispatcher.utter_message(text="I couldn't read a date there. Try 'tomorrow', 'Friday' or '3 Dec'.")
            return {"leave_date": None}
        problem = leave.date_problem(day, today)
        if problem:
            dispatcher.utter_message(text=problem)
            return {"leave_date": None}
        return {"leave_date": day.isoformat()}

    async def validate_leave_reason(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {"leave_reason": None}
        reason = " ".join(str(value).split())[:200]
        if reason.lower() in SKIP_WORDS:
            return {"leave_reason": "not given"}
        return {"leave_reason": reason or "not given"}


def _review(session: Session, tracker: Tracker) -> tuple[str, list[dict], list[EventType]]:
    who = caller(session, tracker)
    assert who.person_id is not None  # only prospects have no person (and the capability check keeps them out)
    day = date.fromisoformat(tracker.get_slot("leave_date"))
    reason = tracker.get_slot("leave_reason")
    plan = leave.plan_leave(session, who.person_id, day, None if reason == "not given" else reason)
    if plan.already_on_leave:
        return (
            f"You're already on leave on {day_label(day)}. Nothing to change.",
            [],
            [SlotSet("leave_step", None), SlotSet("leave_date", None), SlotSet("leave_reason", None)],
        )
    closed = "".join(
        f"\n• {mt.batch.name} {time_label(mt.starts_at.time())} is already cancelled ({mt.closed.labelled})"
        for mt in plan.closed
        if mt.closed is not None
    )
    if plan.affected:
        classes = "\n".join(f"• {mt.batch.name} {time_label(mt.starts_at.time())}" for mt in plan.affected)
        text = (
            f"Leave on {day_label(day)} ({reason}). These classes will be cancelled:\n{classes}{closed}\n\n"
            "I'll tell the office and the students' families. Confirm?"
        )
    elif closed:
        text = f"You have no classes to cancel on {day_label(day)}:{closed}\n\nRecord the leave ({reason}) anyway?"
    else:
        text = f"You have no classes on {day_label(day)}. Record the leave ({reason}) anyway?"
    buttons = [{"title": "Yes, confirm", "payload": "/affirm"}, {"title": "No, cancel", "payload": "/deny"}]
    return text, buttons, [SlotSet("leave_step", "confirm")]


class ActionLeaveReview(GuardedAction):
    capabilities = ("report_leave",)

    def name(self) -> str:
        return "action_leave_review"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        text, buttons, events = await in_session(lambda s: _review(s, tracker))
        dispatcher.utter_message(text=text, buttons=buttons or None)
        return events


class ActionLeaveRecord(GuardedAction):
    capabilities = ("report_leave",)

    def name(self) -> str:
        return "action_leave_record"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        def record(session: Session):
            who = caller(session, tracker)
            assert who.person_id is not None  # only prospects have no person (and the capability check keeps them out)
            day = date.fromisoformat(tracker.get_slot("leave_date"))
            reason = tracker.get_slot("leave_reason")
            actor = f"teacher:{leave.employee_id(session, who.person_id)}"
            _, notices = leave.record_leave(
                session, who.person_id, day, None if reason == "not given" else reason, actor
            )
            return day, notices

        clear = [SlotSet("leave_step", None), SlotSet("leave_date", None), SlotSet("leave_reason", None)]
        try:
            day, notices = await in_session(record)
        except leave.LeaveError as error:
            dispatcher.utter_message(text=str(error))
            return clear
        report = await deliver(notices)
        families = sum(1 for n in notices if n.audience != "admin")
        text = f"✅ Leave recorded for {day_label(day)}."
        if notices:
            text += f" I've informed the office and {families} student(s)/parent(s)."
            if report.delivered < len(notices):
                text += f" ({len(notices) - report.delivered} could not be reached on WhatsApp; the office will call.)"
        dispatcher.utter_message(text=text)
        return clear
