"""`hsm` sub-commands for the admin side: the admin API, staff accounts and the API's tokens (`hsm staff`,
hsm.office.staff_cli), the queue worker, the reminder scheduler and `hsm reminders run [--dry-run]`. `hsm.cli`
registers them with `add_admin_commands(commands)`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from hsm.infra.phone import mask_phone


def _cmd_worker(args: argparse.Namespace) -> int:
    from hsm.outreach.broadcast import run_worker

    return run_worker(burst=args.burst)


def _cmd_scheduler(args: argparse.Namespace) -> int:
    from hsm.office.scheduler import run_scheduler

    try:
        return run_scheduler()
    except ValueError as error:  # a bad setting, refused before any job runs
        print(f"scheduler: {error}", file=sys.stderr)
        return 2


def _cmd_reminders_run(args: argparse.Namespace) -> int:
    from hsm.infra import clock
    from hsm.outreach.reminders import send_reminders
    from hsm.whatsapp.client import CloudApiError

    try:
        now = clock.parse_instant(args.at) if args.at else clock.now()
        results = asyncio.run(send_reminders(now, None, dry_run=args.dry_run))
    except (ValueError, CloudApiError) as error:
        print(f"reminders: {error}", file=sys.stderr)
        return 2
    when = now.astimezone(clock.school_timezone()).strftime("%a %d %b %Y %H:%M %Z")
    verb = "would go out" if args.dry_run else "went out"
    print(f"{len(results)} reminder(s) {verb} at {when}")
    for result in results:
        reminder = result.reminder
        outcome = "" if args.dry_run else f" [{result.outcome}{': ' + result.error if result.error else ''}]"
        print(f"  {mask_phone(reminder.phone)}  {reminder.kind:<11}  {reminder.text}{outcome}")
    return 1 if any(result.outcome == "failed" for result in results) else 0


def add_admin_commands(commands: Any) -> None:
    """Register `hsm api`, `hsm staff`, `hsm worker`, `hsm scheduler` and `hsm reminders run` on the CLI's
    sub-commands."""
    from hsm.office.admin_api import add_api_command
    from hsm.office.staff_cli import add_staff_commands

    add_api_command(commands)

    add_staff_commands(commands)

    worker = commands.add_parser(
        "worker",
        help="RQ worker for the 'broadcasts' and 'reminders' queues "
        "(needs REDIS_URL); re-queues unfinished broadcasts at start",
    )
    worker.add_argument("--burst", action="store_true", help="stop when the queues are empty")
    worker.set_defaults(handler=_cmd_worker)

    scheduler = commands.add_parser(
        "scheduler",
        help="send due reminders every minute (queued on RQ when REDIS_URL is set) and purge old data daily at 03:30",
    )
    scheduler.set_defaults(handler=_cmd_scheduler)

    reminders = commands.add_parser("reminders", help="fee and class reminders")
    reminder_commands = reminders.add_subparsers(dest="reminders_command", required=True)
    run = reminder_commands.add_parser("run", help="send the reminders due now (once each)")
    run.add_argument("--dry-run", action="store_true", help="only show what would go out now")
    run.add_argument("--at", metavar="INSTANT", help="pretend it is this ISO-8601 instant (default: now / HSM_NOW)")
    run.set_defaults(handler=_cmd_reminders_run)
