"""Rate limits for inbound messages: per user and global sliding windows, plus backoff after repeated failures.

`check(phone)` says whether to process a message now. Over the sender's own limit (or in backoff) the message is
refused, not queued: the caller marks it handled (e.g. status "skipped") so that nothing replays it later, and sends
that sender one polite notice when `Decision.notify` is True, at most once per user per window. At the global limit
(reason "global", never a notice) nobody is at fault: `GlobalLimitQueue.admit` makes the message wait until the
window has room, senders served in the order they started waiting, so a sender's backlog cannot starve others.

Two implementations behind one interface, chosen by `rate_limiter_from_env()`:
- `InMemoryRateLimiter`: one process (thread-safe, monotonic clock, forgets idle users);
- `RedisRateLimiter` when `REDIS_URL` is set: shared by every process, each decision one atomic Lua script over
  sorted sets whose keys expire on their own. If Redis fails, it falls back to the in-process limiter (fail open
  to a per-process limit rather than dropping messages) and logs the failure.

Users are keyed by a hash of their number, so no phone number is stored in Redis key names.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from hsm.infra.config import DEFAULT_RATE_GLOBAL_PER_MIN, DEFAULT_RATE_USER_PER_MIN, get_settings

if TYPE_CHECKING:  # redis is imported only where Redis is configured
    import redis

log = logging.getLogger("hsm.infra.ratelimit")

KEY_PREFIX = "hsm:rl:"
NOTICE_TEXT = (
    "You're sending messages faster than I can answer. Please wait a minute and try again; "
    "I'll pick up from your next message."
)

Clock = Callable[[], float]
T = TypeVar("T")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    notify: bool = False  # True for the first refusal in a window: send the user one polite notice
    retry_after_s: float = 0.0
    reason: str = ""  # "" when allowed; "user", "global" or "backoff"


ALLOW = Decision(True)


@dataclass(frozen=True)
class RateLimits:
    user_per_window: int = DEFAULT_RATE_USER_PER_MIN
    global_per_window: int = DEFAULT_RATE_GLOBAL_PER_MIN
    window_s: float = 60.0
    backoff_base_s: float = 1.0
    backoff_max_s: float = 300.0
    backoff_forget_s: float = 600.0  # failures this long after the last backoff ended are forgotten

    @classmethod
    def from_env(cls) -> RateLimits:
        """HSM_RATE_USER_PER_MIN and HSM_RATE_GLOBAL_PER_MIN (hsm.infra.config; SettingsError, a ValueError)."""
        limits = get_settings().rate_limits
        return cls(user_per_window=limits.user_per_min, global_per_window=limits.global_per_min)

    def backoff_delay(self, failures: int) -> float:
        """1 s, 2 s, 4 s ... after the 1st, 2nd, 3rd failure in a row, capped at `backoff_max_s`."""
        if failures <= 0:
            return 0.0
        return min(self.backoff_base_s * 2 ** min(failures - 1, 62), self.backoff_max_s)


def user_key(phone: str) -> str:
    """A stable pseudonym for a number: the same number always maps to the same key, and the key shows nothing."""
    return hashlib.sha256(f"hsm-rl:{phone}".encode()).hexdigest()[:24]


class RateLimiter(ABC):
    """Decide whether to process a user's message now; remember failures to back off."""

    limits: RateLimits

    @abstractmethod
    def check(self, phone: str) -> Decision:
        """Allowed: the message is counted against the windows. Refused: nothing is counted."""

    @abstractmethod
    def record_failure(self, phone: str) -> float:
        """Note a failure for this user (e.g. their message could not be handled); returns the backoff in s."""

    @abstractmethod
    def record_success(self, phone: str) -> None:
        """Forget this user's failures."""

    # Whether check/record_* wait on the network (Redis): then the async forms below run them in a thread.
    blocking = True

    async def acheck(self, phone: str) -> Decision:
        """`check` from an event loop without blocking it."""
        return await self._without_blocking(self.check, phone)

    async def arecord_failure(self, phone: str) -> float:
        return await self._without_blocking(self.record_failure, phone)

    async def arecord_success(self, phone: str) -> None:
        await self._without_blocking(self.record_success, phone)

    async def _without_blocking(self, method: Callable[[str], T], phone: str) -> T:
        return await asyncio.to_thread(method, phone) if self.blocking else method(phone)


