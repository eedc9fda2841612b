"""Two costs of a running Rasa server that are not Rasa's work, found by profiling under load.

- Rasa 3.6 checks every action server response against its JSON schema with `jsonschema.validate`, which first
  checks the schema itself against the JSON Schema meta-schema, on every call: about a third of the server's CPU
  time (py-spy, 100 conversations). `install()` makes Rasa build the validator once and check responses exactly
  as before (same schema, same error, same message).
- A server with its model loaded holds over half a million Python objects, and every full collection of Python's
  garbage collector walks them all: 0.1-0.3 s in which the process does nothing else (every webhook waiting on it
  answered that much later). `freeze_loaded_objects()`, once the model is loaded, moves everything alive into
  the collector's permanent generation (`gc.freeze`), so later collections walk only what was made since. A
  model swapped in later through Rasa's HTTP API (`PUT /model`) is not frozen, and what of the old one is held in
  reference cycles is never freed: deploy a new model by restarting the server (docker-compose.yml loads it at
  start).

Nothing here runs on import: `hsm.rasa_glue.startup` installs both, explicitly, when a Rasa process of ours starts
(`HSM_RASA_SPEEDUPS=0` turns them off).
"""

from __future__ import annotations

import gc
import logging
import time
from functools import lru_cache
from typing import Any

import jsonschema
import rasa
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _action_response_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)  # once, instead of on every response
    return validator_class(schema)


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """Rasa's `RemoteAction._validate_action_result` with the validator built once."""
    error = jsonschema.exceptions.best_match(_action_response_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, make sure your response from the Action endpoint "
        f"is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
    )
    raise error


def install() -> None:
    if not rasa.__version__.startswith("3.6."):
        log.warning("rasa %s: action response check left as it is (written for 3.6)", rasa.__version__)
        return
    RemoteAction._validate_action_result = _validate_action_result


def freeze_loaded_objects() -> None:
    """Exempt every object alive now (the loaded model, the libraries) from later garbage collections."""
    started = time.perf_counter()
    gc.collect()  # what is garbage already should not be kept forever
    gc.freeze()
    log.debug(
        "%d objects exempted from garbage collection in %.0f ms",
        gc.get_freeze_count(),
        (time.perf_counter() - started) * 1000,
    )
