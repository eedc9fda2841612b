"""The metrics of a real conversation (Mr. Rahul marks his Guitar Beginner class through the webhook): the channel's
and the action server's /metrics count the messages, intents, sends, actions and attendance, and carry no phone
number, name or word of what was said."""

from __future__ import annotations

import re

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.test_teacher_flows import NOW, RAHUL, Teacher
from tests.e2e.test_whatsapp_channel import wait_for

pytestmark = pytest.mark.slow

SAID = ("Guitar 5pm: all present except Sarah", "yes")
NAMES = ("Rahul", "Sarah", "Wilson", "John", "Doe")


@pytest.fixture(scope="module")
def stack_now():
    return NOW


def exposition(stack, name: str) -> str:
    answer = requests.get(stack.metrics_url(name), timeout=10)
    assert answer.status_code == 200
    return answer.text


def total(text: str, name: str, **labels: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def label_values(text: str) -> set[str]:
    return {
        value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        for value in sample.labels.values()
    }


def counts(channel: str, actions: str) -> dict[str, float]:
    return {
        "inbound text processed": total(channel, "hsm_messages_in_total", type="text", status="processed"),
        "outbound accepted": total(channel, "hsm_messages_out_total", status="accepted"),
        "webhook answers": total(channel, "hsm_webhook_ack_seconds_count", code="200"),
        "replies timed": total(channel, "hsm_reply_seconds_count"),
        "intents": total(channel, "hsm_intents_total"),
        "Graph API 2xx": total(channel, "hsm_graph_api_calls_total", endpoint="messages", result="2xx"),
        "rate limit allowed": total(channel, "hsm_rate_limit_decisions_total", decision="allowed"),
        "actions run": total(actions, "hsm_action_seconds_count"),
        "attendance saved": total(actions, "hsm_attendance_saved_total", source="whatsapp"),
        "DB transactions": total(actions, "hsm_db_transaction_seconds_count", outcome="commit"),
    }


def test_a_conversation_moves_the_counters_and_leaves_no_personal_data(stack):
    before = counts(exposition(stack, "rasa"), exposition(stack, "actions"))
    rahul = Teacher(stack)
    assert "Attendance for Guitar Beginner" in rahul.say(SAID[0])
    assert "Attendance saved" in rahul.say(SAID[1])

    def both_counted() -> tuple | None:  # the counters move as the turn ends, just after its last reply went out
        channel, actions = exposition(stack, "rasa"), exposition(stack, "actions")
        after = counts(channel, actions)
        moved = after["inbound text processed"] - before["inbound text processed"]
        return (channel, actions, after) if moved >= 2 else None

    channel, actions, after = wait_for(both_counted, what="both messages counted")
    assert after["inbound text processed"] - before["inbound text processed"] == 2
    assert after["attendance saved"] - before["attendance saved"] == 8  # 7 present, 1 absent
    assert all(after[what] > before[what] for what in after), {what: (before[what], after[what]) for what in after}
    assert 'hsm_up{process="channel"} 1.0' in channel and 'hsm_up{process="actions"} 1.0' in actions

    digits = RAHUL.lstrip("+")
    for text in (channel, actions):
        assert digits[-10:] not in text
        assert not [value for value in label_values(text) if re.search(r"\d{7,}", value)]  # no phone number at all
        for word in (*NAMES, "Guitar 5pm", "all present except"):
            assert word.lower() not in text.lower(), word
