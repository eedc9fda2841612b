"""Fuzz: the webhook parser takes any JSON without raising (other than InvalidWebhook for non-webhooks), and
whatever it returns is well-typed; real payloads with random values in random places still parse, with the
channel's checks (our phone number, Meta's retry horizon) as without."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hsm.whatsapp.payloads import InvalidWebhook, WebhookBatch, parse_webhook
from tests.conftest import SHARED_DIR

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=40,
)
SAMPLE = json.loads((SHARED_DIR / "meta_webhook_samples" / "split" / "message__reply.json").read_text())
CHECKS = {"for_phone_number_id": "1122334455667", "received_at": datetime(2026, 12, 1, 11, 0, tzinfo=timezone.utc)}


def check(batch: WebhookBatch) -> None:
    for message in batch.messages:
        assert isinstance(message.wamid, str) and message.wamid
        assert isinstance(message.phone, str) and isinstance(message.type, str)
        assert message.text is None or isinstance(message.text, str)
    for status in batch.statuses:
        assert isinstance(status.wamid, str) and isinstance(status.status, str)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON)
def test_any_json_is_parsed_or_refused_cleanly(body):
    try:
        check(parse_webhook(body))
        check(parse_webhook(body, **CHECKS))
    except InvalidWebhook:
        pass


def paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from paths(value, (*prefix, index))


ALL_PATHS = [p for p in paths(SAMPLE) if p]


def replaced(body, path, value):
    body = json.loads(json.dumps(body))
    node = body
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return body


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(ALL_PATHS), JSON)
def test_a_real_payload_with_any_field_replaced_still_parses(path, value):
    body = replaced(SAMPLE, path, value)
    try:
        check(parse_webhook(body))
        check(parse_webhook(body, **CHECKS))
    except InvalidWebhook:
        assert path[0] == "entry" and len(path) <= 2
