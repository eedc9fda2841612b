"""Shared test fixtures: migrated databases (SQLite always, PostgreSQL when reachable) and the demo school."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hsm.config import PROJECT_ROOT

SHARED_DIR = Path(os.environ.get("HSM_SHARED_DIR", PROJECT_ROOT.parent / "shared"))
SCHOOL_FILE = SHARED_DIR / "fixtures" / "school.yaml"
# The demo week: Tuesday 1 Dec 2026, 16:30 in Hyderabad (before Guitar Beginner at 17:00).
DEMO_NOW = "2026-12-01T16:30:00+05:30"
POSTGRES_SERVER_URL = os.environ.get("HSM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _postgres_reachable() -> str | None:
    """None when the server answers; otherwise why not."""
    try:
        engine = create_engine(POSTGRES_SERVER_URL, future=True, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as error:  # noqa: BLE001 - any failure means "not reachable"
        return str(error).splitlines()[0]


@pytest.fixture(scope="session")
def postgres_server() -> str:
    problem = _postgres_reachable()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but not reachable at {POSTGRES_SERVER_URL}: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_SERVER_URL}: {problem}")
    return POSTGRES_SERVER_URL


def create_postgres_database(server_url: str) -> str:
    name = f"hsm_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, future=True, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(server_url: str, url: str) -> None:
    from hsm.db import get_engine

    get_engine(url).dispose()
    name = make_url(url).database
    admin = create_engine(server_url, future=True, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_db_url(request, tmp_path) -> Iterator[str]:
    """An empty database of each kind, unmigrated."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hsm.sqlite3'}"
        return
    server = request.getfixturevalue("postgres_server")
    url = create_postgres_database(server)
    try:
        yield url
    finally:
        drop_postgres_database(server, url)


@pytest.fixture
def db_url(empty_db_url, monkeypatch) -> str:
    """A migrated, empty database; DATABASE_URL points at it."""
    from hsm.db import upgrade_to_head

    upgrade_to_head(empty_db_url)
    monkeypatch.setenv("DATABASE_URL", empty_db_url)
    return empty_db_url


@pytest.fixture
def school_db(db_url, monkeypatch) -> str:
    """The demo school imported, with the clock frozen in the demo week."""
    from hsm.school_import import import_school_file

    import_school_file(SCHOOL_FILE, db_url)
    monkeypatch.setenv("HSM_NOW", DEMO_NOW)
    return db_url


@pytest.fixture
def session(school_db):
    from hsm.db import session_scope

    with session_scope(school_db) as db_session:
        yield db_session
