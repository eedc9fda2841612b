"""Two Rasa replicas (and two action servers) sharing PostgreSQL and Redis, as behind a load balancer: the
messages of one conversation go to either replica, many conversations run at once, and a replica dies with
acknowledged messages in hand. Nothing is lost, each message is processed once, in order per sender; attendance
is saved once.

What makes it hold: the atomic Redis lock store (hsm.rasa_glue.stores.AtomicRedisLockStore, chosen by REDIS_URL) lets
one replica at a time work on a conversation, in ticket order; the tracker store is PostgreSQL; the channel claims
each stored message atomically; and the orphan sweep (hsm.whatsapp.sweeper, wired into the channel)
hands a dead replica's acknowledged messages to the living one.

Timing knobs, shorter than production so the test takes a minute or two: the sweep runs every second, takes over
`received` messages after 4 s and `processing` ones whose replica's heartbeat stopped 15 s ago (production: 30 s and
30 s); Rasa's conversation
tickets live 30 s (TICKET_LOCK_LIFETIME; Rasa's default 60 s), which is how long a dead replica's lock can hold a
conversation up.
"""

from __future__ import annotations

import json
import random
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from sqlalchemy import create_engine, select, text

from devtools.chat import new_wamid
from devtools.localstack import Stack
from devtools.smoke_records import inbound_statuses
from hsm.infra import models as m
from hsm.infra.db import session_scope, upgrade_to_head
from hsm.records.school_import import import_school_file
from hsm.whatsapp.templates import import_templates
from tests.conftest import REDIS_TEST_URL, SCHOOL_FILE, create_postgres_database, drop_postgres_database

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

NOW = "2026-12-01T19:10:00+05:30"
REDIS_URL = REDIS_TEST_URL
LOCK_PREFIX = "hsm:lock:"
RAHUL = "+919811000101"
TUESDAY = date(2026, 12, 1)
A, B = 0, 1  # replica indexes
STUDENTS = [
    "+919876543210",
    "+919845000003",
    "+919845000004",
    "+919845000009",
    "+919845000011",
    "+919845000013",
    "+919845000014",
    "+919845000015",
    "+919845000017",
    "+919845000018",
]
PROSPECTS = [f"+9171000000{n:02d}" for n in range(1, 11)]
SWEEP_ENV = {
    "HSM_SWEEP_INTERVAL_S": "1",
    "HSM_SWEEP_RECEIVED_AFTER_S": "4",
    "HSM_SWEEP_STALE_AFTER_S": "15",
    "TICKET_LOCK_LIFETIME": "30",
    "HSM_WHATSAPP_CONCURRENCY": "4",
    # the rate limiter is shared through Redis: keep it out of the way of 20 simultaneous conversations
    "HSM_RATE_GLOBAL_PER_MIN": "100000",
    "HSM_RATE_USER_PER_MIN": "1000",
}


def _forget_locks(client) -> None:
    """The conversations' locks, not those of tests/integration/test_lock_store.py (which may run at the same time
    on the other worker, under LOCK_PREFIX + "test:")."""
    keys = [key for key in client.scan_iter(match=LOCK_PREFIX + "*", count=500) if not _lock_test_key(key)]
    if keys:
        client.delete(*keys)


def _lock_test_key(key: bytes | str) -> bool:
    return (key.decode() if isinstance(key, bytes) else key).startswith(LOCK_PREFIX + "test:")


@pytest.fixture(scope="module")
def replicas(tmp_path_factory, postgres_server, redis_client):
    workdir = tmp_path_factory.mktemp("replicas")
    database_url = create_postgres_database(postgres_server)
    _forget_locks(redis_client)
    stack = None
    try:
        upgrade_to_head(database_url)
        import_school_file(SCHOOL_FILE, database_url)
        import_templates(database_url=database_url)
        stack = Stack.start(
            workdir, database_url, NOW, rasa_replicas=2, action_servers=2, env={"REDIS_URL": REDIS_URL, **SWEEP_ENV}
        )
        yield stack
    finally:
        try:
            if stack is not None:
                stack.stop()
        finally:
            drop_postgres_database(postgres_server, database_url)
            _forget_locks(redis_client)


# ------------------------------------------------------------------------------------------------ reading back


