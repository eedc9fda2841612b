"""Which worker process a sender's message goes to (connectors/whatsapp_workers.SenderAssignment): in order per
sender and with their rate-limit window, balanced across senders."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from connectors.whatsapp_workers import SenderAssignment

ANNA, BEN, CHITRA, DEV = "+919800000001", "+919800000002", "+919800000003", "+919800000004"


def test_a_sender_with_messages_in_a_worker_stays_with_it():
    assignment = SenderAssignment(2)
    first = assignment.assign(ANNA)
    assert [assignment.assign(ANNA) for _ in range(3)] == [first] * 3
    assert assignment.held()[first] == 4


def test_new_senders_go_to_the_worker_holding_the_fewest():
    assignment = SenderAssignment(2)
    assert assignment.assign(ANNA) == 0
    assert assignment.assign(ANNA) == 0
    assert assignment.assign(BEN) == 1
    assert assignment.assign(CHITRA) == 1  # 2 against 1: still the other one
    assert assignment.assign(DEV) == 0  # 2 and 2: the first of the least held
    assert assignment.held() == [3, 2]


def test_a_sender_stays_with_their_worker_for_a_while_then_may_move():
    now = [0.0]
    assignment = SenderAssignment(2, stay_s=60, clock=lambda: now[0])
    assert assignment.assign(ANNA) == 0
    assert assignment.assign(BEN) == 1
    assert assignment.assign(BEN) == 1
    assignment.done(ANNA)
    assert assignment.held() == [0, 2]
    now[0] = 59
    assert assignment.assign(CHITRA) == 0
    assert assignment.assign(CHITRA) == 0
    assert assignment.assign(CHITRA) == 0  # Chitra stays where her first message went
    assignment.done(ANNA)
    assert assignment.assign(ANNA) == 0  # within the minute: her worker's rate limiter still counts her
    assignment.done(ANNA)
    now[0] = 59 + 60
    assert assignment.assign(ANNA) == 1  # a minute later with nothing held: where there is least


def test_a_dead_worker_is_forgotten_with_what_it_held():
    assignment = SenderAssignment(2)
    anna = assignment.assign(ANNA)
    assignment.assign(ANNA)
    assignment.forget_worker(anna)
    assert assignment.held()[anna] == 0
    assignment.done(ANNA)  # reported by nobody any more, but harmless
    assert assignment.held() == [0, 0]


def test_counts_hold_under_threads():
    assignment = SenderAssignment(3)
    phones = [f"+9198{n:08d}" for n in range(50)]

    def churn(_: int) -> None:
        for phone in phones:
            assignment.assign(phone)
            assignment.done(phone)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(churn, range(4)))
    assert assignment.held() == [0, 0, 0]
