"""What the smoke test (devtools/smoke.py) reads back from the database and the sandbox to check the day: inbound
statuses, outreach per phone, Rasa's turns, the replies to one message."""

from __future__ import annotations

import json

from sqlalchemy import func, select, text

from devtools.smoke_day import DEMO_DAY, REACHED, Sent, is_outreach
from hsm.infra import models as m
from hsm.infra.db import get_engine, session_scope
from hsm.outreach.broadcast import student_contacts

# ------------------------------------------------------------------------------------------------ reading back


def inbound_statuses(database_url: str, wamids: list[str]) -> dict[str, str]:
    with session_scope(database_url) as session:
        rows = session.execute(
            select(m.WhatsAppMessage.whatsapp_message_id, m.WhatsAppMessage.status).where(
                m.WhatsAppMessage.whatsapp_message_id.in_(wamids)
            )
        ).all()
    return dict(rows)


def unrecorded_replies(database_url: str, at_meta: list[dict]) -> list[dict]:
    """The replies (not outreach) Meta accepted whose message id the bot never recorded as sent."""
    with session_scope(database_url) as session:
        recorded = set(
            session.execute(
                select(m.WhatsAppMessage.whatsapp_message_id).where(m.WhatsAppMessage.direction == "outbound")
            ).scalars()
        )
    return [message for message in at_meta if message["id"] not in recorded and not is_outreach(message)]


def broadcast_pending(database_url: str) -> int:
    with session_scope(database_url) as session:
        return session.execute(
            select(func.count()).select_from(m.BroadcastRecipient).where(m.BroadcastRecipient.status == "pending")
        ).scalar_one()


def outreach_per_phone(database_url: str) -> dict[str, int]:
    """Broadcast, reminder and absence-alert messages that went to each phone (each once, by their records)."""
    counts: dict[str, int] = {}
    with session_scope(database_url) as session:
        alerts = session.execute(select(m.AbsenceAlert)).scalars().all()
        for alert in alerts:
            for recipient in student_contacts(alert.student, DEMO_DAY):
                counts[recipient.phone] = counts.get(recipient.phone, 0) + 1
        sent = [
            *session.execute(select(m.BroadcastRecipient.phone_number).where(m.BroadcastRecipient.status.in_(REACHED))),
            *session.execute(
                select(m.ReminderSent.phone_number).where(m.ReminderSent.status.in_(("sent", "template")))
            ),
        ]
    for (phone,) in sent:
        counts[phone] = counts.get(phone, 0) + 1
    return counts


def tracker_turns(database_url: str, phone: str) -> list[tuple[str, int]]:
    """(message id, bot messages uttered after it) for each user message in Rasa's tracker, in stored order."""
    engine = get_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT type_name, data FROM events WHERE sender_id = :s AND type_name IN ('user', 'bot') ORDER BY id"
            ),
            {"s": phone},
        ).all()
    turns: list[tuple[str, int]] = []
    for kind, data in rows:
        if kind == "user":
            turns.append((json.loads(data).get("message_id"), 0))
        elif turns:
            turns[-1] = (turns[-1][0], turns[-1][1] + 1)
    return turns


def replies_to(everything: list[dict], sent: list[Sent], words: str) -> str:
    """The text of the replies that reached the sandbox after `words` and before the person's next message."""
    for index, message in enumerate(sent):
        if message.words == words:
            until = sent[index + 1].seq_before if index + 1 < len(sent) else float("inf")
            found = [
                msg
                for msg in everything
                if msg["to"] == message.phone and message.seq_before < msg["seq"] <= until and not is_outreach(msg)
            ]
            return json.dumps([msg["payload"] for msg in found], ensure_ascii=False)
    return ""
