"""Spreadsheet rows to merge input: each row read and checked (names, phones, dates, references to batches,
courses, teachers and students in the sheet or already in the database, duplicates), every bad row reported with
its sheet, row number and reason, the good rows grouped into the merge's entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm.infra import models as m
from hsm.people.phones import same_name
from hsm.records.merge_input import (
    BatchRow,
    EnrollmentRow,
    GuardianRow,
    MergeInput,
    PaymentRow,
    StudentRow,
    TeacherRow,
)
from hsm.records.sheets import cells
from hsm.records.sheets.cells import CellError
from hsm.records.sheets.reading import Table


@dataclass(frozen=True)
class SheetProblem:
    sheet: str
    row: int
    reason: str

    def __str__(self) -> str:
        return f"{self.sheet} row {self.row}: {self.reason}"


@dataclass
class KnownKeys:
    """What rows may refer to: the database's keys, and those of the good rows read so far."""

    courses: dict[str, str] = field(default_factory=dict)  # code, or lowercase name -> code
    teachers: dict[str, str] = field(default_factory=dict)  # employee id, or lowercase name -> employee id
    batch_course: dict[str, str] = field(default_factory=dict)  # batch code -> course code
    students: set[str] = field(default_factory=set)
    enrollments: set[tuple[str, str]] = field(default_factory=set)  # (enrollment id, batch code)


def known_keys(session: Session) -> KnownKeys:
    known = KnownKeys()
    for code, name in session.execute(select(m.Course.code, m.Course.name)):
        known.courses.update({code: code, code.lower(): code, name.lower(): code})
    for employee_id, name in session.execute(select(m.Teacher.employee_id, m.Teacher.name)):
        known.teachers.update({employee_id: employee_id, employee_id.lower(): employee_id, name.lower(): employee_id})
    rows = session.execute(select(m.Batch.code, m.Course.code).join(m.Course, m.Batch.course_id == m.Course.id))
    known.batch_course = {batch: course for batch, course in rows}
    known.students = set(session.execute(select(m.Student.enrollment_id)).scalars())
    known.enrollments = {
        (student, batch)
        for student, batch in session.execute(
            select(m.Student.enrollment_id, m.Batch.code)
            .join(m.Enrollment, m.Enrollment.student_id == m.Student.id)
            .join(m.Batch, m.Enrollment.batch_id == m.Batch.id)
        )
    }
    return known


class RowError(ValueError):
    """A bad row; the message is the reason."""


def _required(record: dict[str, Any], name: str, what: str) -> str:
    value = cells.text(record.get(name))
    if value is None:
        raise RowError(f"missing {what}")
    return value


_DATE_FIELDS = {"dob": "date of birth", "next_due": "due date"}


def _given(record: dict[str, Any], readers: dict[str, Any]) -> dict[str, Any]:
    """{field: read value} for the columns the sheet has."""
    values = {}
    for name, reader in readers.items():
        if name in record:
            try:
                values[name] = reader(record[name])
            except CellError as error:
                raise RowError(f"{_DATE_FIELDS[name]}: {error}" if name in _DATE_FIELDS else str(error)) from None
    return values


@dataclass
class SheetInput:
    data: MergeInput  # the good rows
    problems: list[SheetProblem]
    notes: list[str]
    good_rows: int


