"""Deliver notices over WhatsApp: free-form inside the 24-hour window (a text, or a document with the text as its
caption), the approved template outside it (with the document as its header); numbers that opted out of that kind
of message are skipped (the office's own notices always go). Used by actions (leave, leads, payments, fallback),
the office's payments and jobs."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field

from hsm.infra.db import session_scope
from hsm.infra.phone import mask_phone
from hsm.outreach.notices import Notice
from hsm.people import subscriptions
from hsm.whatsapp import store
from hsm.whatsapp.client import CloudApiError, WhatsAppClient

log = logging.getLogger("hsm.outreach.notify")
PARALLEL_SENDS = 8


@dataclass
class DeliveryReport:
    outcomes: Counter = field(default_factory=Counter)  # sent, template, opted_out, outside_window, failed

    @property
    def delivered(self) -> int:
        return self.outcomes["sent"] + self.outcomes["template"]

    def line(self, what: str, total: int) -> str:
        """'makeup notices: 2 of 3 delivered'."""
        return f"{what}: {self.delivered} of {total} delivered"


def opted_out(phone: str, kind: str) -> bool:
    with session_scope() as session:
        return not subscriptions.is_subscribed(session, phone, kind)


async def _deliver_one(client: WhatsAppClient, notice: Notice, kind: str | None) -> str:
    if kind and notice.audience != "admin" and await asyncio.to_thread(opted_out, notice.phone, kind):
        return "opted_out"
    try:
        if await asyncio.to_thread(store.in_service_window, notice.phone):
            if notice.document:
                await client.send_document(notice.phone, notice.document, notice.text[:1024], replying=True)
            else:
                await client.send(notice.phone, {"type": "text", "text": {"body": notice.text[:4096]}}, replying=True)
            return "sent"
        if notice.template:
            parameters = list(notice.template_params)
            await client.send_template(notice.phone, notice.template, "en", parameters, notice.document)
            return "template"
        log.warning("notice to %s not sent: outside the 24-hour window and no template", mask_phone(notice.phone))
        return "outside_window"
    except CloudApiError as error:
        log.error("notice to %s failed: %s", mask_phone(notice.phone), error)
        return "failed"


def deliver_now(notices: list[Notice]) -> DeliveryReport:
    """`deliver` from a command line, once its transaction is committed."""
    return asyncio.run(deliver(notices))


async def deliver(
    notices: list[Notice], client: WhatsAppClient | None = None, kind: str | None = "reminders"
) -> DeliveryReport:
    """Send each notice; `kind` is the subscription it counts under ("reminders" or "announcements"), None for
    a receipt of the user's own action (a payment), which STOP does not stop."""
    report = DeliveryReport()
    if not notices:
        return report
    own_client = client is None
    client = client or WhatsAppClient.from_settings(ledger=store.LEDGER)
    limit = asyncio.Semaphore(PARALLEL_SENDS)

    async def one(notice: Notice) -> None:
        async with limit:
            report.outcomes[await _deliver_one(client, notice, kind)] += 1

    try:
        await asyncio.gather(*(one(n) for n in notices))
    finally:
        if own_client:
            await client.close()
    return report
