"""Rasa's stores on the school's own infrastructure: conversations (Rasa's `events` table) live in the same
database as the school's data, so a dialogue in progress survives a restart of the Rasa server; conversation locks
live in Redis when `REDIS_URL` is set, so several Rasa replicas can share the conversations. A conversation whose
number lost the role its session holds (someone who left) is read back as a new session in its current role."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from rasa.core.brokers.broker import EventBroker
from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, InMemoryLockStore, LockError, LockStore
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from hsm.infra.config import get_settings
from hsm.infra.db import sqlite_engine

logger = logging.getLogger(__name__)


def tracker_database_url() -> str:
    """Where Rasa's conversations live: HSM_TRACKER_DB_URL, else DATABASE_URL."""
    settings = get_settings()
    return settings.rasa.tracker_db_url or settings.database.url


def create_tracker_tables(url: str | None = None) -> None:
    """Create Rasa's tracker table (`events`) ahead of the Rasa servers (`python -m hsm.rasa_glue.stores`): replicas
    that start together would otherwise race to create it, and the losers log errors."""
    url = url or tracker_database_url()
    SQLTrackerStore(host=url).engine.dispose()


# Whether a conversation goes on: (sender id, the session's `role` slot, the Unix time of its last event) -> None
# while the number still holds that role and the office has not cleared the conversation since, else (its role
# now, its first name): a new session starts. Installed at start-up by whoever knows the
# school's people (`hsm.rasa_glue.startup.prepare_rasa_process(role_check=...)`, from the WhatsApp channel).
RoleCheck = Callable[[str, "str | None", float], "tuple[str, str | None] | None"]
_ROLE_CHECK: list[RoleCheck] = []


def check_roles_with(check: RoleCheck | None) -> None:
    """Make every SchoolTrackerStore of this process restart a conversation whose number lost its role (None: no
    check)."""
    _ROLE_CHECK[:] = [check] if check is not None else []


# The intent of the last user message each conversation saved in this process, most recent last: the WhatsApp
# channel records it in whatsapp_sessions without loading the whole conversation back from the database.
_LATEST_INTENTS: OrderedDict[str, str] = OrderedDict()
_LATEST_INTENTS_KEPT = 10_000


def latest_intent(sender_id: str) -> str | None:
    """The intent of `sender_id`'s last user message as saved by a SchoolTrackerStore of this process."""
    return _LATEST_INTENTS.get(sender_id)


def _remember_latest_intent(tracker: DialogueStateTracker) -> None:
    intent = (tracker.latest_message.intent or {}).get("name") if tracker.latest_message else None
    if not intent:
        return
    _LATEST_INTENTS[tracker.sender_id] = intent
    _LATEST_INTENTS.move_to_end(tracker.sender_id)
    while len(_LATEST_INTENTS) > _LATEST_INTENTS_KEPT:
        _LATEST_INTENTS.popitem(last=False)


