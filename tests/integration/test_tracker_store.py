"""SchoolTrackerStore: conversations in the school's database, the last intent remembered on save, and on SQLite
a pooled engine with WAL and synchronous=NORMAL (and the priority writer the webhook stores with)."""

import asyncio
import uuid

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import text
from sqlalchemy.pool import QueuePool

from hsm.rasa_glue import stores as rasa_stores


def _tracker(sender: str, *intents: str) -> DialogueStateTracker:
    events = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
    for intent in intents:
        events += [
            UserUttered(f"text for {intent}", {"name": intent, "confidence": 0.9}),
            ActionExecuted("action_listen"),
        ]
    return DialogueStateTracker.from_events(sender, events)


def test_save_remembers_the_last_intent_and_keeps_the_conversation(db_url):
    store = rasa_stores.SchoolTrackerStore(domain=Domain.empty())
    sender = f"+91{uuid.uuid4().int % 10**10:010d}"
    assert rasa_stores.latest_intent(sender) is None
    asyncio.run(store.save(_tracker(sender, "greet", "ask_fees")))
    assert rasa_stores.latest_intent(sender) == "ask_fees"
    back = asyncio.run(store.retrieve(sender))
    assert [e.intent_name for e in back.events if isinstance(e, UserUttered)] == ["greet", "ask_fees"]
    assert str(store.engine.url) == db_url
    store.engine.dispose()


def test_only_the_most_recent_conversations_are_remembered(monkeypatch):
    monkeypatch.setattr(rasa_stores, "_LATEST_INTENTS_KEPT", 3)
    monkeypatch.setattr(rasa_stores, "_LATEST_INTENTS", type(rasa_stores._LATEST_INTENTS)())
    for n in range(5):
        rasa_stores._remember_latest_intent(_tracker(f"sender-{n}", "greet"))
    rasa_stores._remember_latest_intent(_tracker("sender-2", "goodbye"))
    assert list(rasa_stores._LATEST_INTENTS) == ["sender-3", "sender-4", "sender-2"]
    assert rasa_stores.latest_intent("sender-0") is None
    assert rasa_stores.latest_intent("sender-2") == "goodbye"


def test_sqlite_engine_is_pooled_with_wal_and_normal_sync(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'tracker.sqlite3'}")
    store = rasa_stores.SchoolTrackerStore(domain=Domain.empty())
    assert isinstance(store.engine.pool, QueuePool)
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    store.engine.dispose()


def test_a_priority_writer_gets_the_lock_once_it_is_free_and_holds_it_from_the_start(tmp_path):
    """`sqlite_engine(priority_writer=True)`: BEGIN IMMEDIATE, asked again while another connection writes (no
    "database is locked"), and nobody else can write while its transaction is open."""
    import threading

    from sqlalchemy.exc import OperationalError

    from hsm.infra.db import sqlite_engine

    url = f"sqlite:///{tmp_path / 'lock.sqlite3'}"
    plain, priority = sqlite_engine(url), sqlite_engine(url, priority_writer=True)
    with plain.begin() as connection:
        connection.execute(text("CREATE TABLE t (n INTEGER)"))
    holding, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        with plain.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (1)"))
            holding.set()
            release.wait(5)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    holding.wait(5)
    threading.Timer(0.2, release.set).start()
    with priority.begin() as connection:  # waits for the holder instead of failing
        assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 1  # only read so far
        impatient = sqlite_engine(url)
        with impatient.connect() as other:
            other.exec_driver_sql("PRAGMA busy_timeout=0")
            with pytest.raises(OperationalError, match="locked"):
                other.exec_driver_sql("INSERT INTO t VALUES (3)")  # the lock was taken at BEGIN
        impatient.dispose()
        connection.execute(text("INSERT INTO t VALUES (2)"))
    holder.join(5)
    with plain.connect() as connection:
        assert connection.execute(text("SELECT n FROM t ORDER BY n")).scalars().all() == [1, 2]
    plain.dispose()
    priority.dispose()
