"""The one model of change to the school's records: who changes what, the audit row it leaves, and the errors a
change is refused with.

Every service that changes the school's records (import, admin API, console, WhatsApp actions, CLI) writes through
a session and calls `record_change` in the same transaction, so a refused or failed change leaves neither the
change nor its audit row. `apply_changes` sets only the fields whose value differs and returns before -> after.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from hsm.infra import models as m

# Who made a change, as the audit trail spells it: "<source>:<who>": cli:<operator>, import:<file name>,
# api:<token sub>, console:<staff id>, teacher:T-101, admin:ADM-1 (over WhatsApp), system:<job>.
ACTOR_MAX_CHARS = 60
OPERATOR_MAX_CHARS = 40  # a CLI's --by: "cli:<by>" fits every actor column with room to spare


def operator_name(text: str) -> str:
    """A CLI's `--by` (argparse type): the operator's name for the audit trail, each run of whitespace made one
    space; refused when empty, longer than OPERATOR_MAX_CHARS or holding other control characters."""
    name = " ".join(text.split())
    if not name or len(name) > OPERATOR_MAX_CHARS or not name.isprintable():
        raise argparse.ArgumentTypeError(
            f"give a name of 1 to {OPERATOR_MAX_CHARS} printable characters, like 'meera' (got {text[:50]!r})"
        )
    return name


def add_by_option(parser: argparse.ArgumentParser, help: str, default: str | None = "operator") -> None:
    """The `--by NAME` option of a command that changes records, checked by `operator_name`."""
    parser.add_argument("--by", default=default, type=operator_name, metavar="NAME", help=help)


class RecordError(ValueError):
    """A change the records refuse. `kind` says how callers answer it: "invalid" (400 / exit 2), "not_found"
    (404), "conflict" (409: the records are not in a state that allows it, e.g. reversing a reversed payment)."""

    kind = "invalid"

    def __init__(self, message: str, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code or {"invalid": "invalid_field", "not_found": "not_found", "conflict": "conflict"}[self.kind]


class NotFound(RecordError):
    kind = "not_found"


class Conflict(RecordError):
    kind = "conflict"


def jsonable(value: Any) -> Any:
    """A column value as the audit trail's JSON keeps it: dates and times as ISO text, Decimals as text."""
    if isinstance(value, (date, datetime, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    return value


def snapshot(row: Any, fields: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """The named fields of a row, JSON-ready (the before or after of an audit row)."""
    return {name: jsonable(getattr(row, name)) for name in fields}


def apply_changes(row: Any, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Set each of `values` on `row` that differs; return (before, after) of the fields that changed (both empty
    when nothing did)."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name, value in values.items():
        old = getattr(row, name)
        if old != value:
            before[name] = jsonable(old)
            after[name] = jsonable(value)
            setattr(row, name, value)
    return before, after


def record_change(
    session: Session,
    actor: str,
    action: str,
    entity: str,
    entity_id: object,
    before: Any,
    after: Any,
    at: datetime | None = None,
) -> m.AuditLog:
    """Append one audit_log row (who, what, before -> after: usually dicts of fields) in the caller's transaction;
    `at` defaults to the school's clock."""
    row = m.AuditLog(
        actor=actor[:ACTOR_MAX_CHARS],
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        before=jsonable(before),
        after=jsonable(after),
    )
    if at is not None:
        row.created_at = at
    session.add(row)
    return row
