"""The action server's hook on each call from Rasa (`rasa run actions`, rasa_sdk's Sanic app): binds the message's
correlation id (hsm.infra.correlation) for the whole call, so every line the action logs carries it, and logs which
action runs. One hook for every action, form validation and session start included."""

from __future__ import annotations

import json
import logging
import zlib
from typing import Any

from hsm.infra import correlation

log = logging.getLogger("hsm.actions")

ACTION_CALL_PATH = "/webhook"


def action_call_of(request: Any) -> dict | None:
    """The JSON body of an action call, as rasa_sdk reads it (deflated when Rasa compresses it), or None."""
    try:
        if request.headers.get("Content-Encoding") == "deflate":
            body = json.loads(zlib.decompress(request.body))
        else:
            body = request.json
    except (ValueError, zlib.error):
        return None  # rasa_sdk answers it
    return body if isinstance(body, dict) else None


async def bind_correlation_id(request: Any) -> None:
    """Sanic request middleware: bind the call's correlation id (none for other requests: a connection's next
    request must not keep the last one's) and log the action's name."""
    if request.path != ACTION_CALL_PATH:
        correlation.bind(None)
        return
    action_call = action_call_of(request)
    correlation.bind(correlation.from_action_call(action_call))
    if action_call is not None:
        log.info("running action %s", action_call.get("next_action"))


def install(app_name: str = "rasa_sdk") -> bool:
    """Add the hook to rasa_sdk's app when this process is the action server (not when tests run actions
    in-process); True when it was added now."""
    from sanic import Sanic
    from sanic.exceptions import SanicException

    try:
        app = Sanic.get_app(app_name)
    except SanicException:
        return False
    if getattr(app.ctx, "hsm_correlation_bound", False):
        return False  # already added (rasa_sdk's --auto-reload imports the actions package again)
    app.register_middleware(bind_correlation_id, "request")
    app.ctx.hsm_correlation_bound = True
    return True
