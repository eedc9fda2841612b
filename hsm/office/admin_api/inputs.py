"""Reading the admin API's requests: JSON bodies (64 kB at most, known fields only), strings, phones, yes/no flags
(`query_flag`, `body_flag`), dates (`date_value`) and whole numbers in paths and queries (ASCII digits, within
bounds: a database never sees an integer it cannot hold). Every route reads them through these."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any, Literal, overload

from aiohttp import web

from hsm.infra.phone import InvalidPhoneNumber, normalise_phone
from hsm.office.admin_api.errors import MAX_BODY_BYTES, ApiError, bad_request

MAX_ID = 2**31 - 1  # the largest id an INTEGER column holds (PostgreSQL's int4)
MAX_OFFSET = 1_000_000
PAGE_LIMIT_DEFAULT = 50
PAGE_LIMIT_MAX = 200
QUERY_TEXT_MAX_CHARS = 100
TRUE_WORDS, FALSE_WORDS = ("true", "1", "yes"), ("false", "0", "no")
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,30}")  # ASCII only: int() would also read "٣" and "1_000"


async def read_json(request: web.Request, allowed: set[str]) -> dict:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", f"the body is over {MAX_BODY_BYTES} bytes")
    raw = await request.read()
    try:
        body = json.loads(raw) if raw else None
    except ValueError as error:  # UnicodeDecodeError, JSONDecodeError, or a number too long for int()
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {error}") from error
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise bad_request(unknown[0], f"unknown field (allowed: {', '.join(sorted(allowed))})", "unknown_field")
    return body


# Overloaded so that a required string (the default) is typed as present: a missing one raises.
@overload
def _string(
    body: dict, key: str, required: Literal[True] = True, limit: int | None = None, parent: str = ""
) -> str: ...
@overload
def _string(body: dict, key: str, required: bool, limit: int | None = None, parent: str = "") -> str | None: ...
def _string(body: dict, key: str, required: bool = True, limit: int | None = None, parent: str = "") -> str | None:
    value = body.get(key)
    field = f"{parent}.{key}" if parent else key
    if value is None:
        if required:
            raise bad_request(field, "is required", "missing_field")
        return None
    if not isinstance(value, str) or not value.strip():
        raise bad_request(field, "must be a non-empty string")
    if limit is not None and len(value) > limit:
        raise bad_request(field, f"is {len(value)} characters long; at most {limit} allowed")
    return value


def _phone(value: Any, field: str) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool) or not str(value).strip():
        raise bad_request(field, "must be a phone number", "missing_field" if value is None else "invalid_field")
    try:
        return normalise_phone(value)
    except InvalidPhoneNumber as error:
        shown = str(value) if len(str(value)) <= 32 else str(value)[:28] + "..."
        raise bad_request(field, f"{shown!r} is not a valid phone number", "invalid_phone") from error


def _string_list(body: dict, key: str) -> list[str] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise bad_request(key, "must be a list of strings")
    return value


def _whole_number(raw: str, field: str, low: int, high: int) -> int:
    """`raw` as a whole number between `low` and `high` (inclusive); else a 400 naming `field`."""
    text = raw.strip()
    shown = text if len(text) <= 24 else text[:20] + "..."
    if not _WHOLE_NUMBER.fullmatch(text):
        raise bad_request(field, f"must be a whole number between {low} and {high}, got {shown!r}")
    value = int(text)
    if not low <= value <= high:
        raise bad_request(field, f"must be between {low} and {high}, got {shown}")
    return value


def _int_query(request: web.Request, key: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(key)
    if raw is None or raw == "":
        return default
    return _whole_number(raw, key, low, high)


def _id_path(request: web.Request, key: str) -> int:
    """A row id from the path: 1 to MAX_ID."""
    return _whole_number(request.match_info[key], key, 1, MAX_ID)


def page_query(request: web.Request, default: int = PAGE_LIMIT_DEFAULT) -> tuple[int, int]:
    """`?limit=` (1-200) and `?offset=` (0-1,000,000) of a list endpoint."""
    return _int_query(request, "limit", default, 1, PAGE_LIMIT_MAX), _int_query(request, "offset", 0, 0, MAX_OFFSET)


def page(key: str, items: list, total: int, limit: int, offset: int) -> dict:
    """Every list endpoint's shape: `{"total", "limit", "offset", <key>: [...]}`."""
    return {"total": total, "limit": limit, "offset": offset, key: items}


def query_text(request: web.Request, key: str, limit: int = QUERY_TEXT_MAX_CHARS) -> str | None:
    """A text query parameter, at most `limit` characters; None when absent or blank."""
    raw = request.query.get(key)
    if raw is None or not raw.strip():
        return None
    if len(raw) > limit:
        raise bad_request(key, f"is {len(raw)} characters long; at most {limit} allowed")
    return raw.strip()


@overload
def query_flag(request: web.Request, key: str, default: bool) -> bool: ...
@overload
def query_flag(request: web.Request, key: str, default: None = None) -> bool | None: ...
def query_flag(request: web.Request, key: str, default: bool | None = None) -> bool | None:
    """A yes/no query parameter (`?all=true`): true/1/yes or false/0/no (any case); `default` when absent or empty
    (None: a filter left out); else a 400."""
    raw = request.query.get(key)
    if raw is None or not raw.strip():
        return default
    text = raw.strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise bad_request(key, f"must be true or false, got {raw[:20]!r}")


def body_flag(body: dict, key: str, default: bool) -> bool:
    """A JSON true or false; `default` when absent or null; else a 400."""
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad_request(key, "must be true or false")
    return value


@overload
def date_value(value: object, field: str, required: Literal[True]) -> date: ...
@overload
def date_value(value: object, field: str, required: bool = False) -> date | None: ...
def date_value(value: object, field: str, required: bool = False) -> date | None:
    """A date, YYYY-MM-DD (a JSON string or a query parameter): None when absent or empty (a 400 `missing_field`
    when `required`); else a 400."""
    if value is None or value == "":
        if required:
            raise bad_request(field, "is required (a date, YYYY-MM-DD)", "missing_field")
        return None
    if not isinstance(value, str):
        raise bad_request(field, "must be a date, YYYY-MM-DD")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise bad_request(field, f"{value[:24]!r} is not a date, YYYY-MM-DD") from None
