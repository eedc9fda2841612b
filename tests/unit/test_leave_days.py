"""The days a leave message names (hsm.classes.leave_days), said on Tuesday 1 Dec 2026."""

from datetime import date, timedelta

import pytest

from hsm.classes.leave_days import leave_days, read_days, spell_days

TODAY = date(2026, 12, 1)  # a Tuesday


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("on leave from 3rd to 5th Dec", days(date(2026, 12, 3), date(2026, 12, 5))),
        ("3-5 Dec", days(date(2026, 12, 3), date(2026, 12, 5))),
        ("leave from 3rd to 5th", days(date(2026, 12, 3), date(2026, 12, 5))),
        ("leave 3rd-5th, wedding", days(date(2026, 12, 3), date(2026, 12, 5))),
        ("leave from dec 3 to dec 5", days(date(2026, 12, 3), date(2026, 12, 5))),
        ("leave 3rd to 5th Jan", days(date(2027, 1, 3), date(2027, 1, 5))),
        ("leave from 30th to 2nd", days(date(2026, 12, 30), date(2027, 1, 2))),
        ("i will be on leave next Mon-Wed", days(date(2026, 12, 7), date(2026, 12, 9))),
        ("leave next mon to wed", days(date(2026, 12, 7), date(2026, 12, 9))),
        ("leave from thursday to saturday", days(date(2026, 12, 3), date(2026, 12, 5))),
        ("leave from tomorrow till sunday", days(date(2026, 12, 2), date(2026, 12, 6))),
        ("on leave this week, fever", days(TODAY, date(2026, 12, 6))),
        ("out of station next week", days(date(2026, 12, 7), date(2026, 12, 13))),
        ("away this weekend", days(date(2026, 12, 5), date(2026, 12, 6))),
        ("on leave tomorrow and the day after", days(date(2026, 12, 2), date(2026, 12, 3))),
        ("tomorrow and day after tomorrow", days(date(2026, 12, 2), date(2026, 12, 3))),
        ("leave on friday and saturday", days(date(2026, 12, 4), date(2026, 12, 5))),
        ("leave on monday and wednesday", [date(2026, 12, 7), date(2026, 12, 9)]),
        ("leave on 3rd and 10th", [date(2026, 12, 3), date(2026, 12, 10)]),
        ("can't come on Friday, fever", [date(2026, 12, 4)]),
        ("cancel my leave on 4th", [date(2026, 12, 4)]),
        ("leave on the 4th", [date(2026, 12, 4)]),
        ("leave on Dec 3rd", [date(2026, 12, 3)]),
        ("I'm not on leave tomorrow anymore", [date(2026, 12, 2)]),
        ("kal leave", [date(2026, 12, 2)]),
        ("withdraw my leave", []),
        ("5 students, 2 hours", []),
        ("", []),
    ],
)
def test_leave_days(text, expected):
    assert leave_days(text, TODAY) == expected


def test_a_day_of_the_month_gone_by_is_next_months_unless_looking_back():
    assert leave_days("cancel my leave on 30th", TODAY) == [date(2026, 12, 30)]
    assert leave_days("cancel my leave on 30th", TODAY, past=True) == [date(2026, 11, 30)]
    assert leave_days("leave on 1st", TODAY) == [TODAY]
    assert leave_days("leave on 31st", date(2027, 2, 3)) == [date(2027, 3, 31)]  # February has no 31st


def test_never_raises_on_junk():
    assert leave_days(None, TODAY) == []  # type: ignore[arg-type]
    assert leave_days("99th to 98th" * 1000, TODAY) == []


def test_slot_round_trip():
    spelled = spell_days([date(2026, 12, 5), date(2026, 12, 3)])
    assert spelled == "2026-12-05,2026-12-03"
    assert read_days(spelled) == [date(2026, 12, 3), date(2026, 12, 5)]
    assert read_days("2026-12-03") == [date(2026, 12, 3)]
    assert read_days("tomorrow") == [] and read_days(None) == []
