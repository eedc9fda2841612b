"""The import is a merge: live work (attendance, payments, leave, balances, due dates) survives a re-import of the
unchanged demo file and shows as conflicts; --overwrite takes the file's value per field; people the file no longer
has are reported as "would deactivate"; a dry run changes nothing; every change leaves an audit row."""

from __future__ import annotations

from datetime import date

import pytest
import yaml
from sqlalchemy import select

from hsm.classes import attendance, leave
from hsm.classes.attendance_text import parse_attendance
from hsm.classes.schedule import meetings_between
from hsm.cli import main as hsm_main
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.people.identity import identify
from hsm.records.changes import RecordError
from hsm.records.merge import MergeOptions, merge, parse_overwrite
from hsm.records.merge_input import EnrollmentRow, MergeInput, StudentRow
from hsm.records.school_import import import_school_file
from tests.conftest import SCHOOL_FILE
from tests.integration.test_school_import import snapshot


def live_state(url: str) -> dict[str, list[tuple]]:
    """What the office's day-to-day work changes: balances, dues, statuses, attendance, payments, leave."""
    with session_scope(url) as s:
        return {
            "enrollments": sorted(
                (e.student.enrollment_id, e.batch.code, e.classes_remaining, e.next_due, e.status)
                for e in s.execute(select(m.Enrollment)).scalars()
            ),
            "attendance": sorted(
                (r.student_id, r.batch_id, r.class_date, r.status, r.marked_by)
                for r in s.execute(select(m.AttendanceRecord)).scalars()
            ),
            "payments": sorted(
                (p.reference, p.student_id, p.amount, p.paid_on, p.method)
                for p in s.execute(select(m.Payment)).scalars()
            ),
            "leaves": sorted((lv.teacher_id, lv.leave_date) for lv in s.execute(select(m.TeacherLeave)).scalars()),
        }


def do_a_days_work(url: str) -> None:
    """A teacher saves attendance (balances go down), a payment comes in and moves a due date, an attendance
    correction, an office correction of a payment's method, and a teacher's leave."""
    with session_scope(url) as s:
        rahul = s.execute(select(m.Teacher).filter_by(employee_id="T-101")).scalar_one()
        guitar = s.execute(select(m.Batch).filter_by(code="GTR-BEG-TT17")).scalar_one()
        day = date(2026, 12, 1)
        meeting = next(mt for mt in meetings_between(s, [guitar], day, day) if mt.held)
        draft = attendance.start_draft(s, rahul.id, meeting, "all present except Sarah")
        attendance.apply_statement(s, draft, parse_attendance("all present except Sarah"))
        attendance.confirm(s, draft.id, "teacher:T-101")
        leave.record_leave(s, rahul.id, date(2026, 12, 3), "fever", "teacher:T-101")
        mary = s.execute(select(m.Student).filter_by(enrollment_id="HSM-24-002")).scalar_one()
        mary.enrollments[0].next_due = date(2027, 1, 8)
        s.add(
            m.Payment(
                student_id=mary.id,
                course_id=guitar.course_id,
                enrollment_id=mary.enrollments[0].id,
                amount=2000,
                paid_on=day,
                method="UPI",
                reference="pay_live_1",
            )
        )
        irfan = s.execute(select(m.Student).filter_by(enrollment_id="HSM-24-009")).scalar_one()
        record = s.execute(
            select(m.AttendanceRecord).filter_by(student_id=irfan.id, class_date=date(2026, 11, 26))
        ).scalar_one()
        record.status, record.marked_by = "present", "ADM-1"  # an admin's correction
        john_payment = s.execute(
            select(m.Payment).filter(m.Payment.reference.like("import:HSM-24-001:2025%"))
        ).scalar_one()
        john_payment.method = "cash"


def conflict_fields(report) -> set[tuple[str, str, str]]:
    return {(c.kind, c.label, c.field) for c in report.conflicts}


