"""Attendance actions (UC-1): pick the class, fold in who was there, confirm, save once; cancel; makeup."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions import pending
from actions.common import GuardedAction, caller, entity, in_session, payload, user_text
from actions.texts import WHAT_TO_CHANGE_TEXT
from hsm.classes import absence_alerts, attendance, override, past_class
from hsm.classes.attendance_text import parse_attendance
from hsm.classes.dates import parse_date, parse_time
from hsm.classes.name_list import read_name_list
from hsm.infra import clock
from hsm.infra import models as m
from hsm.outreach.notify import deliver
from hsm.people import access


def _reply(text: str, buttons: list[dict] | None = None, **slots: Any) -> dict:
    return {"text": text, "buttons": buttons or [], "slots": slots}


def _batch_buttons(options: tuple) -> list[dict]:
    return [
        {"title": attendance.class_label(mt)[:72], "payload": payload("mark_attendance", batch_code=mt.batch.code)}
        for mt in options
    ]


NOT_ATTENDANCE_TEXT = (
    "I'm not sure what those names are for. To mark attendance, name the class and who came, "
    "e.g. 'guitar 5pm: all present except Sarah'."
)


def _ask_for_names(current: attendance.DraftView) -> dict:
    names = ", ".join(s.name.split()[0] for s in current.roster)
    informed = [s.name for s in current.roster if s.id in current.informed and current.marks.get(s.id) == "absent"]
    told = f"✗ {', '.join(informed)}: absent (informed by the family)\n" if informed else ""
    all_present = {"title": "✅ All present", "payload": payload("inform_attendance", everyone="present")}
    if current.asked == attendance.ABSENT:
        text = (
            f"Who was absent in {current.meeting_label}? ({len(current.roster)} students: {names})\n"
            + told
            + "Send their names, e.g. 'Sarah, Ahmed'."
        )
        buttons = [all_present]
    else:
        text = (
            f"Who was present in {current.meeting_label}? ({len(current.roster)} students: {names})\n"
            + told
            + "Tap a button, send their names, or tell me, e.g. 'all present except Sarah'."
        )
        buttons = [
            all_present,
            {"title": "❌ All absent", "payload": payload("inform_attendance", everyone="absent")},
            {"title": "✏️ Some were absent", "payload": payload("inform_attendance", everyone="some_absent")},
        ]
    return _reply(
        text, buttons, attendance_step="names", attendance_draft=float(current.draft.id), attendance_text=None
    )


def _next_step(session: Session, current: attendance.DraftView) -> dict:
    """Ask which student a name meant, who was there, or for the final yes."""
    saved = attendance.saved_marks(session, current.draft.batch_id, current.draft.attendance_date)
    if current.pending:
        item = current.pending[0]
        students = [session.get(m.Student, sid) for sid in item["candidates"]]
        text = f"Which {item['query']} was {item['status']}?"
        if current.unknown:
            text = "I couldn't find " + ", ".join(f"'{n}'" for n in current.unknown) + " in this batch. " + text
        buttons = [
            {"title": s.name, "payload": payload("inform_attendance", student_id=s.enrollment_id)} for s in students
        ]
        return _reply(
            text,
            buttons,
            attendance_step="pick_student",
            attendance_draft=float(current.draft.id),
            attendance_text=None,
        )
    if not current.complete:
        reply = _ask_for_names(current)
        if current.unknown:
            reply["text"] = (
                "I couldn't find " + ", ".join(f"'{n}'" for n in current.unknown) + " in this batch.\n" + reply["text"]
            )
        return reply
    text = attendance.summary_text(current, saved) + "\n\nSave it?"
    if current.unknown:  # never a guess: the teacher names them again, or saves what is shown
        quoted = " and ".join(f"'{n}'" for n in current.unknown)
        text += f"\nOr, who did you mean by {quoted}? Send the name as it is on the list."
    buttons = [{"title": "Yes, save", "payload": "/affirm"}, {"title": "No, change", "payload": "/deny"}]
    step = "names" if current.unknown else "confirm"  # a name in reply answers the question (rules: yes/no too)
    return _reply(text, buttons, attendance_step=step, attendance_draft=float(current.draft.id), attendance_text=None)


def handle_attendance(session: Session, tracker: Tracker) -> dict:
    who = caller(session, tracker)
    assert who.person_id is not None  # only prospects have no person (and the capability check keeps them out)
    typed = user_text(tracker)
    correcting = pending.wants_override(who, typed) and (
        who.role == "admin"
        or (attendance.open_draft(session, who.person_id) is None and not past_class.wants_whole_class(typed))
    )
    if correcting:  # "Sarah was absent on Tuesday": one record of a past class, not a draft
        text, buttons, events = pending.plan_override(session, tracker)
        reply = _reply(text, buttons)
        reply["events"] = events
        return reply
    batch_code = entity(tracker, "batch_code")
    # After a class was picked with a button, continue with what the teacher said before the question.
    text = user_text(tracker) or (tracker.get_slot("attendance_text") or "" if batch_code else "")
    now = clock.now()
    draft = attendance.open_draft(session, who.person_id)
    instrument = entity(tracker, "instrument")
    level = entity(tracker, "level")
    at = parse_time(text) if text else None
    day = parse_date(text, now.date(), past=True) if text else None  # "yesterday's guitar class", "on 30 Nov"

    student_code = entity(tracker, "student_id")
    if student_code and draft is not None:  # a button answering "which Rahul?"
        student = session.execute(select(m.Student).filter_by(enrollment_id=str(student_code))).scalar_one_or_none()
        if student is not None:
            current = attendance.resolve_pending(session, draft, student.id)
            return _next_step(session, current)

    makeup = bool(attendance.MAKEUP.search(text))
    names_a_class = instrument or at or level or makeup or day
    if draft is None and not batch_code and not names_a_class and _only_names(tracker, text):
        return _reply(NOT_ATTENDANCE_TEXT, attendance_step=None, attendance_text=None)  # no question was asked
    wants_new_class = (
        batch_code or draft is None or (tracker.get_intent_of_latest_message() == "mark_attendance" and names_a_class)
    )
    if wants_new_class:
        choice = attendance.choose_class(
            session, who.person_id, now, instrument=instrument, at=at, batch_code=batch_code, level=level, day=day
        )
        if choice.problem:
            return _reply(choice.problem, attendance_step=None, attendance_text=None)
        if choice.options:
            return _reply(
                "Which class are you marking?",
                _batch_buttons(choice.options),
                attendance_step="batch",
                attendance_text=text or None,
            )
        meeting = choice.meeting
        assert meeting is not None  # no problem and no options to choose from: the one class
        if makeup:
            student = attendance.makeup_student(session, meeting, text)
            if student is None:
                return _reply("Whose makeup class is it? Please give the student's full name.")
            current = attendance.draft_for_makeup(session, who.person_id, meeting, student, text)
            return _next_step(session, current)
        draft = attendance.start_draft(session, who.person_id, meeting, text)
        saved = attendance.saved_marks(session, meeting.batch.id, meeting.class_date)
        if saved and parse_attendance(text).is_empty():
            current = attendance.view(session, draft)
            current.marks = dict(saved)
            reply = _ask_for_names(current)
            reply["text"] = (
                attendance.summary_text(current, saved).replace("📝 Attendance", "✅ Already saved").split("\n⚠️")[0]
                + "\n\nTo replace it, tell me the new attendance (e.g. 'all present except Sarah'),"
                " or say 'cancel' to keep it."
            )
            return reply

    assert draft is not None  # there was one, or a new class started one
    current = attendance.view(session, draft)
    everyone = entity(tracker, "everyone")
    roster_names = [part for s in current.roster for part in (s.name, *s.name.split())]
    statement = parse_attendance(text, known_names=roster_names) if text else parse_attendance("")
    if everyone in ("present", "absent"):
        statement = parse_attendance(f"all {everyone}")
    elif everyone == "some_absent":  # "Who was absent?": the names that follow are the absentees
        return _ask_for_names(attendance.ask(session, draft, attendance.ABSENT))
    answering = tracker.get_slot("attendance_step") == "names" or bool(current.unknown)
    if statement.is_empty() and text and answering and not wants_new_class:
        statement = read_name_list(text, roster_names, current.asked) or statement  # "John, Mary, Ahmed"
    if not statement.is_empty():
        current = attendance.apply_statement(session, draft, statement)
    elif text and not wants_new_class:
        # Said something during attendance that isn't about attendance: name it back and ask again.
        reply = _next_step(session, current)
        reply["text"] = f"I didn't understand '{text[:60]}'.\n" + reply["text"]
        return reply
    return _next_step(session, current)


def _only_names(tracker: Tracker, text: str) -> bool:
    """A message that is only names ("John, Mary, Ahmed"), said when no attendance question was asked."""
    return (
        bool(text)
        and tracker.get_intent_of_latest_message() == "inform_attendance"
        and parse_attendance(text).is_empty()
    )


def confirm_attendance(session: Session, tracker: Tracker) -> dict:
    who = caller(session, tracker)
    if who.role != "teacher" or who.person_id is None:  # person ids are per table: an admin's may be a teacher's
        return _reply(access.refusal_text(who, "mark_attendance"), attendance_step=None)
    draft_id = tracker.get_slot("attendance_draft")
    draft = attendance.open_draft(session, who.person_id)
    if draft is None and draft_id:  # the slot's draft counts only if it is this teacher's own
        draft = session.get(m.AttendanceDraft, int(draft_id))
    if draft is None or draft.teacher_id != who.person_id:
        return _reply("There is no attendance waiting to be saved.", attendance_step=None)
    target = draft.id
    actor = f"teacher:{_employee_id(session, who.person_id)}"
    try:
        result = attendance.confirm(session, target, actor)
    except attendance.DraftIncomplete as unfinished:  # still open: ask for what is missing
        return _next_step(session, unfinished.view)
    except attendance.AttendanceError as error:
        return _reply(str(error), attendance_step=None)
    reply = _reply(result.text, attendance_step=None, attendance_draft=None, attendance_text=None)
    if not result.already_saved:  # families of students absent without notice are told once
        reply["notices"] = absence_alerts.absence_alerts(session, draft.batch_id, draft.attendance_date, actor)
    return reply


def _employee_id(session: Session, teacher_id: int) -> str:
    return session.get(m.Teacher, teacher_id).employee_id


def cancel_everything(session: Session, tracker: Tracker) -> dict:
    who = caller(session, tracker)
    dropped = []
    if who.role == "teacher" and who.person_id is not None and attendance.cancel(session, who.person_id):
        dropped.append("the attendance draft (nothing was saved)")
    if tracker.get_slot("leave_step") or tracker.get_slot("leave_date"):
        dropped.append("the leave request (nothing was recorded)")
    if tracker.get_slot("enroll_course") or tracker.get_slot("enroll_step"):
        dropped.append("the enrollment questions")
    text = ("Okay, I dropped " + " and ".join(dropped) + ".") if dropped else "Okay, nothing to cancel."
    return _reply(
        text,
        attendance_step=None,
        attendance_draft=None,
        attendance_text=None,
        leave_step=None,
        leave_date=None,
        leave_reason=None,
        enroll_step=None,
        enroll_course=None,
        enroll_age=None,
        enroll_level=None,
        enroll_preference=None,
        pending_closure=None,
        closure_step=None,
    )


def _respond(dispatcher: CollectingDispatcher, reply: dict) -> list[EventType]:
    dispatcher.utter_message(text=reply["text"], buttons=reply["buttons"] or None)
    return [SlotSet(name, value) for name, value in reply["slots"].items()] + reply.get("events", [])


class ActionAttendance(GuardedAction):
    capabilities = ("mark_attendance", "attendance_override")

    def name(self) -> str:
        return "action_attendance"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        events = _respond(dispatcher, await in_session(lambda s: handle_attendance(s, tracker)))
        if (tracker.latest_message or {}).get("intent", {}).get("name") == "nlu_fallback":
            # A name the classifier did not recognise ("Ahmed") was answered here; once the step moved on, the
            # names-step rule no longer holds and the fallback rule would answer it a second time: listen instead.
            events.append(FollowupAction("action_listen"))
        return events


class ActionAttendanceConfirm(GuardedAction):
    """The yes to whatever waits for one: an attendance draft, an attendance correction, or a broadcast. Each is
    checked again against the caller here (pending.py, confirm_attendance): any of the three capabilities lets the
    action run, but only the matching one confirms."""

    capabilities = ("mark_attendance", "attendance_override", "broadcast")

    def name(self) -> str:
        return "action_attendance_confirm"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        done = [SlotSet("pending_override", None), SlotSet("pending_broadcast", None), SlotSet("attendance_step", None)]
        if tracker.get_slot("pending_broadcast"):
            text, offer = await pending.send_pending_broadcast(tracker)
            dispatcher.utter_message(text=text)
            if offer is None:
                return done
            dispatcher.utter_message(text=offer.question(), buttons=pending.CLOSURE_BUTTONS)
            return done + pending.closure_offer_events(offer)
        if tracker.get_slot("pending_override"):
            try:
                text = await in_session(lambda s: pending.apply_override(s, tracker))
            except override.OverrideError as error:
                text = str(error)
            dispatcher.utter_message(text=text)
            return done
        reply = await in_session(lambda s: confirm_attendance(s, tracker))
        await deliver(reply.pop("notices", []))
        return _respond(dispatcher, reply)


class ActionConfirmNo(GuardedAction):
    """A no at a confirmation: a draft asks what to change; a correction or a broadcast is dropped."""

    capabilities = ("converse",)

    def name(self) -> str:
        return "action_confirm_no"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        if tracker.get_slot("pending_broadcast") or tracker.get_slot("pending_override"):
            dispatcher.utter_message(text="Okay, I left it as it was.")
            return [
                SlotSet("pending_override", None),
                SlotSet("pending_broadcast", None),
                SlotSet("attendance_step", "confirm"),
            ]  # a later stray "yes" finds nothing waiting
        dispatcher.utter_message(text=WHAT_TO_CHANGE_TEXT)
        return [SlotSet("attendance_step", "confirm")]


class ActionCancel(GuardedAction):
    capabilities = ("converse",)

    def name(self) -> str:
        return "action_cancel"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        return _respond(dispatcher, await in_session(lambda s: cancel_everything(s, tracker)))
