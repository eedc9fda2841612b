"""Payment links (UC-7): the Razorpay provider against a local fake Razorpay, the local stand-in, signed webhooks,
and recording a paid link once against the demo school (John Doe's Keyboard fee of ₹2000 due 20 Dec 2026)."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import date, datetime, timezone

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from hsm.infra import models as m
from hsm.money import payments, providers
from hsm.money.payments import PaymentRefused, PaymentResult
from hsm.money.providers import (
    LocalPaymentProvider,
    PaidEvent,
    PaymentError,
    PaymentLink,
    RazorpayProvider,
    WebhookRejected,
    webhook_signature,
)
from hsm.outreach.notices import Notice
from hsm.people.identity import identify

KEY_ID, KEY_SECRET, WEBHOOK_SECRET = "rzp_test_hsm", "test-secret", "whsec-hsm"
LOCAL_SECRET = "test-local-payment-webhook-secret"  # a development secret, set by the tests themselves
OLD_CONSTANT = "local-payment-webhook-secret"  # what the code used to sign the stand-in's webhooks with
ADMINS = {"+919800000001", "+919800000002"}  # the demo school's admins with a phone
JOHN = "+919876543210"
KAVITHA = "+919845000007"
SRINIVAS = "+919845000010"
IRFAN = "+919845000009"
JOHN_KEYBOARD_REF = "HSM-24-001:KEY-BEG-MWF18:2026-12-20"


# ---------------------------------------------------------------- a fake Razorpay Payment Links API


class FakeRazorpay:
    """Just enough of Razorpay: basic auth, payment link creation with unique reference_id, listing by reference."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.links: list[dict] = []
        self.fail_with: int | None = None
        self.delay_s = 0.0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/payment_links", self.create)
        app.router.add_get("/v1/payment_links", self.list)
        return app

    @staticmethod
    def error(status: int, description: str, field: str | None = None) -> web.Response:
        return web.json_response(
            {
                "error": {
                    "code": "BAD_REQUEST_ERROR",
                    "description": description,
                    "field": field,
                    "source": "business",
                    "step": "payment_initiation",
                    "reason": "input_validation_failed",
                    "metadata": {},
                }
            },
            status=status,
        )

    def authorised(self, request: web.Request) -> bool:
        expected = "Basic " + base64.b64encode(f"{KEY_ID}:{KEY_SECRET}".encode()).decode()
        return request.headers.get("Authorization") == expected

    async def create(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.delay_s)
        if not self.authorised(request):
            return self.error(401, "The api key provided is invalid")
        if self.fail_with:
            return self.error(self.fail_with, "The server encountered an error")
        body = await request.json()
        self.requests.append(body)
        if not isinstance(body.get("amount"), int) or body["amount"] < 100 or body.get("currency") != "INR":
            return self.error(400, "The amount must be at least INR 1.00", "amount")
        if any(link["reference_id"] == body.get("reference_id") for link in self.links):
            return self.error(400, "Reference Id already exist", "reference_id")
        link = {
            "id": f"plink_Fake{len(self.links):010d}",
            "amount": body["amount"],
            "amount_paid": 0,
            "currency": "INR",
            "reference_id": body["reference_id"],
            "description": body["description"],
            "customer": body["customer"],
            "notify": body["notify"],
            "status": "created",
            "short_url": f"https://rzp.io/i/fake{len(self.links)}",
        }
        self.links.append(link)
        return web.json_response(link)

    async def list(self, request: web.Request) -> web.Response:
        if not self.authorised(request):
            return self.error(401, "The api key provided is invalid")
        wanted = request.query.get("reference_id")
        return web.json_response({"payment_links": [k for k in self.links if k["reference_id"] == wanted]})

    def paid_webhook(self, link_id: str, payment_id: str = "pay_FakeRzp000001") -> bytes:
        link = next(k for k in self.links if k["id"] == link_id)
        body = {
            "entity": "event",
            "account_id": "acc_Fake",
            "event": "payment_link.paid",
            "contains": ["payment_link", "order", "payment"],
            "payload": {
                "payment_link": {"entity": {**link, "amount_paid": link["amount"], "status": "paid"}},
                "order": {"entity": {"id": "order_Fake", "amount": link["amount"], "status": "paid"}},
                "payment": {
                    "entity": {
                        "id": payment_id,
                        "amount": link["amount"],
                        "currency": "INR",
                        "status": "captured",
                        "method": "upi",
                        "contact": link["customer"]["contact"],
                    }
                },
            },
            "created_at": 1796000000,
        }
        return json.dumps(body).encode()


