"""An import that calls classes off cancels the makeups booked into them, against the demo school (SQLite and
PostgreSQL), "now" Tuesday 1 Dec 2026 16:30: a holiday added to the school file, a batch's days moved, a batch
closed by `--deactivate-missing`; the credit comes back, the report lists each, the families' notices wait for the
commit (a dry run cancels nothing), importing the same file again changes nothing, and a booking made during the
import waits for it (PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.records.changes import Conflict
from hsm.records.merge import MergeOptions, merge
from hsm.records.merge_input import MergeInput
from hsm.records.school_file import load_school_file
from hsm.records.school_import import import_school, import_school_file
from tests.conftest import SCHOOL_FILE
from tests.integration.test_makeup_cancel import (
    FRIDAY,
    HOST,
    KAVITHA,
    SUNITHA,
    WEDNESDAY,
    booked,
    booking_into_wednesday,
    open_credit,
    second_waits_for_first,
)


def school_file(tmp_path: Path, change) -> Path:
    """The demo school file with `change(data)` made to it."""
    data = yaml.safe_load(SCHOOL_FILE.read_text())
    change(data)
    path = tmp_path / "school.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def a_holiday_on_wednesday(data: dict) -> None:
    data["holidays"].append({"date": WEDNESDAY.isoformat(), "name": "Guru Nanak Jayanti"})


def two_makeups(url: str) -> tuple[int, int]:
    """Anika's makeup in Keyboard Beginner on Wednesday, Meghana's on Friday."""
    with session_scope(url) as s:
        return booked(s, "HSM-24-008", WEDNESDAY).id, booked(s, "HSM-24-024", FRIDAY).id


def statuses(url: str, *ids: int) -> list[tuple[str, str]]:
    with session_scope(url) as s:
        rows = [s.get(m.MakeupBooking, booking_id) for booking_id in ids]
        return [(row.status, row.credit.status) for row in rows]


def test_a_holiday_imported_cancels_the_makeups_that_day_and_tells_their_families(school_db, tmp_path):
    anika, meghana = two_makeups(school_db)
    path = school_file(tmp_path, a_holiday_on_wednesday)

    report = import_school_file(path, school_db)

    assert statuses(school_db, anika, meghana) == [("cancelled", "open"), ("booked", "used")]
    (change,) = report.makeups_cancelled
    assert change.label == "Anika Reddy: Keyboard Beginner on Wed, Dec 2 at 6:00 PM"
    assert change.note == "holiday: Guru Nanak Jayanti"
    (notice,) = report.notices
    assert (notice.phone, notice.template) == (KAVITHA, "makeup_cancelled")
    assert "is cancelled because the class is not running (holiday: Guru Nanak Jayanti)" in notice.text
    assert "cancelled 1 makeup booking(s) whose class is off" in report.summary()
    assert "Anika Reddy: Keyboard Beginner on Wed, Dec 2 at 6:00 PM (holiday: Guru Nanak Jayanti)" in (report.render())
    with session_scope(school_db) as s:
        audit = s.execute(select(m.AuditLog).filter_by(action="makeup.cancelled")).scalar_one()
        assert (audit.actor, audit.after["why"]) == ("import:school.yaml", "holiday: Guru Nanak Jayanti")

    again = import_school_file(path, school_db)
    assert again.makeups_cancelled == [] and again.notices == [] and again.nothing_to_change


def test_a_dry_run_says_which_makeups_would_be_cancelled_and_cancels_none(school_db, tmp_path):
    anika, meghana = two_makeups(school_db)
    path = school_file(tmp_path, a_holiday_on_wednesday)

    report = import_school_file(path, school_db, options=MergeOptions(dry_run=True))

    assert [change.label for change in report.makeups_cancelled] == [
        "Anika Reddy: Keyboard Beginner on Wed, Dec 2 at 6:00 PM"
    ]
    assert "would cancel 1 makeup booking(s)" in report.summary()
    assert statuses(school_db, anika, meghana) == [("booked", "used"), ("booked", "used")]


def monday_and_friday(data: dict) -> None:
    next(b for b in data["batches"] if b["code"] == HOST)["days"] = ["Mon", "Fri"]


def test_a_batch_moved_off_a_day_or_closed_cancels_the_makeups_it_no_longer_holds(school_db, tmp_path):
    anika, meghana = two_makeups(school_db)

    report = import_school_file(school_file(tmp_path, monday_and_friday), school_db)
    assert statuses(school_db, anika, meghana) == [("cancelled", "open"), ("booked", "used")]
    assert [change.note for change in report.makeups_cancelled] == ["the batch no longer meets on Wednesdays"]

    def without_the_batch(data: dict) -> None:
        monday_and_friday(data)
        data["batches"] = [b for b in data["batches"] if b["code"] != HOST]
        for student in data["students"]:
            student["enrollments"] = [e for e in student.get("enrollments", []) if e["batch"] != HOST]
        data["attendance"] = [a for a in data.get("attendance", []) if a["batch"] != HOST]

    options = MergeOptions(deactivate_missing=True)
    report = import_school_file(school_file(tmp_path, without_the_batch), school_db, options=options)
    assert statuses(school_db, meghana) == [("cancelled", "open")]
    assert [change.note for change in report.makeups_cancelled] == ["the batch has closed"]
    assert {notice.phone for notice in report.notices} == {SUNITHA}


def test_a_makeup_of_today_that_may_have_taken_place_is_left_alone(school_db, tmp_path, monkeypatch):
    """Wednesday 8 PM, after the 6 PM class: an import that takes Wednesday off the timetable cannot tell whether
    that makeup happened (its time is gone with the day), so it is not cancelled; Friday's is."""
    anika, meghana = two_makeups(school_db)
    monkeypatch.setenv("HSM_NOW", "2026-12-02T20:00:00+05:30")

    def monday_only(data: dict) -> None:
        next(b for b in data["batches"] if b["code"] == HOST)["days"] = ["Mon"]

    report = import_school_file(school_file(tmp_path, monday_only), school_db)
    assert statuses(school_db, anika, meghana) == [("booked", "used"), ("cancelled", "open")]
    assert [change.note for change in report.makeups_cancelled] == ["the batch no longer meets on Fridays"]


