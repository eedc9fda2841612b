"""The words a sender is likely to say in a voice note, from the school's records: a teacher's roster, instruments,
levels and class times, and the attendance words; nothing for anyone else (they get the general model)."""

from __future__ import annotations

from datetime import time

from sqlalchemy import select

from hsm.classes.schedule import batch_roster
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.people.identity import identify
from hsm.voice.sentences import ATTENDANCE_WORDS, WEEKDAYS
from hsm.voice.spoken import NUMBER_WORDS


def _clock(start: time) -> str:
    """17:00 -> "5 pm", 18:15 -> "6:15 pm" (how a teacher says the class's time)."""
    hour = start.hour % 12 or 12
    minutes = f":{start.minute:02d}" if start.minute else ""
    return f"{hour}{minutes} {'pm' if start.hour >= 12 else 'am'}"


def vocabulary_for(database_url: str | None, wa_id: str) -> list[str]:
    """The words a sender is likely to say: for a teacher, the names of the students in their batches (first names
    and full names), their batches' instruments, levels and times, plus the attendance words ("present", "absent",
    "except", "all", "everyone", numbers, weekdays); [] for anyone else (the general model)."""
    with session_scope(database_url) as session:
        who = identify(session, wa_id if wa_id.startswith("+") else f"+{wa_id}")
        if who.role != "teacher" or who.person_id is None:
            return []
        batches = session.execute(
            select(m.Batch).where(m.Batch.teacher_id == who.person_id, m.Batch.active.is_(True)).order_by(m.Batch.code)
        ).scalars()
        words: dict[str, None] = {}
        for batch in batches:
            for student in batch_roster(session, batch.id):
                words.update(dict.fromkeys((student.name.split()[0], student.name)))
            course = batch.course
            words.update(dict.fromkeys((course.name.lower(), *(alias.lower() for alias in course.aliases or ()))))
            if batch.level:
                words[batch.level.lower()] = None
            words.update(dict.fromkeys(_clock(slot.start_time) for slot in batch.slots))
    return [*words, *ATTENDANCE_WORDS, *NUMBER_WORDS[1:13], *WEEKDAYS]
