"""Which worker process a sender's message goes to (hsm/whatsapp/runtime/worker_pool.StickySenderRouter): in order per
sender and with their rate-limit window, balanced across senders."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from hsm.whatsapp.runtime.worker_pool import StickySenderRouter

ANNA, BEN, CHITRA, DEV = "+919800000001", "+919800000002", "+919800000003", "+919800000004"


def test_a_sender_with_messages_in_a_worker_stays_with_it():
    router = StickySenderRouter(2)
    first = router.route(ANNA)
    assert [router.route(ANNA) for _ in range(3)] == [first] * 3
    assert router.held()[first] == 4


def test_new_senders_go_to_the_worker_holding_the_fewest():
    router = StickySenderRouter(2)
    assert router.route(ANNA) == 0
    assert router.route(ANNA) == 0
    assert router.route(BEN) == 1
    assert router.route(CHITRA) == 1  # 2 against 1: still the other one
    assert router.route(DEV) == 0  # 2 and 2: the first of the least held
    assert router.held() == [3, 2]


def test_a_sender_stays_with_their_worker_for_a_while_then_may_move():
    now = [0.0]
    router = StickySenderRouter(2, stay_s=60, clock=lambda: now[0])
    assert router.route(ANNA) == 0
    assert router.route(BEN) == 1
    assert router.route(BEN) == 1
    router.done(ANNA)
    assert router.held() == [0, 2]
    now[0] = 59
    assert router.route(CHITRA) == 0
    assert router.route(CHITRA) == 0
    assert router.route(CHITRA) == 0  # Chitra stays where her first message went
    router.done(ANNA)
    assert router.route(ANNA) == 0  # within the minute: her worker's rate limiter still counts her
    router.done(ANNA)
    now[0] = 59 + 60
    assert router.route(ANNA) == 1  # a minute later with nothing held: where there is least


def test_a_dead_worker_is_forgotten_with_what_it_held():
    router = StickySenderRouter(2)
    anna = router.route(ANNA)
    router.route(ANNA)
    router.forget_worker(anna)
    assert router.held()[anna] == 0
    router.done(ANNA)  # reported by nobody any more, but harmless
    assert router.held() == [0, 0]


def test_counts_hold_under_threads():
    router = StickySenderRouter(3)
    phones = [f"+9198{n:08d}" for n in range(50)]

    def churn(_: int) -> None:
        for phone in phones:
            router.route(phone)
            router.done(phone)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(churn, range(4)))
    assert router.held() == [0, 0, 0]
