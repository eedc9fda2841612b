"""Settings read from the environment (DESIGN.md, "Environment"): one place, no secrets in files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SQLITE_PATH = PROJECT_ROOT / "var" / "hsm.sqlite3"
DEFAULT_GRAPH_API_URL = "https://graph.facebook.com/v21.0"


def default_database_url() -> str:
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"


def database_url() -> str:
    """`DATABASE_URL`, read afresh (the one setting every transaction needs: cheaper than `get_settings()`)."""
    return os.environ.get("DATABASE_URL") or default_database_url()


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str | None
    whatsapp_verify_token: str | None
    whatsapp_app_secret: str | None
    whatsapp_access_token: str | None
    whatsapp_phone_number_id: str | None
    whatsapp_api_url: str
    action_server_url: str
    admin_jwt_secret: str | None
    hsm_now: str | None

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            database_url=database_url(),
            redis_url=env.get("REDIS_URL") or None,
            whatsapp_verify_token=env.get("WHATSAPP_VERIFY_TOKEN") or None,
            whatsapp_app_secret=env.get("WHATSAPP_APP_SECRET") or None,
            whatsapp_access_token=env.get("WHATSAPP_ACCESS_TOKEN") or None,
            whatsapp_phone_number_id=env.get("WHATSAPP_PHONE_NUMBER_ID") or None,
            whatsapp_api_url=(env.get("WHATSAPP_API_URL") or DEFAULT_GRAPH_API_URL).rstrip("/"),
            action_server_url=env.get("ACTION_SERVER_URL") or "http://localhost:5055/webhook",
            admin_jwt_secret=env.get("ADMIN_JWT_SECRET") or None,
            hsm_now=env.get("HSM_NOW") or None,
        )


def get_settings() -> Settings:
    """Read the environment afresh: tests and the CLI change it between calls."""
    return Settings.from_env()