# ------------------------------------------------------------------------------------------------ in-process


@dataclass
class _UserState:
    hits: deque
    notified_at: float | None = None
    failures: int = 0
    blocked_until: float = 0.0


class InMemoryRateLimiter(RateLimiter):
    """Sliding windows in this process's memory. `clock` returns seconds (default: time.monotonic)."""

    blocking = False  # a lock held for microseconds: cheaper inline than a thread hop

    def __init__(self, limits: RateLimits | None = None, clock: Clock | None = None) -> None:
        self.limits = limits or RateLimits()
        self._clock = clock or time.monotonic
        self._lock = threading.Lock()
        self._users: dict[str, _UserState] = {}
        self._global: deque[float] = deque()
        self._last_sweep = self._clock()

    def _state(self, phone: str) -> _UserState:
        state = self._users.get(phone)
        if state is None:
            state = self._users[phone] = _UserState(deque())
        return state

    def _expire(self, hits: deque, now: float) -> None:
        while hits and hits[0] <= now - self.limits.window_s:
            hits.popleft()

    def _sweep(self, now: float) -> None:
        """Drop users with nothing left to remember, at most once per window: memory stays bounded."""
        if now - self._last_sweep < self.limits.window_s:
            return
        self._last_sweep = now
        for phone in list(self._users):
            state = self._users[phone]
            self._expire(state.hits, now)
            idle_notice = state.notified_at is None or now - state.notified_at >= self.limits.window_s
            forgotten = state.failures == 0 or now >= state.blocked_until + self.limits.backoff_forget_s
            if not state.hits and idle_notice and forgotten:
                del self._users[phone]

    def _refuse(self, state: _UserState, now: float, retry_after: float, reason: str) -> Decision:
        notify = state.notified_at is None or now - state.notified_at >= self.limits.window_s
        if notify:
            state.notified_at = now
        return Decision(False, notify, max(retry_after, 0.0), reason)

    def check(self, phone: str) -> Decision:
        key = str(phone)
        with self._lock:
            now = self._clock()
            self._sweep(now)
            state = self._state(key)
            if state.failures and now >= state.blocked_until + self.limits.backoff_forget_s:
                state.failures = 0
            if now < state.blocked_until:
                return self._refuse(state, now, state.blocked_until - now, "backoff")
            self._expire(state.hits, now)
            if len(state.hits) >= self.limits.user_per_window:
                freed_at = state.hits[len(state.hits) - self.limits.user_per_window] + self.limits.window_s
                return self._refuse(state, now, freed_at - now, "user")
            self._expire(self._global, now)
            if len(self._global) >= self.limits.global_per_window:  # wait for room: no notice, nothing counted
                freed_at = self._global[len(self._global) - self.limits.global_per_window] + self.limits.window_s
                return Decision(False, False, max(freed_at - now, 0.0), "global")
            state.hits.append(now)
            self._global.append(now)
            return ALLOW

    def record_failure(self, phone: str) -> float:
        with self._lock:
            now = self._clock()
            state = self._state(str(phone))
            if state.failures and now >= state.blocked_until + self.limits.backoff_forget_s:
                state.failures = 0
            state.failures += 1
            delay = self.limits.backoff_delay(state.failures)
            state.blocked_until = now + delay
            return delay

    def record_success(self, phone: str) -> None:
        with self._lock:
            state = self._users.get(str(phone))
            if state is not None:
                state.failures = 0
                state.blocked_until = 0.0

    def tracked_users(self) -> int:
        """How many users are remembered (for tests and metrics)."""
        with self._lock:
            return len(self._users)


# ------------------------------------------------------------------------------------------------ waiting


