"""A Rasa agent loaded inside a WhatsApp worker process exactly as `rasa run` loads the server's: the same model,
endpoints.yml and logging."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Any


def server_option(name: str, default: str | None) -> str | None:
    """An option the Rasa server was started with (`rasa run --endpoints X`), so workers load the same."""
    argv = sys.argv
    for index, argument in enumerate(argv):
        if argument == name and index + 1 < len(argv):
            return argv[index + 1]
        if argument.startswith(name + "="):
            return argument.split("=", 1)[1]
    return default


@dataclass(frozen=True)
class AgentSource:
    """Where a worker finds what the server loaded (read in the server's process, pickled to the worker)."""

    model_path: str
    endpoints: str | None
    logging_config: str | None
    log_level: int

    @classmethod
    def of_this_server(cls, model_path: str) -> AgentSource:
        return cls(
            model_path,
            server_option("--endpoints", "endpoints.yml"),
            server_option("--logging-config-file", None),
            logging.getLogger("rasa").getEffectiveLevel(),
        )


def set_up_like_rasa_run(source: AgentSource) -> None:
    """Logging, structlog and TensorFlow as `rasa run` sets them up (rasa/__main__.py). Without structlog's set-up,
    Rasa's debug events (parsed messages, dialogue states) go to stdout unfiltered and unmasked, and printing them
    cost more CPU than the models."""
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog
    from rasa.utils.tensorflow import environment

    configure_logging_and_warnings(
        source.log_level, source.logging_config, warn_only_once=True, filter_repeated_logs=True
    )
    environment.setup_tf_environment()
    configure_structlog(source.log_level)


async def load_agent(source: AgentSource) -> Any:
    """The agent, loaded as the server's was."""
    from rasa.core.agent import load_agent as rasa_load_agent
    from rasa.core.utils import AvailableEndpoints

    endpoints = AvailableEndpoints.read_endpoints(source.endpoints) if source.endpoints else None
    return await rasa_load_agent(model_path=source.model_path, endpoints=endpoints)
