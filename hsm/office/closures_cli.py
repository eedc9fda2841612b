"""`hsm closures add|list|cancel`: the office closes days (the whole school or some batches) and reopens them from
the command line; families are told through one broadcast (hsm.outreach.closure_notices). `hsm.cli` registers
them with `add_closure_commands(commands)`."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Any

from hsm.records.changes import add_by_option


def _day(text: str) -> date:
    """An ISO date, or one as people type it ("26 Jan", "tomorrow", "next fri")."""
    from hsm.classes.dates import parse_date
    from hsm.infra import clock

    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        found = parse_date(text, clock.today())
        if found is None:
            raise argparse.ArgumentTypeError(f"not a date: {text!r} (try 2027-01-26, '26 Jan', 'tomorrow')") from None
        return found


def _actor(args: argparse.Namespace) -> str:
    return f"cli:{args.by}"


def _send(broadcast_id: int) -> str:
    """Queue the broadcast (RQ with REDIS_URL, for `hsm worker`); without Redis, send it from here and wait."""
    from hsm.infra.db import session_scope
    from hsm.outreach import broadcast

    enqueued = broadcast.enqueue_broadcast(broadcast_id)
    if enqueued.thread is None:
        return f"broadcast #{broadcast_id} queued for `hsm worker`"
    enqueued.thread.join()
    with session_scope() as session:
        progress = broadcast.broadcast_progress(session, broadcast_id)
    return (
        f"broadcast #{broadcast_id} {progress['status']}: {progress['sent']} sent, {progress['failed']} failed, "
        f"{progress['skipped']} skipped"
    )


def _run(work, dry_run: bool):  # noqa: ANN001, ANN202 - a callable of a session, whatever it returns
    """`work(session)` committed, or with `dry_run` rolled back (every check runs, nothing is kept)."""
    from hsm.infra.db import session_factory, session_scope

    if not dry_run:
        with session_scope() as session:
            return work(session)
    session = session_factory()()
    try:
        return work(session)
    finally:
        session.rollback()
        session.close()


def _told(outcome: Any, dry_run: bool) -> str:
    if outcome.broadcast_id is None:
        return f"nobody told ({outcome.not_told})"
    verb = "would be told" if dry_run else "told"
    return f"{outcome.recipients} number(s) {verb} in one broadcast"


def _cmd_add(args: argparse.Namespace) -> int:
    from hsm.classes import closures
    from hsm.outreach import closure_notices
    from hsm.records.changes import RecordError

    def work(session):  # noqa: ANN001, ANN202
        outcome = closure_notices.close(
            session, _actor(args), args.start, args.end, args.reason, args.batch or None, notify=not args.no_notify
        )
        closure = outcome.closure
        return (
            outcome,
            closure.id,
            closures.dates_text(closure.start_date, closure.end_date),
            closures.scope_text(closure),
        )

    try:
        outcome, closure_id, dates, scope = _run(work, args.dry_run)
    except RecordError as error:
        print(f"closures: {error.message}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(
            f"would close {dates} for {scope}: {args.reason.strip()}; {_told(outcome, True)}"
            f"{_makeups(outcome, True)} (dry run)"
        )
        return 0
    print(f"closed {dates} for {scope} (closure #{closure_id}); {_told(outcome, False)}{_makeups(outcome, False)}")
    if outcome.broadcast_id is not None:
        print(_send(outcome.broadcast_id))
    if outcome.notices:
        from hsm.outreach.notify import deliver_now

        print(deliver_now(outcome.notices).line("makeup notices", len(outcome.notices)))
    return 0


def _makeups(outcome: Any, dry_run: bool) -> str:
    """'; 2 makeup booking(s) in those classes cancelled (credits back), 2 family number(s) told'."""
    if not outcome.makeups_cancelled:
        return ""
    would = "would be " if dry_run else ""
    told = f", {len(outcome.notices)} family number(s) {would}told" if outcome.notices else ", their families not told"
    return f"; {outcome.makeups_cancelled} makeup booking(s) in those classes {would}cancelled (credits back){told}"


def _cmd_list(args: argparse.Namespace) -> int:
    from hsm.classes import closures
    from hsm.infra.db import session_scope

    with session_scope() as session:
        rows, total = closures.list_closures(
            session, include_cancelled=args.all, include_past=args.all, limit=args.limit
        )
        lines = []
        for closure in rows:
            data = closures.describe(closure)
            scope = "whole school" if closure.whole_school else ", ".join(data["batches"])
            told = "told" if closure.notified else "not told"
            lines.append(
                f"#{closure.id:<4} {closures.dates_text(closure.start_date, closure.end_date):<28} "
                f"{scope:<30} {data['status']:<9} {told:<8} {closure.reason}  ({closure.created_by})"
            )
    if not lines:
        print("no closures" + ("" if args.all else " ahead (--all shows past and cancelled ones)"))
        return 0
    print("\n".join(lines))
    if total > len(lines):
        print(f"... {total - len(lines)} more (--limit)")
    return 0


def _cmd_cancel(args: argparse.Namespace) -> int:
    from hsm.classes import closures
    from hsm.outreach import closure_notices
    from hsm.records.changes import RecordError

    def work(session):  # noqa: ANN001, ANN202
        outcome = closure_notices.reopen(session, _actor(args), args.id, notify=not args.no_notify)
        closure = outcome.closure
        return outcome, closures.dates_text(closure.start_date, closure.end_date), closures.scope_text(closure)

    try:
        outcome, dates, scope = _run(work, args.dry_run)
    except RecordError as error:
        print(f"closures: {error.message}", file=sys.stderr)
        return 2
    verb = "would reopen" if args.dry_run else "reopened"
    print(f"{verb} closure #{args.id} ({dates}, {scope}); {_told(outcome, args.dry_run)}")
    if not args.dry_run and outcome.broadcast_id is not None:
        print(_send(outcome.broadcast_id))
    return 0


def add_closure_commands(commands: Any) -> None:
    """Register `hsm closures add|list|cancel`."""
    parser = commands.add_parser("closures", help="close days (the whole school or batches), list, reopen")
    sub = parser.add_subparsers(dest="closures_command", required=True)

    add = sub.add_parser(
        "add",
        help="close a day or a range of days; families of the affected batches are told once",
        description="Classes on those days are cancelled everywhere: schedules, next class, reminders, attendance. "
        "Families of the affected batches (active students, or their guardians) get one WhatsApp broadcast.",
    )
    add.add_argument("--from", dest="start", required=True, type=_day, metavar="DATE", help="first closed day")
    add.add_argument("--to", dest="end", type=_day, metavar="DATE", help="last closed day (default: --from)")
    add.add_argument("--batch", action="append", metavar="CODE", help="a batch to close (repeat); none: whole school")
    add.add_argument("--reason", required=True, help="why (what families are told)")
    add.add_argument("--dry-run", action="store_true", help="check and show what would happen; change nothing")
    add.add_argument("--no-notify", action="store_true", help="tell nobody (families already know)")
    add_by_option(add, "who is closing, for the audit trail (cli:NAME)")
    add.set_defaults(handler=_cmd_add)

    listing = sub.add_parser("list", help="closures not over yet (--all: past and cancelled ones too)")
    listing.add_argument("--all", action="store_true", help="include past and cancelled closures")
    listing.add_argument("--limit", type=int, default=200, help="at most this many (default 200)")
    listing.set_defaults(handler=_cmd_list)

    cancel = sub.add_parser("cancel", help="reopen: the classes are held after all; families who were told are told")
    cancel.add_argument("id", type=int, metavar="ID", help="the closure's number (hsm closures list)")
    cancel.add_argument("--dry-run", action="store_true", help="check and show what would happen; change nothing")
    cancel.add_argument("--no-notify", action="store_true", help="tell nobody")
    add_by_option(cancel, "who is reopening, for the audit trail (cli:NAME)")
    cancel.set_defaults(handler=_cmd_cancel)
