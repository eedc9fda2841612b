"""The names the admin API's parts share: its URL prefix and the aiohttp app and request keys its handlers read."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from hsm.whatsapp.client import WhatsAppClient

PREFIX = "/api/whatsapp"
ADMIN_PREFIX = "/api/admin"  # the API's own administration (tokens) and the office's records (payments)

SECRET = web.AppKey("jwt_secret", str)
ENQUEUE = web.AppKey[Callable[[int], object]]("enqueue")
CLIENT = web.AppKey[WhatsAppClient | None]("client")
OWN_CLIENT = web.AppKey("own_client", bool)
CALLER = "hsm.caller"
