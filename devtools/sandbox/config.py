"""The sandbox's settings (SandboxConfig), their local defaults, and reading them from the environment."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from hsm.infra.config import get_settings
from hsm.infra.settings_values import parse_number

DEFAULT_ACCESS_TOKEN = "sandbox-token"
DEFAULT_PHONE_NUMBER_ID = "100000000000001"
DEFAULT_APP_SECRET = "sandbox-secret"
DEFAULT_WEBHOOK_URL = "http://localhost:5005/webhooks/whatsapp/webhook"
DEFAULT_PORT = 8090


@dataclass
class SandboxConfig:
    access_token: str
    phone_number_id: str
    app_secret: str | None = None
    webhook_url: str | None = None  # where to post status callbacks; None = no callbacks
    display_phone_number: str = "15550001234"
    auto_read: bool = True
    status_delay_s: float = 0.05  # pause between sent/delivered/read callbacks
    record_file: str | None = None
    business_account_id: str = "100000000000002"  # the WABA id in webhook entries
    callback_attempts: int = 4
    callback_backoff_s: float = 0.5  # doubled after each failed attempt
    latency_s: float = 0.0  # how long every Graph API call takes to answer, as Meta's do over the internet
    media_url_ttl_s: float = 300.0  # how long a media URL from GET /{media-id} works (Meta: about five minutes)


def config_from_env(**overrides: Any) -> SandboxConfig:
    """The sandbox's settings from the environment (hsm.infra.config), with local defaults, then `overrides`."""
    settings = get_settings()
    whatsapp, sandbox = settings.whatsapp, settings.sandbox
    config = SandboxConfig(
        access_token=whatsapp.access_token or DEFAULT_ACCESS_TOKEN,
        phone_number_id=whatsapp.phone_number_id or DEFAULT_PHONE_NUMBER_ID,
        app_secret=whatsapp.app_secret or DEFAULT_APP_SECRET,
        # Unset: the local Rasa; set but empty: no status callbacks.
        webhook_url=DEFAULT_WEBHOOK_URL if sandbox.webhook_url is None else sandbox.webhook_url or None,
        latency_s=sandbox.latency_ms / 1000,
    )
    return replace(config, **overrides)


def _latency_s(milliseconds: str, where: str) -> float:
    """`--latency-ms` in seconds (HSM_SANDBOX_LATENCY_MS is read the same way, by hsm.infra.config)."""
    return parse_number(milliseconds, where, float, what="a number of milliseconds", minimum=0, maximum=60_000) / 1000