class GlobalLimitQueue:
    """Holds messages at the global limit until the window has room, first come first served, for one process.

    Only the head of the queue polls the limiter (sleeping until the window's oldest entry leaves, at most
    `poll_s`); a newcomer joins behind anyone already waiting. Processing runs one sender's messages one after the
    other, so each sender has at most one message here: senders take turns, and a sender's backlog waits behind
    everyone who was already waiting. A sender over their own limit (or in backoff) is refused, not held."""

    def __init__(
        self, limiter: RateLimiter, *, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, poll_s: float = 1.0
    ) -> None:
        self.limiter = limiter
        self._sleep = sleep
        self._poll_s = poll_s
        self._waiting: deque[asyncio.Event] = deque()  # one per held message, the head first

    def waiting(self) -> int:
        """How many messages are held (for tests and metrics)."""
        return len(self._waiting)

    async def admit(self, phone: str) -> Decision:
        """Allowed (counted against the windows) once there is room; refused only for this sender's own limits."""
        if not self._waiting:
            decision = await self.limiter.acheck(phone)
            if decision.reason != "global":
                return decision
        turn = asyncio.Event()
        self._waiting.append(turn)
        if self._waiting[0] is turn:
            turn.set()
        try:
            await turn.wait()
            while True:
                decision = await self.limiter.acheck(phone)
                if decision.reason != "global":
                    return decision
                await self._sleep(min(max(decision.retry_after_s, 0.01), self._poll_s))
        finally:
            self._waiting.remove(turn)
            if self._waiting:
                self._waiting[0].set()


# ------------------------------------------------------------------------------------------------ Redis

# How every limiter's Lua script starts (hsm.infra.attempt_limits too): `now` is ARGV[1] in seconds, or Redis' own
# clock when that is "" (one clock for every process).
LUA_NOW = """
if redis.replicate_commands then redis.replicate_commands() end  -- Redis < 5: allow TIME before writes
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
"""


def redis_from_url(url: str) -> redis.Redis:
    """A Redis client that gives up within 2 s, so a limiter falls back to its in-process count rather than hang."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


class RedisOutage:
    """Logs that Redis failed for `what` ("rate limiter"), at most once a minute, while a limiter counts per process."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._last_log = 0.0

    def failed(self, error: Exception) -> None:
        now = time.monotonic()
        if now - self._last_log >= 60:
            self._last_log = now
            log.warning(
                "%s: Redis unavailable (%s); limiting per process until it is back", self.what, type(error).__name__
            )


# KEYS: user hits (zset), global hits (zset), user notice marker, user backoff (hash: failures, until)
# ARGV: now (s, "" = Redis server time), window s, user limit, global limit, unique member
# Returns {allowed 0/1, notify 0/1, retry_after (string: Lua numbers would be truncated), reason}; "global" never
# sets the notice marker (the message waits, see GlobalLimitQueue)
_CHECK_LUA = (
    LUA_NOW
    + """
local window = tonumber(ARGV[2])
local user_limit = tonumber(ARGV[3])
local global_limit = tonumber(ARGV[4])
local window_ms = math.ceil(window * 1000)
local retry = 0
local reason = ''
local blocked_until = tonumber(redis.call('HGET', KEYS[4], 'until') or '0')
if blocked_until > now then
  retry = blocked_until - now
  reason = 'backoff'
else
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
  local user_count = redis.call('ZCARD', KEYS[1])
  if user_count >= user_limit then
    local oldest = redis.call('ZRANGE', KEYS[1], user_count - user_limit, user_count - user_limit, 'WITHSCORES')
    retry = tonumber(oldest[2]) + window - now
    reason = 'user'
  else
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
    local global_count = redis.call('ZCARD', KEYS[2])
    if global_count >= global_limit then
      local oldest = redis.call('ZRANGE', KEYS[2], global_count - global_limit, global_count - global_limit,
                                'WITHSCORES')
      retry = tonumber(oldest[2]) + window - now
      if retry < 0 then retry = 0 end
      return {0, 0, tostring(retry), 'global'}  -- wait for room: no notice, nothing counted
    else
      redis.call('ZADD', KEYS[1], now, ARGV[5])
      redis.call('PEXPIRE', KEYS[1], window_ms)
      redis.call('ZADD', KEYS[2], now, ARGV[5])
      redis.call('PEXPIRE', KEYS[2], window_ms)
      return {1, 0, '0', ''}
    end
  end
end
local notify = 0
local noticed = tonumber(redis.call('GET', KEYS[3]) or '')
if (not noticed) or now - noticed >= window then
  notify = 1
  redis.call('SET', KEYS[3], tostring(now), 'PX', window_ms)
end
if retry < 0 then retry = 0 end
return {0, notify, tostring(retry), reason}
"""
)

