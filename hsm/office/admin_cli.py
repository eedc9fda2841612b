"""`hsm` sub-commands for the admin side: the admin API and its tokens (`hsm tokens issue|revoke`), the queue
worker, the reminder scheduler and `hsm reminders run [--dry-run]`. `hsm.cli` registers them with
`add_admin_commands(commands)`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
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


def _cmd_tokens_issue(args: argparse.Namespace) -> int:
    import jwt

    from hsm.infra import clock
    from hsm.office.admin_api.auth import ConfigurationError, issue_token, jwt_secret

    try:
        token = issue_token(jwt_secret(), args.subject, args.role, args.hours)
    except (ConfigurationError, ValueError) as error:
        print(f"tokens: {error}", file=sys.stderr)
        return 2
    claims = jwt.decode(token, options={"verify_signature": False})  # signed just now
    expires = datetime.fromtimestamp(claims["exp"], clock.school_timezone()).strftime("%a %d %b %Y %H:%M %Z")
    print(token)  # alone on stdout: TOKEN=$(hsm tokens issue ...)
    print(f"a {args.role} token for {claims['sub']!r}, valid until {expires}", file=sys.stderr)
    return 0


def _cmd_tokens_revoke(args: argparse.Namespace) -> int:
    from hsm.office.admin_api.tokens import revoke_tokens

    try:
        revocation = revoke_tokens(args.subject, f"cli:{args.by}", dry_run=args.dry_run)
    except ValueError as error:
        print(f"tokens: {error}", file=sys.stderr)
        return 2
    verb = "would revoke" if args.dry_run else "revoked"
    when = revocation.revoked_before.isoformat(timespec="seconds")
    print(f"{verb} every admin API token of {revocation.subject!r} issued before {when}")
    return 0


def add_admin_commands(commands: Any) -> None:
    """Register `hsm api`, `hsm worker`, `hsm scheduler` and `hsm reminders run` on the CLI's sub-commands."""
    from hsm.office.admin_api import ROLES, add_api_command

    add_api_command(commands)

    tokens = commands.add_parser("tokens", help="admin API tokens: issue one, revoke a subject's")
    token_commands = tokens.add_subparsers(dest="tokens_command", required=True)
    issue = token_commands.add_parser(
        "issue",
        help="print a token the admin API accepts (signed with ADMIN_JWT_SECRET)",
        description="Prints an HS256 token with sub, role, iss 'hsm', aud 'hsm-admin-api', iat (now) and exp.",
    )
    issue.add_argument("--subject", required=True, help="who the token is for (its 'sub'; the audit trail's api:<sub>)")
    issue.add_argument("--role", required=True, choices=ROLES, help="admin: everything; staff: no broadcasts")
    issue.add_argument(
        "--hours",
        type=float,
        default=None,
        help="lifetime in hours (default and maximum: HSM_ADMIN_TOKEN_MAX_HOURS, 12)",
    )
    issue.set_defaults(handler=_cmd_tokens_issue)
    revoke = token_commands.add_parser(
        "revoke",
        help="refuse every token of SUBJECT issued before now",
        description="Every admin API token of SUBJECT issued before now is refused from now on (401 token_revoked); "
        "tokens issued afterwards work. Recorded in admin_token_revocations and audit_log.",
    )
    revoke.add_argument("subject", metavar="SUBJECT", help="the tokens' 'sub'")
    revoke.add_argument("--by", default="operator", help="who is revoking, for the audit trail (cli:<by>)")
    revoke.add_argument("--dry-run", action="store_true", help="only say what would be revoked")
    revoke.set_defaults(handler=_cmd_tokens_revoke)

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
