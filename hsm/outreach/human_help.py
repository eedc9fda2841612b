"""The bot could not help a number: it waits for a human on the office console's Today page (until a staff member
answers or hands back: hsm.office.takeover), marked on its `whatsapp_sessions` row and audited."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.phone import mask_phone
from hsm.records.changes import record_change
from hsm.whatsapp import store

ENTITY = "whatsapp_sessions"
NOTE_MAX_CHARS = 500


def ask_for_human(session: Session, phone: str, note: str) -> int:
    """The bot could not help `phone`: the number waits for a human (from the first time it asked, until staff
    answer or hand back) with `note`, its words. Returns the conversation's id (its link in the console)."""
    now = clock.utcnow()
    row = session.execute(
        select(m.WhatsAppSession).where(m.WhatsAppSession.phone_number == phone).with_for_update()
    ).scalar_one_or_none()
    if row is None:  # the channel makes the row when it completes a message; this turn may be the number's first
        row = m.WhatsAppSession(
            phone_number=phone,
            context={},
            last_message_at=now,
            expires_at=now + timedelta(minutes=store.SESSION_MINUTES),
        )
        session.add(row)
    before = {"waiting_since": row.waiting_since}
    row.waiting_since = row.waiting_since or now
    row.waiting_note = note[:NOTE_MAX_CHARS]
    session.flush()
    record_change(
        session,
        f"whatsapp:{mask_phone(phone)}",
        "conversation.waiting",
        ENTITY,
        row.id,
        before,
        {"waiting_since": row.waiting_since},
    )
    return int(row.id)
