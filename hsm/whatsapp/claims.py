"""Who processes a stored inbound message: the atomic claim, the lease it gives (a random holder token and a heartbeat
on the database's clock), taking over what a dead replica held, and what a sender left unfinished before a message.

A claim moves a message from `received` to `processing` with a new holder token and a heartbeat; the holder stamps
the heartbeat again while it works (hsm.whatsapp.heartbeat), always under its own token. Another replica takes a
`processing` message over (a claim `AGAIN`, with a token of its own) only when the heartbeat is older than
HSM_SWEEP_STALE_AFTER_S: a live holder never lets that happen however slow its turn, a dead one does at once. The
old holder, should it come back (frozen, cut off from the database), finds its token gone: it sends and finishes
nothing more of that turn (`still_held`, `store.complete(holder=...)`).

Every time is the database's (`db_epoch()`), so replicas on hosts whose clocks differ agree on who is silent, and
HSM_NOW (a frozen demo clock) plays no part. Rows claimed by a version without leases (a rolling upgrade) have no
heartbeat: they count as dead after LEGACY_STALE of the real clock since their last status change, as before.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Float, and_, bindparam, or_, select, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from hsm.infra import clock, correlation
from hsm.infra import models as m
from hsm.infra.config import get_settings
from hsm.infra.db import get_engine
from hsm.whatsapp.payloads import InboundMessage
from hsm.whatsapp.store import LOOKBACK, PROCESSING, RECEIVED

LEGACY_STALE = timedelta(minutes=2)  # a row without a heartbeat: how long after its last change its holder is dead


class db_epoch(FunctionElement):  # noqa: N801 - reads as the SQL function it stands for
    """The database's clock as a Unix time in seconds (one clock for every replica)."""

    type = Float()
    inherit_cache = True


@compiles(db_epoch, "postgresql")
def _postgresql_epoch(element: db_epoch, compiler: Any, **kw: Any) -> str:
    return "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)"


@compiles(db_epoch, "sqlite")
def _sqlite_epoch(element: db_epoch, compiler: Any, **kw: Any) -> str:
    return "((julianday('now') - 2440587.5) * 86400.0)"


_MESSAGES = m.WhatsAppMessage.__table__
_CLAIM = (
    update(_MESSAGES)
    .where(_MESSAGES.c.whatsapp_message_id == bindparam("wamid"), _MESSAGES.c.direction == "inbound")
    .values(status=PROCESSING, updated_at=bindparam("now"), holder=bindparam("token"), heartbeat_at=db_epoch())
)
_CLAIM_RECEIVED = _CLAIM.where(_MESSAGES.c.status == RECEIVED)
_CLAIM_INTERRUPTED = _CLAIM.where(
    _MESSAGES.c.status == PROCESSING,
    or_(
        _MESSAGES.c.heartbeat_at < db_epoch() - bindparam("silent_for", type_=Float()),
        and_(_MESSAGES.c.heartbeat_at.is_(None), _MESSAGES.c.updated_at < bindparam("legacy_before")),
    ),
)
_HELD = (
    _MESSAGES.c.whatsapp_message_id == bindparam("wamid"),
    _MESSAGES.c.status == PROCESSING,
    _MESSAGES.c.holder == bindparam("token"),
)
_BEAT = update(_MESSAGES).where(*_HELD).values(heartbeat_at=db_epoch())
_HOLDS = select(_MESSAGES.c.id).where(*_HELD)
# The sender's unfinished messages that arrived before this one (ids grow in arrival order), from the last day, with
# how long each one's holder has been silent
_EARLIER_UNFINISHED = select(
    _MESSAGES.c.whatsapp_message_id, _MESSAGES.c.status, db_epoch() - _MESSAGES.c.heartbeat_at
).where(
    _MESSAGES.c.phone_number == bindparam("phone"),
    _MESSAGES.c.direction == "inbound",
    _MESSAGES.c.status.in_((RECEIVED, PROCESSING)),
    _MESSAGES.c.created_at >= bindparam("since"),
    _MESSAGES.c.id
    < select(_MESSAGES.c.id).where(_MESSAGES.c.whatsapp_message_id == bindparam("wamid")).scalar_subquery(),
)
_SENT_SINCE = select(_MESSAGES.c.metadata).where(
    _MESSAGES.c.phone_number == bindparam("phone"),
    _MESSAGES.c.direction == "outbound",
    _MESSAGES.c.status != "failed",
    _MESSAGES.c.created_at
    >= select(_MESSAGES.c.created_at).where(_MESSAGES.c.whatsapp_message_id == bindparam("wamid")).scalar_subquery(),
)
_DB_NOW = select(db_epoch())


