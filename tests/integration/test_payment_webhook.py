"""`POST /webhooks/payments/webhook` as the connector answers it (connectors/payments.py): refused with 401/403 and
logged without personal data unless the configured provider has a webhook secret and the signature is right; a
genuine link's paid event thanks the payer; a signed event for a link we never made changes nothing and tells the
admins."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select

from connectors.payments import answer
from hsm.infra import models as m
from hsm.money import payments
from hsm.money.providers import LocalPaymentProvider, PaymentLink, payment_provider_from_env, webhook_signature
from hsm.people.identity import identify

JOHN = "+919876543210"
SECRET = "test-local-payment-webhook-secret"
OLD_CONSTANT = "local-payment-webhook-secret"
PERSONAL = ("9876543210", "John", "HSM-24-001")  # John's number, his name, his enrollment id


@pytest.fixture
def stand_in(session, monkeypatch):
    """The development stand-in, with its development secret, as the local stack sets it."""
    for name in ("RAZORPAY_KEY_ID", "HSM_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HSM_PAYMENT_PROVIDER", "local")
    monkeypatch.setenv("HSM_PAYMENT_WEBHOOK_SECRET", SECRET)
    return payment_provider_from_env(session)


def assert_no_personal_data(caplog) -> None:
    logged = caplog.text
    assert logged, "nothing was logged"
    assert not [word for word in PERSONAL if word in logged], logged


def forged(payment_id: str = "pay_Forged") -> bytes:
    link = PaymentLink("plink_Forged", "https://x", 99_999, "HSM-24-001:KEY-BEG-MWF18:x", "John Doe", JOHN)
    return json.dumps(LocalPaymentProvider.paid_event_body(link, payment_id=payment_id)).encode()


def test_a_body_signed_with_the_old_constant_is_refused_and_logged_without_personal_data(session, stand_in, caplog):
    raw = forged()
    with caplog.at_level(logging.INFO):
        refused = answer(raw, webhook_signature(OLD_CONSTANT, raw))
    assert (refused.status, refused.notices) == (403, ())
    assert "refused" in caplog.text
    assert_no_personal_data(caplog)
    session.commit()  # a fresh read
    assert not session.execute(select(m.Payment).filter_by(reference="pay_Forged")).first()


def test_a_missing_signature_is_401(session, stand_in, caplog):
    with caplog.at_level(logging.INFO):
        assert answer(forged(), None).status == 401
    assert_no_personal_data(caplog)


@pytest.mark.parametrize(
    "environment",
    [
        {"HSM_PAYMENT_PROVIDER": "local"},  # the stand-in without its secret
        {"RAZORPAY_KEY_ID": "rzp_test_x", "RAZORPAY_KEY_SECRET": "key-secret"},  # Razorpay without its secret
        {},  # no provider at all
    ],
)
def test_without_a_configured_secret_every_webhook_is_refused(session, monkeypatch, caplog, environment):
    for name in (
        "HSM_PAYMENT_PROVIDER",
        "HSM_PAYMENT_WEBHOOK_SECRET",
        "RAZORPAY_KEY_ID",
        "RAZORPAY_KEY_SECRET",
        "RAZORPAY_WEBHOOK_SECRET",
        "HSM_ENV",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    raw = forged()
    with caplog.at_level(logging.INFO):
        for signature in (webhook_signature(OLD_CONSTANT, raw), webhook_signature("", raw), None):
            assert answer(raw, signature).status == 403
    assert_no_personal_data(caplog)
    assert not session.execute(select(m.Payment).filter_by(reference="pay_Forged")).first()


@pytest.mark.asyncio
async def test_a_genuine_link_is_recorded_and_the_payer_thanked(session, stand_in):
    john = identify(session, JOHN)
    links = await payments.create_payment_links(stand_in, john, payments.due_for_link(session, john))
    payments.remember_links(session, stand_in.name, links)
    session.commit()
    ((_, link),) = links
    raw = json.dumps(LocalPaymentProvider.paid_event_body(link, payment_id="pay_Genuine")).encode()
    done = answer(raw, webhook_signature(SECRET, raw))
    assert (done.status, done.body) == (200, {"status": "ok"})
    ((thanks,),) = (done.notices,)
    assert thanks.phone == JOHN and thanks.text.startswith("✅ Payment received! ₹2000 for Keyboard")
    again = answer(raw, webhook_signature(SECRET, raw))  # the provider retries: nothing more
    assert (again.status, again.notices) == (200, ())


def test_a_signed_event_for_a_link_we_never_made_is_flagged_to_the_admins(session, stand_in, caplog):
    raw = forged("pay_Unknown")
    with caplog.at_level(logging.INFO):
        flagged = answer(raw, webhook_signature(SECRET, raw))
    # Acknowledged (a provider that is answered an error retries for a day, then turns the webhook off), not applied.
    assert (flagged.status, flagged.body) == (200, {"status": "refused"})
    assert {notice.phone for notice in flagged.notices} == {"+919800000001", "+919800000002"}
    assert_no_personal_data(caplog)
    session.commit()  # a fresh read
    assert not session.execute(select(m.Payment).filter_by(reference="pay_Unknown")).first()
    assert session.execute(select(m.AuditLog).filter_by(action="payment.refused")).scalar_one().entity_id == (
        "pay_Unknown"
    )
