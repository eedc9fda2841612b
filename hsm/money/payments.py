"""Fee payment links (UC-7), the school's side: what a family owes, the links made for it (remembered in
`payment_links`), and paid webhooks. The providers are in hsm.money.providers.

This side is sync SQLAlchemy work, so actions run it in a thread. A link's `reference` names the enrollment and the
due it pays ("HSM-24-001:KEY-BEG-MWF18:2026-12-20"); a paid webhook is applied only when it matches a link we made
(hsm.money.issued_links) and is recorded once per provider payment id.
"""

from __future__ import annotations

import calendar
import json
import logging
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from hsm.classes.family import date_text, first_name, money, resolve_children
from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.phone import InvalidPhoneNumber, mask_phone, normalise_phone
from hsm.money import billing, issued_links
from hsm.money.issued_links import WEBHOOK_ACTOR, PaymentRefused
from hsm.money.providers import (
    PaidEvent,
    PaymentError,
    PaymentLink,
    PaymentProvider,
    check_webhook,
)
from hsm.outreach.notices import Notice
from hsm.people.identity import Identity
from hsm.records.changes import record_change

log = logging.getLogger("hsm.money.payments")

PLAN_MONTHS = {"monthly": 1, "quarterly": 3}
DEFAULT_PLAN_CLASSES = {"monthly": 8, "quarterly": 24}
CONFIRMATION_TEMPLATE = "payment_confirmation"  # {{1}} recipient, {{2}} amount, {{3}} course, {{4}} receipt


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


def remember_links(session: Session, provider: str, links: list[tuple[DueItem, PaymentLink]]) -> None:
    """Store the links just made (`provider`: its name), before anyone gets them: only a link stored here can be
    paid (record_paid)."""
    for item, link in links:
        issued_links.remember(session, provider, link, item.enrollment_id, item.due_date)


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

    @property
    def notices(self) -> tuple[Notice, ...]:
        return (self.notice,) if self.notice else ()


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


@dataclass(frozen=True)
class AppliedPayment:
    """What a payment did to its enrollment; the payment row keeps the same (classes_added, due_before,
    due_after) so that a reversal can take it back."""

    advanced: bool  # a full fee: the due date moved and the plan's classes were added
    classes_added: int
    due_before: date | None
    due_after: date | None
    classes_remaining: int


def receipt_number(session: Session, payment_id: int) -> str:
    """'HSM-R-000123': the school's short name and the payment's id (stored on the payment, so it never changes)."""
    short_name = session.execute(select(m.School.short_name).limit(1)).scalar_one_or_none()
    return f"{short_name or 'HSM'}-R-{payment_id:06d}"


def apply_payment(
    session: Session, payment: m.Payment, enrollment: m.Enrollment, recorded_by: str, today: date
) -> AppliedPayment:
    """Apply a payment just added (flushed: it has its id) to its enrollment, the one way for a paid link and for
    the office: a full fee (the amount at least the enrollment's fee) moves `next_due` on by the plan's months
    (from today when there is none) and adds the plan's classes; less changes nothing (the caller flags it).
    Fills in the payment's recorded_by, receipt_number, classes_added, due_before and due_after."""
    due_before = enrollment.next_due
    advanced = payment.amount >= enrollment.fee
    classes_added = _plan_classes(session, enrollment) if advanced else 0
    if advanced:
        enrollment.next_due = add_months(due_before or today, PLAN_MONTHS.get(enrollment.plan, 1))
        enrollment.classes_remaining += classes_added
    payment.recorded_by = recorded_by[:60]
    payment.receipt_number = receipt_number(session, payment.id)
    payment.classes_added = classes_added
    payment.due_before, payment.due_after = due_before, enrollment.next_due
    return AppliedPayment(advanced, classes_added, due_before, enrollment.next_due, enrollment.classes_remaining)