class Claim(enum.Enum):
    """How a message was claimed: FIRST from `received`, AGAIN from a `processing` holder that went silent."""

    FIRST = "first"
    AGAIN = "again"


def new_holder() -> str:
    """A claim's token: who holds the message while it is processed."""
    return uuid.uuid4().hex


def legacy_before() -> datetime:
    """Rows without a heartbeat changed before this (the real clock) have a dead holder."""
    return datetime.now(timezone.utc) - LEGACY_STALE


def claim(wamid: str, holder: str | None = None, stale_after_s: float | None = None) -> Claim | None:
    """Move a message from received to processing under `holder`, or take it over from a holder silent for
    `stale_after_s` (HSM_SWEEP_STALE_AFTER_S); None if someone else has it."""
    silent_for = get_settings().sweep.stale_after_s if stale_after_s is None else stale_after_s
    values = {"wamid": wamid, "now": clock.utcnow(), "token": holder or new_holder()}
    with get_engine().begin() as connection:
        if connection.execute(_CLAIM_RECEIVED, values).rowcount == 1:
            return Claim.FIRST
        taken = connection.execute(
            _CLAIM_INTERRUPTED, {**values, "silent_for": silent_for, "legacy_before": legacy_before()}
        )
        return Claim.AGAIN if taken.rowcount == 1 else None


def beat(held: dict[str, str]) -> set[str]:
    """Stamp the heartbeat of the messages held here (wamid: holder token), oldest wamid first, in one transaction.
    Returns those no longer held under that token (finished, or taken over)."""
    lost: set[str] = set()
    with get_engine().begin() as connection:
        for wamid in sorted(held):
            if not connection.execute(_BEAT, {"wamid": wamid, "token": held[wamid]}).rowcount:
                lost.add(wamid)
    return lost


def still_held(wamid: str, holder: str) -> bool:
    """Whether `wamid` is still processing under `holder` (nobody took it over since)."""
    with get_engine().connect() as connection:
        return connection.execute(_HOLDS, {"wamid": wamid, "token": holder}).first() is not None


def db_now() -> float:
    """The database's clock (a Unix time)."""
    with get_engine().connect() as connection:
        return float(connection.execute(_DB_NOW).scalar_one())


@dataclass(frozen=True)
class Earlier:
    """An unfinished message of the sender from before the one at hand: its status, and for one being processed
    how long its holder has been silent (None: not processing, or claimed by a version without heartbeats)."""

    wamid: str
    status: str
    silent_s: float | None


def earlier_unfinished(message: InboundMessage) -> list[Earlier]:
    """The sender's messages from before `message` that nobody has finished yet (received, or in a replica's
    hands): `message` waits for them, so a conversation is answered in the order it was written."""
    with get_engine().connect() as connection:
        rows = connection.execute(
            _EARLIER_UNFINISHED, {"phone": message.phone, "wamid": message.wamid, "since": clock.utcnow() - LOOKBACK}
        ).all()
    return [Earlier(wamid, status, None if silent is None else float(silent)) for wamid, status, silent in rows]


def replies_sent_for(message: InboundMessage) -> int:
    """How many replies to `message` Meta already accepted: a run that died after sending some of its turn's replies
    (before Rasa saved the turn) left them, and the run taking over must not send them again. They are the sender's
    outbound messages since `message` arrived that carry its correlation id (`store._outbound_metadata`)."""
    if not message.correlation_id:
        return 0
    with get_engine().connect() as connection:
        rows = connection.execute(_SENT_SINCE, {"phone": message.phone, "wamid": message.wamid}).scalars()
        return sum(1 for metadata in rows if (metadata or {}).get(correlation.METADATA_KEY) == message.correlation_id)
