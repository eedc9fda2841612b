"""Rasa custom actions, one module per area (the action server imports every module of this package);
thin wrappers over `hsm` services."""

from __future__ import annotations

import hmac
import json
import logging
import zlib
from typing import Any

from hsm.infra import correlation, logformat, metrics
from hsm.infra.config import check_settings_or_exit

# `rasa run actions` imports this package first: a bad setting stops the action server here, in one line.
_settings = check_settings_or_exit()
log = logging.getLogger(__name__)
OPEN_PATHS = frozenset({"/health"})  # the health check needs no token
ACTION_CALL_PATH = "/webhook"


def require_action_server_token(app_name: str = "rasa_sdk") -> bool:
    """In `rasa run actions` (rasa_sdk's Sanic app `app_name` exists and is importing this package): refuse every
    call but the health check without `?token=HSM_ACTION_SERVER_TOKEN` (what Rasa sends, endpoints.yml's
    `token`), 401. Unset (development only: production refuses to start): no check, and a warning. True when
    the check is installed."""
    from sanic import Sanic
    from sanic.exceptions import SanicException
    from sanic.request import Request
    from sanic.response import HTTPResponse, json

    try:
        app = Sanic.get_app(app_name)
    except SanicException:
        return False  # not the action server (e.g. the tests run actions in-process)
    token = _settings.rasa.action_server_token
    if not token:
        log.warning("HSM_ACTION_SERVER_TOKEN is not set: the action server takes calls from anyone (development only)")
        return False
    if getattr(app.ctx, "hsm_token_required", False):
        return True  # already installed (rasa_sdk's --auto-reload imports the package again)
    expected = token.encode()

    async def check_token(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        given = (request.args.get("token") or "").encode()
        if hmac.compare_digest(given, expected):
            return None
        log.warning("action server: a call to %s without the right token refused", request.path)
        return json({"error": "unauthorized"}, status=401)

    app.register_middleware(check_token, "request")
    app.ctx.hsm_token_required = True
    return True


def _action_call(request: Any) -> dict | None:
    """The JSON body of an action call, read as rasa_sdk reads it (deflated when Rasa compresses it), or None."""
    try:
        if request.headers.get("Content-Encoding") == "deflate":
            body = json.loads(zlib.decompress(request.body))
        else:
            body = request.json
    except (ValueError, zlib.error):
        return None  # rasa_sdk answers it
    return body if isinstance(body, dict) else None


async def _bind_correlation_id(request: Any) -> None:
    """Bind the call's correlation id for the whole call (none for other requests: the next request on a connection
    must not keep the last one's) and log which action runs."""
    if request.path != ACTION_CALL_PATH:
        correlation.bind(None)
        return
    action_call = _action_call(request)
    correlation.bind(correlation.from_action_call(action_call))
    if action_call is not None:
        log.info("running action %s", action_call.get("next_action"))


def bind_correlation_ids(app_name: str = "rasa_sdk") -> bool:
    """In `rasa run actions`: every action call runs with the correlation id of the message that caused it
    (hsm.infra.correlation), so each line it logs carries it; one hook for every action, form validation and
    session start included. True when the hook was added now."""
    from sanic import Sanic
    from sanic.exceptions import SanicException

    try:
        app = Sanic.get_app(app_name)
    except SanicException:
        return False  # not the action server (e.g. the tests run actions in-process)
    if getattr(app.ctx, "hsm_correlation_bound", False):
        return False  # already added (rasa_sdk's --auto-reload imports the package again)
    app.register_middleware(_bind_correlation_id, "request")
    app.ctx.hsm_correlation_bound = True
    return True


require_action_server_token()
bind_correlation_ids()
logformat.configure("actions")
metrics.serve("actions")  # /metrics on HSM_METRICS_PORT when set
