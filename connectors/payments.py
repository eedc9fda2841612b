"""Payment provider webhooks (Razorpay Payment Links, or the local stand-in) on the Rasa server:
`POST /webhooks/payments/webhook`. A verified "paid" event records the payment and thanks the payer on WhatsApp.
It never hands anything to Rasa's dialogue."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from hsm.infra.db import session_scope
from hsm.money import payments
from hsm.outreach.notify import deliver

log = logging.getLogger("hsm.money.payments.webhook")
MAX_BODY_BYTES = 256_000


def _record(raw: bytes, signature: str | None) -> payments.PaymentResult | None:
    with session_scope() as session:
        provider = payments.payment_provider_from_env(session)
        return payments.process_paid_webhook(session, provider, raw, signature)


class PaymentWebhookInput(InputChannel):
    """`connectors.payments.PaymentWebhookInput` in credentials.yml (secrets come from the environment)."""

    @classmethod
    def name(cls) -> str:
        return "payments"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint("payments_webhook", __name__)

        @hook.route("/webhook", methods=["POST"])
        async def paid(request: Request) -> HTTPResponse:
            raw = request.body or b""
            if len(raw) > MAX_BODY_BYTES:
                return response.json({"error": "payload too large"}, status=413)
            signature = request.headers.get("X-Razorpay-Signature")
            try:
                result = await asyncio.to_thread(_record, raw, signature)
            except payments.WebhookRejected as error:
                return response.json({"error": str(error)}, status=401)
            except payments.PaymentError as error:
                return response.json({"error": str(error)}, status=error.status or 400)
            if result is not None and result.notice is not None:
                report = await deliver([result.notice], kind=None)
                log.info("payment %s recorded; thanks %s", result.payment_id, dict(report.outcomes))
            return response.json({"status": "ok"})

        return hook
