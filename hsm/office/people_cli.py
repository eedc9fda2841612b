"""`hsm people`: the office's people from the command line: deactivate and reactivate (people who leave and come
back), edit descriptive fields, list and show; thin callers of `hsm.people.lifecycle` and `directory`.
`hsm.cli` registers them with `add_people_commands(commands)`."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime
from typing import Any

from hsm.infra import clock
from hsm.people.lifecycle import KINDS
from hsm.records.changes import RecordError, add_by_option

LIST_LIMIT = 200


def _actor(args: argparse.Namespace) -> str:
    """`cli:<operator>`: --by, else the login name."""
    name = (args.by or "").strip()
    if not name:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):  # no login name (a container without a passwd entry)
            name = "operator"
    return f"cli:{name}"


def _fail(message: str) -> int:
    print(f"hsm people: {message}", file=sys.stderr)
    return 2


def _left_on(view: dict[str, Any]) -> str:
    """'  [left 2026-12-01]' (the school's date) for someone who left; '' otherwise."""
    if view["active"]:
        return ""
    when = view.get("deactivated_at")
    day = datetime.fromisoformat(when).astimezone(clock.school_timezone()).date().isoformat() if when else "?"
    return f"  [left {day}]"


def _line(view: dict[str, Any]) -> str:
    """One person as a list line: key, name, phone, and the day they left for people who left."""
    key = view.get("enrollment_id") or view.get("employee_id") or view.get("admin_code") or ""
    return f"{key:<12} {view['name']:<28} {view.get('phone') or '-':<15}{_left_on(view)}"


def _cmd_set_active(args: argparse.Namespace, active: bool) -> int:
    from hsm.infra.db import session_factory
    from hsm.people import directory, lifecycle

    session = session_factory()()
    try:
        person = lifecycle.set_active(session, _actor(args), args.kind, args.key, active, args.reason)
        view = directory.person_summary(session, person)
        orphaned = directory.no_teacher_batches(session, person) if args.kind == "teacher" else []
        if args.dry_run:
            session.rollback()
        else:
            session.commit()
    except RecordError as error:
        session.rollback()
        return _fail(error.message)
    finally:
        session.close()
    verb = "reactivate" if active else "deactivate"
    print(f"{'would ' + verb if args.dry_run else verb + 'd'} {args.kind}: {_line(view).strip()}")
    if not active and view.get("phone"):
        print("  from its next WhatsApp message their number has no role from this record (a prospect, unless it")
        print("  holds another role)")
    if orphaned:
        print(f'  batches now showing "no teacher": {", ".join(orphaned)}')
    if args.dry_run:
        print("dry run: nothing was changed")
    return 0


def _cmd_edit(args: argparse.Namespace) -> int:
    from hsm.infra.db import session_factory
    from hsm.people import lifecycle

    values = {field: getattr(args, field) for field in ("name", "phone", "email", "title", "dob")}
    values = {field: ("" if value == "-" else value) for field, value in values.items() if value is not None}
    session = session_factory()()
    try:
        _, before, after = lifecycle.update_person(session, _actor(args), args.kind, args.key, values)
        if args.dry_run:
            session.rollback()
        else:
            session.commit()
    except RecordError as error:
        session.rollback()
        return _fail(error.message)
    finally:
        session.close()
    if not after:
        print(f"{args.kind} {args.key}: nothing to change")
        return 0
    verb = "would change" if args.dry_run else "changed"
    for field in sorted(after):
        print(f"{verb} {field}: {before[field]!r} -> {after[field]!r}")
    if args.dry_run:
        print("dry run: nothing was changed")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from hsm.infra.db import session_scope
    from hsm.people import directory

    kinds = [args.kind] if args.kind else list(KINDS)
    with session_scope() as session:
        for kind in kinds:
            total, people = directory.list_people(
                session, kind, search=args.search, active=not args.inactive, limit=LIST_LIMIT
            )
            state = "who left" if args.inactive else "active"
            print(f"{kind}s {state}: {total}" + (f" (first {LIST_LIMIT} shown)" if total > LIST_LIMIT else ""))
            for person in people:
                print("  " + _line(directory.person_summary(session, person)))
    return 0


def _show_lines(view: dict[str, Any], indent: str = "") -> list[str]:
    lines: list[str] = []
    for key, value in view.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            lines.append(f"{indent}{key}:")
            for item in value:
                lines.append(f"{indent}  - " + ", ".join(f"{k}={_plain(v)}" for k, v in item.items()))
        elif isinstance(value, dict):
            lines.append(f"{indent}{key}:")
            lines.extend(_show_lines(value, indent + "  "))
        else:
            lines.append(f"{indent}{key}: {_plain(value)}")
    return lines


def _plain(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_plain(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return ", ".join(_plain(item) for item in value) or "-"
    return "-" if value is None else str(value)


def _cmd_show(args: argparse.Namespace) -> int:
    from hsm.infra.db import session_scope
    from hsm.people import directory, lifecycle

    try:
        with session_scope() as session:
            view = directory.person_card(session, lifecycle.find_person(session, args.kind, args.key))
    except RecordError as error:
        return _fail(error.message)
    print("\n".join(_show_lines(view)))
    return 0


def _kind_and_key(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=list(KINDS), help="student, guardian, teacher or admin")
    parser.add_argument(
        "key", help="enrollment ID (student), phone in any format (guardian), employee ID (teacher), admin code"
    )


def _change_options(parser: argparse.ArgumentParser) -> None:
    add_by_option(parser, "who is making the change, for the audit trail (default: your login name)", default=None)
    parser.add_argument("--dry-run", action="store_true", help="show what would change, change nothing")


def add_people_commands(commands: Any) -> None:
    people = commands.add_parser("people", help="the school's people: who left, who came back, their records")
    sub = people.add_subparsers(dest="people_command", required=True)

    deactivate = sub.add_parser("deactivate", help="someone left: no role on WhatsApp, out of rosters and messages")
    _kind_and_key(deactivate)
    deactivate.add_argument("--reason", required=True, help="why (kept in the audit trail)")
    _change_options(deactivate)
    deactivate.set_defaults(handler=lambda args: _cmd_set_active(args, False))

    reactivate = sub.add_parser("reactivate", help="someone came back: everything they had is theirs again")
    _kind_and_key(reactivate)
    reactivate.add_argument("--reason", help="why (kept in the audit trail)")
    _change_options(reactivate)
    reactivate.set_defaults(handler=lambda args: _cmd_set_active(args, True))

    edit = sub.add_parser("edit", help="change a name, phone, e-mail, a teacher's title or a student's dob")
    _kind_and_key(edit)
    edit.add_argument("--name")
    edit.add_argument("--phone", help="any format; '-' clears it (not a guardian's)")
    edit.add_argument("--email", help="'-' clears it")
    edit.add_argument("--title", help="a teacher's title (Mr., Ms., ...); '-' clears it")
    edit.add_argument("--dob", help="a student's date of birth, YYYY-MM-DD; '-' clears it")
    _change_options(edit)
    edit.set_defaults(handler=_cmd_edit)

    listing = sub.add_parser("list", help="active people (or, with --inactive, those who left)")
    listing.add_argument("--kind", choices=list(KINDS))
    listing.add_argument("--inactive", action="store_true", help="list the people who left instead")
    listing.add_argument("--search", help="a name, key or part of a phone number")
    listing.set_defaults(handler=_cmd_list)

    show = sub.add_parser("show", help="one person's record (a student's full card)")
    _kind_and_key(show)
    show.set_defaults(handler=_cmd_show)
