"""A broadcast's progress: recipient totals, moved forward by the statuses Meta reported on their messages.

Statuses. Meta's sent/delivered/read/failed callbacks update `whatsapp_messages` (the channel's store);
`broadcast_progress` moves recipients forward from those rows before counting.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hsm.infra import clock
from hsm.infra import models as m
from hsm.outreach.broadcast.creation import audience_summary
from hsm.outreach.broadcast.errors import BroadcastError

_STATUS_RANK = {"pending": 0, "sent": 1, "delivered": 2, "read": 3}


def _recipient_status(message_status: str | None) -> str:
    return message_status if message_status in ("delivered", "read", "failed") else "sent"


def sync_recipient_statuses(session: Session, broadcast_id: int) -> int:
    """Move recipients forward from the delivered/read/failed statuses Meta reported on their messages."""
    rows = session.execute(
        select(m.BroadcastRecipient, m.WhatsAppMessage.status, m.WhatsAppMessage.error_message)
        .join(m.WhatsAppMessage, m.WhatsAppMessage.whatsapp_message_id == m.BroadcastRecipient.whatsapp_message_id)
        .where(
            m.BroadcastRecipient.broadcast_id == broadcast_id,
            m.BroadcastRecipient.status.in_(("sent", "delivered")),
            m.WhatsAppMessage.status.in_(("delivered", "read", "failed")),
        )
    ).all()
    changed = 0
    for recipient, status, error in rows:
        if status == "failed":
            recipient.status, recipient.error_message = "failed", error or "failed after sending (Meta status)"
        elif _STATUS_RANK[status] > _STATUS_RANK[recipient.status]:
            recipient.status = status
        else:
            continue
        changed += 1
    session.flush()
    return changed


def broadcast_progress(session: Session, broadcast_id: int) -> dict:
    """Totals: `queued` (not sent yet; `in_flight` of them claimed), `sent` (accepted by Meta: sent, delivered or
    read), `delivered` (delivered or read), `read`, `failed` (`needs_review` of them with an unknown outcome),
    `skipped` (opted out, or outside the window with no template). Raises BroadcastError when there is no such
    broadcast."""
    broadcast = session.get(m.Broadcast, broadcast_id)
    if broadcast is None:
        raise BroadcastError("broadcast_id", f"no broadcast {broadcast_id}", "not_found")
    sync_recipient_statuses(session, broadcast_id)
    counts: Counter = Counter(
        dict(
            session.execute(
                select(m.BroadcastRecipient.status, func.count())
                .where(m.BroadcastRecipient.broadcast_id == broadcast_id)
                .group_by(m.BroadcastRecipient.status)
            ).all()
        )
    )

    def count(*conditions) -> int:
        return session.execute(
            select(func.count())
            .select_from(m.BroadcastRecipient)
            .where(m.BroadcastRecipient.broadcast_id == broadcast_id, *conditions)
        ).scalar_one()

    in_flight = count(m.BroadcastRecipient.status == "pending", m.BroadcastRecipient.attempts > 0)
    needs_review = count(
        m.BroadcastRecipient.status == "failed", m.BroadcastRecipient.error_message.like("unknown outcome%")
    )

    def iso(value: datetime | None) -> str | None:
        return clock.as_utc(value).isoformat() if value else None

    return {
        "broadcast_id": broadcast.id,
        "status": broadcast.status,
        "created_by": broadcast.created_by,
        "audience": audience_summary(broadcast.audience or {}),
        "text": broadcast.text,
        "template_name": broadcast.template_name,
        "created_at": iso(broadcast.created_at),
        "started_at": iso(broadcast.started_at),
        "finished_at": iso(broadcast.finished_at),
        "total": sum(counts[s] for s in m.RECIPIENT_STATUSES),
        "queued": counts["pending"],
        "in_flight": in_flight,
        "sent": counts["sent"] + counts["delivered"] + counts["read"],
        "delivered": counts["delivered"] + counts["read"],
        "read": counts["read"],
        "failed": counts["failed"],
        "needs_review": needs_review,
        "skipped": counts["skipped"],
    }
