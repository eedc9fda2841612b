"""What the channel keeps in the database: inbound messages (deduplicated), outbound sends and their statuses,
per-number sessions, the 24-hour service window and the numbered options a user may answer with "2".

All functions are synchronous (SQLAlchemy); async callers run them with `asyncio.to_thread`, or call them
directly on a loop that does database work inline anyway (the channel's processing loop, as Rasa's tracker store
does). The channel's per-message work (store, claim, record a send, statuses, complete) runs statements built
once at import on plain connections: building and compiling a statement and an ORM session per call cost several
times the database work itself (a claim: 0.74 ms of CPU against 0.09 ms; `make bench-store`).
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Table, bindparam, insert, literal_column, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql.dml import Update
from sqlalchemy.sql.elements import TextClause

from hsm.infra import clock, correlation
from hsm.infra import models as m
from hsm.infra.db import get_engine, priority_writer_engine, session_scope
from hsm.infra.logmask import wamid_ref
from hsm.whatsapp import client
from hsm.whatsapp.payloads import STATUS_RANK, InboundMessage, StatusUpdate, WebhookBatch, status_may_replace

log = logging.getLogger("hsm.whatsapp.store")

SESSION_MINUTES = 30  # matches domain.yml session_expiration_time
SERVICE_WINDOW = timedelta(hours=24)
LOOKBACK = timedelta(days=1)  # older unfinished messages are the start-up replay's (sweeper.replay_after_restart)

# Inbound lifecycle: received -> processing -> processed | failed | skipped | held (for the staff member who has
# taken the number over: the bot did not answer it)
RECEIVED, PROCESSING, PROCESSED, FAILED, SKIPPED = "received", "processing", "processed", "failed", "skipped"
HELD = "held"
# Outbound lifecycle: accepted (by the API) -> sent -> delivered -> read, or failed
ACCEPTED = client.ACCEPTED

# Who a number is, for its session row: (role, person id), read on the connection given. The channel's store does
# not know the school's people; whoever processes messages passes `hsm.people.identity.role_of`.
RoleLookup = Callable[[Any, str], "tuple[str, int | None]"]

TRANSACTION_ATTEMPTS = 4
RETRYABLE_PGCODES = {"40P01", "40001"}  # deadlock_detected, serialization_failure
T = TypeVar("T")

_MESSAGES = m.WhatsAppMessage.__table__
_SESSIONS = m.WhatsAppSession.__table__
_FINISH = (
    update(_MESSAGES)
    .where(_MESSAGES.c.whatsapp_message_id == bindparam("wamid"))
    .values(status=bindparam("new_status"), error_message=bindparam("error"), updated_at=bindparam("now"))
)
# Finishing a message held under a claim's token: only while it is still that holder's (hsm.whatsapp.claims)
_FINISH_HELD = _FINISH.where(_MESSAGES.c.status == PROCESSING, _MESSAGES.c.holder == bindparam("token"))
_KEEP_TRANSCRIPT = (
    update(_MESSAGES).where(_MESSAGES.c.whatsapp_message_id == bindparam("wamid")).values(content=bindparam("text"))
)
_RECORD_SEND = insert(_MESSAGES)
_STORED_AMONG = select(_MESSAGES.c.whatsapp_message_id).where(
    _MESSAGES.c.whatsapp_message_id.in_(bindparam("wamids", expanding=True))
)
_CORRELATION_OF_SENT = select(
    _MESSAGES.c.whatsapp_message_id, _MESSAGES.c["metadata"][correlation.METADATA_KEY].as_string()
).where(_MESSAGES.c.whatsapp_message_id.in_(bindparam("wamids", expanding=True)), _MESSAGES.c.direction == "outbound")
_SESSION_OF = select(_SESSIONS.c.id, _SESSIONS.c.context).where(_SESSIONS.c.phone_number == bindparam("phone"))
_HANDLED_BY = select(_SESSIONS.c.handled_by).where(_SESSIONS.c.phone_number == bindparam("phone"))
_UPDATE_SESSION = update(_SESSIONS).where(_SESSIONS.c.id == bindparam("id_of_session"))  # SET: the values given
# Linking a session is bookkeeping, not progress: `updated_at` keeps the time of the message's last status change,
# from which an interrupted claim is known to be stale (claim, replay_after_restart).
_ATTACH_TO_SESSION = (
    update(_MESSAGES)
    .where(_MESSAGES.c.phone_number == bindparam("phone"), _MESSAGES.c.session_id.is_(None))
    .values(session_id=bindparam("id_of_session"), updated_at=_MESSAGES.c.updated_at)
)


def _literals(statuses: list[str] | tuple[str, ...]) -> list:
    """Our own status names written into the statement (no parameters to expand on every call)."""
    assert all(status.isalpha() for status in statuses)
    return [literal_column(f"'{status}'") for status in statuses]


@functools.lru_cache(maxsize=32)  # Meta's few status names (an unknown one costs a statement, not memory)
def _move_status(new_status: str, with_error: bool) -> Update:
    """UPDATE to `new_status` only from a status it may replace (`status_may_replace`, worked out here for every
    status we know, "accepted" counting as nothing yet, and for any other string): one statement that checks and
    moves at once, so two processes moving the same message cannot step over each other."""
    known = (ACCEPTED, *STATUS_RANK)
    replaceable = [held for held in known if status_may_replace(None if held == ACCEPTED else held, new_status)]
    may_move = [_MESSAGES.c.status.is_(None), _MESSAGES.c.status.in_(_literals(replaceable))]
    if status_may_replace("some status we do not rank", new_status):
        may_move.append(_MESSAGES.c.status.not_in(_literals(known)))
    return (
        update(_MESSAGES)
        .where(
            _MESSAGES.c.whatsapp_message_id == bindparam("wamid"), _MESSAGES.c.direction == "outbound", or_(*may_move)
        )
        .values(
            status=new_status,
            **({"error_code": bindparam("code"), "error_message": bindparam("error")} if with_error else {}),
        )
    )


# ------------------------------------------------------------------------------------------------ inbound


def _storable(text: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL characters; nobody means them anyway."""
    return text.replace("\x00", "") if text else text


