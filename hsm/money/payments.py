"""Fee payment links (UC-7): a provider interface, Razorpay Payment Links and a local stand-in, and paid webhooks.

The provider side is async and touches no database; the school side (what is due, recording a payment) is sync
SQLAlchemy work, so actions run it in a thread. A link's `reference` names the enrollment and the due it pays
("HSM-24-001:KEY-BEG-MWF18:2026-12-20"); a paid webhook is recorded once per provider payment id.
"""

from __future__ import annotations

import asyncio
import calendar
import hashlib
import hmac
import json
import logging
import secrets
import string
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

import aiohttp
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from hsm.classes.family import date_text, first_name, money, resolve_children
from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.config import DEFAULT_LOCAL_PAYMENT_WEBHOOK_SECRET, DEFAULT_RAZORPAY_BASE_URL, get_settings
from hsm.infra.phone import InvalidPhoneNumber, mask_phone, normalise_phone
from hsm.money import billing
from hsm.outreach.notices import Notice
from hsm.people.identity import Identity

log = logging.getLogger("hsm.money.payments")

DEFAULT_LOCAL_BASE_URL = "http://localhost:8090/pay/"
SIGNATURE_HEADER = "X-Razorpay-Signature"
PAID_EVENT = "payment_link.paid"
CURRENCY = "INR"
PAISE_PER_RUPEE = 100
MAX_REFERENCE_LENGTH = 40  # Razorpay's limit on reference_id
REQUEST_TIMEOUT_S = 15.0
PLAN_MONTHS = {"monthly": 1, "quarterly": 3}
DEFAULT_PLAN_CLASSES = {"monthly": 8, "quarterly": 24}
WEBHOOK_ACTOR = "system:payment-webhook"
CONFIRMATION_TEMPLATE = "payment_confirmation"  # {{1}} recipient, {{2}} amount, {{3}} course, {{4}} receipt


class PaymentError(Exception):
    """The provider could not make a link (refused, unreachable, misconfigured); `status` is its HTTP status."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class WebhookRejected(PaymentError):
    """A webhook whose signature is missing or wrong: answer 401 and change nothing."""


@dataclass(frozen=True)
class PaymentLink:
    link_id: str
    url: str
    amount: int  # whole rupees
    reference: str
    customer_name: str | None = None
    customer_phone: str | None = None


@dataclass(frozen=True)
class PaidEvent:
    """A payment link paid in full, as the provider's webhook reports it."""

    link_id: str
    reference: str
    amount: int  # whole rupees
    payment_id: str
    method: str | None = None
    contact: str | None = None


class PaymentProvider(Protocol):
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
    )


def _check_link_request(amount: int, reference: str) -> None:
    if not isinstance(amount, int) or amount <= 0:
        raise PaymentError(f"a payment link needs a positive whole-rupee amount, not {amount!r}")
    if not reference or len(reference) > MAX_REFERENCE_LENGTH:
        raise PaymentError(f"payment reference must be 1-{MAX_REFERENCE_LENGTH} characters: {reference!r}")


# ---------------------------------------------------------------- Razorpay Payment Links


class RazorpayProvider:
    """Razorpay's Payment Links API (`POST /v1/payment_links`, HTTP basic auth with the key id and secret)."""

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
    """Links on a local base URL, no network; webhooks signed exactly like Razorpay's with a local secret."""

    def __init__(
        self, base_url: str = DEFAULT_LOCAL_BASE_URL, webhook_secret: str = DEFAULT_LOCAL_PAYMENT_WEBHOOK_SECRET
    ) -> None:
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


def payment_provider_from_env(session: Session | None = None) -> PaymentProvider:
    """Razorpay when RAZORPAY_KEY_ID is set; else the local stand-in on HSM_PAYMENT_BASE_URL or the school's base."""
    settings = get_settings().payments
    if settings.razorpay_key_id:
        return RazorpayProvider.from_env()
    base = settings.local_base_url or _school_link_base(session) or DEFAULT_LOCAL_BASE_URL
    return LocalPaymentProvider(base_url=base, webhook_secret=settings.local_webhook_secret)


# ---------------------------------------------------------------- what a family owes


@dataclass(frozen=True)
class DueItem:
    """One fee a payment link can pay."""

    enrollment_id: int  # enrollments.id
    student_id: int
    student_name: str
    student_code: str  # the student's enrollment_id, "HSM-24-001"
    course: str
    batch_code: str
    amount: int
    due_date: date
    overdue: bool
    reference: str

    def description(self) -> str:
        return f"HSM {self.course} fee for {self.student_name}, due {self.due_date:%d %b %Y}"


def link_reference(enrollment: m.Enrollment) -> str:
    """Stable per enrollment and due date: 'HSM-24-001:KEY-BEG-MWF18:2026-12-20'."""
    due = enrollment.next_due.isoformat() if enrollment.next_due else "open"
    return f"{enrollment.student.enrollment_id}:{enrollment.batch.code}:{due}"