# KEYS: user backoff hash. ARGV: now ("" = server time), base s, max s, forget s. Returns the delay (string).
_FAILURE_LUA = (
    LUA_NOW
    + """
local base = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local forget = tonumber(ARGV[4])
local previous_until = tonumber(redis.call('HGET', KEYS[1], 'until') or '')
if previous_until and now >= previous_until + forget then
  redis.call('HSET', KEYS[1], 'failures', 0)
end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local exponent = failures - 1
if exponent > 62 then exponent = 62 end
local delay = base * (2 ^ exponent)
if delay > cap then delay = cap end
redis.call('HSET', KEYS[1], 'until', tostring(now + delay))
redis.call('PEXPIRE', KEYS[1], math.ceil((delay + forget) * 1000))
return tostring(delay)
"""
)


class RedisRateLimiter(RateLimiter):
    """The same windows in Redis, shared by every process. `clock` returns epoch seconds (default: Redis TIME)."""

    def __init__(
        self, client, limits: RateLimits | None = None, clock: Clock | None = None, prefix: str = KEY_PREFIX
    ) -> None:
        self.limits = limits or RateLimits()
        self.client = client
        self.prefix = prefix
        self._clock = clock
        self._check = client.register_script(_CHECK_LUA)
        self._failure = client.register_script(_FAILURE_LUA)
        self._fallback = InMemoryRateLimiter(self.limits)
        self._redis_failed = RedisOutage("rate limiter").failed

    @classmethod
    def from_url(
        cls, url: str, limits: RateLimits | None = None, clock: Clock | None = None, prefix: str = KEY_PREFIX
    ) -> RedisRateLimiter:
        return cls(redis_from_url(url), limits, clock, prefix)

    def _keys(self, phone: str) -> list[str]:
        user = user_key(str(phone))
        return [f"{self.prefix}u:{user}", f"{self.prefix}global", f"{self.prefix}n:{user}", f"{self.prefix}b:{user}"]

    def _now_arg(self) -> str:
        return repr(float(self._clock())) if self._clock else ""

    def check(self, phone: str) -> Decision:
        import redis

        try:
            allowed, notify, retry, reason = self._check(
                keys=self._keys(phone),
                args=[
                    self._now_arg(),
                    self.limits.window_s,
                    self.limits.user_per_window,
                    self.limits.global_per_window,
                    uuid.uuid4().hex,
                ],
            )
        except redis.RedisError as error:
            self._redis_failed(error)
            return self._fallback.check(phone)
        if int(allowed):
            return ALLOW
        reason = reason.decode() if isinstance(reason, bytes) else str(reason)
        return Decision(False, bool(int(notify)), float(retry), reason)

    def record_failure(self, phone: str) -> float:
        import redis

        try:
            delay = self._failure(
                keys=[self._keys(phone)[3]],
                args=[
                    self._now_arg(),
                    self.limits.backoff_base_s,
                    self.limits.backoff_max_s,
                    self.limits.backoff_forget_s,
                ],
            )
        except redis.RedisError as error:
            self._redis_failed(error)
            return self._fallback.record_failure(phone)
        return float(delay)

    def record_success(self, phone: str) -> None:
        import redis

        try:
            self.client.delete(self._keys(phone)[3])
        except redis.RedisError as error:
            self._redis_failed(error)
        self._fallback.record_success(phone)


def rate_limiter_from_env(clock: Clock | None = None) -> RateLimiter:
    """Redis-backed when REDIS_URL is set, else in-process; limits from HSM_RATE_USER_PER_MIN and
    HSM_RATE_GLOBAL_PER_MIN."""
    limits = RateLimits.from_env()
    url = get_settings().redis.url
    if url:
        return RedisRateLimiter.from_url(url, limits, clock)
    return InMemoryRateLimiter(limits, clock)
