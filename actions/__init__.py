"""Rasa custom actions, one module per area (the action server imports every module of this package);
thin wrappers over `hsm` services."""

from __future__ import annotations

import hmac
import logging

from hsm.infra import logformat, metrics
from hsm.infra.config import check_settings_or_exit
from hsm.rasa_glue import action_calls

# `rasa run actions` imports this package first: a bad setting stops the action server here, in one line.
_settings = check_settings_or_exit()
log = logging.getLogger(__name__)
OPEN_PATHS = frozenset({"/health"})  # the health check needs no token


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


require_action_server_token()
action_calls.install()  # each call's correlation id on every line it logs
logformat.configure("actions")
metrics.serve("actions")  # /metrics on HSM_METRICS_PORT when set
