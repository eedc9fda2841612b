"""A local stand-in for Meta's WhatsApp Cloud API (Graph API /messages and status webhooks) for demos, CI and tests.

The parts: `config` (SandboxConfig and the environment), `errors` (Graph API errors), `validation` (checks against
Meta's limits), `statuses` (the signed status webhooks), `state` (what it was sent, faults, counters), `server` (the
HTTP app, inspection and fault injection, `hsm sandbox`). This package re-exports their public names.
"""

from devtools.sandbox.config import (
    DEFAULT_ACCESS_TOKEN,
    DEFAULT_APP_SECRET,
    DEFAULT_PHONE_NUMBER_ID,
    DEFAULT_PORT,
    DEFAULT_WEBHOOK_URL,
    SandboxConfig,
    config_from_env,
)
from devtools.sandbox.errors import (
    DEFAULT_FAULT_ERROR,
    FAULT_ERRORS,
    GraphError,
    fault_error,
    invalid_parameter,
    missing_parameter,
)
from devtools.sandbox.server import (
    MAX_LONG_POLL_S,
    add_sandbox_command,
    check_authorization,
    check_phone_number_id,
    config_from_args,
    create_app,
    delete_faults,
    delete_messages,
    get_faults,
    get_messages,
    get_read_receipts,
    get_stats,
    healthz,
    post_faults,
    post_messages,
    read_json_object,
    run_sandbox,
    send_response,
    serve_fault,
)
from devtools.sandbox.state import SANDBOX, Fault, Sandbox, parse_fault
from devtools.sandbox.statuses import CALLBACK_TIMEOUT_S, StatusNotifier, status_notification, unix_timestamp
from devtools.sandbox.validation import (
    INTERACTIVE_VALIDATORS,
    MEDIA_TYPES,
    MESSAGE_TYPES,
    MESSAGE_VALIDATORS,
    RECIPIENT_PATTERN,
    is_mark_as_read,
    recipient_digits,
    validate_button_message,
    validate_contacts,
    validate_cta_url_message,
    validate_interactive,
    validate_list_message,
    validate_location,
    validate_mark_as_read,
    validate_media,
    validate_media_object,
    validate_message,
    validate_reaction,
    validate_template,
    validate_text,
)

__all__ = [
    "CALLBACK_TIMEOUT_S", "DEFAULT_ACCESS_TOKEN", "DEFAULT_APP_SECRET", "DEFAULT_FAULT_ERROR",
    "DEFAULT_PHONE_NUMBER_ID", "DEFAULT_PORT", "DEFAULT_WEBHOOK_URL", "FAULT_ERRORS", "INTERACTIVE_VALIDATORS",
    "MAX_LONG_POLL_S", "MEDIA_TYPES", "MESSAGE_TYPES", "MESSAGE_VALIDATORS", "RECIPIENT_PATTERN", "SANDBOX",
    "Fault", "GraphError", "Sandbox", "SandboxConfig", "StatusNotifier",
    "add_sandbox_command", "check_authorization", "check_phone_number_id", "config_from_args", "config_from_env",
    "create_app", "delete_faults", "delete_messages", "fault_error", "get_faults", "get_messages",
    "get_read_receipts", "get_stats", "healthz", "invalid_parameter", "is_mark_as_read", "missing_parameter",
    "parse_fault", "post_faults", "post_messages", "read_json_object", "recipient_digits", "run_sandbox",
    "send_response", "serve_fault", "status_notification", "unix_timestamp",
    "validate_button_message", "validate_contacts", "validate_cta_url_message", "validate_interactive",
    "validate_list_message", "validate_location", "validate_mark_as_read", "validate_media", "validate_media_object",
    "validate_message", "validate_reaction", "validate_template", "validate_text",
]
