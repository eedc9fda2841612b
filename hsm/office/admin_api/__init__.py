"""The admin HTTP API (seed section 4.3), described by `openapi.json` at the repository root.

The parts: `app` (the routes, start and shutdown, `hsm api`), `auth` (the JWT check, revoked tokens, roles, minting
a token), `errors` (the error shape and its middleware), `inputs` (reading requests, bounded numbers), `audit`,
`state` (shared keys), and the handlers: `send`, `broadcasts`, `sessions` (sessions and messages), `staff` (staff
accounts), `tokens` (issuing, listing and revoking tokens), `people` (students, guardians, teachers, admins),
`classes` (batches, enrollments), `leads` (the leads pipeline), `admissions` (admitting a student), `closures` (the
office's closures), `payments` (payments taken at the office, receipts, reversals). This package re-exports the
public names of the first ones.
"""

from hsm.office.admin_api.app import DEFAULT_PORT, add_api_command, create_admin_app, healthz, run_api
from hsm.office.admin_api.auth import (
    AUDIENCE,
    IAT_LEEWAY_S,
    ISSUER,
    MIN_SECRET_BYTES,
    ROLES,
    SUBJECT_MAX_CHARS,
    Caller,
    ConfigurationError,
    auth_middleware,
    authenticate,
    check_not_revoked,
    issue_token,
    jwt_secret,
    requires,
    revoked_before,
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
from hsm.office.admin_api.inputs import MAX_ID, MAX_OFFSET, read_json
from hsm.office.admin_api.payments import (
    add_payment_routes,
    get_payments,
    get_receipt_pdf,
    post_payment,
    post_reverse,
)
from hsm.office.admin_api.send import post_send
from hsm.office.admin_api.sessions import (
    MESSAGES_LIMIT_DEFAULT,
    MESSAGES_LIMIT_MAX,
    get_messages,
    get_session,
    post_sessions_clear,
)
from hsm.office.admin_api.state import ADMIN_PREFIX, CALLER, CLIENT, ENQUEUE, OWN_CLIENT, PREFIX, SECRET
from hsm.office.admin_api.tokens import (
    Revocation,
    TokenView,
    issue_recorded_token,
    list_tokens,
    post_tokens_revoke,
    revoke_token,
    revoke_tokens,
)

__all__ = [
    "ADMIN_PREFIX",
    "AUDIENCE",
    "ApiError",
    "BROADCAST_FIELDS",
    "CALLER",
    "CLIENT",
    "Caller",
    "ConfigurationError",
    "DEFAULT_PORT",
    "ENQUEUE",
    "ERROR_FIELDS",
    "Handler",
    "IAT_LEEWAY_S",
    "ISSUER",
    "MAX_BODY_BYTES",
    "MAX_ID",
    "MAX_OFFSET",
    "MESSAGES_LIMIT_DEFAULT",
    "MESSAGES_LIMIT_MAX",
    "MIN_SECRET_BYTES",
    "OWN_CLIENT",
    "PHONE_IN_TEXT",
    "PREFIX",
    "ROLES",
    "Revocation",
    "TokenView",
    "SECRET",
    "SUBJECT_MAX_CHARS",
    "UNPROCESSABLE",
    "add_api_command",
    "add_payment_routes",
    "auth_middleware",
    "authenticate",
    "bad_request",
    "check_not_revoked",
    "create_admin_app",
    "errors_middleware",
    "get_broadcast",
    "get_messages",
    "get_payments",
    "get_receipt_pdf",
    "get_session",
    "healthz",
    "issue_recorded_token",
    "issue_token",
    "jwt_secret",
    "list_tokens",
    "mask_path",
    "post_broadcast",
    "post_payment",
    "post_reverse",
    "post_send",
    "post_sessions_clear",
    "post_tokens_revoke",
    "read_json",
    "requires",
    "revoke_token",
    "revoke_tokens",
    "revoked_before",
    "run_api",
]
