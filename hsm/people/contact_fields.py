"""How a person's name, phone and e-mail are read from what the office typed or sent (admissions, edits of
people, staff accounts): one set of rules, each refusal a RecordError naming its field."""

from __future__ import annotations

import re
from typing import Any

from hsm.infra.phone import InvalidPhoneNumber, normalise_phone
from hsm.records.changes import RecordError

NAME_MAX_CHARS = 200
EMAIL_MAX_CHARS = 200
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def read_name(value: Any, field: str = "name") -> str:
    """A required name, with its inner whitespace collapsed."""
    if _blank(value):
        raise RecordError("a name is required", field, "missing_field")
    if not isinstance(value, str):
        raise RecordError(f"{field} must be text", field)
    name = " ".join(value.split())
    if len(name) > NAME_MAX_CHARS:
        raise RecordError(f"is {len(name)} characters long; at most {NAME_MAX_CHARS} allowed", field)
    return name


def read_phone(value: Any, field: str = "phone", *, required: bool = False) -> str | None:
    """A phone number in E.164 (Indian numbers may be written the Indian ways), or None when blank."""
    if _blank(value):
        if required:
            raise RecordError(f"{field} cannot be empty", field, "missing_field")
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise RecordError(f"{field} must be a phone number", field)
    try:
        return normalise_phone(value)
    except InvalidPhoneNumber as error:
        raise RecordError(f"{str(value)[:32]!r} is not a valid phone number", field, "invalid_phone") from error


def read_email(value: Any, field: str = "email") -> str | None:
    """An e-mail address, or None when blank."""
    if _blank(value):
        return None
    if not isinstance(value, str):
        raise RecordError(f"{field} must be text", field)
    email = value.strip()
    if len(email) > EMAIL_MAX_CHARS or not _EMAIL.fullmatch(email):
        raise RecordError(f"{email[:64]!r} is not an e-mail address", field)
    return email
