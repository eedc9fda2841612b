"""`hsm leads list|show|move|convert` (the leads pipeline) and `hsm students add` (admissions). Changes are made as
"cli:<--by>" and can be tried with `--dry-run` (everything checked and done, then rolled back). A refused change
prints why: exit status 2 for invalid input, 1 when the records do not allow it (unknown lead, final lead, full
batch, shared phone). `hsm.cli` registers them with `add_leads_commands` and `add_admission_command`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date
from typing import Any

from hsm.infra import clock
from hsm.infra import models as m
from hsm.outreach import leads
from hsm.records.changes import RecordError, add_by_option

EXIT_STATUS = {"invalid": 2, "not_found": 1, "conflict": 1}


def _run(args: argparse.Namespace, work: Callable[[Any], list[str]]) -> int:
    """Run `work(session)` in one transaction (rolled back with --dry-run) and print the lines it returns."""
    from hsm.infra.db import session_scope

    dry_run = getattr(args, "dry_run", False)
    try:
        with session_scope() as session:
            lines = work(session)
            if dry_run:
                session.rollback()
    except RecordError as error:
        field = f"{error.field}: " if error.field else ""
        print(f"refused: {field}{error.message}", file=sys.stderr)
        return EXIT_STATUS[error.kind]
    prefix = "dry run, nothing saved: " if dry_run else ""
    for index, line in enumerate(lines):
        print(prefix + line if index == 0 else line)
    return 0


def _actor(args: argparse.Namespace) -> str:
    return f"cli:{args.by}"


def _when(value: Any) -> str:
    if value is None:
        return "-"
    return clock.as_utc(value).astimezone(clock.school_timezone()).strftime("%a %d %b %Y %H:%M")


def _lead_line(lead: m.Lead) -> str:
    created = clock.as_utc(lead.created_at).astimezone(clock.school_timezone()).strftime("%Y-%m-%d")
    course = lead.course.name if lead.course else "-"
    age = f"{lead.student_age}y" if lead.student_age is not None else "-"
    return f"{lead.id:>5}  {lead.status:<12}  {created}  {lead.phone:<16}  {course:<16}  {age:<4}  {lead.name or '-'}"


def _lead_card(session: Any, lead: m.Lead) -> list[str]:
    moves = ", ".join(leads.MOVES[lead.status])
    lines = [
        f"lead {lead.id}: {lead.name or '(no name)'}, {lead.phone}, {lead.status} (next: {moves})",
        f"  course: {lead.course.name if lead.course else '-'}; age {lead.student_age or '-'}; "
        f"level {lead.level or '-'}; prefers {lead.preferred_slot or '-'}; source {lead.source}",
    ]
    if lead.trial_at:
        batch = f" in {lead.trial_batch.code}" if lead.trial_batch else ""
        lines.append(f"  trial: {_when(lead.trial_at)}{batch}")
    if lead.student:
        lines.append(f"  student: {lead.student.enrollment_id} {lead.student.name}")
    if lead.lost_reason:
        lines.append(f"  lost: {lead.lost_reason}")
    lines.append("  history:")
    for event in leads.lead_events(session, lead.id):
        step = f"{event.from_status} -> {event.to_status}" if event.from_status else f"created ({event.to_status})"
        extra = ", ".join(f"{key} {value}" for key, value in (event.details or {}).items())
        extra = f" [{extra}]" if extra else ""
        note = f" \u2014 {event.note}" if event.note else ""
        lines.append(f"    {_when(event.created_at)}  {step}  by {event.actor}{extra}{note}")
    return lines


# ------------------------------------------------------------------------------------------------ leads


def _cmd_list(args: argparse.Namespace) -> int:
    statuses = tuple(s.strip() for value in args.status or [] for s in value.split(",") if s.strip()) or None
    wanted = leads.LeadFilter(statuses, args.course, args.since, args.search)

    def work(session: Any) -> list[str]:
        rows, total = leads.list_leads(session, wanted, args.limit, args.offset)
        shown = f"{args.offset + 1}-{args.offset + len(rows)}" if rows else "none"
        header = f"{total} lead(s), showing {shown}"
        columns = f"{'id':>5}  {'status':<12}  {'created':<10}  {'phone':<16}  {'course':<16}  {'age':<4}  name"
        return [header, columns, *(_lead_line(row) for row in rows)] if rows else [header]

    return _run(args, work)


def _cmd_show(args: argparse.Namespace) -> int:
    return _run(args, lambda session: _lead_card(session, leads.get_lead(session, args.lead_id)))


def _cmd_move(args: argparse.Namespace) -> int:
    def work(session: Any) -> list[str]:
        trial_at = leads.parse_when(args.trial_at) if args.trial_at else None
        lead = leads.move_lead(
            session,
            args.lead_id,
            args.status,
            _actor(args),
            note=args.note,
            trial_at=trial_at,
            batch=args.batch,
            course=args.course,
            reason=args.reason,
            student=args.student,
            may_reopen=True,  # the CLI is run by the school's operators, with the database's rights: an admin's
        )
        return [f"lead {lead.id} moved to {lead.status}", *_lead_card(session, lead)[1:]]

    return _run(args, work)


def _cmd_convert(args: argparse.Namespace) -> int:
    from hsm.people.admissions import convert_lead

    def work(session: Any) -> list[str]:
        lead, admission = convert_lead(
            session,
            _actor(args),
            args.lead_id,
            batch_code=args.batch,
            plan=args.plan,
            student_name=args.student_name,
            guardian_name=args.guardian_name,
            guardian_relation=args.relation,
            dob=args.dob,
            email=args.email,
            note=args.note,
            **_enrollment_options(args),
        )
        return [f"lead {lead.id} enrolled: {_admission_text(admission)}"]

    return _run(args, work)


# ------------------------------------------------------------------------------------------------ students


def _admission_text(admission: Any) -> str:
    student, enrollment = admission.student, admission.enrollment
    text = (
        f"{student.enrollment_id} {student.name} in {enrollment.batch.code} ({enrollment.plan}, "
        f"\u20b9{enrollment.fee}, {enrollment.classes_remaining} classes, next due {enrollment.next_due})"
    )
    if admission.guardian is not None:
        how = "new" if admission.guardian_created else "existing"
        text += f"; guardian {admission.guardian.name} ({how}, {admission.relation})"
    return text


def _enrollment_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "fee": args.fee,
        "classes_remaining": args.classes,
        "next_due": args.next_due,
        "enrollment_id": args.enrollment_id,
        "over_capacity": args.over_capacity,
        "allow_shared_phone": args.allow_shared_phone,
    }


def _cmd_students_add(args: argparse.Namespace) -> int:
    from hsm.people.admissions import admit_student

    guardian = None
    if args.guardian_name or args.guardian_phone:
        guardian = {
            "name": args.guardian_name,
            "phone": args.guardian_phone,
            "relation": args.relation,
            "email": args.guardian_email,
        }

    def work(session: Any) -> list[str]:
        admission = admit_student(
            session,
            _actor(args),
            name=args.name,
            phone=args.phone,
            dob=args.dob,
            email=args.email,
            guardian=guardian,
            batch_code=args.batch,
            plan=args.plan,
            **_enrollment_options(args),
        )
        return [f"admitted {_admission_text(admission)}"]

    return _run(args, work)


# ------------------------------------------------------------------------------------------------ parsers


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _whole(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    return int(text)


def _lead_id(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 2**31 - 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a lead id")
    return int(text)


def _change_options(parser: argparse.ArgumentParser) -> None:
    add_by_option(parser, "who is doing it, for the audit trail (cli:NAME)")
    parser.add_argument("--dry-run", action="store_true", help="check and show the change, save nothing")


def _admission_options(parser: argparse.ArgumentParser, batch_required: bool) -> None:
    parser.add_argument("--batch", required=batch_required, metavar="CODE", help="the batch to enroll in")
    parser.add_argument("--plan", required=True, choices=m.PLANS)
    parser.add_argument("--dob", type=_date, metavar="YYYY-MM-DD", help="the student's date of birth")
    parser.add_argument("--email", help="the student's e-mail")
    parser.add_argument("--relation", help="the guardian's relation to the student (mother, father...)")
    parser.add_argument("--fee", type=_whole, help="the fee per plan period (default: the course plan's)")
    parser.add_argument("--classes", type=_whole, help="classes remaining (default: the plan's)")
    parser.add_argument("--next-due", type=_date, metavar="YYYY-MM-DD", help="default: one plan period from today")
    parser.add_argument("--enrollment-id", help="default: the next free one (HSM-26-001 ...)")
    parser.add_argument("--over-capacity", action="store_true", help="admit even when the batch is full")
    parser.add_argument(
        "--allow-shared-phone",
        action="store_true",
        help="admit even when a phone is already another person's (they would see each other's records)",
    )
    _change_options(parser)


def add_leads_commands(commands: Any) -> None:
    """Register `hsm leads list|show|move|convert` on the `hsm` command's sub-parsers."""
    parser = commands.add_parser("leads", help="the leads pipeline: list, show, move, convert to a student")
    lead_commands = parser.add_subparsers(dest="leads_command", required=True)

    listing = lead_commands.add_parser("list", help="leads, newest first")
    listing.add_argument("--status", action="append", help=f"one of {', '.join(leads.STATUSES)} (repeat, or a,b)")
    listing.add_argument("--course", help="a course code or name")
    listing.add_argument("--since", type=_date, metavar="YYYY-MM-DD", help="created on or after this day")
    listing.add_argument("--search", metavar="TEXT", help="part of the name or of the phone number")
    listing.add_argument("--limit", type=_whole, default=50)
    listing.add_argument("--offset", type=_whole, default=0)
    listing.set_defaults(handler=_cmd_list)

    show = lead_commands.add_parser("show", help="one lead and its history")
    show.add_argument("lead_id", type=_lead_id, metavar="ID")
    show.set_defaults(handler=_cmd_show)

    move = lead_commands.add_parser(
        "move",
        help="move a lead: new -> contacted -> trial_booked -> enrolled / lost",
        description="Allowed: "
        + "; ".join(f"{start} -> {', '.join(ends)}" for start, ends in leads.MOVES.items())
        + ". trial_booked needs --trial-at and a batch or course; lost needs --reason; enrolled needs --student "
        "(or use `hsm leads convert`).",
    )
    move.add_argument("lead_id", type=_lead_id, metavar="ID")
    move.add_argument("status", choices=leads.STATUSES, metavar="STATUS", help=", ".join(leads.STATUSES))
    move.add_argument("--note", help="why, or what was said")
    move.add_argument("--trial-at", metavar="WHEN", help="the trial's date and time: 2026-12-05 10:00, 'saturday 10am'")
    move.add_argument("--batch", metavar="CODE", help="the trial's batch")
    move.add_argument("--course", help="the course (code or name) the trial is for")
    move.add_argument("--reason", help="why the lead was lost")
    move.add_argument("--student", metavar="ENROLLMENT_ID", help="the student admitted (for enrolled)")
    _change_options(move)
    move.set_defaults(handler=_cmd_move)

    convert = lead_commands.add_parser(
        "convert",
        help="admit the student a lead asked for and mark the lead enrolled, in one step",
        description="The lead's number becomes the student's, or, for a child, the guardian's (then give "
        "--student-name; the guardian is named --guardian-name or as the lead is).",
    )
    convert.add_argument("lead_id", type=_lead_id, metavar="ID")
    convert.add_argument("--student-name", help="the student's name (required for a child)")
    convert.add_argument("--guardian-name", help="the guardian's name (makes the lead's number the guardian's)")
    convert.add_argument("--note", help="a note for the lead's history")
    _admission_options(convert, batch_required=False)
    convert.set_defaults(handler=_cmd_convert)


def add_admission_command(student_commands: Any) -> None:
    """Register `hsm students add` on the sub-parsers of `hsm students`."""
    add = student_commands.add_parser(
        "add",
        help="admit a student: the student, their guardian and their enrollment, in one step",
        description="A student needs a phone or a guardian; under 18 (by --dob), a guardian.",
    )
    add.add_argument("--name", required=True, help="the student's name")
    add.add_argument("--phone", help="the student's own WhatsApp number")
    add.add_argument("--guardian-name")
    add.add_argument("--guardian-phone", help="links the existing guardian with this phone (a sibling's)")
    add.add_argument("--guardian-email")
    _admission_options(add, batch_required=True)
    add.set_defaults(handler=_cmd_students_add)
