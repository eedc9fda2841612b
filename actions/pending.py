"""What an admin's or teacher's "yes" confirms besides an attendance draft: a correction of a past class (UC-10)
or a broadcast (UC-8), planned by one action and applied by the confirmation (`action_attendance_confirm`); and,
after a broadcast that announces closed days, the offer to mark them closed (answered in actions/closures.py)."""

from __future__ import annotations

import json
import re
from datetime import date

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from sqlalchemy.orm import Session

from actions.common import caller, entity, in_session, user_text
from hsm.classes import override
from hsm.classes.dates import parse_date
from hsm.infra import clock
from hsm.infra import models as m
from hsm.outreach import broadcast, closure_notices
from hsm.people import access

CONFIRM_BUTTONS = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
CLOSURE_BUTTONS = [{"title": "Yes, mark closed", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
# A closure offer waiting for its yes is dropped when something else is planned that waits for one.
NO_CLOSURE_OFFER: list[EventType] = [SlotSet("pending_closure", None), SlotSet("closure_step", None)]
NOT_IN_YOUR_CLASSES = "I couldn't find that student in your classes."
_PRESENT = re.compile(r"\b(present|came|attended|was there)\b", re.IGNORECASE)
_ABSENT = re.compile(r"\b(absent|didn'?t come|did not come|not there|missed|no show)\b", re.IGNORECASE)


def wants_override(who, text: str) -> bool:
    """The office always corrects; a teacher corrects when naming a past day ("Sarah was absent on Tuesday")."""
    if who.role == "admin":
        return True
    today = clock.today()
    day = parse_date(text, today, past=True)
    return who.role == "teacher" and day is not None and day < today


def plan_override(session: Session, tracker: Tracker) -> tuple[str, list[dict], list[EventType]]:
    who = caller(session, tracker)
    text = user_text(tracker)
    status = "absent" if _ABSENT.search(text) else "present" if _PRESENT.search(text) else None
    if status is None:
        return "Was the student present or absent? e.g. 'Mark John Doe as present in yesterday's Guitar class'.", [], []
    teacher_id = who.person_id if who.role == "teacher" else None
    students = override.find_students(session, text, teacher_id=teacher_id)
    if teacher_id is not None and not students:  # names nobody, confirms nothing about other teachers' students
        return NOT_IN_YOUR_CLASSES, [], []
    if len(students) != 1:
        what = "more than one student" if students else "no student"
        return f"That matches {what}; please give the full name or the enrollment ID.", [], []
    day = parse_date(text, clock.today(), past=True)
    try:
        change = override.plan_override(session, who, students[0], status, day, entity(tracker, "instrument"))
    except override.OverrideError as error:
        return str(error), [], []
    pending = json.dumps(
        {
            "student_id": change.student_id,
            "batch_id": change.batch_id,
            "class_date": change.class_date.isoformat(),
            "status": change.status,
        }
    )
    return (
        f"Change {change.describe(session)}?",
        CONFIRM_BUTTONS,
        [SlotSet("pending_override", pending), SlotSet("attendance_step", "confirm"), *NO_CLOSURE_OFFER],
    )


def apply_override(session: Session, tracker: Tracker) -> str:
    who = caller(session, tracker)
    if not access.allowed(who, "attendance_override"):
        return access.refusal_text(who, "attendance_override")
    data = json.loads(tracker.get_slot("pending_override"))
    student = session.get(m.Student, data["student_id"])
    change = override.plan_override(session, who, student, data["status"], date.fromisoformat(data["class_date"]))
    actor = f"{who.role}:{actor_code(session, who)}"
    return override.apply_override(session, change, actor)


def actor_code(session: Session, who) -> str:
    if who.role == "admin":
        return session.get(m.Admin, who.person_id).admin_code
    return session.get(m.Teacher, who.person_id).employee_id


async def send_pending_broadcast(tracker: Tracker) -> tuple[str, closure_notices.Offer | None]:
    """Queue the broadcast waiting for its yes; and, when it announces closed days to students' families, the
    offer to mark them closed too."""
    data = json.loads(tracker.get_slot("pending_broadcast"))

    def create(session: Session) -> tuple[int, closure_notices.Offer | None] | str:
        who = caller(session, tracker)
        if not access.allowed(who, "broadcast"):  # checked again at the yes: the slot alone proves nothing
            return access.refusal_text(who, "broadcast")
        # Outside the 24-hour window the text goes out in the approved "announcement" template (Meta forbids
        # newlines and tabs in template parameters).
        row = broadcast.create_broadcast(
            session,
            f"admin:{actor_code(session, who)}",
            data["audience"],
            text=data["text"],
            template_name="announcement",
            template_params=[" ".join(data["text"].split())[:1000]],
        )
        offer = None
        if access.allowed(who, "closures"):
            offer = closure_notices.offer_for(session, row.id, data["audience"], data["text"])
        return row.id, offer

    try:
        created = await in_session(create)
    except broadcast.BroadcastError as error:
        return f"Not sent: {error}", None
    if isinstance(created, str):
        return created, None
    broadcast_id, offer = created
    broadcast.enqueue_broadcast(broadcast_id)
    return f"✅ Broadcast #{broadcast_id} queued. Ask me 'broadcast {broadcast_id} status' for progress.", offer


def closure_offer_events(offer: closure_notices.Offer) -> list[EventType]:
    """The slots that keep the offer until its yes or no (actions/closures.py)."""
    return [SlotSet("pending_closure", json.dumps(offer.as_json())), SlotSet("closure_step", "offer")]