def test_an_import_of_students_alone_cancels_nothing(school_db):
    """Only holidays and batches decide which classes take place: a file without them leaves every makeup as it
    is, even one booked into a class called off before (the office's)."""
    anika, _ = two_makeups(school_db)
    with session_scope(school_db) as s:
        s.add(m.Holiday(holiday_date=WEDNESDAY, name="Guru Nanak Jayanti"))

    with session_scope(school_db) as s:
        report = merge(s, MergeInput(source="students.csv", students=[]), MergeOptions())
    assert report.makeups_cancelled == [] and statuses(school_db, anika) == [("booked", "used")]


def test_a_booking_made_while_a_holiday_is_imported_waits_and_then_finds_the_class_off(school_db, backend, tmp_path):
    if backend == "sqlite":
        pytest.skip("SQLite has one writer at a time; the row locks are PostgreSQL's")
    credit_id, host_id, _ = open_credit(school_db)
    school = load_school_file(school_file(tmp_path, a_holiday_on_wednesday))
    _, result = second_waits_for_first(
        school_db, lambda s: import_school(school, s), booking_into_wednesday(credit_id, host_id)
    )
    assert isinstance(result.get("error"), Conflict) and result["error"].code == "makeup_full"


def test_the_command_line_says_when_the_families_could_not_be_told(school_db, tmp_path, monkeypatch, capsys):
    """`hsm import-school` commits, prints the report, then sends; a failure to send fails neither the import nor
    the command, and says who must be told by hand."""
    from hsm.cli import main as hsm_main
    from hsm.outreach import notify

    anika, _ = two_makeups(school_db)

    def no_whatsapp(notices):
        raise notify.CloudApiError("WhatsApp is not configured")

    monkeypatch.setattr(notify, "deliver_now", no_whatsapp)
    assert hsm_main(["import-school", str(school_file(tmp_path, a_holiday_on_wednesday))]) == 0
    out, err = capsys.readouterr()
    assert "Cancelled (makeups booked into classes that no longer take place" in out
    assert "the import is committed, but the 1 makeup notice(s) were not sent (WhatsApp is not configured)" in err
    assert statuses(school_db, anika) == [("cancelled", "open")]
