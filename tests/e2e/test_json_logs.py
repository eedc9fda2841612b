"""With HSM_LOG_FORMAT=json, one message followed through the real stack by its correlation id: every line of
every process's log is a JSON object, and the channel's intake line, Rasa's processing of the turn, the action
server's action lines, the reply's send line and the status webhook about the reply all carry the same id; no
phone number appears unmasked."""

from __future__ import annotations

import json

import pytest

from hsm.infra.logmask import wamid_ref
from tests.e2e.test_whatsapp_channel import wait_for

pytestmark = pytest.mark.slow

STUDENT = "+919876543210"  # John Doe, a student of the demo school
STUDENT_DIGITS = STUDENT.lstrip("+")


@pytest.fixture(scope="module")
def stack_env() -> dict[str, str]:
    """JSON logs, Rasa's DEBUG lines (its processing of a turn logs nothing at INFO), and the image's silencing of
    SQLAlchemy's notice printed when Rasa is imported, before any logging is set up (Dockerfile)."""
    return {
        "HSM_LOG_FORMAT": "json",
        "LOG_LEVEL": "DEBUG",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "HSM_RATE_USER_PER_MIN": "1000",
        "HSM_RATE_GLOBAL_PER_MIN": "100000",
    }


def json_lines(log: str) -> list[dict]:
    """Every line of a process's log, parsed: a line that is not one JSON object fails the test."""
    lines = []
    for line in log.splitlines():
        entry = json.loads(line)
        assert isinstance(entry, dict), line
        assert {"time", "level", "logger", "process", "message"} <= entry.keys(), line
        lines.append(entry)
    return lines


def test_one_message_is_followed_by_its_correlation_id_through_every_process(stack):
    after = stack.last_seq()
    wamid = stack.send_text(STUDENT, "when is my next class?")
    replies = stack.replies(STUDENT, after)
    assert replies, "the bot did not answer"
    delivered = f"message {wamid_ref(replies[0]['id'])} delivered"  # the sandbox's status webhook for the reply
    wait_for(lambda: delivered in stack.log("rasa"), what="the status webhook's line")  # it comes after the reply

    logs = {name: json_lines(stack.log(name)) for name in ("rasa", "actions", "sandbox")}
    intake = [
        entry
        for entry in logs["rasa"]
        if entry["logger"] == "hsm.whatsapp.channel" and wamid_ref(wamid) in entry["message"]
    ]
    assert len(intake) == 1, intake
    correlation_id = intake[0]["correlation_id"]
    assert correlation_id and STUDENT_DIGITS[-4:] not in correlation_id

    followed = [entry for entry in logs["rasa"] + logs["actions"] if entry.get("correlation_id") == correlation_id]
    assert any(entry["logger"].startswith("rasa.") and entry["process"] == "rasa" for entry in followed), followed
    actions_run = {entry["message"] for entry in followed if entry["process"] == "actions"}
    assert {"running action action_session_start", "running action action_show_schedule"} <= actions_run
    assert any(entry["logger"] == "hsm.whatsapp.client" and entry["message"].startswith("sent ") for entry in followed)
    assert any(entry["message"] == delivered for entry in followed), followed

    for name in logs:
        text = stack.log(name)
        assert STUDENT_DIGITS not in text and STUDENT_DIGITS[2:] not in text, name
