"""Rate limits: 10 a minute per user, 100 a minute for everyone, one notice per over-limit user per window, and
backoff after repeated failures; in-process and in Redis (HSM_TEST_REDIS_URL), which must behave the same."""

from __future__ import annotations

import threading

import pytest

from hsm.infra import ratelimit
from hsm.infra.ratelimit import (
    Decision,
    GlobalLimitQueue,
    InMemoryRateLimiter,
    RateLimits,
    RedisRateLimiter,
    rate_limiter_from_env,
)
from tests.conftest import REDIS_TEST_URL

REDIS_URL = REDIS_TEST_URL
JOHN = "+919876543210"
SUSAN = "+919845000002"


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(params=["memory", "redis"])
def make_limiter(request):
    """Build a limiter of each kind with the given limits and clock."""
    if request.param == "memory":
        return lambda limits=None, clock=None: InMemoryRateLimiter(limits, clock)
    client = request.getfixturevalue("redis_client")
    prefix = request.getfixturevalue("redis_prefix")
    return lambda limits=None, clock=None: RedisRateLimiter(client, limits, clock, prefix=prefix)


# ------------------------------------------------------------------------------------------------ both kinds


def test_ten_a_minute_per_user_then_one_polite_notice(make_limiter):
    clock = FakeClock()
    limiter = make_limiter(clock=clock)
    for _ in range(10):
        assert limiter.check(JOHN) == Decision(True, False, 0.0, "")
        clock.advance(1)
    refused = limiter.check(JOHN)
    assert (refused.allowed, refused.notify, refused.reason) == (False, True, "user")
    assert refused.retry_after_s == pytest.approx(50.0, abs=0.01)  # the first message leaves the window at t=60
    for _ in range(30):  # a burst: no notice per message
        later = limiter.check(JOHN)
        assert (later.allowed, later.notify) == (False, False)
    assert limiter.check(SUSAN).allowed  # other users are not affected


def test_the_window_slides(make_limiter):
    clock = FakeClock()
    limiter = make_limiter(clock=clock)
    for _ in range(10):
        assert limiter.check(JOHN).allowed
        clock.advance(5)  # messages at t = 0, 5, ... 45
    clock.now += 59.9 - 50  # t = 59.9: the first is still in the window
    assert not limiter.check(JOHN).allowed
    clock.advance(0.2)  # t = 60.1: the message from t = 0 has left
    assert limiter.check(JOHN).allowed
    assert not limiter.check(JOHN).allowed
    clock.advance(5)  # t = 65.1: the one from t = 5 has left too
    assert limiter.check(JOHN).allowed


def test_refused_messages_do_not_count_so_nothing_waits_to_be_processed_later(make_limiter):
    clock = FakeClock()
    limiter = make_limiter(clock=clock)
    for _ in range(10):
        limiter.check(JOHN)
    for _ in range(100):
        assert not limiter.check(JOHN).allowed
    clock.advance(60.01)
    assert sum(limiter.check(JOHN).allowed for _ in range(15)) == 10


def test_one_notice_per_window_however_long_the_flood(make_limiter):
    clock = FakeClock()
    limiter = make_limiter(clock=clock)
    notices = 0
    for _ in range(600):  # 10 messages a second for a minute
        decision = limiter.check(JOHN)
        notices += decision.notify
        clock.advance(0.1)
    assert notices == 1
    for _ in range(600):  # the next minute: one more at most
        decision = limiter.check(JOHN)
        notices += decision.notify
        clock.advance(0.1)
    assert notices == 2


def test_global_limit_of_one_hundred_a_minute(make_limiter):
    clock = FakeClock()
    limiter = make_limiter(clock=clock)
    users = [f"+9198450{n:05d}" for n in range(25)]
    allowed = sum(limiter.check(user).allowed for user in users for _ in range(4))
    assert allowed == 100
    held = limiter.check("+919800000001")  # not this sender's doing: it waits (no notice), nothing is counted
    assert (held.allowed, held.notify, held.reason) == (False, False, "global")
    assert 0 < held.retry_after_s <= 60
    assert limiter.check("+919800000001").notify is False
    clock.advance(60.5)
    assert limiter.check("+919800000001").allowed


def test_limits_are_configurable(make_limiter):
    clock = FakeClock()
    limiter = make_limiter(RateLimits(user_per_window=3, global_per_window=5), clock)
    assert [limiter.check(JOHN).allowed for _ in range(4)] == [True, True, True, False]
    assert [limiter.check(SUSAN).allowed for _ in range(3)] == [True, True, False]  # global 5 reached


