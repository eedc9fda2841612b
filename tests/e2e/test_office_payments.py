"""Payments taken at the office, end to end: `hsm payments record` against the running stack's database, the
receipt PDF uploaded to the sandbox and sent to the family (the approved template with the PDF as its header, or a
document message when they wrote within 24 hours), and the due date moved."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from hsm.infra import models as m
from hsm.infra.db import session_scope

pytestmark = pytest.mark.slow

JOHN, SUSAN = "+919876543210", "+919845000002"


def enrollment_state(stack, student: str) -> tuple[date | None, int]:
    with session_scope(stack.database_url) as session:
        enrollment = (
            session.execute(
                select(m.Enrollment).join(m.Student).where(m.Student.enrollment_id == student).order_by(m.Enrollment.id)
            )
            .scalars()
            .first()
        )
        return enrollment.next_due, enrollment.classes_remaining


def receipt_number_of(stack, student: str) -> str:
    with session_scope(stack.database_url) as session:
        return session.execute(
            select(m.Payment.receipt_number)
            .join(m.Student)
            .where(m.Student.enrollment_id == student, m.Payment.recorded_by == "cli:meera")
        ).scalar_one()


def test_an_office_cash_payment_moves_the_due_date_and_the_family_receives_the_receipt_document(stack):
    assert enrollment_state(stack, "HSM-24-002") == (date(2026, 12, 8), 6)
    after = stack.last_seq()
    done = stack.hsm(
        "payments", "record", "--student", "HSM-24-002", "--amount", "2000", "--method", "cash", "--by", "meera"
    )
    assert done.returncode == 0, done.stderr
    assert "receipt to +91******0002: template" in done.stdout
    assert enrollment_state(stack, "HSM-24-002") == (date(2027, 1, 8), 14)
    (sent,) = stack.replies(SUSAN, after)
    template = sent["payload"]["template"]
    assert sent["type"] == "template" and template["name"] == "payment_receipt"
    header = template["components"][0]
    document = header["parameters"][0]["document"]
    number = receipt_number_of(stack, "HSM-24-002")
    assert header["type"] == "header" and document["filename"] == f"{number}.pdf"
    pdf = stack.sandbox_media(document["id"])
    assert pdf.startswith(b"%PDF") and number.encode() in pdf


def test_a_family_that_just_wrote_gets_the_receipt_as_a_document_message(stack):
    after = stack.last_seq()
    stack.send_text(JOHN, "hi")
    stack.replies(JOHN, after)
    after = stack.last_seq()
    done = stack.hsm(
        "payments",
        "record",
        "--student",
        "HSM-24-001",
        "--batch",
        "KEY-BEG-MWF18",
        "--amount",
        "2000",
        "--method",
        "upi",
        "--reference",
        "412345678901",
        "--by",
        "meera",
    )
    assert done.returncode == 0, done.stderr
    (sent,) = stack.replies(JOHN, after)
    assert sent["type"] == "document"
    document = sent["payload"]["document"]
    number = receipt_number_of(stack, "HSM-24-001")
    assert document["filename"] == f"{number}.pdf" and "next payment due 20 Jan 2027" in document["caption"]
    pdf = stack.sandbox_media(document["id"])
    assert pdf.startswith(b"%PDF") and number.encode() in pdf