def _inbound_metadata(message: InboundMessage) -> dict:
    return {
        "raw": message.raw,
        "profile_name": message.profile_name,
        "phone_number_id": message.phone_number_id,
        "title": message.title,
        correlation.METADATA_KEY: message.correlation_id,
    }


def store_inbound(batch: WebhookBatch) -> list[InboundMessage]:
    """Store every message of the batch and apply its statuses; return the messages seen for the first time.

    A message id that is already stored (Meta delivers at least once) is acknowledged and not returned.
    """
    return store_inbound_many([batch])[0]


def store_inbound_many(batches: list[WebhookBatch]) -> list[list[InboundMessage]]:
    """`store_inbound` for several webhook POSTs in one transaction (hsm.whatsapp.intake's group commit): one query
    for which of their message ids are stored already, one insert of the others, then their statuses. The insert
    still skips an id that another replica stored a moment ago (ON CONFLICT DO NOTHING); both then hand it over as
    new, and the channel's atomic claim lets only one of them process it."""

    def work(connection) -> list[list[InboundMessage]]:
        wamids = [message.wamid for batch in batches for message in batch.messages]
        seen = set(connection.execute(_STORED_AMONG, {"wamids": wamids}).scalars()) if wamids else set()
        now = clock.utcnow()
        rows: list[dict] = []
        results: list[list[InboundMessage]] = []
        for batch in batches:
            fresh: list[InboundMessage] = []
            for message in batch.messages:
                if message.wamid in seen:  # stored before, or earlier in this group
                    log.info("duplicate delivery of %s ignored", wamid_ref(message.wamid))
                    continue
                seen.add(message.wamid)
                fresh.append(message)
                rows.append(
                    dict(
                        phone_number=message.phone,
                        direction="inbound",
                        message_type=message.type[:30],
                        content=_storable(message.text),
                        media_url=(message.media or {}).get("url") if isinstance(message.media, dict) else None,
                        whatsapp_message_id=message.wamid,
                        status=RECEIVED,
                        metadata=_inbound_metadata(message),
                        created_at=now,
                        updated_at=now,
                    )
                )
            results.append(fresh)
        if len(rows) > 1 and connection.dialect.name == "postgresql":  # psycopg2 sends the rows in one statement
            connection.execute(postgresql_insert(_MESSAGES).on_conflict_do_nothing(), rows)
        elif rows:
            connection.execute(_insert_new_statement(connection.dialect.name, _MESSAGES.name, tuple(rows[0])), rows)
        statuses = [status for batch in batches for status in batch.statuses]
        if statuses:
            _apply_statuses(connection, statuses)
        return results

    return _in_transaction(work, priority_writer_engine())  # Meta's answer waits for this commit


