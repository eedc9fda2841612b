"""The admin HTTP API (seed section 4.3), described by `openapi.json` at the repository root.

The parts: `app` (the routes, start and shutdown, `hsm api`), `auth` (the JWT check and roles), `errors` (the error
shape and its middleware), `inputs` (reading requests), `audit`, `state` (shared keys), and the handlers: `send`,
`broadcasts`, `sessions` (sessions and messages). This package re-exports their public names.
"""

from hsm.office.admin_api.app import DEFAULT_PORT, add_api_command, create_admin_app, healthz, run_api
from hsm.office.admin_api.auth import (
    MIN_SECRET_BYTES,
    ROLES,
    Caller,
    ConfigurationError,
    auth_middleware,
    authenticate,
    jwt_secret,
    requires,
)
from hsm.office.admin_api.broadcasts import (
    BROADCAST_FIELDS,
    ERROR_FIELDS,
    UNPROCESSABLE,
    get_broadcast,
    post_broadcast,
)
from hsm.office.admin_api.errors import (
    MAX_BODY_BYTES,
    PHONE_IN_TEXT,
    ApiError,
    Handler,
    bad_request,
    errors_middleware,
    mask_path,
)
from hsm.office.admin_api.inputs import read_json
from hsm.office.admin_api.send import post_send
from hsm.office.admin_api.sessions import (
    MESSAGES_LIMIT_DEFAULT,
    MESSAGES_LIMIT_MAX,
    get_messages,
    get_session,
    post_sessions_clear,
)
from hsm.office.admin_api.state import CALLER, CLIENT, ENQUEUE, OWN_CLIENT, PREFIX, SECRET

__all__ = [
    "BROADCAST_FIELDS",
    "CALLER",
    "CLIENT",
    "DEFAULT_PORT",
    "ENQUEUE",
    "ERROR_FIELDS",
    "MAX_BODY_BYTES",
    "MESSAGES_LIMIT_DEFAULT",
    "MESSAGES_LIMIT_MAX",
    "MIN_SECRET_BYTES",
    "OWN_CLIENT",
    "PHONE_IN_TEXT",
    "PREFIX",
    "ROLES",
    "SECRET",
    "UNPROCESSABLE",
    "ApiError",
    "Caller",
    "ConfigurationError",
    "Handler",
    "add_api_command",
    "auth_middleware",
    "authenticate",
    "bad_request",
    "create_admin_app",
    "errors_middleware",
    "get_broadcast",
    "get_messages",
    "get_session",
    "healthz",
    "jwt_secret",
    "mask_path",
    "post_broadcast",
    "post_send",
    "post_sessions_clear",
    "read_json",
    "requires",
    "run_api",
]
