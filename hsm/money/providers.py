"""Payment providers (UC-7): Razorpay Payment Links, the development stand-in, webhook signatures, paid events."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import string
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import aiohttp
from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.config import DEFAULT_RAZORPAY_BASE_URL, get_settings

log = logging.getLogger("hsm.money.payments")

DEFAULT_LOCAL_BASE_URL = "http://localhost:8090/pay/"
SIGNATURE_HEADER = "X-Razorpay-Signature"
PAID_EVENT = "payment_link.paid"
CURRENCY = "INR"
PAISE_PER_RUPEE = 100
MAX_REFERENCE_LENGTH = 40  # Razorpay's limit on reference_id
REQUEST_TIMEOUT_S = 15.0
# The variable that holds each provider's webhook secret (named in refusals; never the value).
SECRET_VARIABLE = {"razorpay": "RAZORPAY_WEBHOOK_SECRET", "local": "HSM_PAYMENT_WEBHOOK_SECRET"}


class PaymentError(Exception):
    """The provider could not make a link (refused, unreachable, misconfigured); `status` is its HTTP status."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class WebhookRejected(PaymentError):
    """A webhook refused before its body is read (`status`: 403 when no provider or no webhook secret is configured
    or the signature is wrong, 401 when it is missing); nothing changes. The message names no person."""


@dataclass(frozen=True)
class PaymentLink:
    link_id: str
    url: str
    amount: int  # whole rupees
    reference: str
    customer_name: str | None = None
    customer_phone: str | None = None
    currency: str = CURRENCY


@dataclass(frozen=True)
class PaidEvent:
    """A payment link paid in full, as the provider's webhook reports it."""

    link_id: str
    reference: str
    amount: int  # whole rupees
    payment_id: str
    method: str | None = None
    contact: str | None = None
    currency: str | None = None  # as the event says ("INR"); None when it does not say


class PaymentProvider(Protocol):
    name: str  # "razorpay" or "local": the links it makes are remembered under this name
    webhook_secret: str | None

    async def create_link(
        self,
        *,
        amount: int,
        description: str,
        reference: str,
        customer_name: str,
        customer_phone: str,
        expire_by: datetime | None = None,
    ) -> PaymentLink: ...

    def verify_webhook(self, raw_body: bytes, signature: str | None) -> bool: ...

    def parse_paid_event(self, body: dict) -> PaidEvent | None: ...


# ---------------------------------------------------------------- webhook signatures and events (Razorpay's format)


def webhook_signature(secret: str, raw_body: bytes) -> str:
    """Hex HMAC-SHA256 of the raw request body, keyed with the webhook secret (Razorpay's X-Razorpay-Signature)."""
    return hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()


def _signature_ok(secret: str | None, raw_body: bytes, signature: str | None) -> bool:
    if not secret or not signature:
        return False
    return hmac.compare_digest(webhook_signature(secret, raw_body), signature.strip().lower())


def check_webhook(provider: PaymentProvider | None, raw_body: bytes, signature: str | None) -> PaymentProvider:
    """`provider`, when it is configured, has a webhook secret and `signature` is right; else WebhookRejected."""
    if provider is None:
        raise WebhookRejected("no payment provider is configured", 403)
    if not provider.webhook_secret:
        raise WebhookRejected(f"{SECRET_VARIABLE.get(provider.name, 'the webhook secret')} is not set", 403)
    if not signature:
        raise WebhookRejected("signature missing", 401)
    if not provider.verify_webhook(raw_body, signature):
        raise WebhookRejected("signature wrong", 403)
    return provider


def _entity(body: dict, name: str) -> dict:
    entity = ((body.get("payload") or {}).get(name) or {}).get("entity")
    return entity if isinstance(entity, dict) else {}


def parse_razorpay_paid_event(body: dict) -> PaidEvent | None:
    """A `payment_link.paid` event's link id, reference, amount (rupees) and payment id; None for other events."""
    if not isinstance(body, dict) or body.get("event") != PAID_EVENT:
        return None
    link, payment = _entity(body, "payment_link"), _entity(body, "payment")
    paise = link.get("amount_paid") or payment.get("amount")
    if not link.get("id") or not link.get("reference_id") or not payment.get("id") or not isinstance(paise, int):
        log.warning("payment_link.paid event without link id, reference, payment id or amount; ignored")
        return None
    customer = link.get("customer")
    if not isinstance(customer, dict):
        customer = {}
    return PaidEvent(
        link_id=str(link["id"]),
        reference=str(link["reference_id"]),
        amount=paise // PAISE_PER_RUPEE,
        payment_id=str(payment["id"]),
        method=payment.get("method"),
        contact=customer.get("contact") or payment.get("contact"),
        currency=link.get("currency") or payment.get("currency"),
    )


def _check_link_request(amount: int, reference: str) -> None:
    if not isinstance(amount, int) or amount <= 0:
        raise PaymentError(f"a payment link needs a positive whole-rupee amount, not {amount!r}")
    if not reference or len(reference) > MAX_REFERENCE_LENGTH:
        raise PaymentError(f"payment reference must be 1-{MAX_REFERENCE_LENGTH} characters: {reference!r}")