class _Reader:
    def __init__(self, known: KnownKeys, allow_shared_phones: bool):
        self.known = known
        self.allow_shared_phones = allow_shared_phones
        self.problems: list[SheetProblem] = []
        self.good_rows = 0
        self.teachers: dict[str, TeacherRow] = {}
        self.batches: dict[str, BatchRow] = {}
        self.students: dict[str, StudentRow] = {}
        self.payments: dict[str, PaymentRow] = {}
        self.first_row: dict[tuple[str, str], str] = {}  # (what, key) -> where it was first seen
        self.guardian_names: dict[str, tuple[str, str]] = {}  # phone -> (guardian name, where)
        self.student_phones: dict[str, tuple[str, str]] = {}  # phone -> (enrollment id, where)

    def read(self, table: Table) -> None:
        reader = getattr(self, f"_{table.kind}")
        for number, record in table.records():
            where = f"{table.sheet} row {number}"
            try:
                reader(record, where)
                self.good_rows += 1
            except (RowError, CellError) as error:
                self.problems.append(SheetProblem(table.sheet, number, str(error)))

    def _once(self, what: str, key: str, where: str) -> None:
        first = self.first_row.get((what, key))
        if first is not None:
            raise RowError(f"duplicate {what} {key} (also {first})")

    def _course(self, value: Any) -> str:
        code = self.known.courses.get(cells.text(value) or "") or self.known.courses.get(
            (cells.text(value) or "").lower()
        )
        if code is None:
            raise RowError(f"unknown course {cells.text(value)!r}")
        return code

    def _teachers(self, record: dict[str, Any], where: str) -> None:
        key = _required(record, "employee_id", "employee id")
        self._once("employee id", key, where)
        new = key not in self.known.teachers
        values = _given(record, {"name": cells.text, "title": cells.text, "phone": cells.phone, "email": cells.text})
        for name in ("name", "phone"):
            if new and not values.get(name):
                raise RowError(f"missing {name} for a new teacher")
        courses = None
        if "courses" in record:
            text = cells.text(record["courses"]) or ""
            courses = sorted(
                {self._course(part) for part in text.replace("/", ",").replace("&", ",").split(",") if part.strip()}
            )
        self.first_row[("employee id", key)] = where
        self.teachers[key] = TeacherRow(key, values, where, courses=courses)
        self.known.teachers.update({key: key, key.lower(): key})
        if values.get("name"):
            self.known.teachers[values["name"].lower()] = key

    def _batches(self, record: dict[str, Any], where: str) -> None:
        key = _required(record, "code", "batch code")
        self._once("batch code", key, where)
        new = key not in self.known.batch_course
        values = _given(
            record,
            {
                "name": cells.text,
                "level": cells.text,
                "room": cells.text,
                "capacity": lambda v: cells.whole_number(v, "capacity", minimum=1),
            },
        )
        course = self._course(record["course"]) if cells.text(record.get("course")) else None
        teacher = None
        if cells.text(record.get("teacher")):
            raw = cells.text(record["teacher"]) or ""
            teacher = self.known.teachers.get(raw) or self.known.teachers.get(raw.lower())
            if teacher is None:
                raise RowError(f"unknown teacher {raw!r}")
        row = BatchRow(
            key,
            values,
            where,
            course=course,
            teacher=teacher,
            days=cells.weekdays(record["days"]) if "days" in record else None,
            start=cells.clock_time(record["start"]) if "start" in record else None,
            duration_min=cells.whole_number(record.get("duration_min"), "duration", minimum=1),
        )
        if new:
            needed = {"name": values.get("name"), "course": course, "teacher": teacher, "days": row.days}
            needed |= {"start time": row.start, "duration": row.duration_min, "capacity": values.get("capacity")}
            missing = [name for name, value in needed.items() if not value]
            if missing:
                raise RowError(f"missing {', '.join(missing)} for a new batch")
        self.first_row[("batch code", key)] = where
        self.batches[key] = row
        self.known.batch_course[key] = course or self.known.batch_course.get(key, "")

    def _students(self, record: dict[str, Any], where: str) -> None:
        key = _required(record, "enrollment_id", "enrollment id")
        values = _given(record, {"name": cells.text, "dob": cells.day, "phone": cells.phone, "email": cells.text})
        seen = self.students.get(key)
        if key not in self.known.students and seen is None and not values.get("name"):
            raise RowError("missing name")
        guardian = self._guardian(record, where)
        enrollment = self._enrollment(key, record, where)
        opted_out = cells.yes(record["opted_out"], "WhatsApp opted out") if "opted_out" in record else False
        if seen is not None:  # another enrollment of a student already read: the same student, in another batch
            first = self.first_row[("enrollment id", key)]
            if values.get("name") and seen.values.get("name", "").lower() != values["name"].lower():
                raise RowError(f"duplicate enrollment id {key}: {first} is {seen.values.get('name')}")
            if enrollment is None or any(e.key == enrollment.key for e in seen.enrollments):
                raise RowError(f"duplicate enrollment id {key} (also {first})")
            seen.enrollments.append(enrollment)
            return
        self._shared_phones(key, values.get("phone"), guardian, where)
        self.first_row[("enrollment id", key)] = where
        self.students[key] = StudentRow(
            key, values, where, guardian=guardian, enrollments=[enrollment] if enrollment else [], opted_out=opted_out
        )
        self.known.students.add(key)

    def _guardian(self, record: dict[str, Any], where: str) -> GuardianRow | None:
        name = cells.text(record.get("guardian_name"))
        phone = cells.phone(record.get("guardian_phone"))
        if name is None and phone is None:
            return None
        if phone is None:
            raise RowError("missing parent phone")
        if name is None:
            raise RowError("missing parent name")
        values: dict[str, Any] = {"name": name}
        if "guardian_email" in record:
            values["email"] = cells.text(record["guardian_email"])
        return GuardianRow(phone, values, where, relation=cells.text(record.get("guardian_relation")))

    def _enrollment(self, student: str, record: dict[str, Any], where: str) -> EnrollmentRow | None:
        batch = cells.text(record.get("batch"))
        if batch is None:
            return None
        if batch not in self.known.batch_course:
            raise RowError(f"unknown batch {batch!r}")
        values = _given(
            record,
            {
                "plan": lambda v: cells.choice(v, "plan", cells.PLANS),
                "fee": lambda v: cells.whole_number(v, "fee"),
                "classes_remaining": lambda v: cells.whole_number(v, "classes left"),
                "next_due": cells.day,
                "status": lambda v: cells.choice(v, "status", cells.STATUSES),
            },
        )
        values = {name: value for name, value in values.items() if value is not None or name == "next_due"}
        if (student, batch) not in self.known.enrollments and "plan" not in values:
            raise RowError(f"missing plan for the new enrollment in {batch}")
        return EnrollmentRow(batch, values, where)

    def _shared_phones(self, key: str, phone: str | None, guardian: GuardianRow | None, where: str) -> None:
        """A phone decides who someone is: two families on one number would see each other's children."""
        if self.allow_shared_phones:
            return
        if guardian is not None:
            first = self.guardian_names.get(guardian.key)
            if first and not same_name(first[0], guardian.values["name"]):
                raise RowError(f"parent phone {guardian.key} is also {first[0]}'s ({first[1]}), another family")
            self.guardian_names.setdefault(guardian.key, (guardian.values["name"], where))
        if phone:
            other = self.student_phones.get(phone)
            if other and other[0] != key:
                raise RowError(f"phone {phone} is also student {other[0]}'s ({other[1]})")
            self.student_phones.setdefault(phone, (key, where))

    def _payments(self, record: dict[str, Any], where: str) -> None:
        student = _required(record, "enrollment_id", "enrollment id")
        if student not in self.known.students:
            raise RowError(f"unknown student {student!r}")
        amount = cells.whole_number(record.get("amount"), "amount", minimum=1)
        paid_on = cells.day(record.get("paid_on"))
        if amount is None:
            raise RowError("missing amount")
        if paid_on is None:
            raise RowError("missing payment date")
        if cells.text(record.get("course")):
            course = self._course(record["course"])
        elif cells.text(record.get("batch")):
            course = self.known.batch_course.get(cells.text(record["batch"]) or "") or ""
            if not course:
                raise RowError(f"unknown batch {cells.text(record['batch'])!r}")
        else:
            courses = {self.known.batch_course[b] for s, b in self.known.enrollments if s == student}
            courses |= {self.known.batch_course[e.key] for e in getattr(self.students.get(student), "enrollments", [])}
            if len(courses) != 1:
                raise RowError("missing course (the student is in more than one course)")
            course = courses.pop()
        method, reference, note = (cells.text(record.get(name)) for name in ("method", "reference", "note"))
        payment = PaymentRow(student, course, amount, paid_on, method, note, reference, where)
        self._once("payment", payment.key, where)
        self.first_row[("payment", payment.key)] = where
        self.payments[payment.key] = payment


def sheet_input(
    tables: list[Table], known: KnownKeys, source: str, complete: frozenset[str], allow_shared_phones: bool = False
) -> SheetInput:
    """Read every table (teachers, batches, students, then payments: each may refer to the ones before)."""
    reader = _Reader(known, allow_shared_phones)
    order = ("teachers", "batches", "students", "payments")
    for table in sorted(tables, key=lambda t: order.index(t.kind)):
        reader.read(table)
    kinds = {table.kind for table in tables}
    data = MergeInput(
        source,
        teachers=list(reader.teachers.values()) if "teachers" in kinds else None,
        batches=list(reader.batches.values()) if "batches" in kinds else None,
        students=list(reader.students.values()) if "students" in kinds else None,
        payments=list(reader.payments.values()) if "payments" in kinds else None,
        complete=frozenset(kind for kind in complete if kind in kinds),
    )
    problems = sorted(reader.problems, key=lambda p: (order.index(_kind_of(tables, p.sheet)), p.sheet, p.row))
    return SheetInput(data, problems, [], reader.good_rows)


def _kind_of(tables: list[Table], sheet: str) -> str:
    return next(table.kind for table in tables if table.sheet == sheet)
