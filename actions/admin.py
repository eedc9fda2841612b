"""The office on WhatsApp: look up a student (UC-9), correct attendance (UC-10, also teachers for their own
recent classes), and broadcast to a group (UC-8) after a confirmation."""

from __future__ import annotations

import json
import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.common import GuardedAction, entity, in_session, payload, user_text
from actions.pending import CONFIRM_BUTTONS, NO_CLOSURE_OFFER
from hsm.classes import override
from hsm.infra import models as m
from hsm.outreach import broadcast


class ActionStudentInfo(GuardedAction):
    capabilities = ("student_info",)

    def name(self) -> str:
        return "action_student_info"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        wanted = str(entity(tracker, "student_id") or user_text(tracker))

        def look_up(session: Session):
            students = override.find_students(session, wanted)
            if len(students) == 1:
                return override.student_card(session, students[0]), []
            if not students:
                return f"I couldn't find a student matching '{override.name_in(wanted)[:40]}'.", []
            return "Which student?", [
                {"title": override.student_label(s), "payload": payload("student_info", student_id=s.enrollment_id)}
                for s in students[:10]
            ]

        text, buttons = await in_session(look_up)
        dispatcher.utter_message(text=text, buttons=buttons or None)
        return []


# ------------------------------------------------------------------------------------------------ broadcasts

# "broadcast to all guitar students: ...", "send to everyone: ...", "announcement for everyone: ...",
# "send a message to all tabla students: ...", "inform all parents: ...".
_BROADCAST = re.compile(
    r"^\s*(?:please\s+)?(?:(?:send\s+(?:a\s+)?)?(?:broadcast|bcast|message|announcement)|send|announce|notify|inform"
    r"|tell)\s+(?:to\s+|for\s+)?(?P<who>[^:]+?)\s*:\s*(?P<text>.+)$",
    re.IGNORECASE | re.DOTALL,
)


def audience_from(session: Session, who_text: str) -> tuple[dict, str] | None:
    """ "all students", "all teachers", "all guitar students", "guitar beginner batch", "GTR-BEG-TT17"."""
    words = who_text.lower()
    if "teacher" in words:
        return {"kind": "all_teachers"}, "all teachers"
    for batch in session.execute(select(m.Batch).where(m.Batch.active.is_(True))).scalars():
        if batch.code.lower() in words or batch.name.lower() in words:
            return {"kind": "batch", "code": batch.code}, f"the {batch.name} batch"
    for course in session.execute(select(m.Course)).scalars():
        names = [course.name.lower(), *(a.lower() for a in course.aliases)]
        if any(re.search(rf"\b{re.escape(name)}\b", words) for name in names):
            return {"kind": "course", "code": course.code}, f"all {course.name} students"
    if "student" in words or "everyone" in words or "all" in words:
        return {"kind": "all_students"}, "all students (parents for minors)"
    return None


class ActionBroadcastPrepare(GuardedAction):
    capabilities = ("broadcast",)

    def name(self) -> str:
        return "action_broadcast_prepare"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        found = _BROADCAST.match(user_text(tracker))
        if not found:
            dispatcher.utter_message(
                text="Tell me who and what, e.g. 'broadcast to all guitar students: No class "
                "on Friday'. Groups: all students, all teachers, a course, a batch."
            )
            return []

        def prepare(session: Session):
            target = audience_from(session, found.group("who"))
            if target is None:
                return None, 0
            return target, len(broadcast.resolve_audience(session, target[0]))

        target, count = await in_session(prepare)
        if target is None:
            dispatcher.utter_message(
                text="I couldn't tell who should get it: say all students, all teachers, a "
                "course (e.g. 'all guitar students') or a batch."
            )
            return []
        audience, label = target
        text = found.group("text").strip()[:4096]
        preview = f"📢 To {label} ({count} numbers, opted-out ones left out):\n\n{text}\n\nSend it?"
        dispatcher.utter_message(text=preview, buttons=CONFIRM_BUTTONS)
        return [
            SlotSet("pending_broadcast", json.dumps({"audience": audience, "text": text})),
            SlotSet("attendance_step", "confirm"),
            *NO_CLOSURE_OFFER,
        ]
