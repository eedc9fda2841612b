"""`hsm staff`: staff accounts (add, list, show, update, deactivate, reactivate, set-password) and the admin API's
tokens (`hsm staff tokens issue|list|revoke`). Every change is audited as `cli:<--by>` and has a `--dry-run`
(everything is checked and written, then rolled back). Passwords are read with getpass, or from stdin with
`--password-stdin`, never from the command line; a token is printed once, alone on stdout, and never stored."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from hsm.infra.models import API_ROLES
from hsm.infra.models import STAFF_ROLES as ROLES
from hsm.infra.phone import mask_phone
from hsm.records.changes import RecordError, add_by_option


def _when(value: datetime | None) -> str:
    from hsm.infra import clock

    if value is None:
        return "-"
    return clock.as_utc(value).astimezone(clock.school_timezone()).strftime("%d %b %Y %H:%M")


def _refused(error: Exception) -> int:
    message = error.message if isinstance(error, RecordError) else str(error)
    print(f"staff: {message}", file=sys.stderr)
    return 2


def _actor(args: argparse.Namespace) -> str:
    return f"cli:{args.by}"


def _change(args: argparse.Namespace, work: Callable[[Any], Any]) -> Any:
    """Run `work(session)` in one transaction (rolled back with --dry-run)."""
    from hsm.office.staff import change_scope

    with change_scope(args.dry_run) as session:
        return work(session)


def _would(args: argparse.Namespace, done: str, would: str) -> str:
    return would if args.dry_run else done


def _blank_is_none(value: str | None) -> str | None:
    return None if value is None or not value.strip() else value


# ------------------------------------------------------------------------------------------------ accounts


def _cmd_add(args: argparse.Namespace) -> int:
    from hsm.office import staff

    actor = _actor(args)
    try:
        if args.from_school:
            result = _change(args, lambda session: staff.add_from_school(session, actor))
            verb = _would(args, "added", "would add")
            for view in result.added:
                print(f"{verb} {view.login} ({view.role}, {view.name})")
            for problem in result.skipped:
                print(f"skipped {problem}", file=sys.stderr)
            print(f"{len(result.added)} {verb}, {len(result.existing)} already had an account")
            return 0
        if args.from_admin or args.from_teacher:
            if args.from_admin:
                role = args.role or "admin"
                made = _change(
                    args, lambda s: staff.add_from_admin(s, actor, args.from_admin, login=args.login, role=role)
                )
            else:
                made = _change(args, lambda s: staff.add_from_teacher(s, actor, args.from_teacher, login=args.login))
            view, created = made
            if not created:
                print(f"{args.from_admin or args.from_teacher} already has an account: {view.login} ({view.role})")
                return 0
        else:
            if not (args.login and args.name and args.role):
                print(
                    "staff: give LOGIN, --name and --role (or --from-admin / --from-teacher / --from-school)",
                    file=sys.stderr,
                )
                return 2
            view = _change(
                args,
                lambda s: staff.add_account(
                    s,
                    actor,
                    login=args.login,
                    name=args.name,
                    role=args.role,
                    phone=_blank_is_none(args.phone),
                    email=_blank_is_none(args.email),
                    teacher=_blank_is_none(args.teacher),
                    admin=_blank_is_none(args.admin),
                ),
            )
    except RecordError as error:
        return _refused(error)
    print(f"{_would(args, 'added', 'would add')} {view.login} ({view.role}, {view.name})")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from hsm.infra.db import session_scope
    from hsm.office import staff

    with session_scope() as session:
        views, total = staff.list_accounts(session, include_inactive=args.all, role=args.role)
    print(f"{'login':<20} {'role':<8} {'name':<28} {'phone':<14} {'linked':<8} {'password':<9} state")
    for view in views:
        state = "inactive" if not view.active else ("locked" if view.locked else "active")
        print(
            f"{view.login:<20} {view.role:<8} {view.name[:28]:<28} {mask_phone(view.phone) if view.phone else '-':<14} "
            f"{view.teacher or view.admin or '-':<8} {'set' if view.has_password else 'none':<9} {state}"
        )
    print(f"{total} account(s)")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from hsm.infra.db import session_scope
    from hsm.office import staff

    try:
        with session_scope() as session:
            view = staff.StaffView.of(staff.find_account(session, args.login))
    except RecordError as error:
        return _refused(error)
    rows = [
        ("login", view.login),
        ("name", view.name),
        ("role", view.role),
        ("phone", view.phone or "-"),  # the operator needs it whole, as the API gives it
        ("email", view.email or "-"),
        ("teacher", view.teacher or "-"),
        ("admin", view.admin or "-"),
        ("active", "yes" if view.active else f"no (since {_when(view.deactivated_at)})"),
        ("password", "set" if view.has_password else "none"),
        ("locked", f"until {_when(view.locked_until)}" if view.locked else "no"),
        ("last sign-in", _when(view.last_sign_in_at)),
        ("created", _when(view.created_at)),
    ]
    for key, value in rows:
        print(f"{key + ':':<14}{value}")
    return 0


def _cmd_update(args: argparse.Namespace) -> int:
    from hsm.office import staff

    changes: dict[str, Any] = {}
    for key in staff.EDITABLE:
        value = getattr(args, key)
        if value is not None:
            changes[key] = value if key in ("name", "role") else _blank_is_none(value)
    if not changes:
        print("staff: nothing to change (give --name, --phone, --email, --role, --teacher or --admin)", file=sys.stderr)
        return 2
    try:
        view = _change(args, lambda s: staff.update_account(s, _actor(args), args.login, changes))
    except RecordError as error:
        return _refused(error)
    print(f"{_would(args, 'updated', 'would update')} {view.login}: {', '.join(sorted(changes))}")
    return 0


def _cmd_activation(args: argparse.Namespace) -> int:
    from hsm.office import staff

    change = staff.deactivate if args.staff_command == "deactivate" else staff.reactivate
    try:
        view = _change(args, lambda s: change(s, _actor(args), args.login))
    except RecordError as error:
        return _refused(error)
    verb = f"{args.staff_command}d"
    print(f"{_would(args, verb, 'would ' + args.staff_command)} {view.login}")
    return 0


def _read_password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    if not sys.stdin.isatty():
        print("staff: no terminal to ask for the password: pipe it in with --password-stdin", file=sys.stderr)
        return None
    first = getpass.getpass(f"new password for {args.login}: ")
    if getpass.getpass("again: ") != first:
        print("staff: the two passwords differ; nothing changed", file=sys.stderr)
        return None
    return first


def _cmd_set_password(args: argparse.Namespace) -> int:
    from hsm.office import staff

    password = _read_password(args)
    if password is None:
        return 2
    try:
        view = _change(args, lambda s: staff.set_password(s, _actor(args), args.login, password))
    except RecordError as error:
        return _refused(error)
    print(f"{_would(args, 'set', 'would set')} the password of {view.login}")
    return 0


# ------------------------------------------------------------------------------------------------ tokens


def _cmd_tokens_issue(args: argparse.Namespace) -> int:
    from hsm.office.admin_api.auth import ConfigurationError, jwt_secret
    from hsm.office.admin_api.tokens import issue_recorded_token

    try:
        secret = jwt_secret()
        token, view = _change(
            args,
            lambda s: issue_recorded_token(
                s,
                secret,
                _actor(args),
                role=args.role,
                subject=args.subject,
                staff_login=args.staff,
                hours=args.hours,
                label=args.label,
                sign=not args.dry_run,
            ),
        )
    except (ConfigurationError, RecordError) as error:
        return _refused(error)
    article = "an" if view.role == "admin" else "a"
    about = (
        f"{article} {view.role} token for {view.subject!r} (jti {view.jti[:12]}), valid until {_when(view.expires_at)}"
    )
    if args.dry_run:
        print(f"would issue {about}")
        return 0
    print(token)  # alone on stdout, after the commit: TOKEN=$(hsm staff tokens issue ...)
    print(about, file=sys.stderr)
    return 0


def _cmd_tokens_list(args: argparse.Namespace) -> int:
    from hsm.infra.db import session_scope
    from hsm.office.admin_api.tokens import list_tokens

    with session_scope() as session:
        views, total = list_tokens(session, include_all=args.all)
    print(f"{'jti':<13} {'subject':<20} {'role':<6} {'issued':<18} {'expires':<18} {'status':<8} label")
    for view in views:
        print(
            f"{view.jti[:12]:<13} {view.subject[:20]:<20} {view.role:<6} {_when(view.issued_at):<18} "
            f"{_when(view.expires_at):<18} {view.status:<8} {view.label or ''}"
        )
    print(f"{total} {'token(s)' if args.all else 'active token(s)'}")
    return 0


def _cmd_tokens_revoke(args: argparse.Namespace) -> int:
    from hsm.office.admin_api.tokens import revoke_token, revoke_tokens

    if (args.jti is None) == (args.subject is None):
        print("staff: give a JTI (or its first 8+ characters) or --subject SUBJECT", file=sys.stderr)
        return 2
    try:
        if args.subject is not None:
            revocation = revoke_tokens(args.subject, _actor(args), dry_run=args.dry_run)
            when = revocation.revoked_before.isoformat(timespec="seconds")
            verb = _would(args, "revoked", "would revoke")
            print(f"{verb} every admin API token of {revocation.subject!r} issued before {when}")
            return 0
        view = _change(args, lambda s: revoke_token(s, _actor(args), args.jti, prefix=True))
    except (RecordError, ValueError) as error:
        return _refused(error)
    print(f"{_would(args, 'revoked', 'would revoke')} the {view.role} token {view.jti[:12]} of {view.subject!r}")
    return 0


# ------------------------------------------------------------------------------------------------ parser


def _changing(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    add_by_option(parser, "who you are, for the audit trail (cli:NAME)")
    parser.add_argument("--dry-run", action="store_true", help="check and show what would change; change nothing")
    return parser


def _add_token_commands(staff_commands: Any) -> None:
    tokens = staff_commands.add_parser("tokens", help="admin API tokens: issue, list, revoke")
    commands = tokens.add_subparsers(dest="tokens_command", required=True)
    issue = _changing(
        commands.add_parser(
            "issue",
            help="print a new admin API token (recorded by its jti; the token is shown once)",
            description="Prints an HS256 token (sub, role, iss 'hsm', aud 'hsm-admin-api', iat, exp, jti) alone on "
            "stdout. A staff account's token is refused once the account is deactivated; an admin account may "
            "hold admin or staff tokens, a staff account staff ones, a teacher account none.",
        )
    )
    who = issue.add_mutually_exclusive_group(required=True)
    who.add_argument("--staff", metavar="LOGIN", help="the staff account the token is for (its login is the sub)")
    who.add_argument("--subject", help="a subject that is no staff account (a script, an outside tool)")
    issue.add_argument("--role", required=True, choices=API_ROLES, help="admin: everything; staff: no broadcasts")
    issue.add_argument(
        "--hours", type=float, default=None, help="lifetime (default and maximum: HSM_ADMIN_TOKEN_MAX_HOURS, 12)"
    )
    issue.add_argument("--label", help="what it is for (shown by tokens list)")
    issue.set_defaults(handler=_cmd_tokens_issue)

    listing = commands.add_parser("list", help="the tokens issued: jti prefix, subject, role, issued, expires")
    listing.add_argument("--all", action="store_true", help="also revoked and expired ones")
    listing.set_defaults(handler=_cmd_tokens_list)

    revoke = _changing(
        commands.add_parser(
            "revoke",
            help="refuse one token (by jti) or every token of a subject issued before now",
            description="JTI (whole, or its first 8+ characters as tokens list shows them) refuses that token from "
            "now on; --subject S refuses every token of S issued before now, recorded or not (tokens issued "
            "afterwards work). 401 token_revoked either way.",
        )
    )
    revoke.add_argument("jti", metavar="JTI", nargs="?", help="the token's jti or its first 8+ characters")
    revoke.add_argument("--subject", help="revoke every token of this subject issued before now")
    revoke.set_defaults(handler=_cmd_tokens_revoke)


def add_staff_commands(commands: Any) -> None:
    """Register `hsm staff` on the CLI's sub-commands."""
    parser = commands.add_parser("staff", help="staff accounts (office sign-in) and admin API tokens")
    staff_commands = parser.add_subparsers(dest="staff_command", required=True)

    add = _changing(
        staff_commands.add_parser(
            "add",
            help="add a staff account (or one from the school's admins and teachers)",
            description="LOGIN --name N --role R adds an account; --from-admin ADM-1 or --from-teacher T-101 makes "
            "the account of someone in the school's records (name, phone, e-mail; their first name as login "
            "unless --login), or says which they have; --from-school does that for every active admin and "
            "teacher (idempotent). Accounts start without a password (set-password).",
        )
    )
    add.add_argument("login", metavar="LOGIN", nargs="?", help="3-40 of a-z 0-9 . _ -, starting with a letter")
    source = add.add_mutually_exclusive_group()
    source.add_argument("--from-admin", metavar="ADMIN_ID", help="the school's admin (ADM-1)")
    source.add_argument("--from-teacher", metavar="EMPLOYEE_ID", help="the school's teacher (T-101)")
    source.add_argument("--from-school", action="store_true", help="every active admin and teacher")
    add.add_argument("--login", dest="login_option", metavar="LOGIN", help="the login, with --from-admin/teacher")
    add.add_argument("--name")
    add.add_argument("--role", choices=ROLES)
    add.add_argument("--phone", help="E.164 (where the console's sign-in codes go)")
    add.add_argument("--email")
    add.add_argument("--teacher", metavar="EMPLOYEE_ID", help="the teacher record (required for role teacher)")
    add.add_argument("--admin", metavar="ADMIN_ID", help="the admin record it is")
    add.set_defaults(handler=_cmd_add_entry)

    listing = staff_commands.add_parser("list", help="the accounts (active ones unless --all)")
    listing.add_argument("--all", action="store_true", help="also deactivated accounts")
    listing.add_argument("--role", choices=ROLES)
    listing.set_defaults(handler=_cmd_list)

    show = staff_commands.add_parser("show", help="one account")
    show.add_argument("login", metavar="LOGIN")
    show.set_defaults(handler=_cmd_show)

    update = _changing(
        staff_commands.add_parser(
            "update",
            help="change an account's name, phone, e-mail, role or links",
            description="An empty value ('') clears phone, e-mail, teacher or admin. The last active admin "
            "account keeps its role; a role change revokes the tokens the new role does not allow.",
        )
    )
    update.add_argument("login", metavar="LOGIN")
    update.add_argument("--name")
    update.add_argument("--phone")
    update.add_argument("--email")
    update.add_argument("--role", choices=ROLES)
    update.add_argument("--teacher", metavar="EMPLOYEE_ID")
    update.add_argument("--admin", metavar="ADMIN_ID")
    update.set_defaults(handler=_cmd_update)

    for name, text in (
        (
            "deactivate",
            "the account can no longer sign in; its tokens, and those it issued through the API, are revoked "
            "(never the last admin)",
        ),
        ("reactivate", "the account may sign in again (its old tokens stay revoked)"),
    ):
        command = _changing(staff_commands.add_parser(name, help=text))
        command.add_argument("login", metavar="LOGIN")
        command.set_defaults(handler=_cmd_activation)

    password = _changing(
        staff_commands.add_parser(
            "set-password",
            help="set an account's password (asked twice, or one line from stdin)",
            description="At least 12 characters, not one character repeated, not the login. Kept only as a "
            "salted scrypt hash; it also lifts a lockout.",
        )
    )
    password.add_argument("login", metavar="LOGIN")
    password.add_argument("--password-stdin", action="store_true", help="read the password from stdin (one line)")
    password.set_defaults(handler=_cmd_set_password)

    _add_token_commands(staff_commands)


def _cmd_add_entry(args: argparse.Namespace) -> int:
    """`add`'s LOGIN is positional for a new account and --login with --from-admin/--from-teacher."""
    if args.from_admin or args.from_teacher or args.from_school:
        if args.login:
            print("staff: with --from-admin/--from-teacher give the login as --login LOGIN", file=sys.stderr)
            return 2
        args.login = args.login_option
    elif args.login_option:
        args.login = args.login or args.login_option
    return _cmd_add(args)