@pytest_asyncio.fixture
async def razorpay():
    fake = FakeRazorpay()
    server = TestServer(fake.app())
    await server.start_server()
    fake.base_url = str(server.make_url("")).rstrip("/")
    yield fake
    await server.close()


def provider_for(fake: FakeRazorpay, **options) -> RazorpayProvider:
    return RazorpayProvider(
        KEY_ID, options.pop("key_secret", KEY_SECRET), WEBHOOK_SECRET, base_url=fake.base_url, **options
    )


async def make_link(provider, amount=2000, reference=JOHN_KEYBOARD_REF, phone=JOHN) -> PaymentLink:
    return await provider.create_link(
        amount=amount,
        description="HSM Keyboard fee",
        reference=reference,
        customer_name="John Doe",
        customer_phone=phone,
    )


# ---------------------------------------------------------------- Razorpay provider


@pytest.mark.asyncio
async def test_razorpay_link_in_paise_with_basic_auth_and_reference(razorpay):
    expires = datetime(2026, 12, 20, 12, 0, tzinfo=timezone.utc)
    link = await provider_for(razorpay).create_link(
        amount=2000,
        description="HSM Keyboard fee",
        reference=JOHN_KEYBOARD_REF,
        customer_name="John Doe",
        customer_phone=JOHN,
        expire_by=expires,
    )
    assert link == PaymentLink(
        link_id="plink_Fake0000000000",
        url="https://rzp.io/i/fake0",
        amount=2000,
        reference=JOHN_KEYBOARD_REF,
        customer_name="John Doe",
        customer_phone=JOHN,
    )
    (sent,) = razorpay.requests
    assert sent["amount"] == 200000 and sent["currency"] == "INR"
    assert sent["reference_id"] == JOHN_KEYBOARD_REF
    assert sent["customer"] == {"name": "John Doe", "contact": JOHN}
    assert sent["notify"] == {"sms": False, "email": False}
    assert sent["accept_partial"] is False
    assert sent["expire_by"] == int(expires.timestamp())


@pytest.mark.asyncio
async def test_asking_twice_for_the_same_due_gives_the_same_open_link(razorpay):
    provider = provider_for(razorpay)
    first = await make_link(provider)
    again = await make_link(provider)
    assert again.link_id == first.link_id and len(razorpay.links) == 1


@pytest.mark.asyncio
async def test_razorpay_errors_are_payment_errors(razorpay):
    with pytest.raises(PaymentError) as refused:
        await make_link(provider_for(razorpay, key_secret="wrong"))
    assert refused.value.status == 401

    razorpay.fail_with = 500
    with pytest.raises(PaymentError, match="The server encountered an error") as failed:
        await make_link(provider_for(razorpay))
    assert failed.value.status == 500

    razorpay.fail_with, razorpay.delay_s = None, 1.0
    with pytest.raises(PaymentError, match="unreachable"):
        await make_link(provider_for(razorpay, timeout_s=0.1))

    with pytest.raises(PaymentError, match="positive"):
        await make_link(provider_for(razorpay), amount=0)
    with pytest.raises(PaymentError, match="reference"):
        await make_link(provider_for(razorpay), reference="x" * 41)


@pytest.mark.asyncio
async def test_unreachable_razorpay():
    provider = RazorpayProvider(KEY_ID, KEY_SECRET, base_url="http://127.0.0.1:9", timeout_s=2)
    with pytest.raises(PaymentError, match="unreachable"):
        await make_link(provider)


def test_razorpay_needs_keys():
    with pytest.raises(PaymentError, match="RAZORPAY_KEY_ID"):
        RazorpayProvider("", "")


def test_webhook_signature_is_hmac_sha256_of_the_raw_body():
    provider = RazorpayProvider(KEY_ID, KEY_SECRET, WEBHOOK_SECRET)
    body = b'{"event":"payment_link.paid"}'
    good = webhook_signature(WEBHOOK_SECRET, body)
    assert len(good) == 64
    assert provider.verify_webhook(body, good) is True
    assert provider.verify_webhook(body, good.upper()) is True
    assert provider.verify_webhook(body + b" ", good) is False  # re-serialised or tampered body
    assert provider.verify_webhook(body, webhook_signature("other-secret", body)) is False
    assert provider.verify_webhook(body, None) is False
    assert provider.verify_webhook(body, "") is False
    assert RazorpayProvider(KEY_ID, KEY_SECRET, webhook_secret=None).verify_webhook(body, good) is False


