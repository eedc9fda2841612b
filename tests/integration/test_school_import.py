"""`hsm import-school`: complete, idempotent, transactional; phones in E.164."""

import copy
from datetime import date

import pytest
import yaml
from sqlalchemy import func, inspect, select

from hsm.cli import main as hsm_main
from hsm.infra import models as m
from hsm.infra.db import get_engine, session_scope
from hsm.records.school_file import SchoolFileError
from hsm.records.school_import import import_school_file
from tests.conftest import SCHOOL_FILE


def count(session, model) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def snapshot(url: str) -> dict[str, list[tuple]]:
    """Every row of every table (timestamps included), to prove a re-import changes nothing."""
    engine = get_engine(url)
    result = {}
    with engine.connect() as connection:
        for table in m.Base.metadata.sorted_tables:
            rows = connection.execute(table.select().order_by(*table.primary_key.columns)).all()
            result[table.name] = [tuple(row) for row in rows]
    return result


def test_demo_school_loads_completely(school_db):
    with session_scope(school_db) as s:
        assert count(s, m.Student) == 40
        assert count(s, m.Batch) == 11
        assert count(s, m.Teacher) == 6
        assert count(s, m.Admin) == 2
        assert count(s, m.Course) == 7
        assert count(s, m.CoursePlan) == 14
        assert count(s, m.Faq) == 7
        assert count(s, m.Holiday) == 3
        assert count(s, m.Enrollment) == 44
        assert count(s, m.Payment) == 3
        assert count(s, m.AttendanceRecord) == 12
        assert count(s, m.BatchSlot) == 19
        assert count(s, m.Guardian) == 22  # Kavitha and Srinivas Reddy each have two children
        school = s.get(m.School, 1)
        assert school.timezone == "Asia/Kolkata" and school.phone == "+914040001234"

        kavitha = s.execute(select(m.Guardian).filter_by(phone="+919845000007")).scalar_one()
        assert sorted(link.student.name for link in kavitha.student_links) == ["Aarav Reddy", "Anika Reddy"]

        vocals = s.execute(select(m.Course).filter_by(code="CARNATIC_VOCAL")).scalar_one()
        assert "singing" in vocals.aliases and vocals.min_age == 6
        assert {(p.plan, p.fee, p.classes) for p in vocals.plans} == {("monthly", 1800, 8), ("quarterly", 5000, 24)}

        guitar = s.execute(select(m.Batch).filter_by(code="GTR-BEG-TT17")).scalar_one()
        assert [(slot.weekday, slot.start_time.isoformat(), slot.duration_min) for slot in guitar.slots] == [
            (1, "17:00:00", 60),
            (3, "17:00:00", 60),
        ]
        assert guitar.teacher.employee_id == "T-101" and guitar.room == "Studio 2"

        varun = s.execute(select(m.Student).filter_by(enrollment_id="HSM-24-040")).scalar_one()
        assert varun.enrollments[0].status == "paused"
        john = s.execute(select(m.Student).filter_by(enrollment_id="HSM-24-001")).scalar_one()
        assert [(e.batch.code, e.classes_remaining, e.next_due) for e in john.enrollments] == [
            ("KEY-BEG-MWF18", 15, date(2026, 12, 20)),
            ("GTR-BEG-TT17", 22, date(2027, 2, 10)),
        ]

        held = (
            s.execute(select(m.AttendanceRecord).where(m.AttendanceRecord.class_date == date(2026, 11, 26)))
            .scalars()
            .all()
        )
        assert len(held) == 8 and sum(r.status == "absent" for r in held) == 1
        assert all(r.source == "import" for r in held)

        (opt_out,) = s.execute(select(m.WhatsAppSubscription)).scalars().all()
        assert opt_out.phone_number == "+919845000039" and opt_out.is_active is False

        phones = [p for (p,) in s.execute(select(m.Student.phone).where(m.Student.phone.is_not(None)))]
        phones += [p for (p,) in s.execute(select(m.Guardian.phone))]
        phones += [p for (p,) in s.execute(select(m.Teacher.phone))]
        assert phones and all(p.startswith("+91") and p[1:].isdigit() and len(p) == 13 for p in phones)


