"""Sign-in limits per client address: the attempt limiter (in process and in Redis, HSM_TEST_REDIS_URL, which must
behave the same), its settings, and which address a request counts against (X-Forwarded-For only from a trusted
proxy), how it is counted (IPv6 by /64) and how the log shows it."""

from __future__ import annotations

import asyncio
from ipaddress import ip_network

import pytest

from hsm.infra.attempt_limits import (
    InMemoryAttemptLimiter,
    RedisAttemptLimiter,
    attempt_limiter_from_env,
)
from hsm.infra.config import SettingsError, get_settings
from hsm.office import admin_api  # noqa: F401  (admin_api first: it imports the console)
from hsm.office.console.address_limit import client_address, limit_key, mask_address
from tests.conftest import REDIS_TEST_URL
from tests.unit.test_ratelimit import FakeClock

WINDOW = 900.0
A, B = "203.0.113.7", "198.51.100.9"


@pytest.fixture(params=["memory", "redis"])
def make_limiter(request):
    """Build a limiter of each kind on the given clock."""
    if request.param == "memory":
        return lambda clock=None: InMemoryAttemptLimiter(clock)
    client = request.getfixturevalue("redis_client")
    prefix = request.getfixturevalue("redis_prefix")
    return lambda clock=None: RedisAttemptLimiter(client, clock, prefix=prefix)


# ------------------------------------------------------------------------------------------------ both kinds


def test_the_limit_per_key_then_refused_with_the_time_to_wait(make_limiter):
    clock = FakeClock()
    limiter = make_limiter(clock)
    for _ in range(10):
        assert limiter.take("codes", A, 10, WINDOW).allowed
        clock.advance(1)
    refused = limiter.take("codes", A, 10, WINDOW)
    assert not refused.allowed and refused.token == ""
    assert refused.retry_after_s == pytest.approx(WINDOW - 10)  # when the first of the ten leaves the window
    assert limiter.take("codes", B, 10, WINDOW).allowed  # another address
    assert limiter.take("failures", A, 10, WINDOW).allowed  # another bucket


def test_refusals_are_not_counted_and_the_window_slides(make_limiter):
    clock = FakeClock()
    limiter = make_limiter(clock)
    for _ in range(3):
        assert limiter.take("codes", A, 3, WINDOW).allowed
    clock.advance(WINDOW / 2)
    for _ in range(5):
        assert not limiter.take("codes", A, 3, WINDOW).allowed
    clock.advance(WINDOW / 2)  # exactly a window after the three: they are gone, the refusals never counted
    for _ in range(3):
        assert limiter.take("codes", A, 3, WINDOW).allowed
    assert not limiter.take("codes", A, 3, WINDOW).allowed


def test_an_attempt_given_back_no_longer_counts(make_limiter):
    limiter = make_limiter(FakeClock())
    first = limiter.take("failures", A, 2, WINDOW)
    assert limiter.take("failures", A, 2, WINDOW).allowed
    assert not limiter.take("failures", A, 2, WINDOW).allowed
    limiter.give_back("failures", A, first.token)
    limiter.give_back("failures", A, "not-a-token")  # unknown: nothing happens
    assert limiter.take("failures", A, 2, WINDOW).allowed
    assert not limiter.take("failures", A, 2, WINDOW).allowed


def test_async_forms(make_limiter):
    limiter = make_limiter(FakeClock())

    async def run() -> bool:
        attempt = await limiter.atake("codes", A, 1, WINDOW)
        await limiter.agive_back("codes", A, attempt.token)
        return (await limiter.atake("codes", A, 1, WINDOW)).allowed

    assert asyncio.run(run())


# ------------------------------------------------------------------------------------------------ each kind


def test_memory_forgets_idle_keys():
    clock = FakeClock()
    limiter = InMemoryAttemptLimiter(clock)
    for number in range(50):
        limiter.take("codes", f"10.0.0.{number}", 5, 60)
    assert limiter.tracked_keys() == 50
    clock.advance(61)
    limiter.take("codes", A, 5, 60)
    assert limiter.tracked_keys() == 1


