"""Dates and times as people type them: table-driven cases in the demo week, and parsers that never raise."""

from datetime import date, time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hsm.classes.dates import dates_in, day_label, parse_date, parse_time, short_day_label, time_label

TUESDAY = date(2026, 12, 1)  # the demo day


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # relative words, English and Hinglish
        ("today", date(2026, 12, 1)),
        ("aaj", date(2026, 12, 1)),
        ("Today's classes", date(2026, 12, 1)),
        ("tomorrow", date(2026, 12, 2)),
        ("TMRW", date(2026, 12, 2)),
        ("tmr", date(2026, 12, 2)),
        ("tommorow", date(2026, 12, 2)),
        ("kal", date(2026, 12, 2)),
        ("kal nahi aa paunga", date(2026, 12, 2)),
        ("yesterday", date(2026, 11, 30)),
        ("day after tomorrow", date(2026, 12, 3)),
        ("parso", date(2026, 12, 3)),
        ("day before yesterday", date(2026, 11, 29)),
        # weekdays: the next such day, today counting; "next" skips today
        ("friday", date(2026, 12, 4)),
        ("fri", date(2026, 12, 4)),
        ("on Thursday", date(2026, 12, 3)),
        ("Tuesday", date(2026, 12, 1)),
        ("next Tuesday", date(2026, 12, 8)),
        ("next monday", date(2026, 12, 7)),
        ("coming wed", date(2026, 12, 2)),
        ("this sat", date(2026, 12, 5)),
        ("sat", date(2026, 12, 5)),
        ("Sunday", date(2026, 12, 6)),
        ("last friday", date(2026, 11, 27)),
        # calendar dates: day first; without a year the next occurrence
        ("1 Dec", date(2026, 12, 1)),
        ("Dec 1", date(2026, 12, 1)),
        ("1st december", date(2026, 12, 1)),
        ("3rd of Dec", date(2026, 12, 3)),
        ("December 25th, 2026", date(2026, 12, 25)),
        ("01/12", date(2026, 12, 1)),
        ("1/12/2026", date(2026, 12, 1)),
        ("3/12/26", date(2026, 12, 3)),
        ("2026-12-01", date(2026, 12, 1)),
        ("1.12", date(2026, 12, 1)),
        ("1.12.2026", date(2026, 12, 1)),
        ("1-12-2026", date(2026, 12, 1)),
        ("12/25/2026", date(2026, 12, 25)),  # month first only when day first is impossible
        ("30 nov", date(2027, 11, 30)),  # already gone this year
        ("5 Jan", date(2027, 1, 5)),
        ("29 feb", date(2028, 2, 29)),
        # inside sentences
        ("I'm on leave tomorrow", date(2026, 12, 2)),
        ("can't come on Friday, fever", date(2026, 12, 4)),
        ("Sir I will not come on 3rd dec due to exam", date(2026, 12, 3)),
        ("leave on 04/12 please", date(2026, 12, 4)),
        ("Thursday, Dec 10", date(2026, 12, 10)),  # a written date beats a weekday
        ("not today, tomorrow", date(2026, 12, 1)),  # the first one said
        ("kal 5.30 baje", date(2026, 12, 2)),  # "5.30 baje" is a time, not 5 March
        ("sick tomorrow🤒🙏", date(2026, 12, 2)),
    ],
)
def test_parse_date_future(text, expected):
    assert parse_date(text, TUESDAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kal", date(2026, 11, 30)),
        ("yesterday", date(2026, 11, 30)),
        ("parso", date(2026, 11, 29)),
        ("friday", date(2026, 11, 27)),
        ("Tuesday", date(2026, 12, 1)),  # today counts
        ("30 nov", date(2026, 11, 30)),
        ("5 Dec", date(2025, 12, 5)),  # the most recent 5 Dec
        ("tomorrow", date(2026, 12, 2)),  # words that say their direction keep it
        ("next monday", date(2026, 12, 7)),
        ("29 feb", date(2024, 2, 29)),
    ],
)
def test_parse_date_past(text, expected):
    assert parse_date(text, TUESDAY, past=True) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "hello",
        "I sat in the sun",
        "fridays",
        "5 students",
        "at 5pm",
        "17:00",
        "+919845000002",
        "31/02",
        "32 Dec",
        "0/12",
        "Dec 45",
        "5-6pm",
        "kalpana",
        "decide",
        "marching",
        "🎸🎹🥁",
        "\x00\x01\ufffd",
        "x" * 4096,
        "9" * 4096,
        "/" * 4096,
        "1/" * 2048,
        "on " * 1365,
        "日本語のテキスト",
    ],
)
def test_no_date_is_none(text):
    assert parse_date(text, TUESDAY) is None
    assert parse_date(text, TUESDAY, past=True) is None


