"""Database engine and transactional sessions for `DATABASE_URL` (SQLAlchemy 1.4 in 2.0 style)."""

from __future__ import annotations

import os
import sqlite3
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from hsm.infra import metrics
from hsm.infra.config import database_url

SQLITE_BUSY_TIMEOUT_S = 30
PRIORITY_POLL_S = 0.0005


def sqlite_engine(url: str, *, future: bool = True, priority_writer: bool = False) -> Engine:
    """An engine for a SQLite file (or memory) database, set up for several threads and processes at once.

    Connections are pooled and shared between threads (one at a time): opening one costs more than most of our
    transactions, because switching to WAL takes a lock. WAL lets readers work beside the one writer, across
    processes; in WAL mode `synchronous=NORMAL` never corrupts and survives process crashes (only an OS crash or
    power cut can lose the last commits), and makes each commit several times cheaper (no fsync per transaction).

    `priority_writer=True`: every transaction takes the write lock when it begins (BEGIN IMMEDIATE), asking for
    it every 0.5 ms. SQLite's own busy handler, which everyone else waits in, sleeps in growing steps of up to
    100 ms, so a writer that polls gets the lock the moment it is free: for work someone is waiting on (the
    webhook's answer to Meta), and only for short write transactions (readers would queue behind writers).
    """
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        future=future,
        poolclass=QueuePool,
        pool_size=8,
        max_overflow=16,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 - DB-API types
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        if priority_writer:  # no busy handler: _begin_immediate, on SQLAlchemy's "begin", asks for the lock
            dbapi_connection.execute("PRAGMA busy_timeout=0")
            dbapi_connection.isolation_level = None

    if priority_writer:
        event.listen(engine, "begin", _begin_immediate)
    return engine


def _begin_immediate(connection) -> None:  # noqa: ANN001 - a SQLAlchemy Connection
    """BEGIN IMMEDIATE, asked again every PRIORITY_POLL_S while another connection writes (on the DB-API
    connection: each "database is locked" through SQLAlchemy would cost more than the wait)."""
    dbapi_connection = connection.connection.dbapi_connection
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            dbapi_connection.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise OperationalError("BEGIN IMMEDIATE", {}, error) from error
            time.sleep(PRIORITY_POLL_S)


# Every engine this process made. A forked child (an RQ job of `hsm worker`) must not use the connections its parent
# holds in these pools: two processes on one socket mix their queries' answers (psycopg2's "error with status
# PGRES_TUPLES_OK", "result object does not return rows"). The child drops them without closing the parent's.
_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def _forget_parent_connections() -> None:
    for engine in _ENGINES:
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_parent_connections)


def _kept(engine: Engine) -> Engine:
    _ENGINES.add(engine)
    return engine


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    if make_url(url).get_backend_name() == "sqlite":
        return _kept(sqlite_engine(url))
    return _kept(create_engine(url, future=True, pool_pre_ping=True))


def get_engine(url: str | None = None) -> Engine:
    return _engine_for(url or database_url())


def priority_writer_engine(url: str | None = None) -> Engine:
    """For short write transactions someone is waiting on: on SQLite, an engine whose transactions get the write
    lock as soon as it is free (`sqlite_engine(priority_writer=True)`); on other databases, `get_engine()`."""
    return _priority_engine_for(url or database_url())


@lru_cache(maxsize=8)
def _priority_engine_for(url: str) -> Engine:
    if make_url(url).get_backend_name() == "sqlite":
        return _kept(sqlite_engine(url, priority_writer=True))
    return _engine_for(url)


def session_factory(url: str | None = None) -> sessionmaker:
    return _session_factory_for(url or database_url())


@lru_cache(maxsize=8)
def _session_factory_for(url: str) -> sessionmaker:  # building one costs more than a short transaction
    return sessionmaker(bind=_engine_for(url), future=True, expire_on_commit=False)


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any error."""
    with metrics.timed_transaction():
        session = session_factory(url)()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


def alembic_config(url: str | None = None):
    """Alembic's config for this project's `migrations/`, aimed at `url` (default: DATABASE_URL)."""
    from alembic.config import Config

    from hsm.infra.config import PROJECT_ROOT

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", (url or database_url()).replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def upgrade_to_head(url: str | None = None) -> None:
    from alembic import command

    command.upgrade(alembic_config(url), "head")