def parse_reference(reference: str) -> tuple[str, str, date | None] | None:
    """(student enrollment_id, batch code, due date) from a link reference; None when it is not ours."""
    parts = reference.split(":")
    if len(parts) < 3 or not parts[0] or not parts[1]:
        return None
    try:
        due = date.fromisoformat(parts[2])
    except ValueError:
        due = None
    return parts[0], parts[1], due


def due_for_link(session: Session, identity: Identity, child_name: str | None = None) -> list[DueItem]:
    """The caller's fees that are overdue or due within 30 days (overdue first), for their own students only."""
    items: list[DueItem] = []
    today = clock.today()
    for student in resolve_children(session, identity, child_name):
        for balance in billing.dues(session, student.id, today):
            assert balance.next_due is not None  # billing.dues() keeps only balances with a due date
            enrollment = session.get(m.Enrollment, balance.enrollment_id)
            items.append(
                DueItem(
                    enrollment_id=enrollment.id,
                    student_id=student.id,
                    student_name=student.name,
                    student_code=student.enrollment_id,
                    course=balance.course,
                    batch_code=enrollment.batch.code,
                    amount=balance.fee,
                    due_date=balance.next_due,
                    overdue=balance.overdue,
                    reference=link_reference(enrollment),
                )
            )
    return sorted(items, key=lambda item: (not item.overdue, item.due_date, item.student_code))


async def create_payment_links(
    provider: PaymentProvider, identity: Identity, items: list[DueItem]
) -> list[tuple[DueItem, PaymentLink]]:
    """One link per due, made out to the caller (their phone receives the thank-you)."""
    links = []
    for item in items:
        link = await provider.create_link(
            amount=item.amount,
            description=item.description(),
            reference=item.reference,
            customer_name=identity.name or item.student_name,
            customer_phone=identity.phone,
        )
        links.append((item, link))
    return links


def payment_links_text(links: list[tuple[DueItem, PaymentLink]], today: date | None = None) -> str:
    """'💳 Pay ₹2000 for Keyboard (due Dec 20): https://...'; one line per link."""
    today = today or clock.today()
    if not links:
        return "✅ Nothing is due right now, so there is nothing to pay."
    several_students = len({item.student_id for item, _ in links}) > 1

    def line(item: DueItem, link: PaymentLink) -> str:
        whose = f"{item.student_name.split()[0]}'s " if several_students else ""
        when = (
            f"overdue since {date_text(item.due_date, today)}"
            if item.overdue
            else f"due {date_text(item.due_date, today)}"
        )
        return f"{money(link.amount)} for {whose}{item.course} ({when}): {link.url}"

    if len(links) == 1:
        return f"💳 Pay {line(*links[0])}"
    return "\n".join(["💳 Your payment links:", *(f"• {line(item, link)}" for item, link in links)])


# ---------------------------------------------------------------- a paid link


@dataclass(frozen=True)
class PaymentResult:
    """A payment just recorded, and whom to thank (`notice`: ready for `hsm.outreach.notify.deliver`)."""

    payment_id: int
    student_name: str
    course: str
    amount: int
    phone: str | None
    text: str
    next_due: date | None
    classes_remaining: int
    notice: Notice | None = None


def add_months(day: date, months: int) -> date:
    """`day` moved by whole months, clamped to the month's end (Jan 31 + 1 month = Feb 28)."""
    years, month_index = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month_index + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _plan_classes(session: Session, enrollment: m.Enrollment) -> int:
    classes = session.execute(
        select(m.CoursePlan.classes).where(
            m.CoursePlan.course_id == enrollment.batch.course_id, m.CoursePlan.plan == enrollment.plan
        )
    ).scalar_one_or_none()
    return classes or DEFAULT_PLAN_CLASSES.get(enrollment.plan, 0)


def _thank_whom(student: m.Student, contact: str | None) -> tuple[str | None, str, str]:
    """(phone, audience, name) of the payer if they belong to the student's family, else of the student, else of
    the first guardian."""
    family = [(student.phone, "student", student.name)] if student.phone else []
    family.extend(
        (link.guardian.phone, "guardian", link.guardian.name)
        for link in sorted(student.guardian_links, key=lambda k: k.guardian_id)
    )
    try:
        payer = normalise_phone(contact) if contact else None
    except InvalidPhoneNumber:
        payer = None
    for person in family:
        if person[0] == payer:
            return person
    return family[0] if family else (None, "student", student.name)