@pytest.mark.parametrize("bad", [None, 42, b"tomorrow", ["tomorrow"]])
def test_parse_date_takes_only_text(bad):
    assert parse_date(bad, TUESDAY) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5pm", time(17, 0)),
        ("5 pm", time(17, 0)),
        ("5 P.M.", time(17, 0)),
        ("5:30pm", time(17, 30)),
        ("5.30 pm", time(17, 30)),
        ("530pm", time(17, 30)),
        ("10am", time(10, 0)),
        ("12pm", time(12, 0)),
        ("12am", time(0, 0)),
        ("17:00", time(17, 0)),
        ("18:15", time(18, 15)),
        ("1715", time(17, 15)),
        ("at 1715", time(17, 15)),
        ("1730 hrs", time(17, 30)),
        ("0930", time(9, 30)),
        ("08:00", time(8, 0)),  # leading zero: 24-hour clock
        # bare hours: 1-8 PM, 9-11 AM, 12 noon
        ("5 o'clock", time(17, 0)),
        ("5", time(17, 0)),
        ("at 5", time(17, 0)),
        ("5:30", time(17, 30)),
        ("5.30", time(17, 30)),
        ("at 5.30", time(17, 30)),
        ("1:00", time(13, 0)),
        ("8", time(20, 0)),
        ("9", time(9, 0)),
        ("at 11", time(11, 0)),
        ("12:30", time(12, 30)),
        ("6 baje", time(18, 0)),
        ("evening 6", time(18, 0)),
        ("6 in the evening", time(18, 0)),
        ("shaam 6 baje", time(18, 0)),
        ("morning 10", time(10, 0)),
        ("subah 9", time(9, 0)),
        ("morning 8", time(8, 0)),  # the part of the day beats the bare-hour rule
        ("saade 6", time(18, 30)),
        ("sava 5 baje", time(17, 15)),
        ("paune 6", time(17, 45)),
        ("half past 5", time(17, 30)),
        ("quarter to 6", time(17, 45)),
        ("noon", time(12, 0)),
        ("midnight", time(0, 0)),
        # inside sentences
        ("guitar 5pm all present except Sarah", time(17, 0)),
        ("mark attendance for the 6:15 class", time(18, 15)),
        ("class on 1.12 at 6", time(18, 0)),
        ("piano 7 pm class, Kiran absent", time(19, 0)),
        ("5pm🎸", time(17, 0)),
    ],
)
def test_parse_time(text, expected):
    assert parse_time(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "5 students",
        "2 hours",
        "class on 1.12",
        "2026-12-01",
        "Dec 1 2026",
        "rs 1500",
        "930",
        "+919845000002",
        "25:00",
        "5:75pm",
        "13am",
        "🎸🎹🥁",
        "\x00\ufffd",
        "x" * 4096,
        "9" * 4096,
        "1:" * 2048,
        "at " * 1365,
        "tomorrow",
    ],
)
def test_no_time_is_none(text):
    assert parse_time(text) is None