# ---------------------------------------------------------------- Razorpay Payment Links


class RazorpayProvider:
    """Razorpay's Payment Links API (`POST /v1/payment_links`, HTTP basic auth with the key id and secret)."""

    name = "razorpay"

    def __init__(
        self,
        key_id: str,
        key_secret: str,
        webhook_secret: str | None = None,
        base_url: str = DEFAULT_RAZORPAY_BASE_URL,
        timeout_s: float = REQUEST_TIMEOUT_S,
        http: aiohttp.ClientSession | None = None,
    ) -> None:
        if not key_id or not key_secret:
            raise PaymentError("Razorpay needs RAZORPAY_KEY_ID and RAZORPAY_KEY_SECRET")
        self.key_id = key_id
        self._auth = aiohttp.BasicAuth(key_id, key_secret)
        self.webhook_secret = webhook_secret
        self.base_url = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._http = http

    @classmethod
    def from_env(cls) -> RazorpayProvider:
        settings = get_settings().payments
        return cls(
            key_id=settings.razorpay_key_id or "",
            key_secret=settings.razorpay_key_secret or "",
            webhook_secret=settings.razorpay_webhook_secret,
            base_url=settings.razorpay_base_url,
        )

    async def create_link(
        self,
        *,
        amount: int,
        description: str,
        reference: str,
        customer_name: str,
        customer_phone: str,
        expire_by: datetime | None = None,
    ) -> PaymentLink:
        _check_link_request(amount, reference)
        request: dict[str, Any] = {
            "amount": amount * PAISE_PER_RUPEE,
            "currency": CURRENCY,
            "accept_partial": False,
            "description": description[:2048],
            "reference_id": reference,
            "customer": {"name": customer_name, "contact": customer_phone},
            "notify": {"sms": False, "email": False},  # the link goes out on WhatsApp
            "reminder_enable": False,
        }
        if expire_by is not None:
            request["expire_by"] = int(expire_by.timestamp())
        status, body = await self._request("POST", "/v1/payment_links", json=request)
        if status == 400 and _is_duplicate_reference(body):
            existing = await self._open_link_for(reference, amount)
            if existing is not None:
                return existing
        if status >= 300:
            raise PaymentError(f"Razorpay refused the payment link ({status}): {_error_text(body)}", status)
        return self._link_from(body)

    async def _open_link_for(self, reference: str, amount: int) -> PaymentLink | None:
        """An unpaid link already made for this reference and amount (asking twice gives the same link)."""
        status, body = await self._request("GET", "/v1/payment_links", params={"reference_id": reference})
        if status >= 300:
            return None
        for link in body.get("payment_links") or []:
            if link.get("status") == "created" and link.get("amount") == amount * PAISE_PER_RUPEE:
                return self._link_from(link)
        return None

    @staticmethod
    def _link_from(body: dict) -> PaymentLink:
        try:
            customer = body.get("customer")
            if not isinstance(customer, dict):
                customer = {}
            return PaymentLink(
                link_id=str(body["id"]),
                url=str(body["short_url"]),
                amount=int(body["amount"]) // PAISE_PER_RUPEE,
                reference=str(body["reference_id"]),
                customer_name=customer.get("name"),
                customer_phone=customer.get("contact"),
                currency=str(body.get("currency") or CURRENCY),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise PaymentError(f"Razorpay's answer has no usable payment link: {error}") from error

    async def _request(self, method: str, path: str, **kwargs: Any) -> tuple[int, dict]:
        url = f"{self.base_url}{path}"
        try:
            if self._http is not None:
                return await self._send(self._http, method, url, **kwargs)
            async with aiohttp.ClientSession(timeout=self.timeout) as http:
                return await self._send(http, method, url, **kwargs)
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise PaymentError(f"Razorpay is unreachable ({type(error).__name__}: {error})") from error

    async def _send(self, http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> tuple[int, dict]:
        async with http.request(method, url, auth=self._auth, timeout=self.timeout, **kwargs) as response:
            text = await response.text()
            try:
                body = json.loads(text) if text else {}
            except ValueError:
                body = {"error": {"description": text[:200]}}
            if response.status == 401:
                raise PaymentError("Razorpay refused the key id/secret (401)", 401)
            return response.status, body if isinstance(body, dict) else {}

    def verify_webhook(self, raw_body: bytes, signature: str | None) -> bool:
        if not self.webhook_secret:
            log.warning("RAZORPAY_WEBHOOK_SECRET is not set: refusing every payment webhook")
        return _signature_ok(self.webhook_secret, raw_body, signature)

    def parse_paid_event(self, body: dict) -> PaidEvent | None:
        return parse_razorpay_paid_event(body)


def _error_text(body: dict) -> str:
    error = body.get("error")
    if not isinstance(error, dict):
        error = {}
    return str(error.get("description") or error.get("code") or body or "no details")


def _is_duplicate_reference(body: dict) -> bool:
    error = body.get("error")
    if not isinstance(error, dict):
        error = {}
    description = str(error.get("description") or "").lower()
    return error.get("field") == "reference_id" or (
        "reference" in description
        and ("exist" in description or "already" in description or "duplicate" in description)
    )


# ---------------------------------------------------------------- the local stand-in


class LocalPaymentProvider:
    """Development only: links on a local base URL, no network; webhooks signed exactly like Razorpay's with the
    secret the local stack sets (HSM_PAYMENT_WEBHOOK_SECRET). Without one, it verifies and signs nothing."""

    name = "local"

    def __init__(self, base_url: str = DEFAULT_LOCAL_BASE_URL, webhook_secret: str | None = None) -> None:
        self.base_url = base_url if base_url.endswith(("/", "=")) else base_url + "/"
        self.webhook_secret = webhook_secret
        self.links: dict[str, PaymentLink] = {}

    async def create_link(
        self,
        *,
        amount: int,
        description: str,
        reference: str,
        customer_name: str,
        customer_phone: str,
        expire_by: datetime | None = None,
    ) -> PaymentLink:
        _check_link_request(amount, reference)
        for link in self.links.values():  # asking twice gives the same open link, as with Razorpay
            if link.reference == reference and link.amount == amount:
                return link
        alphabet = string.ascii_letters + string.digits
        link_id = "plink_" + "".join(secrets.choice(alphabet) for _ in range(14))
        link = PaymentLink(
            link_id=link_id,
            url=f"{self.base_url}{link_id}",
            amount=amount,
            reference=reference,
            customer_name=customer_name,
            customer_phone=customer_phone,
        )
        self.links[link_id] = link
        return link

    def sign(self, raw_body: bytes) -> str:
        """The X-Razorpay-Signature a webhook with this body carries."""
        if not self.webhook_secret:
            raise PaymentError("the stand-in has no webhook secret: set HSM_PAYMENT_WEBHOOK_SECRET")
        return webhook_signature(self.webhook_secret, raw_body)

    def verify_webhook(self, raw_body: bytes, signature: str | None) -> bool:
        return _signature_ok(self.webhook_secret, raw_body, signature)

    def parse_paid_event(self, body: dict) -> PaidEvent | None:
        return parse_razorpay_paid_event(body)

    @staticmethod
    def paid_event_body(link: PaymentLink, payment_id: str | None = None, method: str = "upi") -> dict:
        """A Razorpay-shaped `payment_link.paid` webhook body for `link`, paid in full."""
        paise = link.amount * PAISE_PER_RUPEE
        payment_id = payment_id or "pay_" + secrets.token_hex(7)
        created = int(clock.now().timestamp())
        customer = {"name": link.customer_name, "contact": link.customer_phone}
        return {
            "entity": "event",
            "account_id": "acc_local",
            "event": PAID_EVENT,
            "contains": ["payment_link", "order", "payment"],
            "created_at": created,
            "payload": {
                "payment_link": {
                    "entity": {
                        "id": link.link_id,
                        "amount": paise,
                        "amount_paid": paise,
                        "currency": CURRENCY,
                        "reference_id": link.reference,
                        "short_url": link.url,
                        "status": "paid",
                        "customer": customer,
                    }
                },
                "order": {
                    "entity": {
                        "id": "order_" + secrets.token_hex(7),
                        "amount": paise,
                        "amount_paid": paise,
                        "status": "paid",
                        "receipt": link.reference,
                    }
                },
                "payment": {
                    "entity": {
                        "id": payment_id,
                        "amount": paise,
                        "currency": CURRENCY,
                        "status": "captured",
                        "method": method,
                        "contact": link.customer_phone,
                        "created_at": created,
                    }
                },
            },
        }


def _school_link_base(session: Session | None) -> str | None:
    def read(db: Session) -> str | None:
        return db.execute(select(m.School.payment_link_base).order_by(m.School.id).limit(1)).scalar_one_or_none()

    if session is not None:
        return read(session)
    try:
        from hsm.infra.db import session_scope

        with session_scope() as db:
            return read(db)
    except Exception as error:  # noqa: BLE001 - no database means the local default
        log.info("no school payment_link_base (%s); using %s", error, DEFAULT_LOCAL_BASE_URL)
        return None


def payment_provider_from_env(session: Session | None = None) -> PaymentProvider | None:
    """The configured provider (hsm.infra.config.Payments.provider): Razorpay; the local stand-in on
    HSM_PAYMENT_BASE_URL or the school's base, only when HSM_PAYMENT_PROVIDER=local and never in production; else None
    (no online payments)."""
    settings = get_settings().payments
    if settings.provider == "razorpay":
        return RazorpayProvider.from_env()
    if settings.provider != "local":
        return None
    if get_settings().deployment.production:  # check_settings() stops such a process at start; this never runs
        log.error("HSM_PAYMENT_PROVIDER=local refused: HSM_ENV=production")
        return None
    base = settings.local_base_url or _school_link_base(session) or DEFAULT_LOCAL_BASE_URL
    return LocalPaymentProvider(base_url=base, webhook_secret=settings.local_webhook_secret)
