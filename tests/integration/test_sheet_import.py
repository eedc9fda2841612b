"""`hsm import-sheet` / `hsm export-sheet`: every bad row by row number and all or nothing, --skip-bad, one sheet
per kind with references into the database, the same merge as the school file, and export -> import changes
nothing (XLSX and CSV)."""

from __future__ import annotations

import csv
import importlib.util
from datetime import date

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from hsm.cli import main as hsm_main
from hsm.infra import models as m
from hsm.infra.config import PROJECT_ROOT
from hsm.infra.db import session_scope
from hsm.records.sheets import SheetRefused, import_sheet
from tests.integration.test_school_import import snapshot


def generator():
    spec = importlib.util.spec_from_file_location(
        "make_school_sheet", PROJECT_ROOT / "scripts" / "make_school_sheet.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def generated(tmp_path):
    """60 students (a smaller file than the benchmark's), 12 of them on bad rows."""
    make = generator()
    rows, bad = make.student_rows(60, 7)
    path = tmp_path / "students.xlsx"
    make.write_workbook(path, rows)
    return path, bad


def test_every_bad_row_is_reported_and_nothing_is_written(school_db, generated):
    path, bad = generated
    before = snapshot(school_db)
    with pytest.raises(SheetRefused) as refused:
        import_sheet(path, school_db)
    assert [p.row for p in refused.value.problems] == [number for number, _ in bad]
    assert all(p.sheet == "Students list" for p in refused.value.problems)
    reasons = {number: p.reason for (number, _), p in zip(bad, refused.value.problems, strict=True)}
    expected = dict(bad)
    for number, reason in reasons.items():
        fragment = {
            "negative classes left": "bad classes left",
            "unknown plan": "bad plan",
            "bad date of birth": "date of birth: bad date",
            "bad status": "bad status",
        }.get(expected[number], expected[number])
        assert fragment in reason, (number, expected[number], reason)
    assert snapshot(school_db) == before


def test_skip_bad_imports_the_good_rows_and_lists_the_bad(school_db, generated, capsys):
    path, bad = generated
    assert hsm_main(["import-sheet", str(path)]) == 2
    err = capsys.readouterr().err
    assert "12 bad row(s), nothing was imported" in err
    assert all(f"Students list row {number}:" in err for number, _ in bad)

    assert hsm_main(["import-sheet", str(path), "--skip-bad"]) == 0
    out = capsys.readouterr().out
    assert "Skipped 12 bad row(s)" in out and "students (48):" in out
    with session_scope(school_db) as s:
        new = s.execute(select(m.Student).where(m.Student.enrollment_id.like("HSM-26-%"))).scalars().all()
        assert len(new) == 48
        audit = s.execute(select(m.AuditLog).filter_by(actor="import:students.xlsx", entity="students")).scalars()
        assert len(list(audit)) == 48
    assert hsm_main(["import-sheet", str(path), "--skip-bad"]) == 0
    assert "Nothing to change" in capsys.readouterr().out


def write_workbook(path, sheets: dict[str, list[list]]) -> None:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    workbook.save(path)


def test_one_sheet_per_kind_may_refer_to_rows_in_the_database(school_db, tmp_path):
    path = tmp_path / "office.xlsx"
    write_workbook(
        path,
        {
            "teachers": [["Emp ID", "Teacher Name", "Title", "Mobile", "Instruments"],
                         ["T-107", "Sunil Varma", "Mr.", "98480 12345", "Guitar, Violin"]],
            "Batch list": [["Batch Code", "Batch Name", "Instrument", "Teacher", "Days", "Timing", "Duration",
                            "Capacity"],
                           ["VLN-INT-SA15", "Violin Intermediate", "violin", "Sunil Varma", "Sat", "3 pm", 60, 6]],
            "Students list": [
                ["Enrolment ID", "Student Name", "DOB", "Parent Name", "Parent WhatsApp No", "Batch", "Plan",
                 "Classes Left", "Next Due"],
                ["HSM-26-0001", "Riya Menon", "12-Jan-2015", "Anil Menon", "+91 98480 54321", "VLN-INT-SA15",
                 "Monthly", 8, "05/01/2027"],
                ["HSM-26-0001", "Riya Menon", "12-Jan-2015", "Anil Menon", "+91 98480 54321", "GTR-BEG-TT17",
                 "Quarterly", 24, "05/01/2027"],
            ],
            "Payments": [["Enrollment No", "Amount", "Paid On", "Mode", "UTR", "Course"],
                         ["HSM-26-0001", "₹2,200", "02/12/2026", "UPI", "412345678901", "Violin"],
                         ["HSM-24-002", 2000, "01-Dec-2026", "cash", None, None]],
        },
    )  # fmt: skip
    result = import_sheet(path, school_db)
    created = result.report.counts(result.report.created)
    assert created == {"teachers": 1, "batches": 1, "students": 1, "guardians": 1, "enrollments": 2, "payments": 2}
    assert result.report.would_deactivate == []  # nothing claimed complete
    with session_scope(school_db) as s:
        riya = s.execute(select(m.Student).filter_by(enrollment_id="HSM-26-0001")).scalar_one()
        assert riya.dob == date(2015, 1, 12)
        assert sorted((e.batch.code, e.plan, e.fee, e.classes_remaining) for e in riya.enrollments) == [
            ("GTR-BEG-TT17", "quarterly", 5500, 24),
            ("VLN-INT-SA15", "monthly", 2200, 8),
        ]
        batch = s.execute(select(m.Batch).filter_by(code="VLN-INT-SA15")).scalar_one()
        assert batch.teacher.employee_id == "T-107" and batch.course.code == "VIOLIN"
        assert [(slot.weekday, slot.start_time.hour) for slot in batch.slots] == [(5, 15)]
        sunil = s.execute(select(m.Teacher).filter_by(employee_id="T-107")).scalar_one()
        assert sunil.phone == "+919848012345" and [c.code for c in sunil.courses] == ["GUITAR", "VIOLIN"]
        upi = s.execute(select(m.Payment).filter_by(reference="412345678901")).scalar_one()
        assert (upi.amount, upi.course.code, upi.enrollment_id is not None) == (2200, "VIOLIN", True)
        mary = s.execute(select(m.Payment).filter(m.Payment.reference.like("import:HSM-24-002:%"))).scalar_one()
        assert mary.course.code == "GUITAR"  # Mary's only course
    assert import_sheet(path, school_db).report.nothing_to_change


def test_a_sheet_never_overwrites_live_state_unless_asked(school_db, tmp_path):
    path = tmp_path / "balances.csv"
    path.write_text(
        "Enrollment ID,Name,Batch,Classes Left,Due Date\nHSM-24-009,Mohammed Irfan,GTR-BEG-TT17,5,25/12/2026\n"
    )
    report = import_sheet(path, school_db).report
    assert [(c.field, c.database, c.file) for c in report.conflicts] == [
        ("classes_remaining", 1, 5),
        ("next_due", date(2026, 11, 25), date(2026, 12, 25)),
    ]
    assert report.updated == [] and report.would_deactivate == []
    assert hsm_main(["import-sheet", str(path), "--overwrite", "classes_remaining"]) == 0
    with session_scope(school_db) as s:
        irfan = s.execute(select(m.Student).filter_by(enrollment_id="HSM-24-009")).scalar_one()
        assert [(e.classes_remaining, e.next_due) for e in irfan.enrollments if e.batch.code == "GTR-BEG-TT17"] == [
            (5, date(2026, 11, 25))
        ]


def test_export_then_import_changes_nothing(school_db, tmp_path, capsys):
    workbook = tmp_path / "school.xlsx"
    assert hsm_main(["export-sheet", str(workbook)]) == 0
    assert "44 students row(s), 6 teachers row(s), 11 batches row(s), 3 payments row(s)" in capsys.readouterr().out
    before = snapshot(school_db)
    assert hsm_main(["import-sheet", str(workbook), "--complete", "students,teachers,batches"]) == 0
    assert "Nothing to change" in capsys.readouterr().out
    for kind in ("students", "teachers", "batches", "payments"):
        path = tmp_path / f"{kind}.csv"
        assert hsm_main(["export-sheet", str(path), "--kind", kind]) == 0
        assert hsm_main(["import-sheet", str(path)]) == 0  # the kind told by the headers
        assert "Nothing to change" in capsys.readouterr().out
    assert snapshot(school_db) == before
    with (tmp_path / "students.csv").open(encoding="utf-8-sig") as handle:
        first = next(csv.DictReader(handle))
    assert first["Enrollment ID"] == "HSM-24-001" and first["DOB"] == "12/04/2001"


def test_a_complete_sheet_reports_who_is_missing(school_db, tmp_path, capsys):
    path = tmp_path / "students.csv"
    assert hsm_main(["export-sheet", str(path), "--kind", "students"]) == 0
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    path.write_text("\n".join(line for line in lines if not line.startswith("HSM-24-040")) + "\n")
    assert hsm_main(["import-sheet", str(path), "--complete", "students"]) == 0
    out = capsys.readouterr().out
    assert "Would deactivate" in out and "Varun Tej (HSM-24-040)" in out
    assert hsm_main(["import-sheet", str(path), "--complete", "admins"]) == 2
    capsys.readouterr()
    assert hsm_main(["import-sheet", str(path), "--deactivate-missing", "--complete", "students"]) == 0
    assert "Varun Tej (HSM-24-040)" in capsys.readouterr().out
    with session_scope(school_db) as s:
        assert s.execute(select(m.Student).filter_by(enrollment_id="HSM-24-040")).scalar_one().active is False


def test_files_that_cannot_be_read_are_refused_in_one_line(school_db, tmp_path, capsys):
    odd = tmp_path / "notes.csv"
    odd.write_text("Colour,Size\nred,10\n")
    assert hsm_main(["import-sheet", str(odd)]) == 2
    assert "cannot tell what the file holds: give --kind" in capsys.readouterr().err
    no_id = tmp_path / "students.csv"
    no_id.write_text("Student Name,Phone\nRiya,9848012345\n")
    assert hsm_main(["import-sheet", str(no_id), "--kind", "students"]) == 2
    assert "no enrollment id column" in capsys.readouterr().err
    assert hsm_main(["export-sheet", str(tmp_path / "all.csv")]) == 2
