"""Sliding-window limits on attempts by key (sign-ins by client address): `take` counts an attempt unless the key
already has `limit` in the last `window_s`, `give_back` uncounts one (an attempt that turned out fine).

Two implementations behind one interface, chosen by `attempt_limiter_from_env()`, as in hsm.infra.ratelimit:
`InMemoryAttemptLimiter` (one process) and `RedisAttemptLimiter` when REDIS_URL is set (shared by every process:
one atomic Lua script per attempt over a sorted set that expires on its own; if Redis fails, the in-process
limiter stands in and the failure is logged). Keys are hashed: no address is stored in Redis key names.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from hsm.infra.config import get_settings
from hsm.infra.ratelimit import LUA_NOW, Clock, RedisOutage, redis_from_url, user_key

log = logging.getLogger("hsm.infra.attempt_limits")

KEY_PREFIX = "hsm:al:"
SWEEP_EVERY_S = 60.0


@dataclass(frozen=True)
class Attempt:
    """`allowed`: counted (`token` names it for `give_back`); refused: nothing counted, room again in
    `retry_after_s`."""

    allowed: bool
    retry_after_s: float = 0.0
    token: str = ""


class AttemptLimiter(ABC):
    """Counts attempts per (bucket, key) in a sliding window."""

    blocking = True  # whether take/give_back wait on the network: then the async forms run them in a thread

    @abstractmethod
    def take(self, bucket: str, key: str, limit: int, window_s: float) -> Attempt:
        """Count an attempt of `key` unless it already made `limit` in the last `window_s` seconds."""

    @abstractmethod
    def give_back(self, bucket: str, key: str, token: str) -> None:
        """Uncount the attempt `take` allowed with this token."""

    async def atake(self, bucket: str, key: str, limit: int, window_s: float) -> Attempt:
        if not self.blocking:
            return self.take(bucket, key, limit, window_s)
        return await asyncio.to_thread(self.take, bucket, key, limit, window_s)

    async def agive_back(self, bucket: str, key: str, token: str) -> None:
        if not self.blocking:
            self.give_back(bucket, key, token)
        else:
            await asyncio.to_thread(self.give_back, bucket, key, token)


class InMemoryAttemptLimiter(AttemptLimiter):
    """The windows in this process's memory. `clock` returns seconds (default: time.monotonic)."""

    blocking = False

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or time.monotonic
        self._lock = threading.Lock()
        self._hits: dict[tuple[str, str], tuple[float, deque[tuple[float, str]]]] = {}  # -> (window, hits)
        self._last_sweep = self._clock()

    def _sweep(self, now: float) -> None:
        """Forget keys with nothing left in their window, at most once a minute: memory stays bounded."""
        if now - self._last_sweep < SWEEP_EVERY_S:
            return
        self._last_sweep = now
        for name, (window_s, hits) in list(self._hits.items()):
            if not hits or hits[-1][0] <= now - window_s:
                del self._hits[name]

    def take(self, bucket: str, key: str, limit: int, window_s: float) -> Attempt:
        with self._lock:
            now = self._clock()
            self._sweep(now)
            hits = self._hits.get((bucket, key), (window_s, deque()))[1]
            self._hits[(bucket, key)] = (window_s, hits)
            while hits and hits[0][0] <= now - window_s:
                hits.popleft()
            if len(hits) >= limit:
                return Attempt(False, max(hits[len(hits) - limit][0] + window_s - now, 0.0))
            token = uuid.uuid4().hex
            hits.append((now, token))
            return Attempt(True, token=token)

    def give_back(self, bucket: str, key: str, token: str) -> None:
        with self._lock:
            entry = self._hits.get((bucket, key))
            if entry is not None:
                for hit in entry[1]:
                    if hit[1] == token:
                        entry[1].remove(hit)
                        break

    def tracked_keys(self) -> int:
        """How many keys are remembered (for tests)."""
        with self._lock:
            return len(self._hits)


# KEYS: the key's hits (zset). ARGV: now (s, "" = Redis server time), window s, limit, token.
# Returns {allowed 0/1, retry_after (a string: Lua numbers would be truncated)}.
_TAKE_LUA = (
    LUA_NOW
    + """
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
  local retry = tonumber(oldest[2]) + window - now
  if retry < 0 then retry = 0 end
  return {0, tostring(retry)}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
return {1, '0'}
"""
)


class RedisAttemptLimiter(AttemptLimiter):
    """The same windows in Redis, shared by every process. `clock` returns epoch seconds (default: Redis TIME)."""

    def __init__(self, client, clock: Clock | None = None, prefix: str = KEY_PREFIX) -> None:
        self.client = client
        self.prefix = prefix
        self._clock = clock
        self._take = client.register_script(_TAKE_LUA)
        self._fallback = InMemoryAttemptLimiter()
        self._redis_failed = RedisOutage("attempt limiter").failed

    @classmethod
    def from_url(cls, url: str, clock: Clock | None = None, prefix: str = KEY_PREFIX) -> RedisAttemptLimiter:
        return cls(redis_from_url(url), clock, prefix)

    def _key(self, bucket: str, key: str) -> str:
        return f"{self.prefix}{bucket}:{user_key(key)}"

    def take(self, bucket: str, key: str, limit: int, window_s: float) -> Attempt:
        import redis

        token = uuid.uuid4().hex
        now = repr(float(self._clock())) if self._clock else ""
        try:
            allowed, retry = self._take(keys=[self._key(bucket, key)], args=[now, window_s, limit, token])
        except redis.RedisError as error:
            self._redis_failed(error)
            return self._fallback.take(bucket, key, limit, window_s)
        return Attempt(True, token=token) if int(allowed) else Attempt(False, float(retry))

    def give_back(self, bucket: str, key: str, token: str) -> None:
        import redis

        try:
            self.client.zrem(self._key(bucket, key), token)
        except redis.RedisError as error:
            self._redis_failed(error)
        self._fallback.give_back(bucket, key, token)


def attempt_limiter_from_env(clock: Callable[[], float] | None = None) -> AttemptLimiter:
    """Redis-backed when REDIS_URL is set, else in-process."""
    url = get_settings().redis.url
    return RedisAttemptLimiter.from_url(url, clock) if url else InMemoryAttemptLimiter(clock)