def test_redis_is_shared_expires_and_names_no_address(redis_client, redis_prefix):
    import redis

    first = RedisAttemptLimiter(redis_client, prefix=redis_prefix)
    second = RedisAttemptLimiter(redis.Redis.from_url(REDIS_TEST_URL), prefix=redis_prefix)
    assert first.take("codes", A, 2, 60).allowed
    assert second.take("codes", A, 2, 60).allowed
    assert not first.take("codes", A, 2, 60).allowed  # the other process's attempt counted
    keys = [key.decode() for key in redis_client.scan_iter(match=redis_prefix + "*")]
    assert len(keys) == 1 and A not in keys[0]
    assert 0 < redis_client.pttl(keys[0]) <= 60_000


def test_redis_down_falls_back_to_the_in_process_limit(caplog):
    limiter = RedisAttemptLimiter.from_url("redis://127.0.0.1:1/0", prefix="hsm:al:nowhere:")
    first = limiter.take("codes", A, 1, 60)
    assert first.allowed and not limiter.take("codes", A, 1, 60).allowed
    limiter.give_back("codes", A, first.token)
    assert limiter.take("codes", A, 1, 60).allowed
    assert "Redis unavailable" in caplog.text and A not in caplog.text


def test_from_env_picks_the_implementation(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert isinstance(attempt_limiter_from_env(), InMemoryAttemptLimiter)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # not contacted until the first attempt
    assert isinstance(attempt_limiter_from_env(), RedisAttemptLimiter)


# ------------------------------------------------------------------------------------------------ settings


def test_sign_in_settings_defaults_and_values(monkeypatch):
    for name in ("HSM_SIGN_IN_CODES_PER_ADDRESS", "HSM_SIGN_IN_FAILURES_PER_ADDRESS", "HSM_TRUSTED_PROXIES"):
        monkeypatch.delenv(name, raising=False)
    limits = get_settings().sign_in
    assert (limits.codes_per_address, limits.failures_per_address, limits.trusted_proxies) == (10, 20, ())
    monkeypatch.setenv("HSM_SIGN_IN_CODES_PER_ADDRESS", "3")
    monkeypatch.setenv("HSM_SIGN_IN_FAILURES_PER_ADDRESS", "5")
    monkeypatch.setenv("HSM_TRUSTED_PROXIES", " 172.18.0.0/16, 10.0.0.5 2001:db8::1")
    limits = get_settings().sign_in
    assert (limits.codes_per_address, limits.failures_per_address) == (3, 5)
    assert limits.trusted_proxies == (
        ip_network("172.18.0.0/16"),
        ip_network("10.0.0.5/32"),
        ip_network("2001:db8::1/128"),
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HSM_SIGN_IN_CODES_PER_ADDRESS", "0"),
        ("HSM_SIGN_IN_FAILURES_PER_ADDRESS", "many"),
        ("HSM_TRUSTED_PROXIES", "caddy"),
        ("HSM_TRUSTED_PROXIES", "10.0.0.0/33"),
    ],
)
def test_bad_sign_in_settings_are_a_clear_error(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        _ = get_settings().sign_in


# ------------------------------------------------------------------------------------------------ the address

PROXY = (ip_network("172.18.0.0/16"),)


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        (A, None, A),  # reached directly
        (A, "198.51.100.9", A),  # a client's own header, not from a proxy: ignored
        ("172.18.0.3", None, "172.18.0.3"),  # the proxy without the header: the proxy
        ("172.18.0.3", B, B),  # from the proxy: the address it got the request from
        ("172.18.0.3", f"10.9.9.9, {B}", B),  # whatever the client put first cannot choose
        ("172.18.0.3", f"{B}, 172.18.0.9", B),  # a second trusted proxy in the chain is skipped
        ("172.18.0.3", f"{B}, garbage", "172.18.0.3"),  # garbled after the proxy: the proxy
        ("172.18.0.3", "2001:db8::5", "2001:db8::5"),
        ("::ffff:172.18.0.3", B, B),  # an IPv4-mapped peer is its IPv4 address
        (None, B, "unknown"),
    ],
)
def test_client_address(peer, forwarded, expected):
    assert client_address(peer, forwarded, PROXY) == expected


def test_ipv6_is_counted_by_its_64_and_the_log_sees_a_masked_address():
    assert limit_key(A) == A
    assert limit_key("2001:db8:1:2:aaaa::1") == limit_key("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert limit_key("2001:db8:1:3::1") != limit_key("2001:db8:1:2::1")
    assert mask_address(A) == "203.0.113.x"
    assert mask_address("2001:db8:85a3:1:2:3:4:5") == "2001:db8:85a3::/48"
    assert mask_address("unknown") == "unknown"
