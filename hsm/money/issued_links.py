"""The payment links we made (`payment_links`): remembered, matched against paid events, mismatches flagged."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hsm.infra import models as m
from hsm.money.providers import PaidEvent, PaymentLink
from hsm.outreach.notices import Notice, office_admins, staff_text
from hsm.records.changes import record_change

log = logging.getLogger("hsm.money.payments")

WEBHOOK_ACTOR = "system:payment-webhook"
REFUSED = "payment.refused"
REVIEW_TEMPLATE = "payment_review_admin"  # templates/whatsapp_templates.yaml: {{1}} what was not applied and why
NOT_OURS = "no payment link of ours has this id"


@dataclass(frozen=True)
class PaymentRefused:
    """A signed paid event that does not match a link we made: nothing applied, nobody thanked, the office told
    (`notices`, for hsm.outreach.notify.deliver)."""

    payment_id: str
    reason: str
    notices: tuple[Notice, ...] = ()


def clean(value: object, limit: int = 60) -> str:
    """A provider's (or a forger's) text for a log line, an audit row and the admins' notice (`staff_text`), "-" when
    nothing is left."""
    return staff_text(value, limit) or "-"


def remember(
    session: Session, provider: str, link: PaymentLink, enrollment_id: int, due_date: date | None
) -> m.IssuedPaymentLink:
    """Store a link just made (once: the provider gives the same open link when asked twice)."""
    row = session.execute(
        select(m.IssuedPaymentLink).where(
            m.IssuedPaymentLink.provider == provider, m.IssuedPaymentLink.link_id == link.link_id
        )
    ).scalar_one_or_none()
    if row is None:
        row = m.IssuedPaymentLink(
            provider=provider,
            link_id=link.link_id,
            reference=link.reference,
            amount=link.amount,
            currency=link.currency,
            enrollment_id=enrollment_id,
            due_date=due_date,
        )
        session.add(row)
        session.flush()
    return row


def match(session: Session, provider: str, event: PaidEvent) -> tuple[m.IssuedPaymentLink | None, str | None]:
    """(the link, None) when `event` pays a link we made, in full and in its currency, for a due still open and
    not paid yet; else (the link or None, why not)."""
    link = session.execute(
        select(m.IssuedPaymentLink).where(
            m.IssuedPaymentLink.provider == provider, m.IssuedPaymentLink.link_id == event.link_id
        )
    ).scalar_one_or_none()
    if link is None:
        return None, NOT_OURS
    if event.reference != link.reference:
        return link, "reference is not the link's"
    if event.amount != link.amount:
        return link, f"amount ₹{event.amount} is not the link's ₹{link.amount}"
    if event.currency != link.currency:
        return link, f"currency {clean(event.currency or 'none', 8)} is not the link's {link.currency}"
    if link.payment_id is not None:
        return link, f"the link is already paid (payment {link.payment_id})"
    enrollment = session.get(m.Enrollment, link.enrollment_id) if link.enrollment_id else None
    if enrollment is None:
        return link, "the enrollment it pays no longer exists"
    if enrollment.next_due != link.due_date:
        due, now = _iso(link.due_date), _iso(enrollment.next_due)
        return link, f"the due it pays ({due}) is no longer open (next due {now})"
    return link, None


def claim(session: Session, link: m.IssuedPaymentLink, payment_id: int) -> bool:
    """Mark `link` paid by `payments.id` `payment_id`, unless another payment got there first."""
    claimed = session.execute(
        update(m.IssuedPaymentLink)
        .where(m.IssuedPaymentLink.id == link.id, m.IssuedPaymentLink.payment_id.is_(None))
        .values(payment_id=payment_id)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return False
    session.refresh(link)
    return True


def already_flagged(session: Session, payment_id: str) -> bool:
    return (
        session.execute(
            select(m.AuditLog.id).where(
                m.AuditLog.action == REFUSED, m.AuditLog.entity == "payments", m.AuditLog.entity_id == clean(payment_id)
            )
        ).first()
        is not None
    )


def refuse(session: Session, provider: str, event: PaidEvent, reason: str) -> PaymentRefused:
    """Apply nothing; write the refused event to audit_log and tell every active admin."""
    payment_id, link_id = clean(event.payment_id), clean(event.link_id)
    record_change(
        session,
        WEBHOOK_ACTOR,
        REFUSED,
        "payments",
        payment_id,
        None,
        {
            "provider": provider,
            "payment_id": payment_id,
            "link_id": link_id,
            "reference": clean(event.reference, 100),
            "amount": event.amount,
            "currency": clean(event.currency or "none", 8),
            "reason": reason,
        },
    )
    session.flush()
    log.warning("payment %s (link %s) refused: %s; the office is told", payment_id, link_id, reason)
    details = (
        f"{provider} payment {payment_id} of ₹{event.amount} for link {link_id} "
        f"({clean(event.reference, 40)}): {reason}"
    )
    text = f"⚠️ Payment not applied: {details}. Nothing was changed; please check it with the payment provider."
    notices = tuple(Notice(admin.phone, "admin", text, REVIEW_TEMPLATE, (details,)) for admin in office_admins(session))
    return PaymentRefused(payment_id=event.payment_id, reason=reason, notices=notices)


def _iso(day: date | None) -> str:
    return day.isoformat() if day else "none"
