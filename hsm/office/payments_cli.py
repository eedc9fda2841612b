"""`hsm payments record|reverse|list|receipt`: payments taken at the office, from the command line (the work is
`hsm.money.office_payments`). `hsm.cli` registers them with `add_payment_commands(commands)`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from hsm.infra.phone import mask_phone
from hsm.records.changes import add_by_option


def _refused(error: Exception) -> int:
    print(f"payments: {error}", file=sys.stderr)
    return 2


def _describe(payment: Any) -> str:
    from hsm.classes.family import money
    from hsm.money.office_payments import METHODS
    from hsm.money.receipts import day_text

    method = METHODS.get(payment.method or "", payment.method or "?")
    reference = f" (ref. {payment.reference})" if payment.reference and payment.method in METHODS else ""
    where = f", {payment.batch}" if payment.batch else ""
    reversed_ = f"  REVERSED: {payment.reversal_reason}" if payment.reversed_at else ""
    return (
        f"#{payment.id} {payment.receipt_number or '-'}  {money(payment.amount)} {method}{reference} on "
        f"{day_text(payment.paid_on)}  {payment.student} {payment.student_name}{where}{reversed_}"
    )


def _change(payment: Any) -> str:
    from hsm.money.receipts import day_text

    if not payment.classes_added:
        return "  less than the fee: classes and due date unchanged (flagged for review)"
    return (
        f"  {payment.classes_added} classes added; next due {day_text(payment.due_before)} -> "
        f"{day_text(payment.due_after)}"
    )


def _cmd_record(args: argparse.Namespace) -> int:
    from hsm.infra.db import session_scope
    from hsm.money import office_payments as op
    from hsm.records.changes import RecordError

    try:
        with session_scope() as session:
            payment = op.record_office_payment(
                session,
                student=args.student,
                batch=args.batch,
                amount=args.amount,
                method=args.method,
                reference=args.reference,
                paid_on=args.date,
                recorded_by=f"cli:{args.by}",
                dry_run=args.dry_run,
            )
    except RecordError as error:
        return _refused(error)
    print(f"{'would record' if args.dry_run else 'recorded'} payment {_describe(payment)}")
    print(_change(payment))
    if args.dry_run or args.no_receipt:
        return 0
    # The payment is committed: a failed receipt is reported, never a reason to record it again (exit 0).
    delivery = asyncio.run(op.send_receipt(payment.id))
    print(f"  receipt to {mask_phone(delivery.phone)}: {delivery.status}")
    if delivery.status == "failed":
        print("payments: the receipt was not sent (see the log); the payment stands", file=sys.stderr)
    return 0


def _cmd_reverse(args: argparse.Namespace) -> int:
    from hsm.infra.db import session_scope
    from hsm.money import office_payments as op
    from hsm.money.receipts import day_text
    from hsm.records.changes import RecordError

    try:
        with session_scope() as session:
            payment = op.reverse_payment(session, args.id, args.reason, f"cli:{args.by}", dry_run=args.dry_run)
    except RecordError as error:
        return _refused(error)
    print(f"{'would reverse' if args.dry_run else 'reversed'} payment {_describe(payment)}")
    if payment.classes_added:
        print(f"  {payment.classes_added} classes taken back; next due back to {day_text(payment.due_before)}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from hsm.infra.db import session_scope
    from hsm.money import office_payments as op
    from hsm.records.changes import RecordError

    try:
        with session_scope() as session:
            total, payments = op.list_payments(
                session,
                student=args.student,
                method=op.check_method(args.method) if args.method else None,
                since=op.parse_date(args.since, "since"),
                limit=args.limit,
            )
    except RecordError as error:
        return _refused(error)
    print(f"{total} payment(s){'' if total <= len(payments) else f', the newest {len(payments)} shown'}")
    for payment in payments:
        print(f"  {_describe(payment)}")
    return 0


def _cmd_receipt(args: argparse.Namespace) -> int:
    from hsm.infra.db import session_scope
    from hsm.money import office_payments as op
    from hsm.money.receipts import receipt_pdf
    from hsm.records.changes import RecordError

    try:
        with session_scope() as session:
            receipt = op.receipt_for(session, args.id)
    except RecordError as error:
        return _refused(error)
    Path(args.out).write_bytes(receipt_pdf(receipt))
    print(f"receipt {receipt.receipt_number} written to {args.out}")
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def add_payment_commands(commands: Any) -> None:
    """Register `hsm payments record|reverse|list|receipt`."""
    from hsm.money.office_payments import MAX_BACKDATE_DAYS, METHODS

    payments = commands.add_parser("payments", help="payments taken at the office: record, reverse, list, receipts")
    actions = payments.add_subparsers(dest="payments_command", required=True)

    record = actions.add_parser(
        "record",
        help="record a cash, UPI or bank payment; the receipt goes to the family on WhatsApp",
        description="Adds the plan's classes and moves the due date as a paid link does (a full fee), writes the "
        "audit trail, then sends the receipt (a PDF) to the student or a guardian who has not opted out.",
    )
    record.add_argument("--student", required=True, metavar="ENROLLMENT_ID", help="the student, e.g. HSM-24-001")
    record.add_argument("--batch", metavar="CODE", help="which enrollment, when the student has several")
    record.add_argument("--amount", required=True, type=_positive, help="whole rupees")
    record.add_argument("--method", required=True, type=str.lower, choices=list(METHODS))
    record.add_argument("--reference", help="UPI UTR or bank reference (required for upi and bank)")
    record.add_argument(
        "--date",
        metavar="YYYY-MM-DD",
        help=f"the day it was paid (default today; at most {MAX_BACKDATE_DAYS} days ago)",
    )
    add_by_option(record, "who is recording it, for the audit trail (cli:NAME)")
    record.add_argument("--dry-run", action="store_true", help="check and show what would change; save nothing")
    record.add_argument("--no-receipt", action="store_true", help="do not send the receipt on WhatsApp")
    record.set_defaults(handler=_cmd_record)

    reverse = actions.add_parser(
        "reverse",
        help="reverse a payment (kept, marked reversed): its classes taken back, the due date restored",
        description="Refused when the payment is already reversed, or when the enrollment changed since (a later "
        "payment, a due date or classes changed by hand): the message says what to fix first.",
    )
    reverse.add_argument("id", type=_positive, metavar="ID", help="the payment's id (#41 in `hsm payments list`)")
    reverse.add_argument("--reason", required=True, help="why, for the audit trail")
    add_by_option(reverse, "who is reversing it, for the audit trail (cli:NAME)")
    reverse.add_argument("--dry-run", action="store_true", help="check and show what would change; save nothing")
    reverse.set_defaults(handler=_cmd_reverse)

    listing = actions.add_parser("list", help="payments, newest first")
    listing.add_argument("--student", metavar="ENROLLMENT_ID")
    listing.add_argument("--method", type=str.lower, choices=list(METHODS))
    listing.add_argument("--since", metavar="YYYY-MM-DD", help="paid on or after this day")
    listing.add_argument("--limit", type=_positive, default=50)
    listing.set_defaults(handler=_cmd_list)

    receipt = actions.add_parser("receipt", help="write a payment's receipt (PDF) to a file")
    receipt.add_argument("id", type=_positive, metavar="ID")
    receipt.add_argument("--out", required=True, metavar="FILE.pdf")
    receipt.set_defaults(handler=_cmd_receipt)
