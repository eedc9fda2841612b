"""Dates and times as people type them on WhatsApp ("kal", "next fri", "1st Dec", "6 baje"), and as the bot writes them.

Pure functions, no database and no clock: callers pass `today` (usually `hsm.infra.clock.today()`).
Both parsers look for the expression anywhere in a longer message, return None when there is none, and never raise.

Rules for the ambiguous cases:

- A calendar date written out wins over a day said in words ("Thursday, Dec 10" is Dec 10); otherwise the first
  expression in the message wins ("not today, tomorrow" is today).
- `past=False` (the default) reads the message as talking about the future: "kal" is tomorrow, a weekday is the
  next such day with today counting ("Tuesday" said on a Tuesday is today), a date without a year is its next
  occurrence (today counting). `past=True` turns these around: "kal" is yesterday, "friday" is the most recent
  Friday (today counting), "1 Dec" is the most recent 1 Dec. Words that say the direction themselves ("tomorrow",
  "yesterday", "next", "last") mean what they say whatever `past` is.
- "next X" / "coming X" is the first X strictly after today (so "next Tuesday" said on a Tuesday is a week away,
  "next Monday" said on a Tuesday is the coming Monday); "last X" is the most recent X strictly before today.
- Numeric dates are day first, as in India: "01/12" is 1 December. When the second number cannot be a month and
  the first can ("12/25/2026"), it is read month first. A dash needs a year ("1-12-2026") so that "5-6pm" is not
  a date; a dotted date without a year is not taken when a time word follows it ("5.10 pm", "5.10 baje") or
  "at" comes before it.
- The abbreviations "sat", "sun" and "mon" are ordinary words too, so they count only after "on", "this",
  "next", "last", "coming", "by", "till", "until" or as the whole message.

Times (`parse_time`):

- Bare hours 1-8 without am/pm mean PM (a music school's classes run 10:00-20:00): "5", "5:30", "5 o'clock",
  "6 baje" are 17:00, 17:30, 17:00, 18:00. Bare 9-11 mean AM, 12 is noon. "evening 6", "6 in the evening",
  "shaam 6" are 18:00; "morning 10", "subah 10" are 10:00.
- An hour written with a leading zero ("08:00") or 13-23 is a 24-hour clock time and taken as written; four
  digits ("1715", "0930") are too, but only as the whole message, after "at"/"@", or followed by "hrs".
- A lone number is a time only as the whole message or after "at", "@", "by", "around", "from", "till",
  "until" ("at 5"), so "5 students" and "2 hours" are not times. Inside a sentence "5.30" needs am/pm, "baje",
  a part of the day or "at" (else "on 1.12" would be 13:12); as the whole message it is a time.
- In a range only the part that is a time by these rules is found: "5-6pm" gives 18:00, "at 5-6pm" 17:00.
- Hindi fractions: "saade 6" = 6:30, "sava 6" = 6:15, "paune 6" = 5:45; English "half past 5", "quarter to 6".
- "noon"/"midday" = 12:00, "midnight" = 00:00.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, time, timedelta

__all__ = ["parse_date", "dates_in", "parse_time", "day_label", "short_day_label", "time_label"]

MAX_TEXT = 10_000  # longer messages are cut: WhatsApp text is at most 4096 characters anyway
_FLAGS = re.IGNORECASE | re.ASCII | re.VERBOSE

# ----------------------------------------------------------------------------------------------- formatting


def time_label(value: time) -> str:
    """12-hour clock with AM/PM: 17:00 -> "5:00 PM", 09:05 -> "9:05 AM", 00:30 -> "12:30 AM"."""
    hour = value.hour % 12 or 12
    return f"{hour}:{value.minute:02d} {'AM' if value.hour < 12 else 'PM'}"


def day_label(day: date) -> str:
    """ "Tuesday, Dec 1"."""
    return f"{day:%A}, {day:%b} {day.day}"


def short_day_label(day: date) -> str:
    """ "Tue, Dec 1"."""
    return f"{day:%a}, {day:%b} {day.day}"


# ----------------------------------------------------------------------------------------------- dates

_MONTHS = {
    "january": 1,
    "jan": 1,
    "february": 2,
    "feb": 2,
    "march": 3,
    "mar": 3,
    "april": 4,
    "apr": 4,
    "may": 5,
    "june": 6,
    "jun": 6,
    "july": 7,
    "jul": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sept": 9,
    "sep": 9,
    "october": 10,
    "oct": 10,
    "november": 11,
    "nov": 11,
    "december": 12,
    "dec": 12,
}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))

_WEEKDAYS = {
    "monday": 0,
    "mon": 0,
    "tuesday": 1,
    "tues": 1,
    "tue": 1,
    "wednesday": 2,
    "weds": 2,
    "wed": 2,
    "thursday": 3,
    "thurs": 3,
    "thur": 3,
    "thu": 3,
    "friday": 4,
    "fri": 4,
    "saturday": 5,
    "sat": 5,
    "sunday": 6,
    "sun": 6,
}
_WEEKDAY = "|".join(sorted(_WEEKDAYS, key=len, reverse=True))
_AMBIGUOUS_WEEKDAYS = {"sat", "sun", "mon"}
_NEXT = {"next", "coming", "upcoming"}
_LAST = {"last", "previous", "prev"}

_ISO_RE = re.compile(r"(?<![\d./-]) (\d{4}) - (\d{1,2}) - (\d{1,2}) (?!\d)", _FLAGS)
_NUMERIC_RE = re.compile(
    r"(?<![\d./:-]) (\d{1,2}) ([/.-]) (\d{1,2}) (?: \2 (\d{4}|\d{2}) )? (?![\d:]) (?![/.-]\d)", _FLAGS
)
_DAY_MONTH_RE = re.compile(
    rf"(?<![\d.:/]) (\d{{1,2}}) (?:st|nd|rd|th)? \s* (?:of\s+)? ({_MONTH}) (?![a-z]) \.?"
    r"(?: ,? \s* (\d{4}) (?!\d) )?",
    _FLAGS,
)
_MONTH_DAY_RE = re.compile(
    rf"(?<![a-z]) ({_MONTH}) (?![a-z]) \.? \s* (\d{{1,2}}) (?:st|nd|rd|th)? (?![\w:])"
    r"(?: ,? \s* (\d{4}) (?!\d) )?",
    _FLAGS,
)
_RELATIVE_RE = re.compile(
    r"""(?<![a-z0-9])
    ( day \s+ after \s+ (?:tomorrow|tommorow|tomorow|tmrw|tmr) | day \s+ before \s+ yesterday
    | parso | parson | parsoon | parsu
    | tomorrow | tommorow | tommorrow | tomorow | tomorro | tmrw | tmrow | tmr | tmw | 2morrow | 2moro | 2mrw
    | yesterday | yesterdy | ystrdy | yday | kal
    | today | todays | tdy | aaj | tonight | 2day | 2nite
    ) (?![a-z0-9])""",
    _FLAGS,
)
_WEEKDAY_RE = re.compile(
    rf"(?<![a-z]) (?: (next|coming|upcoming|this|last|previous|prev|on|by|till|until) \s+ )? ({_WEEKDAY}) (?![a-z])",
    _FLAGS,
)
_PUNCTUATION = " \t\r\n.,!?"
# Words after which a lone number is a clock time ("at 5", "by 6").
_TIME_LEAD_WORDS = frozenset(
    {"at", "@", "by", "around", "abt", "about", "from", "till", "until", "upto", "before", "after"}
)
_TIME_AFTER_RE = re.compile(r"\s* (?:a\.?m\b|p\.?m\b|am\b|pm\b|baje|bje|hrs\b|o'?\s?clock)", _FLAGS)

_RELATIVE_DAYS = {
    "tomorrow": 1,
    "tommorow": 1,
    "tommorrow": 1,
    "tomorow": 1,
    "tomorro": 1,
    "tmrw": 1,
    "tmrow": 1,
    "tmr": 1,
    "tmw": 1,
    "2morrow": 1,
    "2moro": 1,
    "2mrw": 1,
    "yesterday": -1,
    "yesterdy": -1,
    "ystrdy": -1,
    "yday": -1,
    "today": 0,
    "todays": 0,
    "tdy": 0,
    "aaj": 0,
    "tonight": 0,
    "2day": 0,
    "2nite": 0,
}


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except (ValueError, OverflowError):
        return None


def _full_year(text: str | None) -> int | None:
    """ "26" -> 2026; a year outside 1900-2200 is no year ("Dec 12 1730" is Dec 12 and a time)."""
    if not text:
        return None
    year = 2000 + int(text) if len(text) == 2 else int(text)
    return year if 1900 <= year <= 2200 else None


def _led_by(text: str, index: int, words: frozenset[str]) -> bool:
    """Whether the word just before `index` is one of `words` ("at 5")."""
    start = max(0, index - 24)
    found = re.search(r"([a-z]+|@)\s*$", text[start:index], re.IGNORECASE | re.ASCII)
    if not found or (found.start() == 0 and start > 0 and text[start - 1].isalpha()):
        return False
    return found.group(1).lower() in words


def _dated(day: int, month: int, year: int | None, today: date, past: bool) -> date | None:
    """The date; without a year, its next occurrence from today (the latest one up to today when `past`)."""
    if year is not None:
        return _safe_date(year, month, day)
    step = -1 if past else 1
    for offset in range(9):  # 29 Feb comes round at least every 8 years
        candidate = _safe_date(today.year + step * offset, month, day)
        if candidate is None:
            continue
        if (candidate <= today) if past else (candidate >= today):
            return candidate
    return None


def _numeric_day_month(first: int, second: int) -> tuple[int, int] | None:
    if 1 <= second <= 12:
        return first, second
    if 1 <= first <= 12 and 13 <= second <= 31:  # month first: "12/25"
        return second, first
    return None


def _weekday_date(qualifier: str | None, weekday: int, today: date, past: bool) -> date:
    ahead = (weekday - today.weekday()) % 7
    behind = (today.weekday() - weekday) % 7
    qualifier = (qualifier or "").lower()
    if qualifier in _NEXT:
        return today + timedelta(days=ahead or 7)
    if qualifier in _LAST:
        return today - timedelta(days=behind or 7)
    return today - timedelta(days=behind) if past else today + timedelta(days=ahead)


def _calendar_candidates(text: str, today: date, past: bool) -> Iterator[tuple[int, int, date]]:
    """(position, -length, date) for every calendar date written out ("2026-12-01", "1/12", "1st Dec", "Dec 1")."""
    for found in _ISO_RE.finditer(text):
        year, month, day = (int(g) for g in found.groups())
        value = _safe_date(year, month, day)
        if value:
            yield found.start(), -len(found.group()), value
    for found in _NUMERIC_RE.finditer(text):
        first, separator, second, year_text = found.groups()
        if separator == "-" and not year_text:
            continue  # "5-6pm" is a range of hours
        if (
            separator == "."
            and not year_text
            and (_TIME_AFTER_RE.match(text, found.end()) or _led_by(text, found.start(), _TIME_LEAD_WORDS))
        ):
            continue  # "5.10 pm", "at 5.10"
        day_month = _numeric_day_month(int(first), int(second))
        value = day_month and _dated(day_month[0], day_month[1], _full_year(year_text), today, past)
        if value:
            yield found.start(), -len(found.group()), value
    for pattern, order in ((_DAY_MONTH_RE, (0, 1, 2)), (_MONTH_DAY_RE, (1, 0, 2))):
        for found in pattern.finditer(text):
            day_text, month_name, year_text = (found.group(index + 1) for index in order)
            value = _dated(int(day_text), _MONTHS[month_name.lower()], _full_year(year_text), today, past)
            if value:
                yield found.start(), -len(found.group()), value


def _spoken_candidates(text: str, today: date, past: bool) -> Iterator[tuple[int, int, date]]:
    """(position, -length, date) for every day said in words ("tomorrow", "kal", "next fri")."""
    for found in _RELATIVE_RE.finditer(text):
        word = re.sub(r"\s+", " ", found.group(1).lower())
        if word.startswith("day after"):
            offset = 2
        elif word.startswith("day before"):
            offset = -2
        elif word in ("parso", "parson", "parsoon", "parsu"):
            offset = -2 if past else 2
        elif word == "kal":
            offset = -1 if past else 1
        else:
            offset = _RELATIVE_DAYS[word]
        yield found.start(), -len(found.group()), today + timedelta(days=offset)
    whole = text.strip(_PUNCTUATION).lower()
    for found in _WEEKDAY_RE.finditer(text):
        qualifier, name = found.groups()
        name = name.lower()
        if name in _AMBIGUOUS_WEEKDAYS and not qualifier and whole != name:
            continue
        yield found.start(), -len(found.group()), _weekday_date(qualifier, _WEEKDAYS[name], today, past)


def parse_date(text: str, today: date, *, past: bool = False) -> date | None:
    """The date mentioned in `text` ("I'm on leave tomorrow", "kal", "next fri", "1/12"), else None.

    A written-out calendar date wins over a spoken one ("Thursday, Dec 10" is Dec 10); otherwise the first wins.
    """
    try:
        if not isinstance(text, str) or not isinstance(today, date):
            return None
        text = text[:MAX_TEXT]
        for candidates in (_calendar_candidates, _spoken_candidates):
            found = sorted(candidates(text, today, past), key=lambda c: (c[0], c[1]))
            if found:
                return found[0][2]
        return None
    except Exception:  # noqa: BLE001 - a parser of people's messages must never take the conversation down
        return None


# Between two dates, words that make them a range ("24 Dec to 1 Jan", "Mon - Fri", "from 24th till 31st Dec").
_RANGE_JOIN_RE = re.compile(r"\s* (?: - | – | to | till | until | upto | up \s+ to | through | thru ) \s*", _FLAGS)
# "24-31 Dec", "24th to 31st December": the first day takes the month of the second.
_DAY_SPAN_RE = re.compile(
    rf"(?<![\d.:/]) ((\d{{1,2}}) (?:st|nd|rd|th)?) {_RANGE_JOIN_RE.pattern} (?= \d{{1,2}} (?:st|nd|rd|th)? \s*"
    rf"(?:of\s+)? (?:{_MONTH}) (?![a-z]) )",
    _FLAGS,
)
MAX_RANGE_DAYS = 366


def _spans(text: str, today: date, past: bool) -> list[tuple[int, int, date, bool]]:
    """(start, end, date, said as a weekday or word) of every date in `text`, left to right; of overlapping ones
    the longest is kept."""
    found = [
        (position, position - negative_length, value, candidates is _spoken_candidates)
        for candidates in (_calendar_candidates, _spoken_candidates)
        for position, negative_length, value in candidates(text, today, past)
    ]
    kept: list[tuple[int, int, date, bool]] = []
    for span in sorted(found, key=lambda span: (span[0], span[0] - span[1])):
        if kept and span[0] < kept[-1][1]:
            continue
        if kept and kept[-1][3] and not span[3] and re.fullmatch(r"[\s,]*", text[kept[-1][1] : span[0]]):
            kept.pop()  # "Thursday, Dec 10" is Dec 10, as in parse_date
        kept.append(span)
    for match in _DAY_SPAN_RE.finditer(text):  # "24-31 Dec": 24 in the month of the date that follows
        following = next((span for span in kept if span[0] == match.end()), None)
        if following is not None:
            day, then = int(match.group(2)), following[2]
            value = _safe_date(then.year, then.month, day)
            if value is not None and value > then:  # "30-2 Jan": 30 Dec
                back = then.replace(day=1) - timedelta(days=1)
                value = _safe_date(back.year, back.month, day)
            if value is not None:
                kept.append((match.start(1), match.end(1), value, False))
    return sorted(kept)


def dates_in(text: str, today: date, *, past: bool = False) -> list[tuple[date, date]]:
    """Every date and range of dates mentioned in `text`, in order, as (first, last) (one day: first == last):
    "closed on 26 Jan" -> [(Jan 26, Jan 26)]; "from 24 Dec to 1 Jan", "24-31 Dec", "Monday to Friday" -> one
    range each. Two dates joined by "to", "till", "-" ... make a range when the second is not before the first (a
    weekday after another is the one on or after it) and it spans at most MAX_RANGE_DAYS; days that follow each
    other ("Friday and Saturday") are one range. Each date is read as `parse_date` reads it. Never raises."""
    try:
        if not isinstance(text, str) or not isinstance(today, date):
            return []
        text = text[:MAX_TEXT]
        spans = _spans(text, today, past)
        found: list[tuple[date, date]] = []
        index = 0
        while index < len(spans):
            _, end, first, _ = spans[index]
            if index + 1 < len(spans) and _RANGE_JOIN_RE.fullmatch(text, end, spans[index + 1][0]):
                _, _, last, spoken = spans[index + 1]
                if spoken and last < first and (first - last).days < 7:  # "Monday to Friday"
                    last += timedelta(days=7)
                if first <= last and (last - first).days < MAX_RANGE_DAYS:
                    found.append((first, last))
                    index += 2
                    continue
            found.append((first, first))
            index += 1
        merged: list[tuple[date, date]] = []
        for first, last in found:
            if merged and merged[-1][0] <= first <= merged[-1][1] + timedelta(days=1):
                merged[-1] = (merged[-1][0], max(last, merged[-1][1]))
            elif (first, last) not in merged:
                merged.append((first, last))
        return merged
    except Exception:  # noqa: BLE001 - a parser of people's messages must never take the conversation down
        return []


# ----------------------------------------------------------------------------------------------- times

_PERIODS = {
    "morning": "am",
    "subah": "am",
    "subha": "am",
    "savere": "am",
    "afternoon": "pm",
    "dopahar": "pm",
    "dopehar": "pm",
    "evening": "pm",
    "eve": "pm",
    "shaam": "pm",
    "sham": "pm",
    "night": "pm",
    "raat": "pm",
    "rat": "pm",
    "tonight": "pm",
}
_PERIOD = "|".join(sorted(_PERIODS, key=len, reverse=True))
_FRACTIONS = {"saade": 30, "sade": 30, "sadhe": 30, "saadhe": 30, "sava": 15, "sawa": 15, "paune": -15, "pone": -15}
_FRACTION = "|".join(sorted(_FRACTIONS, key=len, reverse=True))

_TIME_RE = re.compile(
    rf"""
    (?: (?P<pre>{_PERIOD}) \s+ (?:at\s+|ko\s+|ke\s+)? )?
    (?: (?P<frac>{_FRACTION}) \s+ )?
    (?<![\d./:]) (?P<hour>\d{{1,4}}) (?: (?P<sep>[:.]) (?P<minute>\d{{2}}) )? (?!\d) (?![./:]\d)
    (?: \s* (?P<ampm> [ap]\.m\.? | [ap]\.?m (?![a-z]) ) )?
    (?: \s* (?P<hrs> hrs | hours | hr | h ) (?![a-z]) )?
    (?: \s* (?P<baje> baje | bje | baja | o'?\s?clock ) )?
    (?: \s* (?:in\s+the\s+|at\s+|ko\s+|ke\s+)? (?P<post>{_PERIOD}) (?![a-z]) )?
    """,
    _FLAGS,
)
_ENGLISH_FRACTION_RE = re.compile(r"(?<![a-z]) (half|quarter) \s+ (past|to) \s+ (\d{1,2}) (?!\d)", _FLAGS)
_NOON_RE = re.compile(r"(?<![a-z]) (noon|midday|mid-day|midnight) (?![a-z])", _FLAGS)


def _clock(hour: int, minute: int) -> time | None:
    if 0 <= hour <= 23 and 0 <= minute <= 59:
        return time(hour, minute)
    return None


def _resolve_hour(hour: int, meridiem: str | None, literal: bool) -> int | None:
    """The 24-hour hour for `hour` said with am/pm (or a part of the day), literally, or bare."""
    if meridiem == "am":
        return 0 if hour == 12 else hour if hour <= 12 else None
    if meridiem == "pm":
        if hour > 23:
            return None
        return hour if hour >= 12 else hour + 12
    if literal or hour == 0 or hour >= 13:
        return hour if hour <= 23 else None
    return hour + 12 if 1 <= hour <= 8 else hour  # bare: 1-8 PM, 9-11 AM, 12 noon


def _meridiem(found: re.Match[str]) -> str | None:
    if found.group("ampm"):
        return "am" if found.group("ampm").lower().startswith("a") else "pm"
    period = found.group("post") or found.group("pre")
    return _PERIODS[period.lower()] if period else None


def _time_from_match(found: re.Match[str], text: str) -> time | None:
    digits, minute_text, separator = found.group("hour"), found.group("minute"), found.group("sep")
    meridiem = _meridiem(found)
    led = _led_by(text, found.start("hour"), _TIME_LEAD_WORDS)
    whole = text.strip(_PUNCTUATION) == found.group().strip(_PUNCTUATION)
    marked = bool(meridiem or found.group("baje") or found.group("frac"))
    if len(digits) > 2:
        if separator or len(digits) == 3 and not meridiem:
            return None
        if not (meridiem or found.group("hrs") or found.group("baje") or led or whole):
            return None  # "2026", "1500 rupees"
        hour, minute = int(digits[:-2]), int(digits[-2:])
        literal = len(digits) == 4 and not meridiem
    else:
        hour, minute = int(digits), int(minute_text) if minute_text else 0
        if separator == "." and not (marked or led or whole):
            return None  # "1.12" in a sentence is a date
        if not separator and not (marked or led or whole) or found.group("hrs") and not (marked or led):
            return None  # "5 students", "2 hours"
        literal = len(digits) == 2 and digits.startswith("0")  # "08:00" is a 24-hour time
    if found.group("frac"):
        if minute_text:
            return None
        shift = _FRACTIONS[found.group("frac").lower()]
        if shift < 0:
            hour, minute = (hour - 1) % 12 or 12, 60 + shift
        else:
            minute = shift
    if minute > 59:
        return None
    resolved = _resolve_hour(hour, meridiem, literal)
    return None if resolved is None else _clock(resolved, minute)


def _time_candidates(text: str) -> Iterator[tuple[int, time]]:
    for found in _TIME_RE.finditer(text):
        value = _time_from_match(found, text)
        if value:
            yield found.start("hour"), value
    for found in _ENGLISH_FRACTION_RE.finditer(text):
        size, direction, hour_text = found.groups()
        minutes = 30 if size.lower() == "half" else 15
        hour = int(hour_text)
        if direction.lower() == "to":
            hour, minutes = (hour - 1) % 12 or 12, 60 - minutes
        if 1 <= hour <= 12:
            resolved = _resolve_hour(hour, None, False)
            if resolved is not None:
                yield found.start(), time(resolved, minutes)
    for found in _NOON_RE.finditer(text):
        yield found.start(), time(0, 0) if found.group(1).lower() == "midnight" else time(12, 0)


def parse_time(text: str) -> time | None:
    """The first clock time mentioned in `text` ("5pm", "17:00", "6 baje", "evening 6"), else None."""
    try:
        if not isinstance(text, str):
            return None
        text = text[:MAX_TEXT]
        candidates = sorted(_time_candidates(text), key=lambda c: c[0])
        return candidates[0][1] if candidates else None
    except Exception:  # noqa: BLE001 - a parser of people's messages must never take the conversation down
        return None
