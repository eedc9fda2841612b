"""Cells as an office types them: Indian phone numbers in any format, dates as 12/01/2026, 12-Jan-2026, ISO or real
Excel dates, fees as "₹2,000", times as "5 pm", days as "Tue, Thu". Each reader raises CellError with the reason."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any

from openpyxl.utils.datetime import from_excel

from hsm.infra.phone import InvalidPhoneNumber, normalise_phone


class CellError(ValueError):
    """A cell the import cannot read; the message is the reason the office sees."""


def text(value: Any) -> str | None:
    """The cell as stripped text; None when empty. Whole numbers typed into a text column lose Excel's ".0"."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    result = " ".join(str(value).split())
    return result or None


def phone(value: Any) -> str | None:
    """98480 12345, 098480-12345, +91 98480 12345, 919848012345 (or an Excel number) -> +919848012345."""
    raw = text(value)
    if raw is None:
        return None
    try:
        return normalise_phone(raw)
    except InvalidPhoneNumber:
        raise CellError(f"bad phone {raw!r}") from None


_MONTHS = {name: n for n, name in enumerate(("jan feb mar apr may jun jul aug sep oct nov dec").split(), start=1)}
_NUMERIC_DATE = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})$")
_NAMED_DATE = re.compile(r"^(\d{1,2})[\s/.\-]*([a-z]{3})[a-z]*[\s/.\-,]*(\d{2}|\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ t]00:00(?::00)?)?$")
# Excel's serial day numbers from 1955 to 2119: a bare number in a date column that Excel did not format as a date.
_EXCEL_SERIALS = range(20000, 80000)


def _year(digits: str) -> int:
    year = int(digits)
    return year + 2000 if len(digits) == 2 and year < 70 else (year + 1900 if len(digits) == 2 else year)


def day(value: Any) -> date | None:
    """dd/mm/yyyy, dd-mm-yyyy, dd.mm.yy, 12-Jan-2026, 12 January 2026, 2026-01-12, or an Excel date cell."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if int(value) in _EXCEL_SERIALS:
            return from_excel(value).date()
        raise CellError(f"bad date {text(value)!r} (expected dd/mm/yyyy)")
    raw = (text(value) or "").lower()
    try:
        if found := _NUMERIC_DATE.match(raw):
            return date(_year(found[3]), int(found[2]), int(found[1]))
        if (found := _NAMED_DATE.match(raw)) and found[2] in _MONTHS:
            return date(_year(found[3]), _MONTHS[found[2]], int(found[1]))
        if found := _ISO_DATE.match(raw):
            return date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        pass  # 31/02/2026: matched the shape, not a day
    raise CellError(f"bad date {text(value)!r} (expected dd/mm/yyyy or dd-Mon-yyyy)")


def whole_number(value: Any, what: str, minimum: int = 0) -> int | None:
    """2000, "2,000", "₹ 2000", "Rs. 2000/-", 2000.0 -> 2000."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise CellError(f"bad {what} {value!r}")
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        raw = re.sub(r"^(₹|rs\.?|inr)\s*|/-$|,|\s", "", str(value).strip().lower())
        try:
            number = float(raw)
        except ValueError:
            raise CellError(f"bad {what} {text(value)!r} (expected a whole number)") from None
    if not number.is_integer() or number < minimum:
        raise CellError(f"bad {what} {text(value)!r} (expected a whole number from {minimum})")
    return int(number)


_CLOCK = re.compile(r"^(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?$")


def clock_time(value: Any) -> time | None:
    """17:00, 5:00 PM, 5pm, 17.30, or an Excel time cell."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.time().replace(second=0, microsecond=0)
    if isinstance(value, time):
        return value.replace(second=0, microsecond=0)
    raw = (text(value) or "").lower()
    found = _CLOCK.match(raw)
    if found:
        hour, minute, half = int(found[1]), int(found[2] or 0), (found[3] or "").replace(".", "")
        if half == "pm" and hour < 12:
            hour += 12
        elif half == "am" and hour == 12:
            hour = 0
        if hour < 24 and minute < 60:
            return time(hour, minute)
    raise CellError(f"bad time {text(value)!r} (expected 17:00 or 5 pm)")


_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def weekdays(value: Any) -> list[int] | None:
    """ "Tue, Thu", "Tue/Thu", "Tuesday & Thursday", "Mon-Wed-Fri" -> weekday numbers (0 = Monday)."""
    raw = text(value)
    if raw is None:
        return None
    days: set[int] = set()
    for word in (w for w in re.split(r"[\s,/&+;\-]+", raw.lower()) if w and w != "and"):
        found = [n for n, name in enumerate(_DAY_NAMES) if len(word) >= 3 and name.startswith(word)]
        if len(found) != 1:
            raise CellError(f"bad days {raw!r} (expected e.g. Tue, Thu)")
        days.add(found[0])
    return sorted(days)


def choice(value: Any, what: str, options: dict[str, str]) -> str | None:
    """A value from a short list, forgivingly: `options` maps lowercase spellings to the stored value."""
    raw = text(value)
    if raw is None:
        return None
    found = options.get(raw.lower().rstrip("."))
    if found is None:
        expected = ", ".join(dict.fromkeys(options.values()))
        raise CellError(f"bad {what} {raw!r} (expected {expected})")
    return found


PLANS = {
    "monthly": "monthly",
    "month": "monthly",
    "quarterly": "quarterly",
    "quarter": "quarterly",
    "qtrly": "quarterly",
}
STATUSES = {"active": "active", "paused": "paused", "on hold": "paused", "ended": "ended", "left": "ended"}
YES_NO = {"yes": "yes", "y": "yes", "true": "yes", "1": "yes", "no": "no", "n": "no", "false": "no", "0": "no"}


def yes(value: Any, what: str) -> bool:
    return choice(value, what, YES_NO) == "yes"
