"""One running stack (sandbox, action server, Rasa with the WhatsApp channel) per test module, on a fresh
SQLite database holding the demo school, with "now" frozen in the demo week."""

from __future__ import annotations

import pytest

from devtools.localstack import Stack
from hsm.infra.db import upgrade_to_head
from hsm.records.school_import import import_school_file
from hsm.whatsapp.templates import import_templates
from tests.conftest import DEMO_NOW, SCHOOL_FILE


@pytest.fixture(scope="module")
def stack_now() -> str:
    """The frozen "now" of the module's stack; a test module overrides it to be elsewhere in the demo week."""
    return DEMO_NOW


@pytest.fixture(scope="module")
def stack_env() -> dict[str, str]:
    """Extra environment for the module's stack. Conversation tests send faster than people do, so the rate
    limits are raised; the channel's own tests override this to test the real limit."""
    return {"HSM_RATE_USER_PER_MIN": "1000", "HSM_RATE_GLOBAL_PER_MIN": "100000"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory, stack_now, stack_env):
    workdir = tmp_path_factory.mktemp("stack")
    database_url = f"sqlite:///{workdir / 'hsm.sqlite3'}"
    upgrade_to_head(database_url)
    import_school_file(SCHOOL_FILE, database_url)
    import_templates(database_url=database_url)
    running = Stack.start(workdir, database_url, stack_now, env=stack_env)
    try:
        yield running
    finally:
        running.stop()
