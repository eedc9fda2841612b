"""The faster action response check accepts and refuses exactly what Rasa's own `jsonschema.validate` does."""

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

from hsm import rasa_speedups

RESPONSES = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "role", "value": "teacher"}], "responses": [{"text": "hi"}]},
    {"events": [{"event": "action", "name": "action_listen"}]},
    {},
    {"events": "not a list"},
    {"events": [{"no_event_key": 1}]},
    {"responses": [{"text": 3}], "events": [{"event": "slot", "name": 5}]},
    {"events": [{"event": "bot", "text": "hello", "data": {}}]},
]


@pytest.mark.parametrize("response", RESPONSES)
def test_same_verdict_as_jsonschema_validate(response):
    spec = RemoteAction.action_response_format_spec()
    try:
        jsonschema.validate(response, spec)
        expected = None
    except jsonschema.ValidationError as error:
        expected = error.message
    action = RemoteAction("action_test", None)
    if expected is None:
        assert rasa_speedups._validate_action_result(action, response) is True
    else:
        with pytest.raises(jsonschema.ValidationError) as raised:
            rasa_speedups._validate_action_result(action, response)
        assert raised.value.message.startswith(expected)
        assert "Failed to validate Action server response" in raised.value.message


def test_install_replaces_rasas_check():
    rasa_speedups.install()
    assert RemoteAction._validate_action_result is rasa_speedups._validate_action_result