def user_turns(stack: Stack, phone: str) -> list[tuple[str, str]]:
    """(text, message id) of every user message in Rasa's tracker (PostgreSQL `events`), in stored order."""
    engine = create_engine(stack.database_url, future=True)
    try:
        with engine.connect() as connection:
            rows = (
                connection.execute(
                    text("SELECT data FROM events WHERE sender_id = :s AND type_name = 'user' ORDER BY id"),
                    {"s": phone},
                )
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    return [(json.loads(row).get("text"), json.loads(row).get("message_id")) for row in rows]


def bot_events(stack: Stack, phone: str) -> int:
    engine = create_engine(stack.database_url, future=True)
    try:
        with engine.connect() as connection:
            return connection.execute(
                text("SELECT count(*) FROM events WHERE sender_id = :s AND type_name = 'bot'"), {"s": phone}
            ).scalar_one()
    finally:
        engine.dispose()


def errors_in_logs(stack: Stack, names: list[str]) -> list[str]:
    return [
        f"{name}: {line}"
        for name in names
        for line in stack.log(name).splitlines()
        if " ERROR " in line or "Traceback" in line
    ]


def say(stack: Stack, phone: str, words: str, replica: int, timeout_s: float = 60) -> tuple[str, list[dict]]:
    """Send one message to `replica` and wait for its answer (as a person would, before writing again)."""
    after = stack.last_seq()
    wamid = stack.send_text(phone, words, wamid=new_wamid(), replica=replica)
    return wamid, stack.replies(phone, after, count=1, timeout_s=timeout_s, settle_s=1.0)


# ------------------------------------------------------------------------------------------------ (a)


def test_attendance_across_both_replicas_is_saved_once(replicas):
    stack = replicas
    with session_scope(stack.database_url) as s:
        before = dict(
            s.execute(
                select(m.Student.name, m.Enrollment.classes_remaining)
                .join(m.Enrollment)
                .join(m.Batch)
                .where(m.Batch.code == "GTR-BEG-TT17")
            ).all()
        )

    _, draft = say(stack, RAHUL, "Guitar 5pm: all present except Sarah", replica=A)
    assert "7 present, 1 absent" in json.dumps(draft)
    _, saved = say(stack, RAHUL, "yes", replica=B)
    assert "Attendance saved for Guitar Beginner 5:00 PM" in json.dumps(saved)

    with session_scope(stack.database_url) as s:
        records = (
            s.execute(
                select(m.AttendanceRecord)
                .join(m.Batch)
                .where(m.Batch.code == "GTR-BEG-TT17", m.AttendanceRecord.class_date == TUESDAY)
            )
            .scalars()
            .all()
        )
        assert len(records) == 8
        after = dict(
            s.execute(
                select(m.Student.name, m.Enrollment.classes_remaining)
                .join(m.Enrollment)
                .join(m.Batch)
                .where(m.Batch.code == "GTR-BEG-TT17")
            ).all()
        )
        audits = s.execute(select(m.AuditLog).where(m.AuditLog.action == "attendance.saved")).scalars().all()
        assert len(audits) == 1
        drafts = s.execute(select(m.AttendanceDraft.status)).scalars().all()
    assert drafts == ["confirmed"]  # one draft, made on one replica, confirmed on the other
    assert after["John Doe"] == before["John Doe"] - 1 and after["Sarah Wilson"] == before["Sarah Wilson"]
    assert sum(before.values()) - sum(after.values()) == 7  # every present student charged once
    assert [t for t, _ in user_turns(stack, RAHUL)] == ["Guitar 5pm: all present except Sarah", "yes"]


# ------------------------------------------------------------------------------------------------ (b)


def _converse(stack: Stack, phone: str, seed: int) -> list[tuple[str, str, int, int]]:
    """hi / help / thanks, each to a random replica (both used), each answered before the next."""
    chooser = random.Random(seed)
    targets = [chooser.choice((A, B)) for _ in range(3)]
    if len(set(targets)) == 1:
        targets[chooser.randrange(3)] = B if targets[0] == A else A
    turns = []
    for words, replica in zip(("hi", "help", "thanks"), targets, strict=True):
        wamid, got = say(stack, phone, words, replica)
        turns.append((words, wamid, replica, len(got)))
    return turns


def test_twenty_conversations_in_parallel_over_both_replicas(replicas):
    stack = replicas
    phones = STUDENTS + PROSPECTS
    start_seq = stack.last_seq()
    with ThreadPoolExecutor(max_workers=len(phones)) as pool:
        conversations = dict(
            zip(phones, pool.map(lambda p: _converse(stack, p[1], p[0]), enumerate(phones)), strict=True)
        )
    time.sleep(2)  # anything late or doubled would arrive now

    wamids = [wamid for turns in conversations.values() for _, wamid, _, _ in turns]
    assert set(inbound_statuses(stack.database_url, wamids).values()) == {"processed"}
    for phone, turns in conversations.items():
        assert all(answered >= 1 for _, _, _, answered in turns), (phone, turns)
        # each message exactly once in the tracker, in the order sent, with its own WhatsApp id
        assert user_turns(stack, phone) == [(words, wamid) for words, wamid, _, _ in turns], phone
        # every reply the bot uttered went out once, and nothing else did
        sent = [message for message in stack.sent(phone, start_seq)]
        assert len(sent) == sum(answered for *_, answered in turns) == bot_events(stack, phone), phone
    assert errors_in_logs(stack, ["rasa", "rasa-2", "actions", "actions-2"]) == []


# ------------------------------------------------------------------------------------------------ (c)


def test_a_replica_killed_mid_conversation_loses_nothing_it_acknowledged(replicas):
    stack = replicas
    phone = "+917100000099"
    hello, _ = say(stack, phone, "hi", replica=A)
    burst = ["help", "what are your timings?", "thanks", "bye"]
    acknowledged = [stack.send_text(phone, words, wamid=new_wamid(), replica=A) for words in burst]  # 200 each
    stack.kill("rasa")  # SIGKILL, right after the acknowledgements

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if set(inbound_statuses(stack.database_url, acknowledged).values()) == {"processed"}:
            break
        time.sleep(1)
    assert inbound_statuses(stack.database_url, acknowledged) == {wamid: "processed" for wamid in acknowledged}
    assert user_turns(stack, phone) == list(zip(["hi", *burst], [hello, *acknowledged], strict=True))
    taken_over = stack.log("rasa-2").count("taking over")
    assert taken_over >= 1  # replica B did the dead replica's work
    assert errors_in_logs(stack, ["rasa-2", "actions", "actions-2"]) == []
