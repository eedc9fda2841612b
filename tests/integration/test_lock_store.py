"""The conversation lock store (hsm/rasa_glue/stores.py) against a real Redis (HSM_TEST_REDIS_URL): tickets drawn from
many threads and processes at once are never the same, conversations are served one at a time in ticket order,
expired tickets go away, and SchoolLockStore picks Redis or memory from REDIS_URL."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time
from types import SimpleNamespace
from urllib.parse import urlparse

import pytest
from rasa.core.lock import TicketLock
from rasa.core.lock_store import InMemoryLockStore, LockError, LockStore, RedisLockStore
from rasa.utils.endpoints import EndpointConfig, read_endpoint_config

from hsm.infra.config import PROJECT_ROOT
from hsm.rasa_glue import stores
from hsm.rasa_glue.stores import LOCK_KEY_PREFIX, AtomicRedisLockStore, SchoolLockStore
from tests.conftest import REDIS_TEST_URL, own_redis_prefix

REDIS_URL = REDIS_TEST_URL


@pytest.fixture
def prefix(redis_client):
    """A key prefix of this test's own under the lock keys, removed afterwards."""
    yield from own_redis_prefix(redis_client, f"{LOCK_KEY_PREFIX}test:")


def make_store(prefix: str) -> AtomicRedisLockStore:
    return AtomicRedisLockStore(REDIS_URL, key_prefix=prefix)


# ------------------------------------------------------------------------------------------------ tickets


def test_tickets_are_numbered_in_order_and_served_first_in_first_out(prefix):
    store = make_store(prefix)
    numbers = [store.issue_ticket("+919811000101", 30) for _ in range(3)]
    assert numbers == [1, 2, 3]
    lock = store.get_lock("+919811000101")
    assert [t.number for t in lock.tickets] == [1, 2, 3]
    assert lock.now_serving == 1 and not lock.is_locked(1) and lock.is_locked(2)

    store.cleanup("+919811000101", 1)
    assert store.get_lock("+919811000101").now_serving == 2
    assert store.is_someone_waiting("+919811000101")
    store.cleanup("+919811000101", 3)  # a later ticket may leave first (e.g. its holder gave up)
    assert [t.number for t in store.get_lock("+919811000101").tickets] == [2]
    store.cleanup("+919811000101", 2)
    assert store.get_lock("+919811000101") is None and not store.is_someone_waiting("+919811000101")
    # the counter outlives the lock: numbers are never issued twice, even after the lock was gone
    assert store.issue_ticket("+919811000101", 30) == 4


def test_keys_live_under_the_prefix_and_expire_on_their_own(prefix, redis_client):
    store = make_store(prefix)
    store.issue_ticket("+919811000101", 30)
    tickets, sequence = prefix + "{+919811000101}:tickets", prefix + "{+919811000101}:seq"
    assert redis_client.zcard(tickets) == 1 and int(redis_client.get(sequence)) == 1
    assert 0 < redis_client.ttl(tickets) <= 31  # a crashed holder's lock disappears by itself
    assert redis_client.ttl(sequence) > 3600


def test_conversations_have_separate_queues(prefix):
    store = make_store(prefix)
    assert [store.issue_ticket("a"), store.issue_ticket("b"), store.issue_ticket("a")] == [1, 1, 2]
    assert store.get_lock("b").now_serving == 1