@pytest.mark.parametrize("bad", [None, 5, b"5pm"])
def test_parse_time_takes_only_text(bad):
    assert parse_time(bad) is None


def test_labels():
    assert time_label(time(17, 0)) == "5:00 PM"
    assert time_label(time(9, 5)) == "9:05 AM"
    assert time_label(time(0, 30)) == "12:30 AM"
    assert time_label(time(12, 0)) == "12:00 PM"
    assert day_label(TUESDAY) == "Tuesday, Dec 1"
    assert short_day_label(date(2026, 12, 3)) == "Thu, Dec 3"


@settings(max_examples=400, deadline=None)
@given(text=st.text(max_size=300), today=st.dates(), past=st.booleans())
def test_parsers_never_raise(text, today, past):
    parsed = parse_date(text, today, past=past)
    assert parsed is None or isinstance(parsed, date)
    assert parse_time(text) is None or isinstance(parse_time(text), time)
    assert all(first <= last for first, last in dates_in(text, today, past=past))


_WORDS = st.sampled_from(
    [
        "tomorrow",
        "kal",
        "fri",
        "next",
        "sat",
        "on",
        "1",
        "12",
        "31",
        "2026",
        "/",
        ".",
        "-",
        ":",
        "Dec",
        "feb",
        "29",
        "pm",
        "am",
        "at",
        "baje",
        "saade",
        "evening",
        "morning",
        "half",
        "past",
        "to",
        "1715",
        "0930",
        " ",
        "🎸",
    ]
)


@settings(max_examples=400, deadline=None)
@given(words=st.lists(_WORDS, max_size=12), today=st.dates(), past=st.booleans())
def test_parsers_never_raise_on_near_misses(words, today, past):
    text = " ".join(words)
    parse_date(text, today, past=past)
    parse_time(text)
    for first, last in dates_in(text, today, past=past):
        assert first <= last


def d(month: int, day: int, year: int = 2026) -> date:
    return date(year, month, day)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("school closed on 26 Jan for Republic Day", [(d(1, 26, 2027), d(1, 26, 2027))]),
        ("holiday tomorrow", [(d(12, 2), d(12, 2))]),
        ("kal chutti hai", [(d(12, 2), d(12, 2))]),
        ("closed from 24 Dec to 1 Jan", [(d(12, 24), d(1, 1, 2027))]),
        ("no classes 24-31 Dec", [(d(12, 24), d(12, 31))]),
        ("24th to 31st December closed", [(d(12, 24), d(12, 31))]),
        ("closed 30-2 Jan", [(d(12, 30), d(1, 2, 2027))]),  # the first day in the month before
        ("school closed from 14/12 till 16/12", [(d(12, 14), d(12, 16))]),
        ("closed Monday to Friday", [(d(12, 7), d(12, 11))]),  # the Friday after that Monday
        ("no class on Friday and Saturday", [(d(12, 4), d(12, 5))]),  # days that follow each other: one range
        ("no class on Friday and Monday", [(d(12, 4), d(12, 4)), (d(12, 7), d(12, 7))]),
        ("no class today, tomorrow", [(d(12, 1), d(12, 2))]),
        ("closed 1 Dec, 1 Dec", [(d(12, 1), d(12, 1))]),
        ("closed Thursday, Dec 10", [(d(12, 10), d(12, 10))]),  # the written date wins, as in parse_date
        ("closed on Friday; also on 14 Dec", [(d(12, 4), d(12, 4)), (d(12, 14), d(12, 14))]),  # every one, in order
        ("class at 5-6pm", []),
        ("no date here", []),
        ("", []),
    ],
)
def test_dates_in(text, expected):
    assert dates_in(text, TUESDAY) == expected


def test_dates_in_takes_only_text():
    assert dates_in(None, TUESDAY) == [] and dates_in("tomorrow", "today") == []  # type: ignore[arg-type]