def test_reimport_after_live_work_changes_no_live_state_and_reports_conflicts(school_db):
    do_a_days_work(school_db)
    before = live_state(school_db)
    irfan = [e for e in before["enrollments"] if e[:2] == ("HSM-24-009", "GTR-BEG-TT17")]
    assert irfan[0][2] == 0  # 1 class left before the teacher saved attendance

    report = import_school_file(SCHOOL_FILE, school_db)

    assert live_state(school_db) == before
    assert report.created == [] and report.updated == []
    conflicts = conflict_fields(report)
    assert ("enrollments", "Mohammed Irfan (HSM-24-009) in GTR-BEG-TT17", "classes_remaining") in conflicts
    assert ("enrollments", "Mary Thomas (HSM-24-002) in GTR-BEG-TT17", "next_due") in conflicts
    assert ("attendance", "Mohammed Irfan (HSM-24-009) in GTR-BEG-TT17 on 26 Nov 2026", "status") in conflicts
    assert ("payments", "John Doe (HSM-24-001) ₹2000 on 28 Dec 2025", "method") in conflicts
    # the 7 students present in the guitar class (all but Sarah) lost one class each: one conflict each
    assert sum(c.field == "classes_remaining" for c in report.conflicts) == 7
    assert sum(c.field == "next_due" for c in report.conflicts) == 1
    irfan_conflict = next(c for c in report.conflicts if c.label.startswith("Mohammed Irfan"))
    assert (irfan_conflict.database, irfan_conflict.file) == (0, 1)
    text = report.render()
    assert "classes_remaining 0 (database) → 1 (file)" in text and "--overwrite classes_remaining" in text


def test_overwrite_next_due_applies_only_that_field(school_db):
    do_a_days_work(school_db)
    before = live_state(school_db)
    report = import_school_file(SCHOOL_FILE, school_db, options=MergeOptions(overwrite=frozenset({"next_due"})))
    after = live_state(school_db)
    mary = [e for e in after["enrollments"] if e[0] == "HSM-24-002"]
    assert mary[0][3] == date(2026, 12, 8)  # the file's due date is back
    assert [e for e in after["enrollments"] if e[0] != "HSM-24-002"] == [
        e for e in before["enrollments"] if e[0] != "HSM-24-002"
    ]
    assert after["attendance"] == before["attendance"] and after["payments"] == before["payments"]
    assert [(c.label, c.note) for c in report.updated] == [
        ("Mary Thomas (HSM-24-002) in GTR-BEG-TT17", "--overwrite next_due")
    ]
    assert not any(c.field == "next_due" for c in report.conflicts)
    assert any(c.field == "classes_remaining" for c in report.conflicts)
    with session_scope(school_db) as s:
        (audit,) = s.execute(select(m.AuditLog).filter_by(action="import.overwrite")).scalars().all()
        assert audit.actor == "import:school.yaml" and audit.entity_id == "HSM-24-002:GTR-BEG-TT17"
        assert audit.before == {"next_due": "2027-01-08"} and audit.after == {"next_due": "2026-12-08"}


def test_overwrite_attendance_and_payments(school_db):
    do_a_days_work(school_db)
    import_school_file(SCHOOL_FILE, school_db, options=MergeOptions(overwrite=parse_overwrite("attendance,payments")))
    with session_scope(school_db) as s:
        irfan = s.execute(select(m.Student).filter_by(enrollment_id="HSM-24-009")).scalar_one()
        record = s.execute(
            select(m.AttendanceRecord).filter_by(student_id=irfan.id, class_date=date(2026, 11, 26))
        ).scalar_one()
        assert record.status == "absent"
        john = s.execute(select(m.Payment).filter(m.Payment.reference.like("import:HSM-24-001:2025%"))).scalar_one()
        assert john.method == "UPI"
        assert s.execute(select(m.Payment).filter_by(reference="pay_live_1")).scalar_one().amount == 2000


def test_unknown_overwrite_names_are_refused(school_db, capsys):
    with pytest.raises(RecordError, match="unknown field 'balance'"):
        parse_overwrite("next_due, balance")
    assert parse_overwrite(" next_due ,status") == {"next_due", "status"}
    before = snapshot(school_db)
    assert hsm_main(["import-school", str(SCHOOL_FILE), "--overwrite", "fees"]) == 2
    assert "unknown field 'fees'" in capsys.readouterr().err
    assert snapshot(school_db) == before


