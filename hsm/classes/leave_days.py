"""The days a leave message names: one day, a range ("3rd to 5th Dec", "3-5 Dec", "next Mon-Wed"), "this week",
"tomorrow and the day after", or several days ("Monday and Wednesday").

Pure functions, no database and no clock: callers pass `today`. Built on `hsm.classes.dates.dates_in`, with what
leave messages add: a day of the month said alone ("on the 4th": this month's if still to come, else next month's;
in a range, a later day than the one before it), "this week" (today to Sunday), "next week" (Monday to Sunday),
"this weekend", "<day> and the day after", and "till"/"until" before a weekday ("tomorrow till Sunday").
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from hsm.classes.dates import dates_in

_FLAGS = re.IGNORECASE | re.ASCII | re.VERBOSE
_MONTH_WORDS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
# "4th", "the 4th": a day of the month with no month next to it.
_ORDINAL_RE = re.compile(
    rf"(?<![\w./:]) (\d{{1,2}}) (?:st|nd|rd|th) (?![a-z])"
    rf"(?! \s* (?:of\s+)? (?:{_MONTH_WORDS}) (?![a-z]) )"
    rf"(?! \s* (?:-|to|till|until|through|thru) \s* \d{{1,2}} (?:st|nd|rd|th)? \s* (?:of\s+)? (?:{_MONTH_WORDS}))",
    _FLAGS,
)
_AFTER_MONTH_RE = re.compile(rf"(?<![a-z]) (?:{_MONTH_WORDS}) \.? \s* $", _FLAGS)  # "Dec 3rd" is dates_in's
_WEEK_RE = re.compile(r"(?<![a-z]) (this|next|coming) \s+ (week(?:end)?) (?![a-z])", _FLAGS)
_DAY_AFTER_RE = re.compile(r"\s+ and \s+ (?:the\s+)? day \s+ after (?! \s+ (?:tomorrow|tmrw|tmr)) (?![a-z])", _FLAGS)
_TILL_RE = re.compile(r"(?<![a-z]) (?:till|until|untill|upto) (?![a-z])", _FLAGS)
_MONTH_ABBREVIATIONS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _month_day(day: int, after: date, past: bool) -> date | None:
    """The next date (on or after `after`) that is day `day` of its month; the latest up to `after` when `past`."""
    year, month = after.year, after.month
    for _ in range(13):
        try:
            candidate = date(year, month, day)
        except ValueError:
            candidate = None
        if candidate is not None and ((candidate <= after) if past else (candidate >= after)):
            return candidate
        month += -1 if past else 1
        if month == 0:
            year, month = year - 1, 12
        elif month == 13:
            year, month = year + 1, 1
    return None


def _spell_ordinals(text: str, today: date, past: bool) -> str:
    """ "from 3rd to 5th" -> "from 3 Dec 2026 to 5 Dec 2026": each lone day of the month given its month and year."""
    previous: list[date] = []

    def spell(found: re.Match[str]) -> str:
        if _AFTER_MONTH_RE.search(text, 0, found.start()):
            return found.group(0)
        after = previous[-1] if previous and not past else today
        value = _month_day(int(found.group(1)), after, past)
        if value is None:
            return found.group(0)
        previous.append(value)
        return f"{value.day} {_MONTH_ABBREVIATIONS[value.month - 1]} {value.year}"

    return _ORDINAL_RE.sub(spell, text)


def _weeks(text: str, today: date) -> list[tuple[date, date]]:
    found = []
    for which, span in (match.groups() for match in _WEEK_RE.finditer(text)):
        monday = today - timedelta(days=today.weekday())
        if which.lower() != "this":
            monday += timedelta(days=7)
        if span.lower() == "weekend":
            found.append((max(today, monday + timedelta(days=5)), monday + timedelta(days=6)))
        else:
            found.append((max(today, monday), monday + timedelta(days=6)))
    return found


def _in_order(ranges: list[tuple[date, date]]) -> list[tuple[date, date]]:
    """Days said one after another move forward: "Monday and Wednesday" said on a Tuesday is the Wednesday after
    that Monday (a day less than a week before the one said before it is in the following week)."""
    ordered: list[tuple[date, date]] = []
    for first, last in ranges:
        if ordered and first < ordered[-1][0] and (ordered[-1][0] - first).days < 7:
            first, last = first + timedelta(days=7), last + timedelta(days=7)
        ordered.append((first, last))
    return ordered


def leave_days(text: str, today: date, *, past: bool = False) -> list[date]:
    """Every day the message names, in order and without repeats; [] when it names none. Never raises.

    `past` reads dates without a year (and "Friday") as the latest such day, as `dates_in` does (for a leave
    being taken back, when the day named may have gone by)."""
    if not isinstance(text, str) or not isinstance(today, date):
        return []
    try:
        text = _TILL_RE.sub("to", text)
        day_after = bool(_DAY_AFTER_RE.search(text))
        text = _DAY_AFTER_RE.sub(" ", text)
        ranges = _weeks(text, today)
        text = _WEEK_RE.sub(" ", text)
        ranges += _in_order(dates_in(_spell_ordinals(text, today, past), today, past=past))
        if day_after and ranges:
            first, last = ranges[-1]
            ranges[-1] = (first, last + timedelta(days=1))
        days = {first + timedelta(days=offset) for first, last in ranges for offset in range((last - first).days + 1)}
        return sorted(days)
    except Exception:  # noqa: BLE001 - a parser of people's messages must never take the conversation down
        return []


def spell_days(days: list[date]) -> str:
    """The days for a slot: ISO dates joined by commas ("2026-12-03,2026-12-04")."""
    return ",".join(day.isoformat() for day in days)


def read_days(value: object) -> list[date]:
    """The days `spell_days` wrote (a single ISO date too); [] for anything else."""
    try:
        return sorted({date.fromisoformat(part.strip()) for part in str(value or "").split(",") if part.strip()})
    except ValueError:
        return []
