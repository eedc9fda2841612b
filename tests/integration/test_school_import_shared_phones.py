"""`hsm import-school` refuses phones shared across families (two families' guardians, two students, a student and
another family's guardian), naming both entries, unless `--allow-shared-phones` says so."""

from __future__ import annotations

import yaml
from sqlalchemy import func, select

from hsm.cli import main as hsm_main
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.records.school_file import SchoolFileError, load_school_file
from tests.conftest import SCHOOL_FILE

FLAG_HINT = "--allow-shared-phones"


def write(tmp_path, raw) -> str:
    path = tmp_path / "school.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def demo() -> dict:
    return yaml.safe_load(SCHOOL_FILE.read_text())


def student_index(raw: dict, enrollment_id: str) -> int:
    return next(i for i, s in enumerate(raw["students"]) if s["enrollment_id"] == enrollment_id)


def students(url: str) -> int:
    with session_scope(url) as s:
        return s.execute(select(func.count()).select_from(m.Student)).scalar_one()


def test_the_demo_file_has_no_shared_phones():
    load_school_file(SCHOOL_FILE)  # siblings under one guardian (Kavitha, Srinivas Reddy) are one family


def test_guardians_of_two_families_sharing_a_phone_are_refused(db_url, tmp_path, capsys):
    raw = demo()
    mary, rahul = student_index(raw, "HSM-24-002"), student_index(raw, "HSM-24-005")
    raw["students"][rahul]["guardian"]["phone"] = raw["students"][mary]["guardian"]["phone"]
    path = write(tmp_path, raw)
    assert hsm_main(["import-school", path]) == 2
    err = capsys.readouterr().err
    assert "nothing was imported" in err
    line = next(line for line in err.splitlines() if "guardian.phone" in line)
    assert f"students[{rahul}] HSM-24-005: guardian.phone:" in line
    assert f"students[{mary}] HSM-24-002" in line and FLAG_HINT in line
    assert students(db_url) == 0


def test_two_students_sharing_a_phone_are_refused(db_url, tmp_path, capsys):
    raw = demo()
    sarah, daniel = student_index(raw, "HSM-24-004"), student_index(raw, "HSM-24-013")
    raw["students"][daniel]["phone"] = raw["students"][sarah]["phone"]
    path = write(tmp_path, raw)
    assert hsm_main(["import-school", path]) == 2
    err = capsys.readouterr().err
    line = next(line for line in err.splitlines() if "HSM-24-013: phone" in line)
    assert f"students[{daniel}] HSM-24-013: phone:" in line and f"students[{sarah}] HSM-24-004" in line
    assert students(db_url) == 0


def test_a_student_with_another_familys_guardian_phone_is_refused(tmp_path):
    raw = demo()
    daniel, mary = student_index(raw, "HSM-24-013"), student_index(raw, "HSM-24-002")
    raw["students"][daniel]["phone"] = raw["students"][mary]["guardian"]["phone"]
    try:
        load_school_file(write(tmp_path, raw))
    except SchoolFileError as error:
        assert any(f"students[{daniel}] HSM-24-013: phone:" in p and "HSM-24-002" in p for p in error.problems)
    else:
        raise AssertionError("a student sharing another family's guardian phone was imported")


def test_with_the_flag_it_imports_as_before(db_url, tmp_path, capsys):
    raw = demo()
    mary, rahul = student_index(raw, "HSM-24-002"), student_index(raw, "HSM-24-005")
    sarah, daniel = student_index(raw, "HSM-24-004"), student_index(raw, "HSM-24-013")
    raw["students"][rahul]["guardian"]["phone"] = raw["students"][mary]["guardian"]["phone"]
    raw["students"][daniel]["phone"] = raw["students"][sarah]["phone"]
    path = write(tmp_path, raw)
    assert hsm_main(["import-school", path, "--allow-shared-phones"]) == 0
    assert "created" in capsys.readouterr().out
    assert students(db_url) == 40
