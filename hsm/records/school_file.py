"""The school file format (`shared/fixtures/school.yaml`): parsing and validation with entry-and-field errors.

`load_school_file(path)` returns a validated `SchoolFile` or raises `SchoolFileError`, whose message names the
entry and field ("students[3] HSM-24-004: enrollments[0].batch: unknown batch 'GTR-XX'").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, time
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Extra, Field, ValidationError, validator

from hsm.infra.phone import InvalidPhoneNumber, normalise_phone
from hsm.people.phones import same_name  # one family: one name, however spaced or cased

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class SchoolFileError(ValueError):
    """The file cannot be imported; `problems` lists every problem found, each naming entry and field."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def _phone(value: Any) -> str | None:
    if value is None or value == "":
        return None
    try:
        return normalise_phone(value)
    except InvalidPhoneNumber as error:
        raise ValueError(str(error)) from error


class Strict(BaseModel):
    class Config:
        extra = Extra.forbid
        anystr_strip_whitespace = True


class FaqEntry(Strict):
    topic: str = Field(..., min_length=1, regex=r"^[a-z0-9_]+$")
    answer: str = Field(..., min_length=1)


class SchoolSection(Strict):
    name: str = Field(..., min_length=1)
    short_name: str | None
    timezone: str = "Asia/Kolkata"
    currency: str = "INR"
    phone: str | None
    email: str | None
    address: str | None
    hours: str | None
    payment_link_base: str | None
    faqs: list[FaqEntry] = []

    _phone = validator("phone", pre=True, allow_reuse=True)(_phone)

    @validator("timezone")
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value


class PlanEntry(Strict):
    fee: int = Field(..., ge=0)
    classes: int = Field(..., gt=0)


class CourseEntry(Strict):
    code: str = Field(..., min_length=1)
    name: str = Field(..., min_length=1)
    aliases: list[str] = []
    min_age: int | None = Field(None, ge=0, le=100)
    plans: dict[str, PlanEntry]

    @validator("plans")
    def _known_plans(cls, value: dict[str, PlanEntry]) -> dict[str, PlanEntry]:
        unknown = sorted(set(value) - {"monthly", "quarterly"})
        if unknown:
            raise ValueError(f"unknown plan {unknown[0]!r} (expected monthly or quarterly)")
        return value


class AdminEntry(Strict):
    id: str = Field(..., min_length=1)
    name: str = Field(..., min_length=1)
    phone: str
    email: str | None

    _phone = validator("phone", pre=True, allow_reuse=True)(_phone)


class TeacherEntry(Strict):
    employee_id: str = Field(..., min_length=1)
    name: str = Field(..., min_length=1)
    title: str | None
    phone: str
    email: str | None
    courses: list[str] = []

    _phone = validator("phone", pre=True, allow_reuse=True)(_phone)


