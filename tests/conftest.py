"""Shared test fixtures: migrated databases (SQLite always, PostgreSQL when reachable) and the demo school."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hsm.infra.config import PROJECT_ROOT, set_environment

SHARED_DIR = Path(os.environ.get("HSM_SHARED_DIR", PROJECT_ROOT.parent / "shared"))
SCHOOL_FILE = SHARED_DIR / "fixtures" / "school.yaml"
# The demo week: Tuesday 1 Dec 2026, 16:30 in Hyderabad (before Guitar Beginner at 17:00).
DEMO_NOW = "2026-12-01T16:30:00+05:30"
POSTGRES_SERVER_URL = os.environ.get("HSM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_TEST_URL = os.environ.get("HSM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# Development settings the tests run with, given explicitly (the application has no default for either): the
# stand-in payment provider and a fixed development secret for its webhooks. Tests of other settings set their own.
TEST_PAYMENT_WEBHOOK_SECRET = "tests-payment-webhook-secret-development-only"
set_environment(
    HSM_ENV="development", HSM_PAYMENT_PROVIDER="local", HSM_PAYMENT_WEBHOOK_SECRET=TEST_PAYMENT_WEBHOOK_SECRET
)


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


@pytest.fixture(scope="session")
def redis_client():
    """A real Redis for the tests that need one (each uses key prefixes of its own); skipped locally when it is
    not reachable, a failure in CI."""
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL, socket_timeout=3, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required in CI but not reachable at {REDIS_TEST_URL}: {error}")
        pytest.skip(f"Redis not reachable at {REDIS_TEST_URL}: {error}")
    yield client
    client.close()


def own_redis_prefix(redis_client, base: str = "hsm:test:") -> Iterator[str]:
    """For a fixture: a key prefix of this test's own under `base` in the test Redis; its keys are removed after."""
    prefix = f"{base}{uuid.uuid4().hex[:12]}:"
    yield prefix
    keys = list(redis_client.scan_iter(match=prefix + "*", count=500))
    if keys:
        redis_client.delete(*keys)


@pytest.fixture
def redis_prefix(redis_client):
    """A key prefix of this test's own in the test Redis; its keys are removed afterwards."""
    yield from own_redis_prefix(redis_client)


def create_postgres_database(server_url: str) -> str:
    name = f"hsm_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, future=True, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(server_url: str, url: str) -> None:
    from hsm.infra.db import get_engine

    get_engine(url).dispose()
    name = make_url(url).database
    admin = create_engine(server_url, future=True, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request) -> str:
    """Each database test runs on SQLite and on PostgreSQL."""
    if request.param == "postgres":
        request.getfixturevalue("postgres_server")  # skip (or fail in CI) when PostgreSQL is not reachable
    return request.param


@pytest.fixture
def empty_db_url(backend, tmp_path) -> Iterator[str]:
    """An empty database of each kind, unmigrated."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'hsm.sqlite3'}"
        return
    url = create_postgres_database(POSTGRES_SERVER_URL)
    try:
        yield url
    finally:
        drop_postgres_database(POSTGRES_SERVER_URL, url)


@pytest.fixture(scope="session")
def database_templates(tmp_path_factory):
    """Migrated databases ("empty", and "school" with the demo school imported), built once per backend and
    copied for each test: a file copy for SQLite, CREATE DATABASE ... TEMPLATE for PostgreSQL."""
    from hsm.infra.db import get_engine, upgrade_to_head
    from hsm.records.school_import import import_school_file

    built: dict[tuple[str, str], str] = {}

    def template(backend: str, content: str) -> str:
        if (backend, content) not in built:
            if backend == "sqlite":
                url = f"sqlite:///{tmp_path_factory.mktemp('templates') / f'{content}.sqlite3'}"
            else:
                url = create_postgres_database(POSTGRES_SERVER_URL)
            upgrade_to_head(url)
            if content == "school":
                import_school_file(SCHOOL_FILE, url)
            get_engine(url).dispose()  # no open connection: SQLite folds its WAL in, PostgreSQL can copy it
            built[(backend, content)] = url
        return built[(backend, content)]

    yield template
    for (backend, _), url in built.items():
        if backend == "postgres":
            drop_postgres_database(POSTGRES_SERVER_URL, url)


def _clone(backend: str, template_url: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        target = tmp_path / f"hsm-{uuid.uuid4().hex[:8]}.sqlite3"
        shutil.copyfile(make_url(template_url).database, target)
        return f"sqlite:///{target}"
    name = f"hsm_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_SERVER_URL, future=True, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{make_url(template_url).database}"'))
    admin.dispose()
    return make_url(POSTGRES_SERVER_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def db_url(backend, database_templates, tmp_path, monkeypatch) -> Iterator[str]:
    """A migrated, empty database; DATABASE_URL points at it."""
    url = _clone(backend, database_templates(backend, "empty"), tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    try:
        yield url
    finally:
        if backend == "postgres":
            drop_postgres_database(POSTGRES_SERVER_URL, url)


@pytest.fixture
def school_db(backend, database_templates, tmp_path, monkeypatch) -> Iterator[str]:
    """The demo school imported, with the clock frozen in the demo week; DATABASE_URL points at it."""
    url = _clone(backend, database_templates(backend, "school"), tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HSM_NOW", DEMO_NOW)
    try:
        yield url
    finally:
        if backend == "postgres":
            drop_postgres_database(POSTGRES_SERVER_URL, url)


@pytest.fixture
def session(school_db):
    from hsm.infra.db import session_scope

    with session_scope(school_db) as db_session:
        yield db_session