def test_backoff_doubles_on_repeated_failures_and_is_capped(make_limiter):
    clock = FakeClock()
    limiter = make_limiter(clock=clock)
    delays = []
    for _ in range(12):
        delays.append(limiter.record_failure(JOHN))
    assert delays[:5] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert delays[-1] == 300.0 and max(delays) == 300.0
    refused = limiter.check(JOHN)
    assert (refused.allowed, refused.reason, refused.notify) == (False, "backoff", True)
    assert refused.retry_after_s == pytest.approx(300.0)
    clock.advance(299)
    assert not limiter.check(JOHN).allowed
    clock.advance(1.5)
    assert limiter.check(JOHN).allowed
    limiter.record_success(JOHN)
    assert limiter.record_failure(JOHN) == 1.0  # a success starts the count again


def test_backoff_blocks_only_while_it_lasts(make_limiter):
    clock = FakeClock()
    limiter = make_limiter(clock=clock)
    assert limiter.record_failure(JOHN) == 1.0
    decision = limiter.check(JOHN)
    assert not decision.allowed and decision.retry_after_s == pytest.approx(1.0)
    clock.advance(1.01)
    assert limiter.check(JOHN).allowed
    assert limiter.record_failure(JOHN) == 2.0
    clock.advance(2.01)
    limiter.record_success(JOHN)
    assert limiter.check(JOHN).allowed
    assert limiter.check(SUSAN).allowed


def test_old_failures_are_forgotten(make_limiter):
    clock = FakeClock()
    limiter = make_limiter(clock=clock)
    for _ in range(4):
        limiter.record_failure(JOHN)
    clock.advance(8 + 601)  # past the last backoff and the forget period
    assert limiter.record_failure(JOHN) == 1.0


def test_concurrent_checks_never_let_more_than_the_limit_through(make_limiter):
    limiter = make_limiter()  # the real clock: this runs well inside a minute
    results: list[bool] = []
    lock = threading.Lock()

    def hammer() -> None:
        for _ in range(25):
            outcome = limiter.check(JOHN).allowed
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 200 and sum(results) == 10


def test_a_user_over_their_own_limit_still_gets_the_notice_when_the_global_window_is_full(make_limiter):
    clock = FakeClock()
    limiter = make_limiter(RateLimits(user_per_window=2, global_per_window=3), clock)
    assert limiter.check(JOHN).allowed and limiter.check(JOHN).allowed and limiter.check(SUSAN).allowed
    assert (limiter.check(SUSAN).reason, limiter.check(SUSAN).notify) == ("global", False)
    refused = limiter.check(JOHN)
    assert (refused.allowed, refused.notify, refused.reason) == (False, True, "user")