def without_an_admin_and_a_teacher(tmp_path):
    raw = yaml.safe_load(SCHOOL_FILE.read_text())
    raw["admins"] = [a for a in raw["admins"] if a["id"] != "ADM-2"]
    raw["teachers"] = [t for t in raw["teachers"] if t["employee_id"] != "T-106"]
    for batch in raw["batches"]:
        if batch["teacher"] == "T-106":
            batch["teacher"] = "T-105"
    path = tmp_path / "school.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path


def test_people_missing_from_the_file_are_reported_as_would_deactivate(school_db, tmp_path):
    path = without_an_admin_and_a_teacher(tmp_path)
    report = import_school_file(path, school_db)
    assert [(c.kind, c.label) for c in report.would_deactivate] == [
        ("admins", "Farhan Siddiqui (ADM-2)"),
        ("teachers", "Imran Qureshi (T-106)"),
    ]
    assert [(c.kind, c.label, c.fields) for c in report.updated] == [
        ("batches", "Tabla Beginner (TBL-BEG-SA16)", {"teacher_id": (6, 5)})
    ]
    with session_scope(school_db) as s:  # reported, not deactivated, not deleted
        assert s.execute(select(m.Admin).filter_by(admin_code="ADM-2")).scalar_one().active is True
        assert s.execute(select(m.Teacher).filter_by(employee_id="T-106")).scalar_one().active is True
    text = report.render()
    assert "Would deactivate" in text and "Farhan Siddiqui (ADM-2)" in text and "Imran Qureshi (T-106)" in text


def test_already_inactive_people_are_not_reported(school_db, tmp_path):
    with session_scope(school_db) as s:
        s.execute(select(m.Admin).filter_by(admin_code="ADM-2")).scalar_one().active = False
    report = import_school_file(without_an_admin_and_a_teacher(tmp_path), school_db)
    assert [c.label for c in report.would_deactivate] == ["Imran Qureshi (T-106)"]


def test_a_removed_admin_is_reported_then_deactivated_and_becomes_a_prospect(school_db, tmp_path, capsys):
    path = without_an_admin_and_a_teacher(tmp_path)
    with session_scope(school_db) as s:
        farhan = s.execute(select(m.Admin).filter_by(admin_code="ADM-2")).scalar_one().phone
        assert identify(s, farhan).role == "admin"
    assert hsm_main(["import-school", str(path), "--dry-run"]) == 0
    assert "Farhan Siddiqui (ADM-2)" in capsys.readouterr().out
    assert hsm_main(["import-school", str(path), "--deactivate-missing", "--by", "meera"]) == 0
    out = capsys.readouterr().out
    assert "Deactivated" in out and "Farhan Siddiqui (ADM-2)" in out and "Imran Qureshi (T-106)" in out
    with session_scope(school_db) as s:
        admin = s.execute(select(m.Admin).filter_by(admin_code="ADM-2")).scalar_one()
        teacher = s.execute(select(m.Teacher).filter_by(employee_id="T-106")).scalar_one()
        assert (admin.active, teacher.active) == (False, False)
        assert admin.deactivated_at is not None and teacher.deactivated_at is not None
        assert identify(s, farhan).role == "prospect"  # over WhatsApp: tests/e2e/test_people_who_leave.py
        audit = s.execute(select(m.AuditLog).where(m.AuditLog.action == "admin.deactivated")).scalars().all()
        assert [(row.actor, row.entity_id) for row in audit] == [("cli:meera import:school.yaml", "ADM-2")]
    # Nothing is deleted, and a re-import neither reports them again nor reactivates them.
    report = import_school_file(path, school_db)
    assert report.would_deactivate == [] and report.deactivated == []
    with session_scope(school_db) as s:
        assert s.execute(select(m.Admin).filter_by(admin_code="ADM-2")).scalar_one().active is False


