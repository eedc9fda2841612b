"""Spreadsheet cells and columns as offices type them: Indian phones, dates, fees, times, days, headers."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from hsm.records.sheets import cells
from hsm.records.sheets.cells import CellError
from hsm.records.sheets.columns import kind_of_headers, kind_of_sheet_name, match_columns, normalise_header


@pytest.mark.parametrize(
    "typed",
    ["98480 12345", "098480-12345", "+91 98480 12345", "919848012345", 9848012345, 9848012345.0, "+91-9848012345"],
)
def test_indian_phone_formats(typed):
    assert cells.phone(typed) == "+919848012345"


@pytest.mark.parametrize("typed", ["98480 1234", "call me", "12345"])
def test_bad_phones_say_so(typed):
    with pytest.raises(CellError, match="bad phone"):
        cells.phone(typed)


def test_empty_cells_are_none():
    assert cells.phone(None) is None and cells.phone("  ") is None and cells.day("") is None
    assert cells.text("  Riya   Menon ") == "Riya Menon" and cells.text(None) is None and cells.text(12.0) == "12"


@pytest.mark.parametrize(
    "typed",
    [
        "12/01/2026",
        "12-01-2026",
        "12.01.26",
        "12-Jan-2026",
        "12 January 2026",
        "12-jan-26",
        "2026-01-12",
        datetime(2026, 1, 12),
        date(2026, 1, 12),
        46034,  # Excel's serial number of 12 Jan 2026, in a cell not formatted as a date
    ],
)
def test_date_formats(typed):
    assert cells.day(typed) == date(2026, 1, 12)


@pytest.mark.parametrize("typed", ["31/02/2026", "sometime in 2014", "13/13/2026", "12-Foo-2026", 12])
def test_bad_dates_say_so(typed):
    with pytest.raises(CellError, match="bad date"):
        cells.day(typed)


@pytest.mark.parametrize("typed", [2000, 2000.0, "2000", "2,000", "₹2,000", "Rs. 2000/-", "INR 2000"])
def test_fees(typed):
    assert cells.whole_number(typed, "fee") == 2000


@pytest.mark.parametrize("typed", ["two thousand", -3, 12.5, True])
def test_bad_numbers(typed):
    with pytest.raises(CellError):
        cells.whole_number(typed, "fee")


@pytest.mark.parametrize("typed", ["17:00", "5 pm", "5:00 PM", "17.00", "5pm", time(17, 0), datetime(2026, 1, 1, 17)])
def test_times(typed):
    assert cells.clock_time(typed) == time(17, 0)


def test_days_and_choices():
    assert cells.weekdays("Tue, Thu") == [1, 3] == cells.weekdays("Tuesday & Thursday") == cells.weekdays("tue/thurs")
    assert cells.weekdays("Mon-Wed-Fri") == [0, 2, 4]
    with pytest.raises(CellError, match="bad days"):
        cells.weekdays("weekends")
    assert cells.choice("Quarterly", "plan", cells.PLANS) == "quarterly"
    assert cells.choice("On hold", "status", cells.STATUSES) == "paused"
    with pytest.raises(CellError, match="bad plan 'yearly' \\(expected monthly, quarterly\\)"):
        cells.choice("yearly", "plan", cells.PLANS)
    assert cells.yes("Y", "opted out") and not cells.yes("no", "opted out")


def test_headers_are_matched_forgivingly():
    assert normalise_header("Enrolment ID") == normalise_header("enrollment id") == "enrollmentid"
    assert normalise_header("WhatsApp No.") == "whatsapp" and normalise_header("Fee (₹)") == "fee"
    headers = ["Student Name", "Enrolment ID", "D.O.B.", "WhatsApp No", "Parent Name", "Parent WhatsApp No",
               "Batch", "Classes Left", "Due Date", "Fee", "Plan", "Remarks"]  # fmt: skip
    assert match_columns("students", headers) == [
        "name", "enrollment_id", "dob", "phone", "guardian_name", "guardian_phone",
        "batch", "classes_remaining", "next_due", "fee", "plan", None,
    ]  # fmt: skip
    assert match_columns("students", ["Name", "Student Name"]) == ["name", None]  # a second column is ignored
    payments = ["Enrollment No", "Amount", "Paid On", "Mode", "UTR", "Reference"]
    assert match_columns("payments", payments) == ["enrollment_id", "amount", "paid_on", "method", "reference", None]


def test_kinds_from_sheet_names_and_headers():
    assert kind_of_sheet_name("students list") == "students" and kind_of_sheet_name("Teachers") == "teachers"
    assert kind_of_sheet_name("Batches") == "batches" and kind_of_sheet_name("Fee Payments 2026") == "payments"
    assert kind_of_sheet_name("Sheet1") is None
    assert kind_of_headers(["Enrollment ID", "Amount", "Date"]) == "payments"
    assert kind_of_headers(["Batch Code", "Days", "Start"]) == "batches"
    assert kind_of_headers(["Employee ID", "Name", "Courses"]) == "teachers"
    assert kind_of_headers(["Enrolment ID", "Student Name", "Batch"]) == "students"
    assert kind_of_headers(["ID", "Name", "Phone"]) == "students"  # a tie: more likely students
    assert kind_of_headers(["Colour", "Size"]) is None


def test_no_spelling_names_two_fields_of_a_kind():
    from hsm.records.sheets.columns import COLUMNS

    for kind, columns in COLUMNS.items():
        seen: dict[str, str] = {}
        for column in columns:
            for spelling in column.spellings():
                assert seen.setdefault(spelling, column.field) == column.field, (kind, spelling)
