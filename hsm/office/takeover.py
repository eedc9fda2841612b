"""Human takeover of a WhatsApp conversation: a staff member takes a number over (the bot stops answering it, as
the channel reads `handled_by` for every message), replies, and hands it back. Each step
is audited on the number's `whatsapp_sessions` row. (The bot asking for one: hsm.outreach.human_help.)"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.phone import mask_phone
from hsm.records.changes import Conflict, NotFound, record_change

ENTITY = "whatsapp_sessions"


def _conversation(session: Session, conversation_id: int) -> m.WhatsAppSession:
    row = session.execute(
        select(m.WhatsAppSession).where(m.WhatsAppSession.id == conversation_id).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("no such conversation")
    return row


def take_over(session: Session, actor: str, login: str, conversation_id: int) -> m.WhatsAppSession:
    """`login` answers this number from now on instead of the bot (taking it from another staff member too)."""
    row = _conversation(session, conversation_id)
    if row.handled_by == login:
        return row
    before = {"handled_by": row.handled_by}
    row.handled_by = login
    row.handled_since = clock.utcnow()
    record_change(
        session,
        actor,
        "conversation.taken_over",
        ENTITY,
        row.id,
        before,
        {"handled_by": login, "phone": mask_phone(row.phone_number)},
    )
    return row


def hand_back(session: Session, actor: str, conversation_id: int) -> m.WhatsAppSession:
    """The bot answers this number again; nobody waits for a human any more."""
    row = _conversation(session, conversation_id)
    if row.handled_by is None and row.waiting_since is None:
        raise Conflict("the bot already answers this conversation")
    before = {"handled_by": row.handled_by, "waiting_since": row.waiting_since}
    row.handled_by = None
    row.handled_since = None
    row.waiting_since = None
    row.waiting_note = None
    record_change(
        session,
        actor,
        "conversation.handed_back",
        ENTITY,
        row.id,
        before,
        {"handled_by": None, "phone": mask_phone(row.phone_number)},
    )
    return row


def replying_to(session: Session, login: str, conversation_id: int) -> str:
    """The number `login` may reply to now: only the staff member who has taken the conversation over replies."""
    row = _conversation(session, conversation_id)
    if row.handled_by != login:
        raise Conflict("take this conversation over before replying")
    return row.phone_number


def replied(session: Session, actor: str, conversation_id: int, sent: dict[str, object]) -> None:
    """Record a reply staff sent (`sent`: what and Meta's message id): the number no longer waits for a human."""
    row = _conversation(session, conversation_id)
    before = {"waiting_since": row.waiting_since}
    row.waiting_since = None
    row.waiting_note = None
    record_change(
        session, actor, "conversation.replied", ENTITY, row.id, before, {**sent, "phone": mask_phone(row.phone_number)}
    )


def reply_refused(session: Session, actor: str, conversation_id: int, why: dict[str, object]) -> None:
    record_change(session, actor, "conversation.reply_refused", ENTITY, conversation_id, None, why)