class SchoolTrackerStore(SQLTrackerStore):
    """`type: hsm.rasa_glue.stores.SchoolTrackerStore` in endpoints.yml: the SQL tracker store on
    `HSM_TRACKER_DB_URL`, or else on `DATABASE_URL` (SQLite by default, PostgreSQL in production)."""

    engine: Engine  # set by SQLTrackerStore.__init__

    def __init__(
        self,
        domain: Domain | None = None,
        host: str | None = None,
        event_broker: EventBroker | None = None,
        **kwargs: Any,
    ) -> None:
        url = tracker_database_url()
        super().__init__(domain=domain, host=url, event_broker=event_broker, **kwargs)
        if self.engine.dialect.name == "sqlite":
            # Rasa's own SQLite engine opens a connection per query and syncs every commit to disk: ours pools
            # connections and runs WAL with synchronous=NORMAL (hsm.infra.db.sqlite_engine).
            self.engine.dispose()
            self.engine = sqlite_engine(url, future=False)
            self.sessionmaker = sessionmaker(bind=self.engine)

    async def save(self, tracker: DialogueStateTracker) -> None:
        await super().save(tracker)
        _remember_latest_intent(tracker)

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The conversation's current session as Rasa reads it before each message; a new session in the current
        role when the number lost the role this one holds (an admin or teacher deactivated mid-session is a
        prospect from their very next message) or the office cleared the conversation (POST
        /api/whatsapp/sessions/clear): forms, slots and pending confirmations are gone. Rasa wraps this store in
        its FailSafeTrackerStore, which reaches it through `retrieve`."""
        tracker = await super().retrieve(sender_id)
        if tracker is not None and tracker.events and _ROLE_CHECK and "role" in tracker.slots:
            role = tracker.get_slot("role")
            try:
                now = await asyncio.to_thread(_ROLE_CHECK[0], tracker.sender_id, role, tracker.events[-1].timestamp)
            except Exception:  # noqa: BLE001 - never lose a conversation over the check; the actions re-check anyway
                logger.warning("the role check failed; the session goes on as it was", exc_info=True)
                return tracker
            if now is not None:
                logger.info("new session: the number's role changed or the office cleared it (%s -> %s)", role, now[0])
                for event in _session_restart(*now):
                    tracker.update(event)
        return tracker


def _session_restart(role: str, person_name: str | None) -> list:
    """A new session in `role`: the events Rasa stores when `action_session_start` sets the caller's slots."""
    return [
        ActionExecuted(ACTION_SESSION_START_NAME),
        SessionStarted(),
        SlotSet("role", role),
        SlotSet("person_name", person_name),
        ActionExecuted(ACTION_LISTEN_NAME),
    ]


# ------------------------------------------------------------------------------------------------ lock stores

LOCK_KEY_PREFIX = "hsm:lock:"
SEQUENCE_TTL_S = 86_400  # a conversation's ticket counter outlives any ticket (lifetimes are seconds to minutes)
REDIS_SOCKET_TIMEOUT_S = 10.0

# Shared by the scripts below: Redis' own clock (one clock for every replica) and the removal of expired tickets.
# A ticket is the sorted-set member "<number>:<expires, Redis time in seconds>" scored by its number.
_LUA_PRELUDE = """
local function server_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function purge(key, now)
  for _, member in ipairs(redis.call('ZRANGE', key, 0, -1)) do
    local expires = tonumber(string.match(member, ':(.+)$'))
    if expires == nil or expires <= now then redis.call('ZREM', key, member) end
  end
end
"""
# KEYS: tickets, sequence. ARGV: lifetime (s), sequence TTL (s). -> {ticket number, Redis time}
_LUA_ISSUE = (
    _LUA_PRELUDE
    + """
local now = server_now()
purge(KEYS[1], now)
local number = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[2]))
local lifetime = tonumber(ARGV[1])
redis.call('ZADD', KEYS[1], number, number .. ':' .. string.format('%.6f', now + lifetime))
local lifetime_ms = math.ceil(lifetime * 1000) + 1000
if redis.call('PTTL', KEYS[1]) < lifetime_ms then redis.call('PEXPIRE', KEYS[1], lifetime_ms) end
return {number, tostring(now)}
"""
)
# KEYS: tickets. -> {Redis time, member, member, ...} (expired tickets removed first)
_LUA_READ = (
    _LUA_PRELUDE
    + """
local now = server_now()
purge(KEYS[1], now)
local result = {tostring(now)}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do table.insert(result, member) end
return result
"""
)
# KEYS: tickets. ARGV: ticket number. -> tickets left. An empty sorted set is no key at all: the lock is gone the
# moment its last ticket is, in the same step, so no one can slip a ticket in between "nobody waits" and "delete".
_LUA_FINISH = (
    _LUA_PRELUDE
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1])
purge(KEYS[1], server_now())
return redis.call('ZCARD', KEYS[1])
"""
)
# KEYS: tickets, sequence. ARGV: client time, sequence TTL, then number/expires (client time) pairs.
_LUA_SAVE = (
    _LUA_PRELUDE
    + """