def family_contacts(student: m.Student) -> list[tuple[str, str, str]]:
    """(phone, audience, name) of everyone in the student's family with a number: the student, then each active
    guardian in a stable order."""
    family = [(student.phone, "student", student.name)] if student.phone else []
    family.extend(
        (link.guardian.phone, "guardian", link.guardian.name)
        for link in sorted(student.guardian_links, key=lambda k: k.guardian_id)
        if link.guardian.active is not False
    )
    return family


def _thank_whom(student: m.Student, contact: str | None) -> tuple[str | None, str, str]:
    """(phone, audience, name) of the payer if they belong to the student's family, else of the student, else of
    the first guardian."""
    family = family_contacts(student)
    try:
        payer = normalise_phone(contact) if contact else None
    except InvalidPhoneNumber:
        payer = None
    for person in family:
        if person[0] == payer:
            return person
    return family[0] if family else (None, "student", student.name)


def locked_enrollment(session: Session, enrollment_id: int) -> m.Enrollment:
    """The enrollment a payment is applied to, re-read and locked until the transaction ends (FOR UPDATE on
    PostgreSQL; SQLite has one writer at a time anyway): a paid link and the office's desk, or two desks, at once
    never both read the same balance and overwrite each other's."""
    return session.execute(
        select(m.Enrollment)
        .where(m.Enrollment.id == enrollment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
        .options(
            selectinload(m.Enrollment.student).selectinload(m.Student.guardian_links),
            selectinload(m.Enrollment.batch).selectinload(m.Batch.course),
        )
    ).scalar_one()


class _LinkTaken(Exception):
    """Another payment claimed the link first (two deliveries at once with different payment ids)."""


def record_paid(session: Session, provider: str, event: PaidEvent) -> PaymentResult | PaymentRefused | None:
    """Record a paid link of `provider` once: the payment, the enrollment's next due and classes, the audit trail.

    Only a link we made (payment_links) with the same reference, amount, currency and a due still open, not paid
    yet, is applied: anything else is refused and flagged (PaymentRefused, with the admins' notices). None when the
    payment id was seen already (a replayed webhook, applied or refused).
    """
    if session.execute(select(m.Payment.id).where(m.Payment.reference == event.payment_id)).first():
        log.info("payment %s already recorded; webhook replay ignored", issued_links.clean(event.payment_id))
        return None
    if issued_links.already_flagged(session, event.payment_id):
        log.info("payment %s already refused; webhook replay ignored", issued_links.clean(event.payment_id))
        return None
    link, refusal = issued_links.match(session, provider, event)
    if link is None or refusal is not None or link.enrollment_id is None:
        return issued_links.refuse(session, provider, event, refusal or issued_links.NOT_OURS)
    enrollment = locked_enrollment(session, link.enrollment_id)
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
            if not issued_links.claim(session, link, payment.id):
                raise _LinkTaken
    except IntegrityError:
        log.info("payment %s recorded concurrently; webhook replay ignored", issued_links.clean(event.payment_id))
        return None
    except _LinkTaken:
        return issued_links.refuse(session, provider, event, "the link is already paid")
    full_fee = apply_payment(session, payment, enrollment, WEBHOOK_ACTOR, today).advanced
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
    record_change(session, WEBHOOK_ACTOR, "payment.recorded", "payments", payment.id, before, after)
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
    session: Session, provider: PaymentProvider | None, raw_body: bytes, signature: str | None
) -> PaymentResult | PaymentRefused | None:
    """Verify, parse and record one provider webhook. Raises WebhookRejected (401/403, nothing read) unless a
    provider is configured with a webhook secret and the signature is right; PaymentError (400) on a body that is
    not JSON."""
    provider = check_webhook(provider, raw_body, signature)
    try:
        body = json.loads(raw_body)
    except ValueError as error:
        raise PaymentError("payment webhook body is not JSON", 400) from error
    event = provider.parse_paid_event(body)
    return record_paid(session, provider.name, event) if event else None


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
