"""A forked child (an RQ job of `hsm worker`) opens its own database connections instead of using the ones its
parent holds in the pool: sharing one socket mixes both processes' answers (the production smoke test's failed
reminder and broadcast jobs, devtools/smoke.py)."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from hsm.infra.db import get_engine, session_scope
from tests.conftest import create_postgres_database, drop_postgres_database

pytestmark = pytest.mark.postgres


def backend_pid(url: str) -> int:
    with session_scope(url) as session:
        return session.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_a_forked_child_uses_a_connection_of_its_own_and_leaves_the_parents_working(postgres_server):
    url = create_postgres_database(postgres_server)
    try:
        parent_pid = backend_pid(url)  # the pool now holds this connection
        reading, writing = os.pipe()
        child = os.fork()
        if child == 0:  # the child: report the server process it talks to, then leave without cleanup
            try:
                os.write(writing, str(backend_pid(url)).encode())
            finally:
                os._exit(0)
        os.close(writing)
        with os.fdopen(reading) as answer:
            child_pid = int(answer.read())
        os.waitpid(child, 0)
        assert child_pid != parent_pid
        assert backend_pid(url) == parent_pid  # the parent's pooled connection still works
    finally:
        get_engine(url).dispose()
        drop_postgres_database(postgres_server, url)
