"""What "now" is, in the school's time zone; `HSM_NOW` freezes it in every process."""

from __future__ import annotations

import os
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Kolkata"


class ClockError(ValueError):
    """HSM_NOW is set but is not an ISO-8601 instant with an offset."""


def school_timezone() -> ZoneInfo:
    return ZoneInfo(os.environ.get("HSM_TIMEZONE") or DEFAULT_TIMEZONE)


def parse_instant(text: str) -> datetime:
    """Parse an ISO-8601 instant that carries its offset ("2026-12-01T16:30:00+05:30", "...Z")."""
    try:
        instant = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as error:
        raise ClockError(f"HSM_NOW={text!r} is not an ISO-8601 instant") from error
    if instant.tzinfo is None:
        raise ClockError(f"HSM_NOW={text!r} needs an offset, e.g. 2026-12-01T16:30:00+05:30")
    return instant


def now() -> datetime:
    """The current instant in the school's time zone (frozen when HSM_NOW is set)."""
    frozen = os.environ.get("HSM_NOW")
    instant = parse_instant(frozen) if frozen else datetime.now(timezone.utc)
    return instant.astimezone(school_timezone())


def today() -> date:
    return now().date()


def utcnow() -> datetime:
    """The same instant as `now()`, in UTC, for timestamps stored in the database."""
    return now().astimezone(timezone.utc)


def as_utc(value: datetime | None) -> datetime | None:
    """A timestamp read back from the database, with its zone: SQLite hands back naive datetimes, stored in UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
