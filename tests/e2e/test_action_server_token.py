"""The action server refuses calls without the shared secret Rasa sends (endpoints.yml's `token`, the query
parameter `token=`): a real `rasa run actions` started with HSM_ACTION_SERVER_TOKEN answers 401 without it or with
a wrong one, and runs the action with it."""

from __future__ import annotations

import pytest
import requests

from devtools.localstack import Stack, free_port
from hsm.infra.db import upgrade_to_head
from tests.conftest import DEMO_NOW

TOKEN = "e2e-action-server-token-for-this-test-only"
CALL = {
    "next_action": "action_session_start",
    "sender_id": "+919811000101",
    "tracker": {"sender_id": "+919811000101", "slots": {}, "latest_message": {}, "events": [], "paused": False},
    "domain": {},
    "version": "3.6.0",
}


@pytest.fixture(scope="module")
def action_server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("actions")
    database_url = f"sqlite:///{workdir / 'hsm.sqlite3'}"
    upgrade_to_head(database_url)
    ports = {"rasa_port": free_port(), "action_port": free_port(), "sandbox_port": free_port()}
    env = {**Stack.environment(workdir, database_url, DEMO_NOW, **ports), "HSM_ACTION_SERVER_TOKEN": TOKEN}
    stack = Stack(workdir, database_url, env, action_port=ports["action_port"])
    stack.start_actions(0)
    try:
        stack.wait_actions(0)
        yield f"http://127.0.0.1:{ports['action_port']}"
    finally:
        stack.stop()


@pytest.mark.parametrize("params", [{}, {"token": ""}, {"token": "wrong-token"}, {"token": TOKEN[:-1]}])
def test_a_call_without_the_token_is_refused(action_server, params):
    answer = requests.post(f"{action_server}/webhook", json=CALL, params=params, timeout=30)
    assert answer.status_code == 401
    assert answer.json() == {"error": "unauthorized"}
    assert requests.get(f"{action_server}/actions", params=params, timeout=30).status_code == 401


def test_a_call_with_the_token_runs_the_action(action_server):
    answer = requests.post(f"{action_server}/webhook", json=CALL, params={"token": TOKEN}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["events"][0]["event"] == "session_started"
    assert requests.get(f"{action_server}/actions", params={"token": TOKEN}, timeout=30).status_code == 200
    assert requests.get(f"{action_server}/health", timeout=30).status_code == 200  # the health check needs none
