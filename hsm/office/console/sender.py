"""The WhatsApp client the console sends with: the admin API app's own, made from the environment on first use."""

from __future__ import annotations

from aiohttp import web

from hsm.office.admin_api.state import CLIENT
from hsm.whatsapp import store
from hsm.whatsapp.client import WhatsAppClient


def console_client(app: web.Application) -> WhatsAppClient:
    """The app's client (raises CloudApiError when sending is not configured)."""
    client = app[CLIENT]
    if client is None:
        client = WhatsAppClient.from_settings(ledger=store.LEDGER)
        app[CLIENT] = client
    return client