def test_parse_paid_event_only_takes_paid_links():
    provider = RazorpayProvider(KEY_ID, KEY_SECRET, WEBHOOK_SECRET)
    link = PaymentLink("plink_X", "https://rzp.io/i/x", 2000, JOHN_KEYBOARD_REF, "John Doe", JOHN)
    body = LocalPaymentProvider.paid_event_body(link, payment_id="pay_X", method="card")
    assert provider.parse_paid_event(body) == PaidEvent(
        link_id="plink_X",
        reference=JOHN_KEYBOARD_REF,
        amount=2000,
        payment_id="pay_X",
        method="card",
        contact=JOHN,
        currency="INR",
    )
    assert provider.parse_paid_event({**body, "event": "payment_link.expired"}) is None
    assert provider.parse_paid_event({"event": "payment_link.paid", "payload": {}}) is None
    assert provider.parse_paid_event({}) is None


def test_provider_from_env(session, monkeypatch):
    for name in (
        "RAZORPAY_KEY_ID",
        "RAZORPAY_KEY_SECRET",
        "RAZORPAY_WEBHOOK_SECRET",
        "RAZORPAY_BASE_URL",
        "HSM_PAYMENT_BASE_URL",
        "HSM_PAYMENT_PROVIDER",
        "HSM_PAYMENT_WEBHOOK_SECRET",
        "HSM_ENV",
    ):
        monkeypatch.delenv(name, raising=False)
    assert providers.payment_provider_from_env(session) is None  # nothing configured: no online payments
    monkeypatch.setenv("HSM_PAYMENT_PROVIDER", "local")  # the stand-in only when asked for by name
    local = providers.payment_provider_from_env(session)
    assert isinstance(local, LocalPaymentProvider) and local.base_url == "https://pay.hsm.example/l/"
    assert local.webhook_secret is None  # no secret: its webhooks are refused
    monkeypatch.setenv("HSM_PAYMENT_WEBHOOK_SECRET", LOCAL_SECRET)
    assert providers.payment_provider_from_env(session).webhook_secret == LOCAL_SECRET
    assert providers.payment_provider_from_env().base_url == "https://pay.hsm.example/l/"  # DATABASE_URL's school
    monkeypatch.setenv("HSM_PAYMENT_BASE_URL", "http://127.0.0.1:8090/pay")
    assert providers.payment_provider_from_env(session).base_url == "http://127.0.0.1:8090/pay/"
    monkeypatch.setenv("HSM_ENV", "production")
    assert providers.payment_provider_from_env(session) is None  # never the stand-in in production
    monkeypatch.delenv("HSM_ENV")
    monkeypatch.delenv("HSM_PAYMENT_PROVIDER")

    monkeypatch.setenv("RAZORPAY_KEY_ID", KEY_ID)
    monkeypatch.setenv("RAZORPAY_KEY_SECRET", KEY_SECRET)
    monkeypatch.setenv("RAZORPAY_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("RAZORPAY_BASE_URL", "http://127.0.0.1:9999/")
    razorpay = providers.payment_provider_from_env(session)
    assert isinstance(razorpay, RazorpayProvider) and razorpay.name == "razorpay"
    assert razorpay.base_url == "http://127.0.0.1:9999" and razorpay.webhook_secret == WEBHOOK_SECRET
    monkeypatch.delenv("RAZORPAY_BASE_URL")
    assert providers.payment_provider_from_env(session).base_url == "https://api.razorpay.com"


# ---------------------------------------------------------------- local stand-in


@pytest.mark.asyncio
async def test_local_provider_links_and_signed_events():
    provider = LocalPaymentProvider(base_url="https://pay.hsm.example/l/", webhook_secret="local")
    assert provider.name == "local"
    link = await make_link(provider)
    assert link.url == f"https://pay.hsm.example/l/{link.link_id}" and link.link_id.startswith("plink_")
    assert (link.amount, link.reference) == (2000, JOHN_KEYBOARD_REF)
    assert (await make_link(provider)) == link
    raw = json.dumps(LocalPaymentProvider.paid_event_body(link, payment_id="pay_L1")).encode()
    assert provider.verify_webhook(raw, provider.sign(raw))
    assert provider.sign(raw) == webhook_signature("local", raw)  # signed the way Razorpay signs
    assert not provider.verify_webhook(raw, webhook_signature("other", raw))
    event = provider.parse_paid_event(json.loads(raw))
    assert (event.link_id, event.reference, event.amount, event.payment_id) == (
        link.link_id,
        JOHN_KEYBOARD_REF,
        2000,
        "pay_L1",
    )


def test_the_stand_in_without_a_secret_verifies_nothing_and_signs_nothing():
    provider = LocalPaymentProvider()
    assert provider.webhook_secret is None
    raw = b'{"event":"payment_link.paid"}'
    assert not provider.verify_webhook(raw, webhook_signature(OLD_CONSTANT, raw))
    assert not provider.verify_webhook(raw, webhook_signature("", raw))
    with pytest.raises(PaymentError, match="HSM_PAYMENT_WEBHOOK_SECRET"):
        provider.sign(raw)


# ---------------------------------------------------------------- what is due, per family


def test_due_for_link(session):
    (john,) = payments.due_for_link(session, identify(session, JOHN))
    assert (john.course, john.amount, john.due_date, john.student_code, john.batch_code, john.overdue) == (
        "Keyboard",
        2000,
        date(2026, 12, 20),
        "HSM-24-001",
        "KEY-BEG-MWF18",
        False,
    )
    assert john.reference == JOHN_KEYBOARD_REF

    srinivas = payments.due_for_link(session, identify(session, SRINIVAS))
    assert [(d.student_name, d.course, d.amount, d.due_date.isoformat()) for d in srinivas] == [
        ("Ananya Reddy", "Keyboard", 2000, "2026-12-15"),
        ("Ananya Reddy", "Guitar", 2000, "2026-12-15"),
        ("Nikhil Reddy", "Keyboard", 2000, "2026-12-15"),
    ]
    assert [d.reference for d in payments.due_for_link(session, identify(session, SRINIVAS), "Nikhil")] == [
        "HSM-24-023:KEY-INT-TS18:2026-12-15"
    ]

    irfan = payments.due_for_link(session, identify(session, IRFAN))
    assert [(d.course, d.overdue) for d in irfan] == [("Guitar", True), ("Drums", False)]


def test_due_for_link_never_crosses_families(session):
    assert payments.due_for_link(session, identify(session, KAVITHA), "Ananya") == []
    assert payments.due_for_link(session, identify(session, JOHN), "Mary") == []
    assert payments.due_for_link(session, identify(session, "+919999999999")) == []
    assert payments.due_for_link(session, identify(session, "+919811000101")) == []


@pytest.mark.asyncio
async def test_payment_links_text(session):
    provider = LocalPaymentProvider(base_url="https://pay.hsm.example/l/")
    john = identify(session, JOHN)
    links = await payments.create_payment_links(provider, john, payments.due_for_link(session, john))
    ((item, link),) = links
    assert payments.payment_links_text(links) == f"💳 Pay ₹2000 for Keyboard (due Dec 20): {link.url}"
    assert link.customer_phone == JOHN and link.customer_name == "John Doe"

    srinivas = identify(session, SRINIVAS)
    links = await payments.create_payment_links(provider, srinivas, payments.due_for_link(session, srinivas))
    text = payments.payment_links_text(links)
    assert text.splitlines()[0] == "💳 Your payment links:"
    assert text.splitlines()[3] == f"• ₹2000 for Nikhil's Keyboard (due Dec 15): {links[2][1].url}"
    assert len({link.url for _, link in links}) == 3
    assert payments.payment_links_text([]) == "✅ Nothing is due right now, so there is nothing to pay."


# ---------------------------------------------------------------- a paid link is recorded once


def john_keyboard(session) -> m.Enrollment:
    return session.execute(
        select(m.Enrollment)
        .join(m.Student)
        .join(m.Batch)
        .where(m.Student.enrollment_id == "HSM-24-001", m.Batch.code == "KEY-BEG-MWF18")
    ).scalar_one()


def enrollment_of(session, student_code: str, batch_code: str) -> m.Enrollment:
    return session.execute(
        select(m.Enrollment)
        .join(m.Student)
        .join(m.Batch)
        .where(m.Student.enrollment_id == student_code, m.Batch.code == batch_code)
    ).scalar_one()


def count(session, model, *where) -> int:
    return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def local_provider() -> LocalPaymentProvider:
    return LocalPaymentProvider(base_url="https://pay.hsm.example/l/", webhook_secret=LOCAL_SECRET)


async def john_link(session, provider=None) -> tuple[LocalPaymentProvider, PaymentLink]:
    """John's Keyboard link, made and remembered as the payment link action does."""
    provider = provider or local_provider()
    john = identify(session, JOHN)
    links = await payments.create_payment_links(provider, john, payments.due_for_link(session, john))
    payments.remember_links(session, provider.name, links)
    ((_, link),) = links
    return provider, link


def issued_link(session, enrollment: m.Enrollment, link_id: str, provider: str = "local") -> PaymentLink:
    """A link remembered for `enrollment`'s next due (whatever its date: due_for_link looks 30 days ahead only)."""
    reference = payments.link_reference(enrollment)
    session.add(
        m.IssuedPaymentLink(
            provider=provider,
            link_id=link_id,
            reference=reference,
            amount=enrollment.fee,
            currency="INR",
            enrollment_id=enrollment.id,
            due_date=enrollment.next_due,
        )
    )
    session.flush()
    return PaymentLink(link_id, f"https://pay.hsm.example/l/{link_id}", enrollment.fee, reference)


def signed(provider: LocalPaymentProvider, body: dict) -> tuple[bytes, str]:
    raw = json.dumps(body).encode()
    return raw, provider.sign(raw)


def nothing_applied(session, payment_id: str) -> None:
    assert count(session, m.Payment, m.Payment.reference == payment_id) == 0
    assert (john_keyboard(session).next_due, john_keyboard(session).classes_remaining) == (date(2026, 12, 20), 15)


@pytest.mark.asyncio
async def test_paid_webhook_marks_the_due_paid_once(session):
    provider, link = await john_link(session)
    stored = session.execute(select(m.IssuedPaymentLink).filter_by(link_id=link.link_id)).scalar_one()
    assert (stored.provider, stored.reference, stored.amount, stored.currency, stored.due_date) == (
        "local",
        JOHN_KEYBOARD_REF,
        2000,
        "INR",
        date(2026, 12, 20),
    )
    assert stored.enrollment_id == john_keyboard(session).id and stored.created_at is not None
    raw, signature = signed(provider, LocalPaymentProvider.paid_event_body(link, payment_id="pay_John0001"))
    payments_before = count(session, m.Payment)

    result = payments.process_paid_webhook(session, provider, raw, signature)

    assert isinstance(result, PaymentResult)
    assert result.phone == JOHN
    assert result.text.splitlines()[0] == "✅ Payment received! ₹2000 for Keyboard. Thank you!"
    assert result.notice == Notice(
        JOHN, "student", result.text, "payment_confirmation", ("John", "2000", "Keyboard", "pay_John0001")
    )
    assert result.notices == (result.notice,)
    assert result.text.splitlines()[1] == "Keyboard now has 23 classes left; next payment due Jan 20, 2027."
    enrollment = john_keyboard(session)
    assert (enrollment.next_due, enrollment.classes_remaining) == (date(2027, 1, 20), 23)  # monthly: +1 month, +8
    payment = session.execute(select(m.Payment).filter_by(reference="pay_John0001")).scalar_one()
    assert (
        payment.amount,
        payment.paid_on,
        payment.method,
        payment.course.name,
        payment.enrollment_id,
        payment.student.name,
    ) == (2000, date(2026, 12, 1), "upi", "Keyboard", enrollment.id, "John Doe")
    assert stored.payment_id == payment.id  # the link is paid
    audit = session.execute(select(m.AuditLog).filter_by(action="payment.recorded")).scalar_one()
    assert audit.before == {"next_due": "2026-12-20", "classes_remaining": 15}
    assert audit.after["next_due"] == "2027-01-20" and audit.after["link_id"] == link.link_id

    # Razorpay retries: the same webhook again records nothing and thanks nobody.
    assert payments.process_paid_webhook(session, provider, raw, signature) is None
    assert count(session, m.Payment) == payments_before + 1
    assert (john_keyboard(session).next_due, john_keyboard(session).classes_remaining) == (date(2027, 1, 20), 23)
    assert count(session, m.AuditLog, m.AuditLog.action == "payment.recorded") == 1
    assert count(session, m.AuditLog, m.AuditLog.action == "payment.refused") == 0
    # Once paid, nothing is due for John within 30 days.
    assert payments.due_for_link(session, identify(session, JOHN)) == []


@pytest.mark.asyncio
async def test_remembering_the_same_link_twice_keeps_one_row(session):
    provider, link = await john_link(session)
    again = await payments.create_payment_links(
        provider, identify(session, JOHN), payments.due_for_link(session, identify(session, JOHN))
    )
    payments.remember_links(session, provider.name, again)
    payments.remember_links(session, provider.name, again)
    assert count(session, m.IssuedPaymentLink) == 1


@pytest.mark.asyncio
async def test_a_webhook_with_a_bad_signature_changes_nothing(session):
    provider, link = await john_link(session)
    raw = json.dumps(LocalPaymentProvider.paid_event_body(link, payment_id="pay_Forged")).encode()
    with pytest.raises(WebhookRejected) as wrong:
        payments.process_paid_webhook(session, provider, raw, webhook_signature("guess", raw))
    assert wrong.value.status == 403
    with pytest.raises(WebhookRejected) as missing:
        payments.process_paid_webhook(session, provider, raw, None)
    assert missing.value.status == 401
    nothing_applied(session, "pay_Forged")


def forged_body(batch: str = "KEY-BEG-MWF18", amount: int = 99_999, payment_id: str = "pay_Forged1") -> dict:
    """The attack: a made-up link for John with any amount, as anyone could write it."""
    link = PaymentLink("plink_Forged", "https://x", amount, f"HSM-24-001:{batch}:x", "John Doe", JOHN)
    return LocalPaymentProvider.paid_event_body(link, payment_id=payment_id)


@pytest.mark.parametrize("configured_secret", [None, LOCAL_SECRET])
def test_a_body_signed_with_the_old_constant_is_refused(session, monkeypatch, configured_secret):
    monkeypatch.delenv("RAZORPAY_KEY_ID", raising=False)
    monkeypatch.delenv("HSM_ENV", raising=False)
    monkeypatch.setenv("HSM_PAYMENT_PROVIDER", "local")
    if configured_secret:
        monkeypatch.setenv("HSM_PAYMENT_WEBHOOK_SECRET", configured_secret)
    else:
        monkeypatch.delenv("HSM_PAYMENT_WEBHOOK_SECRET", raising=False)
    provider = providers.payment_provider_from_env(session)
    audit_rows = count(session, m.AuditLog)  # the demo school's import
    for payment_id in ("pay_Forged1", "pay_Forged2"):  # each new payment id used to add 8 more classes
        raw = json.dumps(forged_body(payment_id=payment_id)).encode()
        with pytest.raises(WebhookRejected) as refused:
            payments.process_paid_webhook(session, provider, raw, webhook_signature(OLD_CONSTANT, raw))
        assert refused.value.status == 403
        nothing_applied(session, payment_id)
    assert count(session, m.AuditLog) == audit_rows


@pytest.mark.asyncio
async def test_no_webhook_is_taken_without_a_configured_secret(session, razorpay):
    body = LocalPaymentProvider.paid_event_body(
        PaymentLink("plink_X", "https://x", 2000, JOHN_KEYBOARD_REF, "John Doe", JOHN), payment_id="pay_NoSecret"
    )
    raw = json.dumps(body).encode()
    for provider, signature in (
        (LocalPaymentProvider(webhook_secret=None), webhook_signature("", raw)),
        (LocalPaymentProvider(webhook_secret=""), webhook_signature("", raw)),
        (RazorpayProvider(KEY_ID, KEY_SECRET, webhook_secret=None), webhook_signature("", raw)),
        (None, webhook_signature(OLD_CONSTANT, raw)),  # no provider configured at all
    ):
        with pytest.raises(WebhookRejected) as refused:
            payments.process_paid_webhook(session, provider, raw, signature)
        assert refused.value.status == 403
    nothing_applied(session, "pay_NoSecret")


async def _event_for(session, case: str) -> tuple[LocalPaymentProvider, dict]:
    """A correctly signed paid event that does not match what we made (`case` says how)."""
    provider, link = await john_link(session)
    body = LocalPaymentProvider.paid_event_body(link, payment_id=f"pay_{case}")
    entity = body["payload"]["payment_link"]["entity"]
    if case == "unknown_link":
        entity["id"] = "plink_NeverMade"
    elif case == "other_amount":
        entity["amount"] = entity["amount_paid"] = body["payload"]["payment"]["entity"]["amount"] = 9_999_900
    elif case == "part_payment":
        entity["amount_paid"] = body["payload"]["payment"]["entity"]["amount"] = 50_000
    elif case == "other_reference":
        entity["reference_id"] = "HSM-24-001:KEY-BEG-MWF18:x"
    elif case == "other_student":
        entity["reference_id"] = "HSM-24-023:KEY-INT-TS18:2026-12-15"
    elif case == "other_currency":
        entity["currency"] = body["payload"]["payment"]["entity"]["currency"] = "USD"
    elif case == "no_currency":
        del entity["currency"]
        del body["payload"]["payment"]["entity"]["currency"]
    elif case == "due_moved_on":  # the office recorded this due paid meanwhile: the link pays nothing open now
        john_keyboard(session).next_due = date(2027, 1, 20)
        session.flush()
    elif case == "other_provider":
        row = session.execute(select(m.IssuedPaymentLink).filter_by(link_id=link.link_id)).scalar_one()
        row.provider = "razorpay"
        session.flush()
    return provider, body


REFUSALS = {
    "unknown_link": "no payment link of ours has this id",
    "other_amount": "amount ₹99999 is not the link's ₹2000",
    "part_payment": "amount ₹500 is not the link's ₹2000",
    "other_reference": "reference is not the link's",
    "other_student": "reference is not the link's",
    "other_currency": "currency USD is not the link's INR",
    "no_currency": "currency none is not the link's INR",
    "due_moved_on": "the due it pays (2026-12-20) is no longer open (next due 2027-01-20)",
    "other_provider": "no payment link of ours has this id",
}


@pytest.mark.asyncio
@pytest.mark.parametrize("case", sorted(REFUSALS))
async def test_a_signed_event_that_matches_no_link_we_made_is_refused_and_flagged(session, case):
    provider, body = await _event_for(session, case)
    due_before = john_keyboard(session).next_due
    raw, signature = signed(provider, body)

    refused = payments.process_paid_webhook(session, provider, raw, signature)

    assert isinstance(refused, PaymentRefused)
    assert refused.reason == REFUSALS[case]
    assert count(session, m.Payment, m.Payment.reference == f"pay_{case}") == 0
    assert (john_keyboard(session).next_due, john_keyboard(session).classes_remaining) == (due_before, 15)
    assert enrollment_of(session, "HSM-24-023", "KEY-INT-TS18").next_due == date(2026, 12, 15)
    # Flagged for the office: an audit_log row and a notice to every admin; no thanks to anyone else.
    flag = session.execute(select(m.AuditLog).filter_by(action="payment.refused")).scalar_one()
    assert (flag.actor, flag.entity, flag.entity_id) == ("system:payment-webhook", "payments", f"pay_{case}")
    assert flag.after["reason"] == REFUSALS[case] and flag.after["provider"] == "local"
    assert {notice.phone for notice in refused.notices} == ADMINS
    assert {notice.audience for notice in refused.notices} == {"admin"}
    (text,) = {notice.text for notice in refused.notices}
    assert text.startswith("⚠️ Payment not applied: local payment pay_") and REFUSALS[case] in text
    assert refused.notices[0].template == "payment_review_admin"
    # The provider retries: no second flag, no second notice.
    assert payments.process_paid_webhook(session, provider, raw, signature) is None
    assert count(session, m.AuditLog, m.AuditLog.action == "payment.refused") == 1


@pytest.mark.asyncio
async def test_a_paid_link_is_not_paid_again_by_another_payment_id(session):
    provider, link = await john_link(session)
    raw, signature = signed(provider, LocalPaymentProvider.paid_event_body(link, payment_id="pay_First"))
    assert isinstance(payments.process_paid_webhook(session, provider, raw, signature), PaymentResult)
    raw, signature = signed(provider, LocalPaymentProvider.paid_event_body(link, payment_id="pay_Second"))
    refused = payments.process_paid_webhook(session, provider, raw, signature)
    assert isinstance(refused, PaymentRefused) and refused.reason.startswith("the link is already paid")
    assert count(session, m.Payment, m.Payment.reference == "pay_Second") == 0
    assert (john_keyboard(session).next_due, john_keyboard(session).classes_remaining) == (date(2027, 1, 20), 23)


def test_quarterly_fee_paid_by_a_guardian(session):
    link = issued_link(session, enrollment_of(session, "HSM-24-007", "GTR-BEG-TT17"), "plink_A")
    assert (link.reference, link.amount) == ("HSM-24-007:GTR-BEG-TT17:2027-01-05", 5500)
    event = PaidEvent(
        link_id="plink_A",
        reference=link.reference,
        amount=5500,
        payment_id="pay_Aarav1",
        method="card",
        contact="919845000007",
        currency="INR",
    )
    result = payments.record_paid(session, "local", event)
    assert result.phone == KAVITHA
    assert result.text.splitlines()[0] == "✅ Payment received! ₹5500 for Aarav's Guitar. Thank you!"
    assert result.notice == Notice(
        KAVITHA, "guardian", result.text, "payment_confirmation", ("Kavitha", "5500", "Aarav's Guitar", "pay_Aarav1")
    )
    assert (result.next_due, result.classes_remaining) == (date(2027, 4, 5), 44)  # quarterly: +3 months, +24


def test_thanks_go_to_the_family_not_to_a_stranger(session):
    link = issued_link(session, john_keyboard(session), "plink_B")
    event = PaidEvent(
        link_id=link.link_id,
        reference=link.reference,
        amount=2000,
        payment_id="pay_B",
        contact="+919845000002",
        currency="INR",
    )  # Susan Thomas: not John's family
    assert payments.record_paid(session, "local", event).phone == JOHN


def test_a_fee_changed_since_the_link_was_made_is_recorded_but_does_not_advance_the_due(session):
    link = issued_link(session, john_keyboard(session), "plink_D")
    john_keyboard(session).fee = 2500
    session.flush()
    event = PaidEvent(link_id="plink_D", reference=link.reference, amount=2000, payment_id="pay_D", currency="INR")
    result = payments.record_paid(session, "local", event)
    assert result.text == "✅ Payment received! ₹2000 for Keyboard. Thank you!"
    assert (john_keyboard(session).next_due, john_keyboard(session).classes_remaining) == (date(2026, 12, 20), 15)
    audit = session.execute(select(m.AuditLog).filter_by(action="payment.recorded")).scalar_one()
    assert "not advanced" in audit.after["review"]


@pytest.mark.asyncio
async def test_razorpay_round_trip(session, razorpay):
    provider = provider_for(razorpay)
    john = identify(session, JOHN)
    links = await payments.create_payment_links(provider, john, payments.due_for_link(session, john))
    payments.remember_links(session, provider.name, links)
    ((item, link),) = links
    assert link.url == "https://rzp.io/i/fake0"
    raw = razorpay.paid_webhook(link.link_id)
    result = payments.process_paid_webhook(session, provider, raw, webhook_signature(WEBHOOK_SECRET, raw))
    assert result.amount == 2000 and result.phone == JOHN
    assert john_keyboard(session).next_due == date(2027, 1, 20)
    stored = session.execute(select(m.IssuedPaymentLink).filter_by(link_id=link.link_id)).scalar_one()
    assert stored.provider == "razorpay" and stored.payment_id is not None


@pytest.mark.asyncio
async def test_a_stand_in_link_is_not_paid_through_razorpay(session, razorpay):
    _, link = await john_link(session)  # made by the stand-in
    provider = provider_for(razorpay)
    raw = json.dumps(LocalPaymentProvider.paid_event_body(link, payment_id="pay_Cross")).encode()
    refused = payments.process_paid_webhook(session, provider, raw, webhook_signature(WEBHOOK_SECRET, raw))
    assert isinstance(refused, PaymentRefused) and refused.reason == "no payment link of ours has this id"
    nothing_applied(session, "pay_Cross")


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 12, 20), 1, date(2027, 1, 20)),
        (date(2026, 11, 25), 3, date(2027, 2, 25)),
        (date(2027, 1, 31), 1, date(2027, 2, 28)),
        (date(2027, 11, 30), 3, date(2028, 2, 29)),
    ],
)
def test_add_months(start, months, expected):
    assert payments.add_months(start, months) == expected


def test_link_reference(session):
    assert payments.link_reference(john_keyboard(session)) == JOHN_KEYBOARD_REF
