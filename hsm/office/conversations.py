"""The office's view of WhatsApp conversations: recent numbers with the person behind each, a number's message log
(in and out, with delivery status), and the conversations waiting for a human."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, union
from sqlalchemy.orm import Session

from hsm.infra import clock
from hsm.infra import models as m
from hsm.people.identity import identify
from hsm.records.changes import NotFound
from hsm.whatsapp import store

PAGE_SIZE = 20
LOG_SIZE = 50  # the latest messages of a conversation shown at once
SEARCH_MAX_CHARS = 100
PEOPLE_WITH_PHONES = (m.Student, m.Guardian, m.Teacher, m.Admin, m.Lead)
ROLE_WORDS = {"admin": "admin", "teacher": "teacher", "student": "student", "guardian": "parent", "prospect": ""}


@dataclass(frozen=True)
class Message:
    """One message of a log: `direction` "inbound" or "outbound"; `status` as the channel keeps it."""

    id: int
    direction: str
    kind: str
    text: str
    status: str | None
    error: str | None
    at: datetime


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _matching(text: str) -> Any:
    """The sessions whose number holds the typed digits (4 or more), or whose person's or lead's name matches."""
    words = " ".join(text.split())[:SEARCH_MAX_CHARS]
    digits = "".join(ch for ch in words if ch.isascii() and ch.isdigit())
    named = union(
        *(select(model.phone).where(model.name.ilike(_like(words), escape="\\")) for model in PEOPLE_WITH_PHONES)
    ).subquery()
    found = [m.WhatsAppSession.phone_number.in_(select(named.c.phone))]
    if len(digits) >= 4:
        found.append(m.WhatsAppSession.phone_number.like(_like(digits), escape="\\"))
    return or_(*found)


def who_is(session: Session, phone: str) -> dict[str, str]:
    """The person behind a number as the office names them: 'Anika Reddy', 'student'; a lead's name, or nobody."""
    who = identify(session, phone)
    if who.name:
        return {"name": who.name, "role": ROLE_WORDS.get(who.role, who.role)}
    lead = session.execute(
        select(m.Lead.name).where(m.Lead.phone == phone, m.Lead.name.is_not(None)).order_by(m.Lead.id.desc()).limit(1)
    ).scalar_one_or_none()
    return {"name": lead or "", "role": "lead" if lead else "unknown number"}


def _row(session: Session, row: m.WhatsAppSession) -> dict[str, Any]:
    return {
        "id": row.id,
        "phone": row.phone_number,
        **who_is(session, row.phone_number),
        "last_at": clock.as_utc(row.last_message_at),
        "handled_by": row.handled_by,
        "waiting_since": clock.as_utc(row.waiting_since),
        "waiting_note": row.waiting_note,
    }


def recent(session: Session, search: str = "", page: int = 1) -> dict[str, Any]:
    """A page of conversations, the latest first (those waiting for a human before the rest), searched by phone
    digits or name."""
    query = select(m.WhatsAppSession)
    if search.strip():
        query = query.where(_matching(search))
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    rows = session.execute(
        query.order_by(
            m.WhatsAppSession.waiting_since.is_(None),
            m.WhatsAppSession.last_message_at.desc(),
            m.WhatsAppSession.id.desc(),
        )
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).scalars()
    return {"rows": [_row(session, row) for row in rows], "total": total, "page": page, "pages": pages}


def waiting(session: Session, limit: int) -> dict[str, Any]:
    """The conversations waiting for a human, the longest waiting first (Today)."""
    query = select(m.WhatsAppSession).where(m.WhatsAppSession.waiting_since.is_not(None))
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(query.order_by(m.WhatsAppSession.waiting_since, m.WhatsAppSession.id).limit(limit))
    return {"total": total, "rows": [_row(session, row) for row in rows.scalars()]}


def conversation(session: Session, conversation_id: int) -> dict[str, Any]:
    """One conversation: who, whether the bot or a staff member answers, whether it waits, and the 24-hour window."""
    row = session.get(m.WhatsAppSession, conversation_id)
    if row is None:
        raise NotFound("no such conversation")
    return {**_row(session, row), "in_window": store.in_service_window(row.phone_number)}


def _text(row: m.WhatsAppMessage) -> str:
    if row.content:
        return row.content
    if row.message_type == "template":
        return "(template)"
    return f"({row.message_type or 'message'})"


def messages(session: Session, conversation_id: int, limit: int = LOG_SIZE) -> list[Message]:
    """The latest `limit` messages of a conversation, oldest first."""
    phone = session.execute(
        select(m.WhatsAppSession.phone_number).where(m.WhatsAppSession.id == conversation_id)
    ).scalar_one_or_none()
    if phone is None:
        raise NotFound("no such conversation")
    rows = session.execute(
        select(m.WhatsAppMessage)
        .where(m.WhatsAppMessage.phone_number == phone)
        .order_by(m.WhatsAppMessage.created_at.desc(), m.WhatsAppMessage.id.desc())
        .limit(limit)
    ).scalars()
    found = [
        Message(
            row.id,
            row.direction,
            row.message_type or "",
            _text(row),
            row.status,
            row.error_message,
            clock.as_utc(row.created_at),
        )
        for row in rows
    ]
    return found[::-1]


def templates(session: Session) -> list[dict[str, Any]]:
    """The approved templates staff may send outside the 24-hour window (none that needs a document attached)."""
    rows = session.execute(
        select(m.WhatsAppTemplate)
        .where(
            m.WhatsAppTemplate.status == "approved",
            m.WhatsAppTemplate.header_format.is_(None),
            m.WhatsAppTemplate.category != "AUTHENTICATION",
        )
        .order_by(m.WhatsAppTemplate.template_name)
    ).scalars()
    return [{"name": row.template_name, "content": row.content, "variables": list(row.variables or [])} for row in rows]
