"""The `hsm` command: database migrations, school import, the office's commands, and the local WhatsApp tools."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from hsm.infra.config import check_settings_or_exit
from hsm.infra.phone import mask_phone


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from hsm.infra.db import get_engine, upgrade_to_head

    upgrade_to_head()
    url = get_engine().url
    print(f"database at head: {url.render_as_string(hide_password=True)}")
    return 0


def _cmd_import_templates(args: argparse.Namespace) -> int:
    from hsm.whatsapp.templates import TemplateFileError, import_templates

    try:
        changed = import_templates(args.file)
    except (TemplateFileError, OSError) as error:
        print(f"refused {args.file}: {error}", file=sys.stderr)
        return 2
    print(f"templates loaded from {args.file}: {changed} changed")
    return 0


def _cmd_whois(args: argparse.Namespace) -> int:
    from hsm.infra.db import session_scope
    from hsm.people.identity import identify

    with session_scope() as session:
        who = identify(session, args.phone)
    roles = ", ".join(f"{link.role} {link.name}" for link in who.links) or "prospect"
    print(f"{mask_phone(who.phone)}: {roles}")
    return 0


# The development tools' commands (`hsm sandbox`, `hsm chat`), found by name: the application never imports
# devtools/ (tests/unit/test_import_layers.py), and the production image leaves it out.
DEVELOPMENT_COMMANDS = (("devtools.sandbox", "add_sandbox_command"), ("devtools.chat", "add_chat_command"))


def _add_development_commands(commands: argparse._SubParsersAction) -> None:
    for module_name, adder in DEVELOPMENT_COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:  # the production image: no development tools
            continue
        getattr(module, adder)(commands)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hsm", description="HSM WhatsApp assistant tools")
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="migrate DATABASE_URL to the newest schema").set_defaults(
        handler=_cmd_db_upgrade
    )

    templates = commands.add_parser("import-templates", help="load WhatsApp templates into whatsapp_templates")
    templates.add_argument("file", nargs="?", default="templates/whatsapp_templates.yaml")
    templates.set_defaults(handler=_cmd_import_templates)

    whois = commands.add_parser("whois", help="which role a phone number has")
    whois.add_argument("phone")
    whois.set_defaults(handler=_cmd_whois)

    from hsm.office.admin_cli import add_admin_commands
    from hsm.office.admissions_cli import add_admission_command, add_leads_commands
    from hsm.office.closures_cli import add_closure_commands
    from hsm.office.payments_cli import add_payment_commands
    from hsm.office.people_cli import add_people_commands
    from hsm.records.import_cli import add_import_commands
    from hsm.records.retention import add_security_commands

    students = commands.add_parser("students", help="the school's students")
    student_commands = students.add_subparsers(dest="students_command", required=True)
    add_admission_command(student_commands)

    _add_development_commands(commands)
    add_security_commands(commands)
    add_admin_commands(commands)
    add_import_commands(commands)
    add_people_commands(commands)
    add_leads_commands(commands)
    add_closure_commands(commands)
    add_payment_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    from hsm.infra import logformat, logmask

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("hsm").setLevel(logging.INFO)
    logmask.install()
    check_settings_or_exit()  # every command: a bad setting is one line and status 2, not a traceback later
    args = build_parser().parse_args(argv)
    logformat.configure(args.command)  # JSON lines with HSM_LOG_FORMAT=json, with the command as the process role
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
