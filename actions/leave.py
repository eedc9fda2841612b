"""Leave actions (UC-3): a teacher reports leave of one or more days (dates and reason asked only if missing),
reviews the classes it cancels day by day, confirms; the admins and affected families are told once. A teacher
takes leave back ("I can come on Friday after all"). (A student's or parent's notice: actions/absence.py.)"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.common import GuardedAction, caller, in_session, user_text
from hsm.classes import leave, leave_withdraw
from hsm.classes.dates import day_label, short_day_label, time_label
from hsm.classes.leave_days import leave_days, read_days, spell_days
from hsm.classes.leave_notices import days_text
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
        days = leave_days(text, clock.today())
        reason = leave.reason_in(text)
        return [
            SlotSet("leave_step", None),
            SlotSet("leave_date", spell_days(days) or None),
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
        days = read_days(value) or leave_days(str(value), today)
        problem = leave.days_problem(days, today)
        if problem:
            dispatcher.utter_message(text=problem)
            return {"leave_date": None}
        return {"leave_date": spell_days(days)}

    async def validate_leave_reason(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {"leave_reason": None}
        reason = " ".join(str(value).split())[:200]
        if reason.lower() in SKIP_WORDS:
            return {"leave_reason": "not given"}
        return {"leave_reason": reason or "not given"}


def _class_lines(meetings: list) -> str:
    return "\n".join(f"• {mt.batch.name} {time_label(mt.starts_at.time())}" for mt in meetings)


def _closed_lines(plan: leave.LeavePlan) -> str:
    return "".join(
        f"\n• {mt.batch.name} {time_label(mt.starts_at.time())} is already cancelled ({mt.closed.labelled})"
        for mt in plan.closed
        if mt.closed is not None
    )


def _by_day(plans: list[leave.LeavePlan]) -> str:
    """Each day of a leave and what it cancels: its classes, "no classes", "already on leave", closed days."""
    parts = []
    for plan in plans:
        head = f"{short_day_label(plan.leave_date)}:"
        if plan.already_on_leave:
            parts.append(f"{head} already on leave")
        elif plan.affected:
            parts.append(f"{head}\n{_class_lines(plan.affected)}{_closed_lines(plan)}")
        else:
            parts.append(f"{head} no classes to cancel{_closed_lines(plan)}")
    return "\n".join(parts)


def _review_text(plans: list[leave.LeavePlan], reason: str) -> str | None:
    """The question before recording; None when every day is already on leave."""
    new = [plan for plan in plans if not plan.already_on_leave]
    if not new:
        return None
    if len(plans) == 1:
        plan, day = plans[0], plans[0].leave_date
        closed = _closed_lines(plan)
        if plan.affected:
            return (
                f"Leave on {day_label(day)} ({reason}). These classes will be cancelled:\n"
                f"{_class_lines(plan.affected)}{closed}\n\nI'll tell the office and the students' families. Confirm?"
            )
        if closed:
            return f"You have no classes to cancel on {day_label(day)}:{closed}\n\nRecord the leave ({reason}) anyway?"
        return f"You have no classes on {day_label(day)}. Record the leave ({reason}) anyway?"
    when = days_text([plan.leave_date for plan in plans], day_label)
    if not any(plan.affected for plan in new):
        return f"Leave on {when} ({reason}). You have no classes to cancel:\n{_by_day(plans)}\n\nRecord it anyway?"
    return (
        f"Leave on {when} ({reason}). These classes will be cancelled:\n{_by_day(plans)}\n\n"
        "I'll tell the office and the students' families. Confirm?"
    )


def _review(session: Session, tracker: Tracker) -> tuple[str, list[dict], list[EventType]]:
    who = caller(session, tracker)
    assert who.person_id is not None  # only prospects have no person (and the capability check keeps them out)
    days = read_days(tracker.get_slot("leave_date"))
    reason = tracker.get_slot("leave_reason")
    plans = leave.plan_leave_days(session, who.person_id, days, None if reason == "not given" else reason)
    text = _review_text(plans, reason)
    if text is None:
        return (
            f"You're already on leave on {days_text(days, day_label)}. Nothing to change.",
            [],
            [SlotSet("leave_step", None), SlotSet("leave_date", None), SlotSet("leave_reason", None)],
        )
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
            days = read_days(tracker.get_slot("leave_date"))
            reason = tracker.get_slot("leave_reason")
            actor = f"teacher:{leave.employee_id(session, who.person_id)}"
            _, notices = leave.record_leave_days(
                session, who.person_id, days, None if reason == "not given" else reason, actor
            )
            return days, notices

        clear = [SlotSet("leave_step", None), SlotSet("leave_date", None), SlotSet("leave_reason", None)]
        try:
            days, notices = await in_session(record)
        except leave.LeaveError as error:
            dispatcher.utter_message(text=str(error))
            return clear
        text = f"✅ Leave recorded for {days_text(days, day_label)}." + await _told(notices)
        dispatcher.utter_message(text=text)
        return clear


async def _told(notices: list) -> str:
    """Send the notices; what the teacher is told about who heard."""
    if not notices:
        return ""
    report = await deliver(notices)
    families = sum(1 for n in notices if n.audience != "admin")
    text = f" I've informed the office and {families} student(s)/parent(s)."
    if report.delivered < len(notices):
        text += f" ({len(notices) - report.delivered} could not be reached on WhatsApp; the office will call.)"
    return text


def _days_to_withdraw(text: str, today: date) -> list[date]:
    """The days named; a date read as next year's that is out of leave's reach is read as the one gone by."""
    days = leave_days(text, today)
    if days and max(days) > today + timedelta(days=leave.MAX_DAYS_AHEAD):
        days = leave_days(text, today, past=True)
    return days


class ActionLeaveWithdraw(GuardedAction):
    """ "I can come on Friday after all", "cancel my leave on 4th", "not on leave anymore" (the whole leave)."""

    capabilities = ("report_leave",)

    def name(self) -> str:
        return "action_leave_withdraw"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        days = _days_to_withdraw(user_text(tracker), clock.today())

        def withdraw(session: Session):
            who = caller(session, tracker)
            assert who.person_id is not None  # only prospects have no person (and the capability check keeps them out)
            actor = f"teacher:{leave.employee_id(session, who.person_id)}"
            done = leave_withdraw.withdraw_leave(session, who.person_id, days or None, actor)
            return done, leave_withdraw.leave_days_ahead(session, who.person_id, clock.today())

        try:
            done, ahead = await in_session(withdraw)
        except leave.LeaveError as error:
            dispatcher.utter_message(text=str(error))
            return []
        text = f"✅ Leave taken back for {days_text(done.withdrawn, day_label)}: "
        if done.restored:
            classes = ", ".join(f"{mt.batch.name} {time_label(mt.starts_at.time())}" for mt in done.restored)
            text += f"these classes are on as usual: {classes}."
        else:
            text += "you had no classes to restore."
        text += await _told(done.notices)
        if done.not_on_leave:
            text += f" (You weren't on leave on {days_text(done.not_on_leave)}.)"
        if ahead:
            text += f" You're still on leave on {days_text(ahead)}."
        dispatcher.utter_message(text=text)
        return []
