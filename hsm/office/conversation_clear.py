"""The office clears a number's conversation: what Rasa held (read from its tracker store), open drafts closed.

Rasa's `events` table (the tracker store, `HSM_TRACKER_DB_URL` or `DATABASE_URL`) is only read here: the new
session itself is started by the Rasa process at the number's next message, under its conversation lock
(`hsm.rasa_glue.stores.SchoolTrackerStore.retrieve` sees `whatsapp_sessions.context.cleared_at`), so clearing works
whether Rasa is running or not, and never races a message being answered.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from hsm.classes import attendance
from hsm.infra import models as m
from hsm.infra.config import get_settings

SESSION_RESETS = {"session_started", "restart"}
CALLER_SLOTS = {"role", "person_name"}  # who is writing: set again by the new session
RESTART_WHEN = "at the number's next message"


def _tracker_url() -> str:
    settings = get_settings()
    return settings.rasa.tracker_db_url or settings.database.url


def _replay(rows: list[tuple[str, Any]]) -> dict:
    """The current session's form and filled slots from Rasa's stored events (oldest first)."""
    slots: dict[str, Any] = {}
    form: str | None = None
    for type_name, data in rows:
        event = json.loads(data) if isinstance(data, str) else (data or {})
        if type_name in SESSION_RESETS:
            slots, form = {}, None
        elif type_name == "slot":
            slots[str(event.get("name"))] = event.get("value")
        elif type_name == "active_loop":
            form = event.get("name")
    filled = sorted(name for name, value in slots.items() if value is not None and name not in CALLER_SLOTS)
    return {
        "form": form,
        "slots": [name for name in filled if name != "requested_slot"],
        "pending": [name.removeprefix("pending_") for name in filled if name.startswith("pending_")],
    }


def conversation_held(phone: str) -> dict:
    """What the number's conversation holds in Rasa now: {"form", "slots", "pending"}, or {"unread": why}."""
    engine = create_engine(_tracker_url())
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT type_name, data FROM events WHERE sender_id = :phone ORDER BY id"), {"phone": phone}
            ).all()
    except Exception as error:  # noqa: BLE001 - the clear goes on; the answer says what could not be read
        return {"unread": f"the conversation store could not be read ({type(error).__name__})"}
    finally:
        engine.dispose()
    return _replay([(row[0], row[1]) for row in rows])


def close_open_drafts(session: Session, phone: str) -> list[int]:
    """Drop the open attendance drafts of the teacher(s) on this number; their ids."""
    teacher_ids = session.execute(select(m.Teacher.id).where(m.Teacher.phone == phone)).scalars().all()
    if not teacher_ids:
        return []
    drafts = (
        session.execute(
            select(m.AttendanceDraft.id)
            .where(m.AttendanceDraft.teacher_id.in_(teacher_ids), m.AttendanceDraft.status == "draft")
            .order_by(m.AttendanceDraft.id)
        )
        .scalars()
        .all()
    )
    for teacher_id in teacher_ids:
        attendance.cancel(session, teacher_id)
    return list(drafts)
