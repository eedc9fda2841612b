"""Payment provider webhooks (Razorpay Payment Links, or the local stand-in in development) on the Rasa server:
`POST /webhooks/payments/webhook`. Refused (401/403, logged without personal data) unless the configured provider
has a webhook secret and the signature is right. A paid event for a link we made records the payment and thanks
the payer on WhatsApp; one that matches no link of ours changes nothing and is flagged to the admins. It never hands
anything to Rasa's dialogue."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from hsm.infra.config import check_settings_or_exit
from hsm.infra.db import session_scope
from hsm.money import payments, providers
from hsm.outreach.notices import Notice
from hsm.outreach.notify import deliver

log = logging.getLogger("hsm.money.payments.webhook")
MAX_BODY_BYTES = 256_000


@dataclass(frozen=True)
class Answer:
    """What the webhook answers, and the WhatsApp notices to send after (thanks, or the office's flag)."""

    status: int
    body: dict[str, str]
    notices: tuple[Notice, ...] = ()


def answer(raw: bytes, signature: str | None) -> Answer:
    """Verify and record one webhook (sync: database work, run in a thread). A paid event that matches no link we
    made is acknowledged (200: a provider answered with an error retries for a day, then turns the webhook off)
    but applied to nothing."""
    try:
        with session_scope() as session:
            provider = providers.payment_provider_from_env(session)
            outcome = payments.process_paid_webhook(session, provider, raw, signature)
    except providers.WebhookRejected as error:
        log.warning("payment webhook refused (%s): %s", error.status, error)
        return Answer(error.status or 403, {"error": "refused"})
    except providers.PaymentError as error:
        log.warning("payment webhook not taken (%s): %s", error.status, error)
        return Answer(error.status or 400, {"error": str(error)})
    if isinstance(outcome, payments.PaymentRefused):
        return Answer(200, {"status": "refused"}, outcome.notices)
    return Answer(200, {"status": "ok"}, outcome.notices if outcome else ())


class PaymentWebhookInput(InputChannel):
    """`connectors.payments.PaymentWebhookInput` in credentials.yml (secrets come from the environment)."""

    @classmethod
    def name(cls) -> str:
        return "payments"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        settings = check_settings_or_exit().payments  # in production: no stand-in, no missing webhook secret
        secret = {"razorpay": settings.razorpay_webhook_secret, "local": settings.local_webhook_secret}
        if not secret.get(settings.provider or ""):
            missing = providers.SECRET_VARIABLE.get(settings.provider or "", "a payment provider")
            log.warning("every payment webhook will be refused: %s is not set", missing)
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint("payments_webhook", __name__)

        @hook.route("/webhook", methods=["POST"])
        async def paid(request: Request) -> HTTPResponse:
            raw = request.body or b""
            if len(raw) > MAX_BODY_BYTES:
                return response.json({"error": "payload too large"}, status=413)
            result = await asyncio.to_thread(answer, raw, request.headers.get(providers.SIGNATURE_HEADER))
            if result.notices:
                report = await deliver(list(result.notices), kind=None)
                log.info("payment webhook %s: notices %s", result.body.get("status"), dict(report.outcomes))
            return response.json(result.body, status=result.status)

        return hook