class FakeSleep:
    """asyncio.sleep on the fake clock: moves it on, then lets the other tasks run."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    async def __call__(self, seconds: float) -> None:
        import asyncio

        self.clock.advance(seconds)
        await asyncio.sleep(0.01)  # real time too, for the Redis limiter's threads


def test_at_the_global_limit_messages_wait_and_senders_take_turns(make_limiter):
    import asyncio

    clock = FakeClock()
    limiter = make_limiter(RateLimits(user_per_window=10, global_per_window=5), clock)
    queue = GlobalLimitQueue(limiter, sleep=FakeSleep(clock))
    for n in range(5):  # the window is full when they write
        assert limiter.check(f"+9198000000{n:02d}").allowed
    flooder, others = "+919845000099", [f"+9198450{n:05d}" for n in range(6)]
    admitted: list[tuple[str, float]] = [("filler", clock())] * 5

    async def one_sender(phone: str, messages: int) -> list[Decision]:
        decisions = []
        for _ in range(messages):  # one after the other, as processing runs a sender's messages
            decision = await queue.admit(phone)
            decisions.append(decision)
            if decision.allowed:
                admitted.append((phone, clock()))
        return decisions

    async def main() -> list[list[Decision]]:
        flood = asyncio.ensure_future(one_sender(flooder, 8))  # eight messages queued before anyone else's
        await asyncio.sleep(0)
        return await asyncio.gather(flood, *(one_sender(phone, 1) for phone in others))

    results = asyncio.run(main())
    assert all(decision.allowed for decisions in results for decision in decisions)  # nobody refused
    order = [phone for phone, _ in admitted[5:]]
    assert len(order) == 14
    assert sorted(order[:7]) == sorted([flooder, *others])  # the flooder's backlog does not keep the others waiting
    assert order[7:] == [flooder] * 7
    for n in range(5, len(admitted)):  # never more than the global limit in any window
        assert admitted[n][1] - admitted[n - 5][1] >= 60.0


def test_the_queue_refuses_only_a_sender_over_their_own_limit(make_limiter):
    import asyncio

    clock = FakeClock()
    limiter = make_limiter(RateLimits(user_per_window=2, global_per_window=100), clock)
    queue = GlobalLimitQueue(limiter, sleep=FakeSleep(clock))

    async def main() -> list[Decision]:
        return [await queue.admit(JOHN) for _ in range(3)] + [await queue.admit(SUSAN)]

    decisions = asyncio.run(main())
    assert [d.allowed for d in decisions] == [True, True, False, True]
    assert (decisions[2].reason, decisions[2].notify) == ("user", True)


# ------------------------------------------------------------------------------------------------ in-process


def test_in_process_limiter_forgets_idle_users():
    clock = FakeClock(0.0)
    limiter = InMemoryRateLimiter(clock=clock)
    for n in range(2000):
        limiter.check(f"+9198450{n:05d}")
        clock.advance(0.01)
    assert limiter.tracked_users() == 2000
    clock.advance(125)
    limiter.check(JOHN)
    assert limiter.tracked_users() <= 1


def test_in_process_limiter_keeps_users_in_backoff_while_sweeping():
    clock = FakeClock(0.0)
    limiter = InMemoryRateLimiter(clock=clock)
    for _ in range(10):
        limiter.record_failure(SUSAN)  # 300 s backoff
    clock.advance(121)
    limiter.check(JOHN)
    assert limiter.check(SUSAN).reason == "backoff"


def test_from_env_picks_the_implementation_and_limits(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("HSM_RATE_USER_PER_MIN", "3")
    monkeypatch.setenv("HSM_RATE_GLOBAL_PER_MIN", "7")
    limiter = rate_limiter_from_env()
    assert isinstance(limiter, InMemoryRateLimiter)
    assert (limiter.limits.user_per_window, limiter.limits.global_per_window) == (3, 7)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # not contacted until the first check
    assert isinstance(rate_limiter_from_env(), RedisRateLimiter)
    monkeypatch.delenv("HSM_RATE_USER_PER_MIN")
    monkeypatch.delenv("HSM_RATE_GLOBAL_PER_MIN")
    assert rate_limiter_from_env().limits == RateLimits(10, 100)


@pytest.mark.parametrize("value", ["ten", "0", "-5", "1.5"])
def test_bad_limits_in_the_environment_are_a_clear_error(monkeypatch, value):
    monkeypatch.setenv("HSM_RATE_USER_PER_MIN", value)
    with pytest.raises(ValueError, match="HSM_RATE_USER_PER_MIN"):
        RateLimits.from_env()


def test_async_check_does_not_block_the_loop():
    import asyncio

    limiter = InMemoryRateLimiter()
    assert asyncio.run(limiter.acheck(JOHN)).allowed


# ------------------------------------------------------------------------------------------------ Redis only


def test_redis_keys_expire_and_hold_no_phone_number(redis_client, redis_prefix):
    limiter = RedisRateLimiter(redis_client, prefix=redis_prefix)
    for _ in range(11):
        limiter.check(JOHN)
    limiter.record_failure(JOHN)
    keys = [key.decode() for key in redis_client.scan_iter(match=redis_prefix + "*")]
    assert len(keys) == 4  # user window, global window, notice marker, backoff
    for key in keys:
        assert "9876543210" not in key and "+91" not in key
        ttl = redis_client.pttl(key)
        assert 0 < ttl <= 910_000, (key, ttl)


def test_redis_limiter_is_shared_between_processes(redis_client, redis_prefix):
    import redis

    first = RedisRateLimiter(redis_client, prefix=redis_prefix)
    second = RedisRateLimiter(redis.Redis.from_url(REDIS_URL), prefix=redis_prefix)
    assert sum(first.check(JOHN).allowed for _ in range(6)) == 6
    assert sum(second.check(JOHN).allowed for _ in range(6)) == 4
    second.client.close()


def test_redis_down_falls_back_to_the_in_process_limit(caplog):
    limiter = RedisRateLimiter.from_url("redis://127.0.0.1:1/0", prefix="hsm:rl:nowhere:")
    assert sum(limiter.check(JOHN).allowed for _ in range(12)) == 10
    assert limiter.record_failure(SUSAN) == 1.0
    limiter.record_success(SUSAN)
    assert "Redis unavailable" in caplog.text
    assert JOHN not in caplog.text


def test_default_prefix():
    assert ratelimit.KEY_PREFIX == "hsm:rl:"