def test_second_import_changes_nothing(school_db):
    before = snapshot(school_db)
    report = import_school_file(SCHOOL_FILE, school_db)
    assert report.nothing_to_change
    assert snapshot(school_db) == before


def test_reimport_updates_in_place(school_db, tmp_path):
    raw = yaml.safe_load(SCHOOL_FILE.read_text())
    raw["students"][0]["enrollments"][0]["classes_remaining"] = 9  # live state: a conflict, not applied
    raw["students"][0]["enrollments"][0]["fee"] = 2100
    raw["batches"][0]["days"] = ["Tue"]
    raw["students"][0]["phone"] = "098765 43210"  # same number, another format
    changed = tmp_path / "school.yaml"
    changed.write_text(yaml.safe_dump(raw))
    report = import_school_file(changed, school_db)
    assert report.created == []
    assert report.counts(report.updated) == {"enrollments": 1, "batches": 1}
    assert [(c.field, c.database, c.file) for c in report.conflicts] == [("classes_remaining", 15, 9)]
    with session_scope(school_db) as s:
        assert count(s, m.Student) == 40 and count(s, m.Enrollment) == 44
        john = s.execute(select(m.Student).filter_by(enrollment_id="HSM-24-001")).scalar_one()
        assert john.enrollments[0].classes_remaining == 15 and john.enrollments[0].fee == 2100
        assert john.phone == "+919876543210"
        guitar = s.execute(select(m.Batch).filter_by(code="GTR-BEG-TT17")).scalar_one()
        assert [slot.weekday for slot in guitar.slots] == [1]


def test_broken_file_writes_nothing_on_an_empty_database(db_url, tmp_path):
    raw = yaml.safe_load(SCHOOL_FILE.read_text())
    raw["students"][39]["enrollments"][0]["batch"] = "NOPE"
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(raw))
    with pytest.raises(SchoolFileError, match=r"students\[39\] HSM-24-040: enrollments\[0\]\.batch"):
        import_school_file(broken, db_url)
    with session_scope(db_url) as s:
        for table in (m.School, m.Course, m.Student, m.Teacher, m.Batch, m.Enrollment):
            assert count(s, table) == 0


def test_database_error_midway_rolls_back_everything(school_db, tmp_path, monkeypatch):
    """A failure after rows were written (here: a forced error on the last student) leaves the old data."""
    from hsm.records import merge

    raw = yaml.safe_load(SCHOOL_FILE.read_text())
    raw["students"][0]["name"] = "Johnny Doe"
    raw["students"].append(
        copy.deepcopy(raw["students"][-1])
        | {"enrollment_id": "HSM-24-041", "name": "New Kid", "phone": "+919845000041"}
    )
    changed = tmp_path / "school.yaml"
    changed.write_text(yaml.safe_dump(raw))
    before = snapshot(school_db)
    original_put = merge._Merge.put

    def failing_put(self, kind, model, row, values, label, entity_id, **fixed):
        if model is m.Student and fixed == {"enrollment_id": "HSM-24-041"}:
            raise RuntimeError("disk full")
        return original_put(self, kind, model, row, values, label, entity_id, **fixed)

    monkeypatch.setattr(merge._Merge, "put", failing_put)
    with pytest.raises(RuntimeError):
        import_school_file(changed, school_db)
    assert snapshot(school_db) == before


def test_cli_refuses_a_broken_file_and_names_the_problem(db_url, tmp_path, capsys):
    raw = yaml.safe_load(SCHOOL_FILE.read_text())
    raw["admins"][1]["phone"] = "call me"
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(raw))
    assert hsm_main(["import-school", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "nothing was imported" in err and "admins[1] ADM-2: phone:" in err
    assert "students" in inspect(get_engine(db_url)).get_table_names()
    with session_scope(db_url) as s:
        assert count(s, m.Admin) == 0


def test_cli_upgrade_and_import(empty_db_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", empty_db_url)
    assert hsm_main(["db", "upgrade"]) == 0
    assert hsm_main(["import-school", str(SCHOOL_FILE)]) == 0
    assert "created" in capsys.readouterr().out
    with session_scope(empty_db_url) as s:
        assert (count(s, m.Student), count(s, m.Batch), count(s, m.Teacher)) == (40, 11, 6)