def test_dry_run_changes_nothing_and_prints_the_diff(school_db, tmp_path, capsys):
    do_a_days_work(school_db)
    raw = yaml.safe_load(without_an_admin_and_a_teacher(tmp_path).read_text())
    raw["students"][0]["name"] = "Johnny Doe"
    raw["students"].append(
        {
            "enrollment_id": "HSM-24-041",
            "name": "Riya Menon",
            "guardian": {"name": "Anil Menon", "phone": "98480 12345", "relation": "father"},
            "enrollments": [{"batch": "TBL-BEG-SA16", "plan": "monthly", "classes_remaining": 8, "fee": 1800}],
        }
    )
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    before = snapshot(school_db)

    assert hsm_main(["import-school", str(path), "--dry-run", "--overwrite", "next_due"]) == 0

    assert snapshot(school_db) == before
    out = capsys.readouterr().out
    assert "dry run, nothing was changed" in out
    assert "Would create:" in out and "Riya Menon (HSM-24-041)" in out and "Anil Menon (+919848012345)" in out
    assert "Would update:" in out and "Johnny Doe (HSM-24-001): name John Doe → Johnny Doe" in out
    assert "next_due 08 Jan 2027 → 08 Dec 2026 (--overwrite next_due)" in out
    assert "Farhan Siddiqui (ADM-2)" in out and "Conflicts" in out


def test_second_import_reports_nothing_and_every_change_is_audited(school_db, tmp_path):
    report = import_school_file(SCHOOL_FILE, school_db)
    assert report.nothing_to_change and "Nothing to change" in report.render()
    raw = yaml.safe_load(SCHOOL_FILE.read_text())
    raw["students"][0]["name"] = "Johnny Doe"
    raw["batches"][0]["days"] = ["Tue"]
    path = tmp_path / "school.yaml"
    path.write_text(yaml.safe_dump(raw))
    report = import_school_file(path, school_db)
    assert [(c.kind, c.label, c.fields) for c in report.updated] == [
        ("batches", "Guitar Beginner (GTR-BEG-TT17)", {"days": (["Tue", "Thu"], ["Tue"])}),
        ("students", "Johnny Doe (HSM-24-001)", {"name": ("John Doe", "Johnny Doe")}),
    ]
    with session_scope(school_db) as s:
        rows = s.execute(select(m.AuditLog).filter_by(action="import.update").order_by(m.AuditLog.id)).scalars()
        recent = [(r.actor, r.entity, r.entity_id, r.before, r.after) for r in rows][-2:]
    assert recent == [
        (
            "import:school.yaml",
            "batches",
            "GTR-BEG-TT17",
            {"days": ["Tue", "Thu"]},
            {"days": ["Tue"], "start": "17:00:00", "duration_min": 60},
        ),
        ("import:school.yaml", "students", "HSM-24-001", {"name": "John Doe"}, {"name": "Johnny Doe"}),
    ]
    assert import_school_file(path, school_db).nothing_to_change


def test_a_partial_input_compares_only_what_it_has_and_may_point_at_rows_in_the_database(school_db):
    """One new student in an existing batch: nothing else is compared; "complete" brings would-deactivate."""
    newcomer = StudentRow(
        "HSM-26-001",
        {"name": "Riya Menon"},
        "Students row 2",
        enrollments=[EnrollmentRow("TBL-BEG-SA16", {"plan": "quarterly"}, "Students row 2")],
    )
    with session_scope(school_db) as s:
        report = merge(s, MergeInput("new.xlsx", students=[newcomer]), MergeOptions())
        assert [c.label for c in report.created] == [
            "Riya Menon (HSM-26-001)",
            "Riya Menon (HSM-26-001) in TBL-BEG-SA16",
        ]
        assert report.would_deactivate == [] and report.updated == [] and report.conflicts == []
        riya = s.execute(select(m.Student).filter_by(enrollment_id="HSM-26-001")).scalar_one()
        # a new enrollment takes the course plan's fee, no classes and no due date until the office says so
        assert [(e.plan, e.fee, e.classes_remaining, e.next_due, e.status) for e in riya.enrollments] == [
            ("quarterly", 5000, 0, None, "active")
        ]
        report = merge(s, MergeInput("all.xlsx", students=[newcomer], complete=frozenset({"students"})), MergeOptions())
        assert sum(c.kind == "students" for c in report.would_deactivate) == 40
        assert sum(c.kind == "guardians" for c in report.would_deactivate) == 22
        s.rollback()