class BatchEntry(Strict):
    code: str = Field(..., min_length=1)
    name: str = Field(..., min_length=1)
    course: str
    level: str | None
    teacher: str
    days: list[str] = Field(..., min_items=1)
    start: time
    duration_min: int = Field(..., gt=0, le=600)
    room: str | None
    capacity: int = Field(..., gt=0)

    @validator("days", each_item=True)
    def _weekday(cls, value: str) -> str:
        if value not in WEEKDAYS:
            raise ValueError(f"unknown day {value!r} (expected one of {', '.join(WEEKDAYS)})")
        return value

    @validator("start", pre=True)
    def _clock_time(cls, value: Any) -> Any:
        if isinstance(value, int):  # YAML 1.1 reads an unquoted 17:00 as sexagesimal 1020
            return time(value // 60, value % 60)
        return value


class GuardianEntry(Strict):
    name: str = Field(..., min_length=1)
    phone: str
    relation: str | None
    email: str | None

    _phone = validator("phone", pre=True, allow_reuse=True)(_phone)


class EnrollmentEntry(Strict):
    batch: str
    plan: str
    classes_remaining: int = Field(..., ge=0)
    fee: int = Field(..., ge=0)
    next_due: date | None
    status: str = "active"

    @validator("plan")
    def _plan(cls, value: str) -> str:
        if value not in ("monthly", "quarterly"):
            raise ValueError(f"unknown plan {value!r} (expected monthly or quarterly)")
        return value

    @validator("status")
    def _status(cls, value: str) -> str:
        if value not in ("active", "paused", "ended"):
            raise ValueError(f"unknown status {value!r} (expected active, paused or ended)")
        return value


class PaymentEntry(Strict):
    date: date
    amount: int = Field(..., gt=0)
    course: str
    method: str | None
    note: str | None


class StudentEntry(Strict):
    enrollment_id: str = Field(..., min_length=1)
    name: str = Field(..., min_length=1)
    dob: date | None
    phone: str | None
    email: str | None
    guardian: GuardianEntry | None
    whatsapp_opted_out: bool = False
    enrollments: list[EnrollmentEntry] = []
    payments: list[PaymentEntry] = []

    _phone = validator("phone", pre=True, allow_reuse=True)(_phone)


class AttendanceEntry(Strict):
    batch: str
    date: date
    present: list[str] = []
    absent: list[str] = []


class HolidayEntry(Strict):
    date: date
    name: str = Field(..., min_length=1)


class SchoolFile(Strict):
    school: SchoolSection
    courses: list[CourseEntry] = []
    admins: list[AdminEntry] = []
    teachers: list[TeacherEntry] = []
    batches: list[BatchEntry] = []
    students: list[StudentEntry] = []
    attendance: list[AttendanceEntry] = []
    holidays: list[HolidayEntry] = []


# Which field names an entry of each list, so errors say "students[3] HSM-24-004" rather than just an index.
_ENTRY_KEYS = {
    "courses": "code",
    "admins": "id",
    "teachers": "employee_id",
    "batches": "code",
    "students": "enrollment_id",
    "holidays": "date",
    "attendance": "batch",
}


def _describe_location(raw: dict, loc: tuple) -> str:
    parts: list[str] = []
    node: Any = raw
    for index, step in enumerate(loc):
        if isinstance(step, int):
            parts[-1] += f"[{step}]"
            node = node[step] if isinstance(node, list) and step < len(node) else None
            key_field = _ENTRY_KEYS.get(str(loc[index - 1])) if index == 1 else None
            if key_field and isinstance(node, dict) and node.get(key_field) is not None:
                parts[-1] += f" {node[key_field]}:"
        else:
            if step == "__root__":
                continue
            parts.append(str(step))
            node = node.get(step) if isinstance(node, dict) else None
    text = ".".join(parts).replace(":.", ": ")
    return text.rstrip(":")


def _cross_reference_problems(school: SchoolFile) -> list[str]:
    problems: list[str] = []
    course_codes = {c.code for c in school.courses}
    teacher_ids = {t.employee_id for t in school.teachers}
    batch_codes = {b.code for b in school.batches}
    student_ids = {s.enrollment_id for s in school.students}

    def duplicates(section: str, keys: list[str]) -> None:
        seen: set[str] = set()
        for index, key in enumerate(keys):
            if key in seen:
                problems.append(f"{section}[{index}] {key}: duplicate {_ENTRY_KEYS[section]}")
            seen.add(key)

    duplicates("courses", [c.code for c in school.courses])
    duplicates("admins", [a.id for a in school.admins])
    duplicates("teachers", [t.employee_id for t in school.teachers])
    duplicates("batches", [b.code for b in school.batches])
    duplicates("students", [s.enrollment_id for s in school.students])

    staff: tuple[tuple[str, Sequence[AdminEntry | TeacherEntry]], ...] = (
        ("admins", school.admins),
        ("teachers", school.teachers),
    )
    for section, entries in staff:
        phone_owner: dict[str, str] = {}
        for index, person in enumerate(entries):
            key = person.id if isinstance(person, AdminEntry) else person.employee_id
            if person.phone in phone_owner:
                owner = phone_owner[person.phone]
                problems.append(f"{section}[{index}] {key}: phone: {person.phone} is already {owner}'s")
            phone_owner.setdefault(person.phone, key)

    for index, teacher in enumerate(school.teachers):
        for position, code in enumerate(teacher.courses):
            if code not in course_codes:
                label = f"teachers[{index}] {teacher.employee_id}"
                problems.append(f"{label}: courses[{position}]: unknown course {code!r}")
    for index, batch in enumerate(school.batches):
        if batch.course not in course_codes:
            problems.append(f"batches[{index}] {batch.code}: course: unknown course {batch.course!r}")
        if batch.teacher not in teacher_ids:
            problems.append(f"batches[{index}] {batch.code}: teacher: unknown teacher {batch.teacher!r}")
    for index, student in enumerate(school.students):
        label = f"students[{index}] {student.enrollment_id}"
        for position, enrollment in enumerate(student.enrollments):
            if enrollment.batch not in batch_codes:
                problems.append(f"{label}: enrollments[{position}].batch: unknown batch {enrollment.batch!r}")
        for position, payment in enumerate(student.payments):
            if payment.course not in course_codes:
                problems.append(f"{label}: payments[{position}].course: unknown course {payment.course!r}")
        if student.whatsapp_opted_out and not student.phone and not student.guardian:
            problems.append(f"{label}: whatsapp_opted_out: the student has no phone number to opt out")
    for index, held in enumerate(school.attendance):
        label = f"attendance[{index}] {held.batch} {held.date}"
        if held.batch not in batch_codes:
            problems.append(f"{label}: batch: unknown batch {held.batch!r}")
        for field in ("present", "absent"):
            for position, sid in enumerate(getattr(held, field)):
                if sid not in student_ids:
                    problems.append(f"{label}: {field}[{position}]: unknown student {sid!r}")
        both = sorted(set(held.present) & set(held.absent))
        if both:
            problems.append(f"{label}: {both[0]} is listed as both present and absent")
    holiday_dates = [h.date for h in school.holidays]
    for index, day in enumerate(holiday_dates):
        if day in holiday_dates[:index]:
            problems.append(f"holidays[{index}] {day}: duplicate date")
    return problems


def shared_phone_problems(school: SchoolFile) -> list[str]:
    """Phones that would join two families: the importer finds a guardian by phone (two guardians' entries with one
    phone and different names become one person, who then sees both families), and a number has one student."""
    problems: list[str] = []
    hint = "shared phones are refused unless imported with --allow-shared-phones"
    # phone -> (the first entry with that guardian phone, the guardian's name)
    guardians: dict[str, tuple[str, str]] = {}
    students: dict[str, str] = {}
    family_of: dict[str, set[str]] = {}  # guardian phone -> enrollment ids
    for index, student in enumerate(school.students):
        label = f"students[{index}] {student.enrollment_id}"
        guardian = student.guardian
        if guardian is not None:
            first = guardians.get(guardian.phone)
            if first is not None and not same_name(first[1], guardian.name):
                problems.append(
                    f"{label}: guardian.phone: {guardian.phone} is also the phone of {first[0]}'s guardian, "
                    f"another family ({hint})"
                )
            guardians.setdefault(guardian.phone, (label, guardian.name))
            family_of.setdefault(guardian.phone, set()).add(student.enrollment_id)
        if student.phone:
            if student.phone in students:
                problems.append(f"{label}: phone: {student.phone} is also {students[student.phone]}'s phone ({hint})")
            students.setdefault(student.phone, label)
    for index, student in enumerate(school.students):
        label = f"students[{index}] {student.enrollment_id}"
        own = student.guardian.phone if student.guardian else None
        if student.phone and student.phone in guardians and student.phone != own:
            first = guardians[student.phone]
            if student.enrollment_id not in family_of[student.phone]:
                problems.append(
                    f"{label}: phone: {student.phone} is also the phone of {first[0]}'s guardian, "
                    f"another family ({hint})"
                )
    return problems


def parse_school(raw: Any, allow_shared_phones: bool = False) -> SchoolFile:
    if not isinstance(raw, dict):
        raise SchoolFileError(["the file must be a mapping with a 'school' section"])
    try:
        school = SchoolFile.parse_obj(raw)
    except ValidationError as error:
        raise SchoolFileError([f"{_describe_location(raw, e['loc'])}: {e['msg']}" for e in error.errors()]) from None
    problems = _cross_reference_problems(school)
    if not allow_shared_phones:
        problems += shared_phone_problems(school)
    if problems:
        raise SchoolFileError(problems)
    return school


def load_school_file(path: str | Path, allow_shared_phones: bool = False) -> SchoolFile:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise SchoolFileError([f"cannot read {path}: {error.strerror}"]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SchoolFileError([f"{path} is not valid YAML: {error}"]) from None
    return parse_school(raw, allow_shared_phones)
