"""Payments taken at the office (hsm.money.office_payments) against the demo school, on SQLite and PostgreSQL:
recorded and applied exactly as a paid link is, refused when malformed or duplicated, reversed once (restoring
the enrollment only when nothing changed since), listed, and receipted (the PDF and whom it goes to)."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from hsm.infra import models as m
from hsm.infra.db import session_factory, session_scope
from hsm.money import office_payments as op
from hsm.money import payments, receipts
from hsm.money.providers import PaidEvent
from hsm.people import subscriptions
from hsm.records.changes import Conflict, NotFound, RecordError
from tests.integration.test_payments import issued_link, john_keyboard

JOHN, SUSAN, KAVITHA = "+919876543210", "+919845000002", "+919845000007"
TODAY = date(2026, 12, 1)  # the demo week's "now" (tests/conftest.py DEMO_NOW)


def record(session, **overrides) -> op.PaymentView:
    fields = {
        "student": "HSM-24-001",
        "batch": "KEY-BEG-MWF18",
        "amount": 2000,
        "method": "upi",
        "reference": "412345678901",
        "recorded_by": "cli:meera",
    }
    return op.record_office_payment(session, **{**fields, **overrides})


def state(enrollment: m.Enrollment) -> tuple[date | None, int]:
    return enrollment.next_due, enrollment.classes_remaining


def audit(session, action: str) -> list[m.AuditLog]:
    return session.execute(select(m.AuditLog).filter_by(action=action).order_by(m.AuditLog.id)).scalars().all()


# ---------------------------------------------------------------- recording


def test_an_office_payment_adds_classes_and_moves_the_due_date_as_a_paid_link_does(session):
    """One enrollment paid at the desk (then reversed) and paid by a link: the same classes, the same due date."""
    enrollment = john_keyboard(session)
    assert state(enrollment) == (date(2026, 12, 20), 15)
    view = record(session, method="cash", reference=None)
    at_the_desk = state(enrollment)
    desk = session.get(m.Payment, view.id)
    op.reverse_payment(session, view.id, "to pay by link instead", "cli:meera")
    assert state(enrollment) == (date(2026, 12, 20), 15)
    link = issued_link(session, enrollment, "plink_Same")
    paid = payments.record_paid(
        session, "local", PaidEvent(link.link_id, link.reference, 2000, "pay_Same", currency="INR")
    )
    by_link = session.execute(select(m.Payment).filter_by(reference="pay_Same")).scalar_one()
    assert at_the_desk == state(enrollment) == (paid.next_due, paid.classes_remaining) == (date(2027, 1, 20), 23)
    assert (desk.classes_added, desk.due_before, desk.due_after) == (
        by_link.classes_added,
        by_link.due_before,
        by_link.due_after,
    )
    assert (by_link.classes_added, by_link.due_after) == (8, date(2027, 1, 20))
    assert by_link.receipt_number == f"HSM-R-{by_link.id:06d}" and by_link.recorded_by == "system:payment-webhook"


def test_recording_a_cash_payment_fills_the_payment_and_the_audit_trail(session):
    view = record(session, method="cash", reference=None, batch="gtr-beg-tt17", amount=5500, paid_on="2026-11-28")
    payment = session.get(m.Payment, view.id)
    assert (payment.method, payment.reference, payment.paid_on, payment.recorded_by) == (
        "cash",
        None,
        date(2026, 11, 28),
        "cli:meera",
    )
    assert view.receipt_number == payment.receipt_number == f"HSM-R-{payment.id:06d}"
    assert (view.classes_added, view.due_before, view.due_after) == (24, date(2027, 2, 10), date(2027, 5, 10))
    (row,) = audit(session, "payment.recorded")
    assert (row.actor, row.entity, row.entity_id) == ("cli:meera", "payments", str(payment.id))
    assert row.before == {"next_due": "2027-02-10", "classes_remaining": 22}
    assert row.after["next_due"] == "2027-05-10" and row.after["classes_remaining"] == 46
    assert row.after["method"] == "cash" and row.after["paid_on"] == "2026-11-28"


def test_less_than_the_fee_is_recorded_but_changes_nothing_and_is_flagged(session):
    view = record(session, amount=500)
    assert (view.classes_added, view.due_before, view.due_after) == (0, date(2026, 12, 20), date(2026, 12, 20))
    assert state(john_keyboard(session)) == (date(2026, 12, 20), 15)
    assert "not advanced" in audit(session, "payment.recorded")[0].after["review"]


def test_a_dry_run_saves_nothing(session):
    view = record(session, dry_run=True)
    assert view.receipt_number is None and view.due_after == date(2027, 1, 20)
    assert state(john_keyboard(session)) == (date(2026, 12, 20), 15)
    assert session.execute(select(m.Payment).where(m.Payment.reference.like("upi:%"))).first() is None
    assert audit(session, "payment.recorded") == []


@pytest.mark.parametrize(
    "overrides, error, field, words",
    [
        ({"reference": None}, RecordError, "reference", "needs its reference"),
        ({"method": "bank", "reference": "  "}, RecordError, "reference", "needs its reference"),
        ({"reference": "12AB"}, RecordError, "reference", "too short"),
        ({"reference": "4123;DROP"}, RecordError, "reference", "letters, digits"),
        ({"method": "card"}, RecordError, "method", "cash, upi, bank"),
        ({"amount": 0}, RecordError, "amount", "whole rupees"),
        ({"amount": 2000.5}, RecordError, "amount", "whole rupees"),
        ({"amount": True}, RecordError, "amount", "whole rupees"),
        ({"paid_on": "2026-12-02"}, RecordError, "date", "in the future"),
        ({"paid_on": (TODAY - timedelta(days=91)).isoformat()}, RecordError, "date", "90 days"),
        ({"paid_on": "01/12/2026"}, RecordError, "date", "not a date"),
        ({"batch": None}, RecordError, "batch", "several enrollments"),
        ({"batch": "PNO-BEG-WF17"}, NotFound, "batch", "no open enrollment"),
        ({"student": "HSM-99-999"}, NotFound, "student", "no student"),
        ({"recorded_by": " "}, RecordError, "recorded_by", "who is recording"),
    ],
)
def test_malformed_payments_are_refused_and_change_nothing(session, overrides, error, field, words):
    with pytest.raises(error) as refused:
        record(session, **overrides)
    assert refused.value.field == field and words in refused.value.message
    assert state(john_keyboard(session)) == (date(2026, 12, 20), 15)
    assert audit(session, "payment.recorded") == []


def test_a_utr_is_recorded_once_per_method(session):
    first = record(session)
    with pytest.raises(Conflict) as duplicate:
        record(session, reference="4123 4567 8901", batch="GTR-BEG-TT17", amount=5500)
    assert duplicate.value.code == "duplicate_reference" and f"payment #{first.id}" in duplicate.value.message
    same_number_by_bank = record(session, method="bank", reference="412345678901", batch="GTR-BEG-TT17", amount=5500)
    assert same_number_by_bank.reference == "412345678901" and same_number_by_bank.method == "bank"
    assert len(audit(session, "payment.recorded")) == 2


def test_a_student_who_left_cannot_pay(session):
    session.execute(select(m.Student).filter_by(enrollment_id="HSM-24-001")).scalar_one().active = False
    with pytest.raises(Conflict, match="has left"):
        record(session)


# ---------------------------------------------------------------- reversing


def test_a_reversal_takes_back_the_classes_and_restores_the_due_date_once(session):
    view = record(session)
    assert state(john_keyboard(session)) == (date(2027, 1, 20), 23)
    dry = op.reverse_payment(session, view.id, "dry", "api:meera", dry_run=True)
    assert dry.reversed_at is not None and session.get(m.Payment, view.id).reversed_at is None
    reversed_ = op.reverse_payment(session, view.id, "  entered for the\nwrong student ", "api:meera")
    assert state(john_keyboard(session)) == (date(2026, 12, 20), 15)
    payment = session.get(m.Payment, view.id)
    assert (payment.reversed_by, payment.reversal_reason) == ("api:meera", "entered for the wrong student")
    assert reversed_.reference == "412345678901" and payment.reference == f"reversed-{view.id}:upi:412345678901"
    (row,) = audit(session, "payment.reversed")
    assert row.before["next_due"] == "2027-01-20" and row.after["next_due"] == "2026-12-20"
    assert row.after["classes_remaining"] == 15 and row.after["reason"] == "entered for the wrong student"
    with pytest.raises(Conflict) as twice:
        op.reverse_payment(session, view.id, "again", "api:meera")
    assert twice.value.code == "already_reversed"
    assert state(john_keyboard(session)) == (date(2026, 12, 20), 15)
    again = record(session)  # the same UTR, recorded rightly this time
    assert again.id != view.id


def test_a_reversal_is_refused_when_the_enrollment_moved_on(session):
    first = record(session)
    second = record(session, method="cash", reference=None)
    assert state(john_keyboard(session)) == (date(2027, 2, 20), 31)
    with pytest.raises(Conflict) as later:
        op.reverse_payment(session, first.id, "wrong", "api:meera")
    assert f"reverse #{second.id} first" in later.value.message
    op.reverse_payment(session, second.id, "wrong", "api:meera")
    john_keyboard(session).next_due = date(2027, 1, 25)  # changed by hand since
    with pytest.raises(Conflict) as by_hand:
        op.reverse_payment(session, first.id, "wrong", "api:meera")
    assert "now due 25 Jan 2027, not 20 Jan 2027" in by_hand.value.message
    john_keyboard(session).next_due = date(2027, 1, 20)
    john_keyboard(session).classes_remaining = 5  # classes used (or corrected) since
    with pytest.raises(Conflict, match="fewer than the 8"):
        op.reverse_payment(session, first.id, "wrong", "api:meera")
    assert session.get(m.Payment, first.id).reversed_at is None
    assert len(audit(session, "payment.reversed")) == 1


def test_reversal_needs_a_reason_and_a_payment(session):
    with pytest.raises(RecordError, match="reason"):
        op.reverse_payment(session, 1, " ", "api:meera")
    with pytest.raises(NotFound):
        op.reverse_payment(session, 999_999, "why", "api:meera")


def test_an_imported_payment_is_reversed_without_touching_the_enrollment(session):
    imported = session.execute(select(m.Payment).where(m.Payment.reference.like("import:HSM-24-001:2026-11-10%")))
    payment = imported.scalar_one()
    view = op.reverse_payment(session, payment.id, "refunded", "cli:meera")
    assert view.reversed_at is not None and payment.reference.startswith("import:")


# ---------------------------------------------------------------- listing and receipts


def test_list_filters_and_pages_newest_first(session):
    upi = record(session)
    cash = record(session, method="cash", reference=None, batch="GTR-BEG-TT17", amount=5500, paid_on="2026-11-30")
    total, page = op.list_payments(session, student="hsm-24-001")
    assert total == 4 and [p.id for p in page][:2] == [upi.id, cash.id]
    assert op.list_payments(session, method="CASH")[1] == [cash]
    assert [p.id for p in op.list_payments(session, student="HSM-24-001", since=date(2026, 11, 30))[1]] == [
        upi.id,
        cash.id,
    ]
    assert op.list_payments(session, until=date(2025, 12, 31))[0] == 1
    assert len(op.list_payments(session, limit=2, offset=1)[1]) == 2


def test_the_receipt_pdf_names_the_school_the_payment_and_what_it_changed(session):
    view = record(session)
    receipt = op.receipt_for(session, view.id)
    assert (receipt.school_name, receipt.student_code) == ("Hyderabad School of Music", "HSM-24-001")
    assert (receipt.method, receipt.reference, receipt.classes_added, receipt.next_due) == (
        "UPI",
        "412345678901",
        8,
        date(2027, 1, 20),
    )
    assert receipt.batch.startswith("KEY-BEG-MWF18 (") and receipt.school_address.startswith("Road No. 36")
    pdf = receipts.receipt_pdf(receipt)
    assert pdf.startswith(b"%PDF") and view.receipt_number.encode() in pdf
    with pytest.raises(Conflict, match="imported"):
        op.receipt_for(session, session.execute(select(m.Payment.id).order_by(m.Payment.id)).scalars().first())


def test_without_dejavu_the_receipt_writes_rupees_as_rs(session, monkeypatch):
    view = record(session)
    monkeypatch.setattr(receipts, "unicode_fonts", lambda: None)
    page = receipts._ReceiptPage(None)
    assert page.money(2000) == "Rs. 2,000" and page.text("Ravi ₹") == "Ravi ?"
    assert receipts.receipt_pdf(op.receipt_for(session, view.id)).startswith(b"%PDF")


def test_the_receipt_goes_to_the_family_and_never_to_an_opted_out_number(session):
    notice, _ = op.receipt_notice(session, record(session).id)
    assert (notice.phone, notice.audience, notice.template) == (JOHN, "student", "payment_receipt")
    assert notice.template_params[:4] == ("John", "2000", "1 Dec 2026", "Keyboard")
    assert notice.document.filename.endswith(".pdf") and notice.document.content.startswith(b"%PDF")
    assert "8 classes added; next payment due 20 Jan 2027" in notice.text
    mary = record(session, student="HSM-24-002", batch=None, method="cash", reference=None)
    notice, _ = op.receipt_notice(session, mary.id)
    assert (notice.phone, notice.audience, notice.template_params[3]) == (SUSAN, "guardian", "Mary's Guitar")
    subscriptions.opt_out(session, SUSAN)
    assert op.receipt_notice(session, mary.id) == (None, "opted_out")
    nandini = record(session, student="HSM-24-039", batch=None, method="cash", reference=None, amount=1800)
    assert op.receipt_notice(session, nandini.id) == (None, "opted_out")  # opted out in the school file


def test_two_desks_at_once_lose_neither_payment(school_db, backend):
    """The second desk waits for the first's lock on the enrollment, then builds on its result."""
    if backend == "sqlite":
        pytest.skip("SQLite has one writer at a time; the row lock is PostgreSQL's")
    first_desk = session_factory(school_db)()
    record(first_desk, method="cash", reference=None)
    second: dict[str, op.PaymentView] = {}

    def second_desk() -> None:
        with session_scope(school_db) as session:
            second["view"] = record(session, method="cash", reference=None)

    thread = threading.Thread(target=second_desk)
    thread.start()
    thread.join(1.0)
    assert thread.is_alive()  # waiting for the first desk's transaction
    first_desk.commit()
    first_desk.close()
    thread.join(30)
    assert (second["view"].due_before, second["view"].due_after) == (date(2027, 1, 20), date(2027, 2, 20))
    with session_scope(school_db) as session:
        assert state(john_keyboard(session)) == (date(2027, 2, 20), 31)
