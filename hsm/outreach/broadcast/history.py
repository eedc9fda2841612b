"""Past broadcasts, newest first, and a broadcast's recipients by status: the pages of the office console read these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hsm.infra import models as m


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    total: int
    page: int
    pages: int


def _page(total: int, number: int, size: int) -> tuple[int, int]:
    pages = max(1, -(-total // size))
    return min(max(number, 1), pages), pages


def list_broadcasts(session: Session, number: int, size: int) -> Page:
    """One page of broadcasts, newest first, each with its recipients counted by status (`counts`)."""
    total = session.execute(select(func.count()).select_from(m.Broadcast)).scalar_one()
    number, pages = _page(total, number, size)
    broadcasts = list(
        session.execute(
            select(m.Broadcast).order_by(m.Broadcast.id.desc()).limit(size).offset((number - 1) * size)
        ).scalars()
    )
    counts: dict[int, dict[str, int]] = {b.id: {} for b in broadcasts}
    if broadcasts:
        rows = session.execute(
            select(m.BroadcastRecipient.broadcast_id, m.BroadcastRecipient.status, func.count())
            .where(m.BroadcastRecipient.broadcast_id.in_(list(counts)))
            .group_by(m.BroadcastRecipient.broadcast_id, m.BroadcastRecipient.status)
        )
        for broadcast_id, status, count in rows:
            counts[broadcast_id][status] = count
    return Page([{"broadcast": b, "counts": counts[b.id]} for b in broadcasts], total, number, pages)


def recipients(session: Session, broadcast_id: int, status: str | None, number: int, size: int) -> Page:
    """One page of a broadcast's recipients (those with `status`, or all), by name then number."""
    conditions = [m.BroadcastRecipient.broadcast_id == broadcast_id]
    if status:
        conditions.append(m.BroadcastRecipient.status == status)
    total = session.execute(select(func.count()).select_from(m.BroadcastRecipient).where(*conditions)).scalar_one()
    number, pages = _page(total, number, size)
    rows = list(
        session.execute(
            select(m.BroadcastRecipient)
            .where(*conditions)
            .order_by(m.BroadcastRecipient.name, m.BroadcastRecipient.phone_number)
            .limit(size)
            .offset((number - 1) * size)
        ).scalars()
    )
    return Page(rows, total, number, pages)