def _in_transaction(work: Callable[[Any], T], engine: Engine | None = None) -> T:
    """`work(connection)` in one transaction, run again from the start when PostgreSQL picks it as a deadlock or
    serialization victim: the channel's writers (webhook group commits, completions, statuses) touch the same
    message rows in no fixed order."""
    for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
        try:
            with (engine or get_engine()).begin() as connection:
                return work(connection)
        except OperationalError as error:
            if getattr(error.orig, "pgcode", None) not in RETRYABLE_PGCODES or attempt == TRANSACTION_ATTEMPTS:
                raise
            log.info("transaction lost a deadlock (attempt %d of %d); running it again", attempt, TRANSACTION_ATTEMPTS)
            time.sleep(random.uniform(0.005, 0.05) * attempt)
    raise AssertionError("unreachable")


def _insert_unless_exists(connection, table: Table, values: dict) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING (SQLite and PostgreSQL); True when the row was new."""
    now = clock.utcnow()
    values = {**{name: now for name in ("created_at", "updated_at") if name in table.c}, **values}
    statement = _insert_new_statement(connection.dialect.name, table.name, tuple(values))
    return connection.execute(statement, values).rowcount == 1


@functools.cache
def _insert_new_statement(dialect_name: str, table_name: str, columns: tuple[str, ...]) -> TextClause:
    """The dialects' ON CONFLICT inserts are never cached by SQLAlchemy 1.4 (`inherit_cache = False`): built and
    compiled on every call, they cost more than the insert. So: compiled once per dialect, table and columns, and
    kept as text with the columns' types (so JSON, dates and the like are still converted). Column defaults do
    not apply to text: the callers give every column, timestamps included (`_insert_unless_exists` fills those in)."""
    table = m.Base.metadata.tables[table_name]
    build, dialect = {"sqlite": (sqlite_insert, sqlite.dialect), "postgresql": (postgresql_insert, postgresql.dialect)}[
        dialect_name
    ]
    statement = build(table).values({name: bindparam(name) for name in columns}).on_conflict_do_nothing()
    sql = str(statement.compile(dialect=dialect(paramstyle="named")))
    return text(sql).bindparams(*(bindparam(name, type_=table.c[name].type) for name in columns))


def handled_by_staff(phone: str) -> str | None:
    """The staff login that has taken `phone`'s conversation over (the bot must not answer), or None. Read for
    every message, from the database: every replica and worker sees a takeover or hand-back at once."""
    with get_engine().connect() as connection:
        return connection.execute(_HANDLED_BY, {"phone": phone}).scalar_one_or_none()


# ------------------------------------------------------------------------------------------------ outbound


def record_outbound(
    phone: str, message: dict, wamid: str | None, status: str, error_code: int | None = None, error: str | None = None
) -> None:
    """Record one send (accepted with Meta's id, or failed with the error)."""
    kind = str(message.get("type", "text"))
    content = None
    if kind == "text":
        content = (message.get("text") or {}).get("body")
    elif kind == "interactive":
        content = ((message.get("interactive") or {}).get("body") or {}).get("text")
    elif kind == "template":
        content = (message.get("template") or {}).get("name")
    elif kind == "document":
        document = message.get("document") or {}
        content = document.get("caption") or document.get("filename")
    with get_engine().begin() as connection:
        connection.execute(
            _RECORD_SEND,
            dict(
                phone_number=phone,
                direction="outbound",
                message_type=kind[:30],
                content=content,
                whatsapp_message_id=wamid,
                status=status,
                error_code=error_code,
                error_message=error,
                metadata=_outbound_metadata(message),
            ),
        )


def _outbound_metadata(message: dict) -> dict:
    """The message sent, and the correlation id of what caused it (its statuses are logged with it)."""
    correlation_id = correlation.current()
    return {"payload": message, **({correlation.METADATA_KEY: correlation_id} if correlation_id else {})}


def apply_statuses(statuses: tuple[StatusUpdate, ...] | list[StatusUpdate]) -> int:
    """Move outbound messages forward (never backwards: statuses arrive out of order). Returns rows changed."""
    return _in_transaction(lambda connection: _apply_statuses(connection, statuses))


def _apply_statuses(connection, statuses: tuple[StatusUpdate, ...] | list[StatusUpdate]) -> int:
    """Statuses in rounds: a message's first status goes in the first round, its second in the second, and so on;
    each round moves its statuses with one executemany per kind of status (a group commit brings dozens of
    statuses, and one statement each cost the writer more than the database's work). Statuses of different
    messages never affect each other; a message's own statuses keep their order, one round each."""
    rounds: list[dict[tuple[str, bool], list[dict]]] = []
    earlier: dict[str, int] = {}  # statuses of each message placed so far
    for status in statuses:
        index = earlier.get(status.wamid, 0)
        earlier[status.wamid] = index + 1
        if index == len(rounds):
            rounds.append({})
        rounds[index].setdefault((status.status, bool(status.errors)), []).append(_status_values(status))
    changed = sum(
        connection.execute(_move_status(new_status, with_error), rows).rowcount
        for round_ in rounds
        for (new_status, with_error), rows in round_.items()
    )
    _log_statuses(connection, statuses)
    if changed < len(statuses):
        log.debug(
            "%d of %d status(es) not taken: their messages are unknown or already further on",
            len(statuses) - changed,
            len(statuses),
        )
    return changed


def _log_statuses(connection, statuses: tuple[StatusUpdate, ...] | list[StatusUpdate]) -> None:
    """One line per status, with the correlation id of the message that caused the send when it is known (one query
    for the whole group)."""
    if not log.isEnabledFor(logging.INFO):
        return
    wamids = list({status.wamid for status in statuses})
    caused_by = dict(connection.execute(_CORRELATION_OF_SENT, {"wamids": wamids}).all())
    for status in statuses:
        cause = caused_by.get(status.wamid)
        log.info("message %s %s", wamid_ref(status.wamid), status.status, extra={correlation.LOG_FIELD: cause})


def _status_values(status: StatusUpdate) -> dict:
    """The parameters of `_move_status` for one status: its message, and Meta's first error if it has one."""
    values: dict = {"wamid": status.wamid}
    if status.errors:
        first = status.errors[0]
        code = first.get("code")
        values["code"] = code if isinstance(code, int) else None
        values["error"] = str(first.get("title") or first.get("message") or "")[:500]
    return values


# whatsapp_sessions.context key: when the office last cleared the number's conversation (a Unix time, the real
# clock like Rasa's event timestamps); the Rasa side starts a new session at the number's next message.
CLEARED_AT = "cleared_at"


def cleared_after(phone: str, since: float) -> bool:
    """Whether the office cleared `phone`'s conversation after `since` (a Unix time: the conversation's last event)."""
    with get_engine().connect() as connection:
        row = connection.execute(_SESSION_OF, {"phone": phone}).first()
    cleared = (row.context or {}).get(CLEARED_AT) if row is not None else None
    return isinstance(cleared, (int, float)) and cleared > since


def in_service_window(phone: str, now: datetime | None = None) -> bool:
    """True when the user wrote to us within the last 24 hours (free-form messages allowed)."""
    now = now or clock.utcnow()
    with session_scope() as session:
        last = session.execute(
            select(m.WhatsAppMessage.created_at)
            .where(m.WhatsAppMessage.phone_number == phone, m.WhatsAppMessage.direction == "inbound")
            .order_by(m.WhatsAppMessage.created_at.desc())
            .limit(1)
        ).scalar_one_or_none()
    last = clock.as_utc(last)
    return last is not None and now - last <= SERVICE_WINDOW


def approved_template(name: str, language: str | None = None) -> m.WhatsAppTemplate | None:
    with session_scope() as session:
        query = select(m.WhatsAppTemplate).where(m.WhatsAppTemplate.template_name == name)
        if language:
            query = query.where(m.WhatsAppTemplate.language == language)
        template = session.execute(query).scalars().first()
        return template if template is not None and template.status == "approved" else None


# ------------------------------------------------------------------------------------------------ sessions


@dataclass(frozen=True)
class SessionInfo:
    phone: str
    user_type: str | None
    user_id: int | None
    last_intent: str | None
    expires_at: datetime | None
    options: list[str]


def touch_session(
    phone: str, last_intent: str | None = None, options: list[str] | None = None, *, role_of: RoleLookup
) -> None:
    """Record activity: who the number is, the last intent, a fresh 30-minute expiry and, when given, the
    options last offered (so "2", or a button id "opt:2", means the second one; [] forgets them)."""
    now = clock.utcnow()
    with get_engine().begin() as connection:
        _touch(connection, phone, now, last_intent, options, role_of)


def _touch(
    connection, phone: str, now: datetime, last_intent: str | None, options: list[str] | None, role_of: RoleLookup
) -> None:
    role, person_id = role_of(connection, phone)
    values: dict = {
        "user_type": role,
        "user_id": person_id,
        "last_message_at": now,
        "expires_at": now + timedelta(minutes=SESSION_MINUTES),
    }
    if last_intent:
        values["last_intent"] = last_intent[:100]
    row = connection.execute(_SESSION_OF, {"phone": phone}).first()
    created = row is None and _insert_unless_exists(
        connection,
        _SESSIONS,
        {"phone_number": phone, "context": {"options": list(options)} if options else {}, **values},
    )
    if row is None:  # created now, or by another process between our read and our insert
        row = connection.execute(_SESSION_OF, {"phone": phone}).one()
    if not created:
        context = row.context or {}
        if options is not None and (options or context.get("options")):
            values["context"] = {**context, "options": list(options)}
        connection.execute(_UPDATE_SESSION, {"id_of_session": row.id, **values})
    connection.execute(_ATTACH_TO_SESSION, {"phone": phone, "id_of_session": row.id})


def complete(
    wamid: str,
    phone: str,
    status: str,
    last_intent: str | None = None,
    options: list[str] | None = None,
    error: str | None = None,
    *,
    role_of: RoleLookup,
    transcript: str | None = None,
    holder: str | None = None,
) -> bool:
    """Finish processing an inbound message and update its sender's session, in one transaction; a voice note's
    `transcript` is kept as its text (its audio never is). With `holder` (the claim's token), only while the message
    is still that holder's: False, and nothing written, when another replica took it over meanwhile."""
    now = clock.utcnow()

    def work(connection) -> bool:
        values = {"wamid": wamid, "new_status": status, "error": error, "now": now, "token": holder}
        if not connection.execute(_FINISH if holder is None else _FINISH_HELD, values).rowcount and holder is not None:
            return False
        if transcript is not None:
            connection.execute(_KEEP_TRANSCRIPT, {"wamid": wamid, "text": _storable(transcript)})
        _touch(connection, phone, now, last_intent, options, role_of)
        return True

    return _in_transaction(work)


def resolve_option(phone: str, text: str) -> str | None:
    """The payload of option N when `text` is "N" or "opt:N" and N was offered; else None."""
    token = text.strip().lower().removeprefix("opt:").rstrip(".)")
    if not token.isdigit():
        return None
    with get_engine().connect() as connection:
        row = connection.execute(_SESSION_OF, {"phone": phone}).first()
    options = list((row.context or {}).get("options") or []) if row else []
    index = int(token) - 1
    return options[index] if 0 <= index < len(options) else None


def session_info(phone: str) -> SessionInfo | None:
    with session_scope() as session:
        row = session.execute(
            select(m.WhatsAppSession).where(m.WhatsAppSession.phone_number == phone)
        ).scalar_one_or_none()
        if row is None:
            return None
        return SessionInfo(
            phone,
            row.user_type,
            row.user_id,
            row.last_intent,
            clock.as_utc(row.expires_at),
            list((row.context or {}).get("options") or []),
        )


class DatabaseLedger:
    """The WhatsApp client's `SendLedger` on this store: sends recorded in `whatsapp_messages`, the 24-hour window
    read from them, templates from `whatsapp_templates`."""

    record_outbound = staticmethod(record_outbound)
    in_service_window = staticmethod(in_service_window)
    approved_template = staticmethod(approved_template)


LEDGER: client.SendLedger = DatabaseLedger()
