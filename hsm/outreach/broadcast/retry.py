"""Sending a broadcast's failed recipients again: they go back to pending and the broadcast is queued once more."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from hsm.infra import clock
from hsm.infra import models as m
from hsm.outreach.broadcast.errors import BroadcastError
from hsm.outreach.broadcast.sender import UNKNOWN_OUTCOME
from hsm.records.changes import record_change


def retry_failed(session: Session, broadcast_id: int, actor: str) -> int:
    """Put the failed recipients back to pending (unclaimed) and the broadcast back to queued, audited as
    broadcast.retried; the caller enqueues it. Recipients whose outcome is unknown (a crash between claim and
    record) are left for a person to check: Meta may have delivered them. Returns how many will be sent again;
    raises BroadcastError when there is no such broadcast or it is still sending."""
    broadcast = session.get(m.Broadcast, broadcast_id)
    if broadcast is None:
        raise BroadcastError("broadcast_id", f"no broadcast {broadcast_id}", "not_found")
    if broadcast.status in ("queued", "running"):
        raise BroadcastError("broadcast_id", "the broadcast is still sending; retry when it has finished", "busy")
    result = session.execute(
        update(m.BroadcastRecipient)
        .where(
            m.BroadcastRecipient.broadcast_id == broadcast_id,
            m.BroadcastRecipient.status == "failed",
            m.BroadcastRecipient.error_message.is_distinct_from(UNKNOWN_OUTCOME),
        )
        .values(status="pending", attempts=0, error_message=None, whatsapp_message_id=None, updated_at=clock.utcnow())
        .execution_options(synchronize_session=False)
    )
    count = result.rowcount or 0
    if count == 0:
        return 0
    before = {"status": broadcast.status}
    broadcast.status, broadcast.finished_at = "queued", None
    record_change(
        session, actor, "broadcast.retried", "broadcasts", broadcast_id, before, {"status": "queued", "retried": count}
    )
    session.flush()
    return count
