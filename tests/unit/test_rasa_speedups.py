"""The faster action response check accepts and refuses exactly what Rasa's own `jsonschema.validate` does; the
loaded objects are left out of later garbage collections."""

import gc

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

from hsm.rasa_glue import speedups as rasa_speedups

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


def test_objects_alive_at_freeze_are_left_out_of_collections():
    class Loaded:  # a stand-in for a model's objects, in a reference cycle as many are
        pass

    loaded = Loaded()
    loaded.myself = loaded
    try:
        rasa_speedups.freeze_loaded_objects()
        assert gc.get_freeze_count() > 0
        assert not any(obj is loaded for generation in range(3) for obj in gc.get_objects(generation))
        made_after = Loaded()
        assert any(obj is made_after for obj in gc.get_objects())  # what comes later is collected as usual
    finally:
        gc.unfreeze()
