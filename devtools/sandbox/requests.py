"""What every Graph API request to the sandbox goes through: the Bearer token check, and the faults queued for it."""

from __future__ import annotations

import asyncio
import hmac
import logging

from aiohttp import web

from devtools.sandbox.config import SandboxConfig
from devtools.sandbox.errors import GraphError, fault_error
from devtools.sandbox.state import Fault

log = logging.getLogger("devtools.sandbox")


def check_authorization(request: web.Request, config: SandboxConfig) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise GraphError(401, 190, "An active access token must be used to query information about the current user.")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), config.access_token.encode()):
        raise GraphError(401, 190, "Invalid OAuth access token - Cannot parse access token")


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def serve_fault(request: web.Request, fault: Fault) -> web.Response | None:
    """Hang and/or fail as the fault says; None when the send should then go through normally."""
    if fault.delay_s:
        await asyncio.sleep(fault.delay_s)
    if fault.status is not None:
        log.info("fault injection: answering HTTP %d", fault.status)
        return fault_error(fault.status).response()
    if _client_gone(request):
        log.info("fault injection: the client gave up during a %.1fs delay; nothing recorded", fault.delay_s)
        return web.Response(status=408)
    return None
