"""Validation of school files: every problem names its entry and field, before anything touches a database."""

import copy

import pytest
import yaml

from hsm.records.school_file import SchoolFileError, load_school_file, parse_school
from tests.conftest import SCHOOL_FILE


@pytest.fixture(scope="module")
def raw_school() -> dict:
    return yaml.safe_load(SCHOOL_FILE.read_text())


def problems_of(raw: dict) -> list[str]:
    with pytest.raises(SchoolFileError) as caught:
        parse_school(raw)
    return caught.value.problems


def test_demo_school_is_valid():
    school = load_school_file(SCHOOL_FILE)
    assert len(school.students) == 40
    assert len(school.batches) == 11
    assert len(school.teachers) == 6
    assert school.batches[0].start.isoformat() == "17:00:00"


def test_unknown_batch_in_an_enrollment_names_student_and_field(raw_school):
    raw = copy.deepcopy(raw_school)
    raw["students"][3]["enrollments"][0]["batch"] = "GTR-NOPE"
    assert problems_of(raw) == ["students[3] HSM-24-004: enrollments[0].batch: unknown batch 'GTR-NOPE'"]


def test_bad_phone_names_entry_and_field(raw_school):
    raw = copy.deepcopy(raw_school)
    raw["teachers"][1]["phone"] = "12345"
    (problem,) = problems_of(raw)
    assert problem.startswith("teachers[1] T-102: phone:")
    assert "12345" in problem


def test_bad_values_are_all_reported(raw_school):
    raw = copy.deepcopy(raw_school)
    raw["batches"][2]["days"] = ["Tue", "Funday"]
    raw["students"][0]["enrollments"][1]["classes_remaining"] = -3
    raw["students"][5]["dob"] = "not a date"
    problems = problems_of(raw)
    assert any(
        p.startswith("batches[2] PNO-ADV-TU19: days.1:") or p.startswith("batches[2] PNO-ADV-TU19: days[1]")
        for p in problems
    ), problems
    assert any(p.startswith("students[0] HSM-24-001: enrollments[1].classes_remaining") for p in problems), problems
    assert any(p.startswith("students[5] HSM-24-006: dob") for p in problems), problems


def test_unknown_fields_and_missing_fields_are_refused(raw_school):
    raw = copy.deepcopy(raw_school)
    raw["courses"][0]["colour"] = "red"
    del raw["admins"][0]["name"]
    problems = problems_of(raw)
    assert "courses[0] GUITAR: colour: extra fields not permitted" in problems
    assert "admins[0] ADM-1: name: field required" in problems


def test_duplicates_and_contradictions(raw_school):
    raw = copy.deepcopy(raw_school)
    raw["students"][1]["enrollment_id"] = "HSM-24-001"
    raw["attendance"][0]["absent"].append("HSM-24-002")
    problems = problems_of(raw)
    assert "students[1] HSM-24-001: duplicate enrollment_id" in problems
    assert any("HSM-24-002 is listed as both present and absent" in p for p in problems), problems


def test_not_yaml_and_not_a_mapping(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("school: [unclosed\n")
    with pytest.raises(SchoolFileError, match="not valid YAML"):
        load_school_file(broken)
    with pytest.raises(SchoolFileError, match="mapping"):
        parse_school(["a", "list"])
    with pytest.raises(SchoolFileError, match="cannot read"):
        load_school_file(tmp_path / "missing.yaml")
