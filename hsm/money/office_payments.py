"""Payments taken at the school office (cash, UPI, bank transfer): recorded against an enrollment and applied
exactly as a paid link is (`hsm.money.payments.apply_payment`), listed, reversed by an admin with a reason, and
receipted: a PDF (`hsm.money.receipts`) sent on WhatsApp to the family once the payment is committed.

A UPI or bank payment needs its reference (the UPI UTR, the bank's reference), unique per method; cash may have one
(a receipt-book number). It is kept in `payments.reference` as "<method>:<REFERENCE>", so the column's unique index
refuses a duplicate even from two desks at once; a reversal renames it "reversed-<id>:<method>:<REFERENCE>", so the
same reference can be recorded again, rightly this time. A reversal takes back what the payment changed only while
nothing has changed since; otherwise it is refused (Conflict) saying what to fix first.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from hsm.classes.family import date_text, first_name, money
from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.infra.phone import mask_phone
from hsm.money.payments import apply_payment, family_contacts, locked_enrollment
from hsm.money.receipts import Receipt, day_text, receipt_pdf
from hsm.outreach.notices import Notice
from hsm.outreach.notify import deliver
from hsm.people import subscriptions
from hsm.records.changes import Conflict, NotFound, RecordError, record_change
from hsm.whatsapp.client import Document, WhatsAppClient

log = logging.getLogger("hsm.money.office_payments")

METHODS = {"cash": "Cash", "upi": "UPI", "bank": "Bank transfer"}
REFERENCE_REQUIRED = ("upi", "bank")
REFERENCE_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9/_.-]{0,49}")
MIN_TRANSFER_REFERENCE = 6  # a UPI UTR has 12 digits, bank references more: anything shorter is a typo
MAX_BACKDATE_DAYS = 90
MAX_AMOUNT = 1_000_000  # whole rupees; a school fee is thousands, so more is a typo
MAX_REASON = 500
REVERSED = "reversed-"
RECEIPT_TEMPLATE = "payment_receipt"  # {{1}} recipient, {{2}} amount, {{3}} date paid, {{4}} course, {{5}} receipt
RECEIPT_KIND = "reminders"  # a receipt counts as a fee message: a number that stopped them gets none


@dataclass(frozen=True)
class PaymentView:
    """A payment as the office sees it (CLI, admin API)."""

    id: int
    receipt_number: str | None
    student: str  # the student's enrollment id, "HSM-24-001"
    student_name: str
    enrollment_id: int | None
    batch: str | None
    course: str | None
    amount: int
    method: str | None
    reference: str | None  # as the office typed it (normalised), without the stored key's prefixes
    paid_on: date
    recorded_by: str | None
    classes_added: int | None
    due_before: date | None
    due_after: date | None
    reversed_at: datetime | None
    reversed_by: str | None
    reversal_reason: str | None

    def as_json(self) -> dict:
        view = asdict(self)
        for key in ("paid_on", "due_before", "due_after"):
            view[key] = view[key].isoformat() if view[key] else None
        view["reversed_at"] = clock.as_utc(self.reversed_at).isoformat() if self.reversed_at else None
        return view


@dataclass(frozen=True)
class ReceiptDelivery:
    """What became of a receipt: sent (a document in the 24-hour window), template (the approved template with the
    PDF as its header), opted_out, no_recipient, outside_window, failed (logged; the message's status says why)."""

    status: str
    phone: str | None = None


# ---------------------------------------------------------------- reading what the office typed


def parse_date(text: str | date | None, field: str = "date") -> date | None:
    if text is None or isinstance(text, date):
        return text
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError as error:
        raise RecordError(f"{field}: {str(text)[:20]!r} is not a date like 2026-12-01", field) from error


def check_method(method: str) -> str:
    key = str(method or "").strip().lower()
    if key not in METHODS:
        raise RecordError(f"method: must be one of {', '.join(METHODS)}, got {str(method)[:20]!r}", "method")
    return key


def normalise_reference(method: str, reference: str | None) -> str | None:
    """The reference in capitals without spaces; required for UPI and bank transfers."""
    text = "".join(str(reference or "").split()).upper()
    if not text:
        if method in REFERENCE_REQUIRED:
            raise RecordError(f"reference: a {METHODS[method]} payment needs its reference (UTR)", "reference")
        return None
    if not REFERENCE_PATTERN.fullmatch(text):
        raise RecordError("reference: letters, digits and - / _ . only, at most 50", "reference")
    if method in REFERENCE_REQUIRED and len(text) < MIN_TRANSFER_REFERENCE:
        raise RecordError(f"reference: {text!r} is too short for a {METHODS[method]} reference", "reference")
    return text


def check_paid_on(paid_on: date | None, today: date) -> date:
    day = paid_on or today
    if day > today:
        raise RecordError(f"date: {day.isoformat()} is in the future", "date")
    if day < today - timedelta(days=MAX_BACKDATE_DAYS):
        raise RecordError(f"date: {day.isoformat()} is more than {MAX_BACKDATE_DAYS} days ago", "date")
    return day


def check_amount(amount: object) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= MAX_AMOUNT:
        raise RecordError(f"amount: must be whole rupees between 1 and {MAX_AMOUNT}", "amount")
    return amount


def reference_key(method: str, reference: str | None) -> str | None:
    return f"{method}:{reference}" if reference else None


def given_reference(payment: m.Payment) -> str | None:
    """The reference as typed at the office ("412345678901"), else the stored one (a provider's payment id)."""
    key = payment.reference
    if key and key.startswith(REVERSED):
        key = key.split(":", 1)[1]
    prefix = f"{payment.method}:"
    return key[len(prefix) :] if key and key.startswith(prefix) else key


# ---------------------------------------------------------------- views


def _view(payment: m.Payment) -> PaymentView:
    enrollment = payment.enrollment
    return PaymentView(
        id=payment.id,
        receipt_number=payment.receipt_number,
        student=payment.student.enrollment_id,
        student_name=payment.student.name,
        enrollment_id=payment.enrollment_id,
        batch=enrollment.batch.code if enrollment else None,
        course=payment.course.name if payment.course else None,
        amount=payment.amount,
        method=payment.method,
        reference=given_reference(payment),
        paid_on=payment.paid_on,
        recorded_by=payment.recorded_by,
        classes_added=payment.classes_added,
        due_before=payment.due_before,
        due_after=payment.due_after,
        reversed_at=payment.reversed_at,
        reversed_by=payment.reversed_by,
        reversal_reason=payment.reversal_reason,
    )


def _payment(session: Session, payment_id: int, lock: bool = False) -> m.Payment:
    query = select(m.Payment).where(m.Payment.id == payment_id)
    if lock:  # a reversal: two at once must not both find it standing
        query = query.with_for_update().execution_options(populate_existing=True)
    payment = session.execute(
        query.options(
            selectinload(m.Payment.student).selectinload(m.Student.guardian_links),
            selectinload(m.Payment.enrollment).selectinload(m.Enrollment.batch),
            selectinload(m.Payment.course),
        )
    ).scalar_one_or_none()
    if payment is None:
        raise NotFound(f"no payment #{payment_id}", "id")
    return payment


def _enrollment_of(session: Session, student_code: str, batch_code: str | None) -> m.Enrollment:
    """The student's enrollment to pay: the one in `batch_code`, or their only one that has not ended."""
    code = str(student_code or "").strip().upper()
    student = session.execute(
        select(m.Student).where(m.Student.enrollment_id == code).options(selectinload(m.Student.enrollments))
    ).scalar_one_or_none()
    if student is None:
        raise NotFound(f"student: no student with enrollment id {code[:20]!r}", "student")
    if not student.active:
        raise Conflict(f"student: {code} has left the school (inactive); reactivate them first", "student")
    open_enrollments = [e for e in student.enrollments if e.status != "ended"]
    batches = ", ".join(e.batch.code for e in open_enrollments) or "none"
    if batch_code:
        wanted = batch_code.strip().upper()
        found = [e for e in open_enrollments if e.batch.code.upper() == wanted]
        if not found:
            raise NotFound(f"batch: {code} has no open enrollment in {wanted[:40]!r} (theirs: {batches})", "batch")
        return locked_enrollment(session, found[0].id)
    if len(open_enrollments) != 1:
        problem = "has no open enrollment" if not open_enrollments else f"has several enrollments ({batches})"
        raise RecordError(f"batch: {code} {problem}; name the batch", "batch")
    return locked_enrollment(session, open_enrollments[0].id)


# ---------------------------------------------------------------- recording


def record_office_payment(
    session: Session,
    *,
    student: str,
    amount: object,
    method: str,
    recorded_by: str,
    batch: str | None = None,
    reference: str | None = None,
    paid_on: date | str | None = None,
    dry_run: bool = False,
) -> PaymentView:
    """Record a payment taken at the office and apply it to the enrollment as a paid link is applied, with its
    audit row, in the caller's transaction (`dry_run`: checked and worked out, then undone). RecordError (400),
    NotFound (404) or Conflict (409: a reference already recorded, a student who left) refuse it."""
    today = clock.today()
    method = check_method(method)
    amount = check_amount(amount)
    reference = normalise_reference(method, reference)
    day = check_paid_on(parse_date(paid_on), today)
    if not str(recorded_by or "").strip():
        raise RecordError("recorded_by: say who is recording the payment", "recorded_by")
    enrollment = _enrollment_of(session, student, batch)
    key = reference_key(method, reference)
    if key:
        _refuse_duplicate(session, method, reference, key)
    before = {"next_due": enrollment.next_due, "classes_remaining": enrollment.classes_remaining}
    savepoint = session.begin_nested()
    try:
        payment = m.Payment(
            student_id=enrollment.student_id,
            course_id=enrollment.batch.course_id,
            enrollment_id=enrollment.id,
            amount=amount,
            paid_on=day,
            method=method,
            reference=key,
            note=f"{METHODS[method]} at the office" + (f", reference {reference}" if reference else ""),
        )
        session.add(payment)
        session.flush()
        applied = apply_payment(session, payment, enrollment, recorded_by, day)
        after = {
            "payment_id": payment.id,
            "receipt_number": payment.receipt_number,
            "student": enrollment.student.enrollment_id,
            "enrollment_id": enrollment.id,
            "amount": amount,
            "method": method,
            "reference": reference,
            "paid_on": day,
            "classes_added": applied.classes_added,
            "next_due": applied.due_after,
            "classes_remaining": applied.classes_remaining,
        }
        if not applied.advanced:
            after["review"] = f"paid {amount} of a {enrollment.fee} fee: enrollment not advanced"
        record_change(session, recorded_by, "payment.recorded", "payments", payment.id, before, after)
        session.flush()
        view = _view(payment)
    except IntegrityError as error:  # another desk recorded the same reference a moment ago
        savepoint.rollback()
        raise Conflict(
            f"reference: {METHODS[method]} reference {reference} is already recorded", "reference"
        ) from error
    if dry_run:
        savepoint.rollback()
        return PaymentView(**{**asdict(view), "receipt_number": None})
    savepoint.commit()
    log.info(
        "office payment #%d (%s, %s) recorded for %s by %s", view.id, money(amount), method, view.student, recorded_by
    )
    return view


def _refuse_duplicate(session: Session, method: str, reference: str | None, key: str) -> None:
    earlier = session.execute(select(m.Payment).where(m.Payment.reference == key)).scalar_one_or_none()
    if earlier is not None:
        raise Conflict(
            f"reference: {METHODS[method]} reference {reference} is already recorded: payment #{earlier.id} "
            f"({earlier.receipt_number or 'no receipt'}) of {money(earlier.amount)} on {day_text(earlier.paid_on)}",
            "reference",
            "duplicate_reference",
        )


# ---------------------------------------------------------------- reversing


def reverse_payment(session: Session, payment_id: int, reason: str, actor: str, dry_run: bool = False) -> PaymentView:
    """Mark a payment reversed (it is never deleted), taking back the classes it added and restoring the due date
    it moved when nothing has changed since; audited. Conflict when it is reversed already or the enrollment has
    moved on (the message says what to fix first)."""
    reason = " ".join(str(reason or "").split())
    if not reason:
        raise RecordError("reason: say why the payment is reversed", "reason")
    if len(reason) > MAX_REASON:
        raise RecordError(f"reason: at most {MAX_REASON} characters", "reason")
    payment = _payment(session, payment_id, lock=True)
    if payment.reversed_at is not None:
        raise Conflict(
            f"payment #{payment.id} was already reversed on {day_text(clock.as_utc(payment.reversed_at).date())} "
            f"by {payment.reversed_by}; a payment is reversed once",
            "id",
            "already_reversed",
        )
    # What it added is taken back (a payment that added nothing, or whose enrollment is gone, only is marked).
    enrollment = (
        locked_enrollment(session, payment.enrollment_id) if payment.enrollment_id and payment.classes_added else None
    )
    if enrollment is not None:
        _check_nothing_changed_since(session, payment, enrollment)
    savepoint = session.begin_nested()
    before = {"reversed_at": None, "reference": payment.reference}
    after: dict = {"reason": reason}
    if enrollment is not None:
        before.update(next_due=enrollment.next_due, classes_remaining=enrollment.classes_remaining)
        enrollment.next_due = payment.due_before
        enrollment.classes_remaining -= payment.classes_added
        after.update(next_due=enrollment.next_due, classes_remaining=enrollment.classes_remaining)
    payment.reversed_at = clock.utcnow()
    payment.reversed_by = actor[:60]
    payment.reversal_reason = reason
    if payment.method in METHODS and payment.reference and payment.reference.startswith(f"{payment.method}:"):
        payment.reference = f"{REVERSED}{payment.id}:{payment.reference}"  # the reference may be recorded again
    after.update(reversed_at=payment.reversed_at, reversed_by=payment.reversed_by, reference=payment.reference)
    record_change(session, actor, "payment.reversed", "payments", payment.id, before, after)
    session.flush()
    view = _view(payment)
    if dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
        log.info("payment #%d reversed by %s", payment_id, actor)
    return view


def _check_nothing_changed_since(session: Session, payment: m.Payment, enrollment: m.Enrollment) -> None:
    code, batch = payment.student.enrollment_id, enrollment.batch.code
    later = session.execute(
        select(m.Payment)
        .where(
            m.Payment.enrollment_id == enrollment.id,
            m.Payment.id > payment.id,
            m.Payment.reversed_at.is_(None),
            m.Payment.classes_added > 0,
        )
        .order_by(m.Payment.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if later is not None:
        raise Conflict(
            f"payment #{later.id} ({later.receipt_number}), recorded after this one, moved {code}'s {batch} due date "
            f"again: reverse #{later.id} first, then this one",
            "id",
            "changed_since",
        )
    if enrollment.next_due != payment.due_after:
        raise Conflict(
            f"{code}'s {batch} is now due {day_text(enrollment.next_due)}, not {day_text(payment.due_after)} as this "
            f"payment left it: set the due date back to {day_text(payment.due_after)} (or correct the enrollment by "
            "hand) before reversing",
            "id",
            "changed_since",
        )
    if enrollment.classes_remaining < payment.classes_added:
        raise Conflict(
            f"{code} has {enrollment.classes_remaining} classes left in {batch}, fewer than the "
            f"{payment.classes_added} this payment added: correct the classes by hand before reversing",
            "id",
            "changed_since",
        )


# ---------------------------------------------------------------- listing


def list_payments(
    session: Session,
    *,
    student: str | None = None,
    method: str | None = None,
    since: date | None = None,
    until: date | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[PaymentView]]:
    """(how many match, one page of them), newest first: every payment (office, links, imported)."""
    query = select(m.Payment)
    if student:
        query = query.join(m.Student, m.Student.id == m.Payment.student_id).where(
            m.Student.enrollment_id == student.strip().upper()
        )
    if method:
        query = query.where(func.lower(m.Payment.method) == method.strip().lower())
    if since:
        query = query.where(m.Payment.paid_on >= since)
    if until:
        query = query.where(m.Payment.paid_on <= until)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(
        query.options(
            selectinload(m.Payment.student),
            selectinload(m.Payment.enrollment).selectinload(m.Enrollment.batch),
            selectinload(m.Payment.course),
        )
        .order_by(m.Payment.paid_on.desc(), m.Payment.id.desc())
        .limit(limit)
        .offset(offset)
    ).scalars()
    return total, [_view(payment) for payment in rows]


# ---------------------------------------------------------------- receipts


def receipt_for(session: Session, payment_id: int) -> Receipt:
    """What the payment's receipt says. NotFound for no such payment, Conflict for one without a receipt (imported
    from the school file)."""
    return _receipt(session, _payment(session, payment_id))


def _receipt(session: Session, payment: m.Payment) -> Receipt:
    if not payment.receipt_number:
        raise Conflict(f"payment #{payment.id} has no receipt: it was imported, not recorded here", "id", "no_receipt")
    school = session.execute(select(m.School).limit(1)).scalar_one_or_none()
    enrollment = payment.enrollment
    contact = " · ".join(part for part in (school.phone, school.email) if part) if school else None
    reversal = None
    if payment.reversed_at is not None:
        reversal = f"on {day_text(clock.as_utc(payment.reversed_at).date())}: {payment.reversal_reason}"
    return Receipt(
        receipt_number=payment.receipt_number,
        school_name=school.name if school else "Hyderabad School of Music",
        school_address=school.address if school else None,
        school_contact=contact or None,
        student_name=payment.student.name,
        student_code=payment.student.enrollment_id,
        batch=f"{enrollment.batch.code} ({enrollment.batch.name})" if enrollment else None,
        course=payment.course.name if payment.course else None,
        amount=payment.amount,
        method=METHODS.get(payment.method or "", payment.method or "-"),
        reference=given_reference(payment) if payment.method in METHODS else None,
        paid_on=payment.paid_on,
        classes_added=payment.classes_added,
        next_due=payment.due_after,
        reversal=reversal,
    )


def receipt_notice(session: Session, payment_id: int) -> tuple[Notice | None, str]:
    """The receipt's notice for the first of the family (student, then guardians) who has not opted out, with the
    PDF attached; (None, "opted_out" | "no_recipient") when there is nobody to send it to."""
    payment = _payment(session, payment_id)
    receipt = _receipt(session, payment)
    family = family_contacts(payment.student)
    allowed = [person for person in family if subscriptions.is_subscribed(session, person[0], RECEIPT_KIND)]
    if not allowed:
        return None, "opted_out" if family else "no_recipient"
    phone, audience, name = allowed[0]
    course = receipt.course or "classes"
    whose = f"{first_name(payment.student)}'s " if audience == "guardian" else ""
    text = (
        f"✅ Payment received: {money(receipt.amount)} for {whose}{course}, paid by {receipt.method} on "
        f"{date_text(receipt.paid_on, clock.today())}."
    )
    if receipt.classes_added:
        text += f" {receipt.classes_added} classes added; next payment due {day_text(receipt.next_due)}."
    text += f" Your receipt {receipt.receipt_number} is attached. Thank you!"
    parameters = (name.split()[0], str(receipt.amount), day_text(receipt.paid_on), f"{whose}{course}")
    document = Document(receipt_pdf(receipt), receipt.filename)
    return Notice(phone, audience, text, RECEIPT_TEMPLATE, (*parameters, receipt.receipt_number), document), "ready"


def _prepare_receipt(payment_id: int) -> tuple[Notice | None, str]:
    with session_scope() as session:
        return receipt_notice(session, payment_id)


async def send_receipt(payment_id: int, client: WhatsAppClient | None = None) -> ReceiptDelivery:
    """Send a committed payment's receipt to the family. Never raises: a failure is logged (masked) and returned,
    and the message's row (`whatsapp_messages`) keeps its status and error."""
    phone = None
    try:
        notice, why = await asyncio.to_thread(_prepare_receipt, payment_id)
        if notice is None:
            log.info("receipt of payment #%d not sent: %s", payment_id, why)
            return ReceiptDelivery(why)
        phone = notice.phone
        report = await deliver([notice], client, kind=RECEIPT_KIND)
        status = next(iter(report.outcomes), "failed")
    except Exception as error:  # noqa: BLE001 - the payment stands whatever happens to its receipt
        log.error("receipt of payment #%d to %s failed: %s", payment_id, mask_phone(phone), error)
        status = "failed"
    log.info("receipt of payment #%d to %s: %s", payment_id, mask_phone(phone), status)
    return ReceiptDelivery(status, phone)
