"""The names the admin API's parts share: its URL prefixes (the console's too) and its app and request keys."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from hsm.infra.attempt_limits import AttemptLimiter
from hsm.whatsapp.client import WhatsAppClient

PREFIX = "/api/whatsapp"
ADMIN_PREFIX = "/api/admin"  # the office's records (people, leads, ...), staff accounts and tokens

SECRET = web.AppKey("jwt_secret", str)
ENQUEUE = web.AppKey[Callable[[int], object]]("enqueue")
CLIENT = web.AppKey[WhatsAppClient | None]("client")
OWN_CLIENT = web.AppKey("own_client", bool)
SIGN_IN_LIMITER = web.AppKey("sign_in_limiter", AttemptLimiter)  # sign-ins per client address (console)
CALLER = "hsm.caller"
CONSOLE_PREFIX = "/office"  # the office console (hsm.office.console): its own sessions, not the API's tokens


def is_console_path(path: str) -> bool:
    """Whether a request is the console's: the API's JWT and JSON-error middlewares leave these alone."""
    return path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")