local now = server_now()
local offset = now - tonumber(ARGV[1])
redis.call('DEL', KEYS[1])
local highest = 0
local latest = now
for i = 3, #ARGV, 2 do
  local number = tonumber(ARGV[i])
  local expires = tonumber(ARGV[i + 1]) + offset
  if expires > now then
    redis.call('ZADD', KEYS[1], number, number .. ':' .. string.format('%.6f', expires))
    if expires > latest then latest = expires end
  end
  if number > highest then highest = number end
end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], math.ceil((latest - now) * 1000) + 1000) end
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
if highest > current then redis.call('SET', KEYS[2], highest) end
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[2]))
return redis.call('ZCARD', KEYS[1])
"""
)


def _endpoint_value(endpoint_config: EndpointConfig | None, name: str) -> Any:
    if endpoint_config is None:
        return None
    if name == "url":
        return endpoint_config.url
    return (endpoint_config.kwargs or {}).get(name)


class AtomicRedisLockStore(LockStore):
    """Rasa's ticket lock in Redis, safe across processes: every change to a conversation's lock is one Lua script,
    so two replicas can never draw the same ticket (Rasa 3.6's `RedisLockStore` reads, changes and writes the whole
    lock back, which lets them: rasa issue #9213).

    Per conversation: `hsm:lock:{<id>}:tickets` is a sorted set of tickets (score = ticket number, served in that
    order) and `hsm:lock:{<id>}:seq` the counter that numbers them (INCR, so numbers never repeat). Expiry is judged
    by Redis' clock, so replicas with skewed clocks agree. `endpoints.yml`:

        lock_store:
          type: hsm.rasa_glue.stores.AtomicRedisLockStore   # url: redis://... (default: REDIS_URL)
    """

    def __init__(
        self,
        redis_url: str | None = None,
        key_prefix: str = LOCK_KEY_PREFIX,
        socket_timeout: float = REDIS_SOCKET_TIMEOUT_S,
        client: Any = None,
        endpoint_config: EndpointConfig | None = None,
        poll_interval_s: float = 0.02,
        max_poll_interval_s: float = 0.2,
    ) -> None:
        import redis

        redis_url = redis_url or _endpoint_value(endpoint_config, "url") or get_settings().redis.url
        key_prefix = _endpoint_value(endpoint_config, "key_prefix") or key_prefix
        if client is None:
            if not redis_url:
                raise ValueError("AtomicRedisLockStore needs a Redis URL: set REDIS_URL or lock_store.url")
            client = redis.Redis.from_url(
                redis_url,
                socket_timeout=socket_timeout,
                socket_connect_timeout=socket_timeout,
                health_check_interval=30,
            )
        self.red = client
        self.key_prefix = key_prefix
        self.poll_interval_s = poll_interval_s
        self.max_poll_interval_s = max_poll_interval_s
        self._issue = client.register_script(_LUA_ISSUE)
        self._read = client.register_script(_LUA_READ)
        self._finish = client.register_script(_LUA_FINISH)
        self._save = client.register_script(_LUA_SAVE)
        super().__init__()

    # The {conversation} hash tag keeps a conversation's two keys in one Redis Cluster slot (scripts touch both).
    def _tickets_key(self, conversation_id: str) -> str:
        return f"{self.key_prefix}{{{conversation_id}}}:tickets"

    def _sequence_key(self, conversation_id: str) -> str:
        return f"{self.key_prefix}{{{conversation_id}}}:seq"

    # ---------------------------------------------------------------------------------------- LockStore interface

    def get_lock(self, conversation_id: str) -> TicketLock | None:
        """The conversation's lock with its live tickets (expiry moved to this process' clock), or None."""
        answer = self._read(keys=[self._tickets_key(conversation_id)])
        server_now, members = float(answer[0]), answer[1:]
        if not members:
            return None
        offset = time.time() - server_now
        tickets: deque[Ticket] = deque()
        for member in members:
            number, expires = (member.decode() if isinstance(member, bytes) else member).split(":", 1)
            tickets.append(Ticket(int(number), float(expires) + offset))
        return TicketLock(conversation_id, tickets)

    def delete_lock(self, conversation_id: str) -> None:
        """Drop every ticket of the conversation (the counter stays, so numbers are never issued twice)."""
        self._log_deletion(conversation_id, bool(self.red.delete(self._tickets_key(conversation_id))))

    def save_lock(self, lock: TicketLock) -> None:
        """Replace the conversation's tickets with `lock`'s, in one step (Rasa's own flow never needs this: tickets
        are issued and finished one at a time below)."""
        pairs: list[Any] = []
        for ticket in lock.tickets:
            pairs += [ticket.number, repr(ticket.expires)]
        self._save(
            keys=[self._tickets_key(lock.conversation_id), self._sequence_key(lock.conversation_id)],
            args=[repr(time.time()), SEQUENCE_TTL_S, *pairs],
        )

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        """Draw the next ticket: INCR numbers it and the same script queues it, so no two callers anywhere get the
        same number and the queue is in the order numbers were drawn."""
        try:
            number, _ = self._issue(
                keys=[self._tickets_key(conversation_id), self._sequence_key(conversation_id)],
                args=[float(lock_lifetime), max(SEQUENCE_TTL_S, int(lock_lifetime) * 2)],
            )
        except Exception as error:  # noqa: BLE001 - Rasa expects a LockError
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error
        return int(number)

    def update_lock(self, conversation_id: str) -> None:
        """Remove expired tickets (in Redis, in one step)."""
        self._read(keys=[self._tickets_key(conversation_id)])

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self._finish(keys=[self._tickets_key(conversation_id)], args=[int(ticket_number)])

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Give the ticket back; the lock disappears with its last ticket (atomically, unlike the base class'
        finish / is anyone waiting / delete sequence, which could delete a ticket drawn in between)."""
        try:
            self.finish_serving(conversation_id, ticket_number)
        except Exception:  # noqa: BLE001 - the ticket expires by itself; never hide the caller's own error
            logger.exception("could not give back ticket %s of a conversation's lock", ticket_number)

    def is_someone_waiting(self, conversation_id: str) -> bool:
        return self.get_lock(conversation_id) is not None

    async def _acquire_lock(self, conversation_id: str, ticket: int, wait_time_in_seconds: float) -> TicketLock:
        """Wait for our turn. Polls every 20 ms at first, doubling up to 200 ms (or `wait_time_in_seconds` if
        shorter), instead of Rasa's fixed 1 s: a conversation busy on another replica costs milliseconds, not a
        second. Raises LockError when our ticket expired meanwhile (Rasa's own store would then wait behind newer
        tickets forever)."""
        ceiling = max(min(wait_time_in_seconds, self.max_poll_interval_s), 0.001)
        delay = min(self.poll_interval_s, ceiling)
        while True:
            lock = self.get_lock(conversation_id)
            if lock is None or all(t.number != ticket for t in lock.tickets):
                break
            if not lock.is_locked(ticket):
                return lock
            await asyncio.sleep(delay)
            delay = min(delay * 2, ceiling)
        raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}' (ticket {ticket} expired).")


class SchoolLockStore(LockStore):
    """`type: hsm.rasa_glue.stores.SchoolLockStore` in endpoints.yml: the lock store the environment asks for.

    With `REDIS_URL` set, an `AtomicRedisLockStore` on it (several Rasa replicas may then share conversations);
    without, Rasa's in-memory store (one Rasa process). Deciding here rather than with `${REDIS_URL}` in
    endpoints.yml keeps `rasa run`, `rasa shell` and `rasa test` working with nothing set: Rasa refuses an
    endpoints file that names an unset variable.
    """

    def __new__(cls, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> LockStore:
        url = _endpoint_value(endpoint_config, "url") or get_settings().redis.url
        if url:
            store: LockStore = AtomicRedisLockStore(url, endpoint_config=endpoint_config, **kwargs)
            logger.info("lock store: Redis (%s)", _redact_url(url))
        else:
            store = InMemoryLockStore()
            logger.info("lock store: in-memory (REDIS_URL is not set: one Rasa process only)")
        return store


def _redact_url(url: str) -> str:
    """The URL without its password, for logs."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    create_tracker_tables()
    logger.info("Rasa's tracker table is ready")