def test_concurrent_tickets_from_threads_are_never_the_same(prefix):
    stores = [make_store(prefix) for _ in range(8)]  # a connection each, like separate replicas
    drawn: list[int] = []
    guard = threading.Lock()
    start = threading.Barrier(len(stores))

    def draw(store: AtomicRedisLockStore) -> None:
        start.wait()
        mine = [store.issue_ticket("busy", 60) for _ in range(50)]
        assert mine == sorted(mine)  # one caller's tickets come out in the order it asked
        with guard:
            drawn.extend(mine)

    threads = [threading.Thread(target=draw, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(drawn) == list(range(1, 401))
    queued = [t.number for t in stores[0].get_lock("busy").tickets]
    assert queued == list(range(1, 401))  # the queue is in ticket order: first drawn, first served


def test_rasas_own_redis_lock_store_can_issue_a_ticket_twice(prefix):
    """Why the class exists (rasa issue #9213): Rasa's store reads the lock, adds a ticket and writes it back, so
    two replicas that read before either wrote get the same number. Ours cannot: the read is inside the write."""
    test_redis = urlparse(REDIS_TEST_URL)  # the tests' own database, as every other test here
    rasa_store = RedisLockStore(
        host=test_redis.hostname,
        port=test_redis.port or 6379,
        db=int(test_redis.path.lstrip("/") or 0),
        key_prefix=prefix.replace(":", "").replace("_", ""),
    )
    replica_a = rasa_store.get_or_create_lock("race")
    replica_b = rasa_store.get_or_create_lock("race")
    first, second = replica_a.issue_ticket(60), replica_b.issue_ticket(60)
    rasa_store.save_lock(replica_a)
    rasa_store.save_lock(replica_b)
    assert first == second == 0
    rasa_store.delete_lock("race")


def _draw_in_process(prefix: str, count: int, out) -> None:
    store = make_store(prefix)
    out.put([store.issue_ticket("shared", 60) for _ in range(count)])


def _serve_in_process(prefix: str, count: int, out) -> None:
    """Take the lock `count` times; inside, a read-modify-write that only stays right if no one else is inside."""
    store = make_store(prefix)
    client = store.red

    async def run() -> list[int]:
        served: list[int] = []
        for _ in range(count):
            async with store.lock("shared", lock_lifetime=30, wait_time_in_seconds=0.05) as lock:
                ticket = lock.now_serving
                value = int(client.get(prefix + "counter") or 0)
                await asyncio.sleep(0.002)
                client.set(prefix + "counter", value + 1)
                client.rpush(prefix + "served", ticket)
                served.append(ticket)
        return served

    out.put(asyncio.run(run()))


def _run_processes(target, prefix: str, processes: int, count: int) -> list[list[int]]:
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    workers = [context.Process(target=target, args=(prefix, count, out)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    results = [out.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    return results


def test_concurrent_tickets_from_processes_are_never_the_same(prefix):
    results = _run_processes(_draw_in_process, prefix, processes=4, count=100)
    drawn = [number for result in results for number in result]
    assert len(drawn) == len(set(drawn)) == 400
    assert sorted(drawn) == list(range(1, 401))


def test_lock_lets_one_process_in_at_a_time_in_ticket_order(prefix, redis_client):
    results = _run_processes(_serve_in_process, prefix, processes=4, count=15)
    assert int(redis_client.get(prefix + "counter")) == 60  # no update lost: never two inside at once
    served = [int(n) for n in redis_client.lrange(prefix + "served", 0, -1)]
    assert served == sorted(served) and len(set(served)) == 60  # served strictly in ticket order
    assert sorted(n for result in results for n in result) == served
    assert make_store(prefix).get_lock("shared") is None  # the last one out removed the lock


# ------------------------------------------------------------------------------------------------ expiry


def test_expired_tickets_are_dropped_and_their_holder_is_told(prefix):
    store = make_store(prefix)
    stale = store.issue_ticket("slow", 1.0)
    waiting = store.issue_ticket("slow", 30)
    assert store.get_lock("slow").now_serving == stale
    time.sleep(1.2)
    assert store.get_lock("slow").now_serving == waiting  # the stale holder no longer blocks anyone

    async def late() -> None:
        await store._acquire_lock("slow", stale, 0.05)

    with pytest.raises(LockError):
        asyncio.run(late())
    store.cleanup("slow", waiting)
    assert store.get_lock("slow") is None


def test_waiting_behind_another_holder_then_getting_in(prefix, monkeypatch):
    store = make_store(prefix)
    events: list[str] = []
    polls: list[float] = []  # the store's waits between looks at the lock (not a wall-clock bound: CI is loaded)

    async def recorded_sleep(delay: float) -> None:
        polls.append(delay)
        await asyncio.sleep(delay)

    monkeypatch.setattr(stores, "asyncio", SimpleNamespace(**{**vars(asyncio), "sleep": recorded_sleep}))

    async def holder() -> None:
        async with store.lock("turns", lock_lifetime=10):
            events.append("first in")
            await asyncio.sleep(0.6)  # long enough for the follower's polls to reach their 200 ms ceiling
            events.append("first out")

    async def follower() -> None:
        await asyncio.sleep(0.02)
        async with store.lock("turns", lock_lifetime=10):
            events.append("second in")

    async def both() -> None:
        await asyncio.gather(holder(), follower())

    asyncio.run(both())
    assert events == ["first in", "first out", "second in"]
    # 20 ms, doubling up to 200 ms (however many polls a loaded machine allows): not Rasa's once a second
    assert polls and polls[0] == 0.02
    assert all(b == min(a * 2, 0.2) for a, b in zip(polls, polls[1:], strict=False))


def test_save_and_delete_keep_the_interface(prefix):
    store = make_store(prefix)
    lock = TicketLock("saved")
    lock.issue_ticket(30)
    lock.issue_ticket(30)
    store.save_lock(lock)
    assert [t.number for t in store.get_lock("saved").tickets] == [0, 1]
    assert store.issue_ticket("saved", 30) == 2  # the counter follows what was saved
    store.delete_lock("saved")
    assert store.get_lock("saved") is None
    assert store.issue_ticket("saved", 30) == 3


# ------------------------------------------------------------------------------------------------ configuration


def test_school_lock_store_follows_redis_url(monkeypatch, redis_client):
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert isinstance(SchoolLockStore(), InMemoryLockStore)
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    store = LockStore.create(EndpointConfig(type="hsm.rasa_glue.stores.SchoolLockStore"))
    assert isinstance(store, AtomicRedisLockStore) and store.key_prefix == "hsm:lock:"


def test_endpoints_yml_names_the_school_lock_store(monkeypatch):
    monkeypatch.setenv("ACTION_SERVER_URL", "http://127.0.0.1:5055/webhook")
    monkeypatch.setenv("HSM_ACTION_SERVER_TOKEN", "")  # endpoints.yml names it; empty: no token
    monkeypatch.delenv("REDIS_URL", raising=False)
    config = read_endpoint_config(str(PROJECT_ROOT / "endpoints.yml"), "lock_store")
    assert config.type == "hsm.rasa_glue.stores.SchoolLockStore"
    assert isinstance(LockStore.create(config), InMemoryLockStore)


def test_a_redis_url_is_required_for_the_redis_store(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    with pytest.raises(ValueError, match="REDIS_URL"):
        AtomicRedisLockStore()