def _find_enrollment(session: Session, reference: str) -> m.Enrollment | None:
    parsed = parse_reference(reference)
    if parsed is None:
        return None
    student_code, batch_code, _ = parsed
    return session.execute(
        select(m.Enrollment)
        .join(m.Student, m.Student.id == m.Enrollment.student_id)
        .join(m.Batch, m.Batch.id == m.Enrollment.batch_id)
        .where(m.Student.enrollment_id == student_code, m.Batch.code == batch_code)
        .options(
            selectinload(m.Enrollment.student).selectinload(m.Student.guardian_links),
            selectinload(m.Enrollment.batch).selectinload(m.Batch.course),
        )
    ).scalar_one_or_none()


def _audit(session: Session, action: str, entity_id: str | None, before: dict | None, after: dict) -> None:
    session.add(
        m.AuditLog(
            actor=WEBHOOK_ACTOR, action=action, entity="payments", entity_id=entity_id, before=before, after=after
        )
    )


def record_paid(session: Session, event: PaidEvent) -> PaymentResult | None:
    """Record a paid link once: the payment, the enrollment's next due and classes, the audit trail.

    Returns whom to thank, or None when nothing was recorded (a replayed webhook, or a link that is not ours:
    the latter is written to audit_log for the office to reconcile).
    """
    if session.execute(select(m.Payment.id).where(m.Payment.reference == event.payment_id)).first():
        log.info("payment %s already recorded; webhook replay ignored", event.payment_id)
        return None
    enrollment = _find_enrollment(session, event.reference)
    if enrollment is None:
        log.warning("paid link %s has reference %r that names no enrollment", event.link_id, event.reference)
        _audit(
            session,
            "payment.unmatched",
            None,
            None,
            {
                "link_id": event.link_id,
                "reference": event.reference,
                "amount": event.amount,
                "payment_id": event.payment_id,
            },
        )
        return None
    today = clock.today()
    student = enrollment.student
    before = {"next_due": _iso(enrollment.next_due), "classes_remaining": enrollment.classes_remaining}
    payment = m.Payment(
        student_id=student.id,
        course_id=enrollment.batch.course_id,
        enrollment_id=enrollment.id,
        amount=event.amount,
        paid_on=today,
        method=event.method or "online",
        note=f"payment link {event.link_id} ({event.reference})",
        reference=event.payment_id,
    )
    try:
        with session.begin_nested():  # a concurrent delivery of the same webhook loses on payments.reference
            session.add(payment)
            session.flush()
    except IntegrityError:
        log.info("payment %s recorded concurrently; webhook replay ignored", event.payment_id)
        return None
    full_fee = event.amount >= enrollment.fee
    if full_fee:
        enrollment.next_due = add_months(enrollment.next_due or today, PLAN_MONTHS.get(enrollment.plan, 1))
        enrollment.classes_remaining += _plan_classes(session, enrollment)
    after = {
        "payment_id": payment.id,
        "provider_payment_id": event.payment_id,
        "link_id": event.link_id,
        "reference": event.reference,
        "amount": event.amount,
        "enrollment_id": enrollment.id,
        "next_due": _iso(enrollment.next_due),
        "classes_remaining": enrollment.classes_remaining,
    }
    if not full_fee:
        after["review"] = f"paid {event.amount} of a {enrollment.fee} fee: enrollment not advanced"
    _audit(session, "payment.recorded", str(payment.id), before, after)
    session.flush()
    phone, audience, recipient = _thank_whom(student, event.contact)
    course = enrollment.batch.course.name
    whose = f"{first_name(student)}'s " if audience == "guardian" else ""
    text = f"✅ Payment received! {money(event.amount)} for {whose}{course}. Thank you!"
    if full_fee:
        text += (
            f"\n{course} now has {enrollment.classes_remaining} classes left; "
            f"next payment due {date_text(enrollment.next_due, today)}."
        )
    log.info(
        "payment %s of %s recorded for %s; thanking %s",
        event.payment_id,
        money(event.amount),
        student.enrollment_id,
        mask_phone(phone),
    )
    notice = (
        Notice(
            phone,
            audience,
            text,
            CONFIRMATION_TEMPLATE,
            (recipient.split()[0], str(event.amount), f"{whose}{course}", event.payment_id),
        )
        if phone
        else None
    )
    return PaymentResult(
        payment_id=payment.id,
        student_name=student.name,
        course=course,
        amount=event.amount,
        phone=phone,
        text=text,
        next_due=enrollment.next_due,
        classes_remaining=enrollment.classes_remaining,
        notice=notice,
    )


def process_paid_webhook(
    session: Session, provider: PaymentProvider, raw_body: bytes, signature: str | None
) -> PaymentResult | None:
    """Verify, parse and record one provider webhook; raises WebhookRejected (answer 401) on a bad signature."""
    if not provider.verify_webhook(raw_body, signature):
        raise WebhookRejected("payment webhook signature missing or wrong", 401)
    try:
        body = json.loads(raw_body)
    except ValueError as error:
        raise PaymentError(f"payment webhook body is not JSON: {error}", 400) from error
    event = provider.parse_paid_event(body)
    return record_paid(session, event) if event else None


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
