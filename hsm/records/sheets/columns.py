"""Which kind a sheet holds and which field each of its columns is, matched forgivingly: case, spaces and
punctuation do not matter ("Enrolment ID", "enrollment no."), and each field has its common synonyms."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

KINDS = ("students", "teachers", "batches", "payments")

# Words that carry no meaning in a header: "Phone No." is "Phone", "Date of Birth" is "Date Birth".
_FILLER = {"no", "number", "num", "nr", "the", "of", "s", "in", "rs", "inr"}


def normalise_header(header: object) -> str:
    """ "Enrolment ID" -> "enrollmentid", "WhatsApp No." -> "whatsapp", "Fee (₹)" -> "fee"."""
    words = re.split(r"[^a-z0-9]+", str(header or "").lower().replace("enrolment", "enrollment"))
    return "".join(word for word in words if word and word not in _FILLER)


@dataclass(frozen=True)
class Column:
    field: str
    title: str  # the header the export writes
    synonyms: tuple[str, ...] = ()

    def spellings(self) -> set[str]:
        return {normalise_header(name) for name in (self.title, *self.synonyms)}


_ENROLLMENT_ID = ("Enrollment ID", "Enrollment", "Enrollment Code", "Admission", "Admission ID", "Student ID", "Reg")
_PHONE = ("Phone", "Mobile", "WhatsApp", "Contact", "Cell", "Mobile Phone")
_EMAIL = ("Email", "E-mail", "Email ID", "Mail")

COLUMNS: dict[str, tuple[Column, ...]] = {
    "students": (
        Column("enrollment_id", "Enrollment ID", _ENROLLMENT_ID + ("Registration", "ID")),
        Column("name", "Student Name", ("Name", "Student", "Full Name", "Name of Student")),
        Column("dob", "DOB", ("Date of Birth", "Birth Date", "Birthday", "D.O.B.")),
        Column("phone", "Phone", _PHONE + ("Student Phone", "Student Mobile", "Student WhatsApp")),
        Column("email", "Email", _EMAIL + ("Student Email",)),
        Column("guardian_name", "Parent Name", ("Guardian", "Guardian Name", "Parent", "Parent/Guardian")),
        Column(
            "guardian_phone",
            "Parent Phone",
            ("Parent Mobile", "Parent WhatsApp", "Parent Contact", "Guardian Phone", "Guardian Mobile"),
        ),
        Column("guardian_relation", "Relation", ("Relationship", "Guardian Relation", "Parent Relation")),
        Column("guardian_email", "Parent Email", ("Guardian Email", "Parent Mail")),
        Column("batch", "Batch", ("Batch Code", "Batch ID", "Class")),
        Column("plan", "Plan", ("Fee Plan", "Billing Plan", "Payment Plan")),
        Column("fee", "Fee", ("Fees", "Fee Amount")),
        Column(
            "classes_remaining",
            "Classes Left",
            ("Classes Remaining", "Balance Classes", "Remaining Classes", "Classes Balance"),
        ),
        Column("next_due", "Next Due", ("Due Date", "Next Due Date", "Fee Due", "Next Fee Due", "Due On")),
        Column("status", "Status", ("Enrollment Status",)),
        Column("opted_out", "WhatsApp Opted Out", ("Opted Out", "Opt Out", "WhatsApp Opt Out")),
    ),
    "teachers": (
        Column("employee_id", "Employee ID", ("Emp ID", "Teacher ID", "Staff ID", "Employee Code", "ID", "Code")),
        Column("name", "Name", ("Teacher Name", "Teacher", "Full Name")),
        Column("title", "Title", ("Salutation",)),
        Column("phone", "Phone", _PHONE),
        Column("email", "Email", _EMAIL),
        Column("courses", "Courses", ("Course", "Instruments", "Instrument", "Teaches", "Subjects")),
    ),
    "batches": (
        Column("code", "Batch Code", ("Code", "Batch", "Batch ID")),
        Column("name", "Name", ("Batch Name",)),
        Column("course", "Course", ("Instrument", "Course Code")),
        Column("level", "Level", ()),
        Column("teacher", "Teacher", ("Teacher ID", "Employee ID", "Teacher Name")),
        Column("days", "Days", ("Weekdays", "Class Days", "Day")),
        Column("start", "Start", ("Start Time", "Time", "Timing")),
        Column("duration_min", "Duration", ("Duration (min)", "Duration Minutes", "Minutes", "Length")),
        Column("room", "Room", ("Studio", "Venue")),
        Column("capacity", "Capacity", ("Seats", "Max Students", "Size")),
    ),
    "payments": (
        Column("enrollment_id", "Enrollment ID", _ENROLLMENT_ID),
        Column("student_name", "Student Name", ("Name", "Student")),
        Column("course", "Course", ("Instrument", "Course Code")),
        Column("batch", "Batch", ("Batch Code",)),
        Column("amount", "Amount", ("Amount Paid", "Paid", "Amt")),
        Column("paid_on", "Paid On", ("Date", "Payment Date", "Date of Payment", "Paid Date", "Received On")),
        Column("method", "Mode", ("Method", "Payment Mode", "Payment Method", "Mode of Payment")),
        Column("reference", "UTR", ("Reference", "Ref", "Transaction ID", "Txn ID", "Reference No", "Cheque")),
        Column("note", "Note", ("Notes", "Remarks", "Remark", "Comment")),
    ),
}

# Columns a sheet of each kind must have (others may be left out: their fields are then left alone).
REQUIRED = {
    "students": ("enrollment_id",),
    "teachers": ("employee_id",),
    "batches": ("code",),
    "payments": ("enrollment_id", "amount", "paid_on"),
}
_SPELLINGS = {kind: {s: c.field for c in columns for s in c.spellings()} for kind, columns in COLUMNS.items()}


def match_columns(kind: str, headers: Iterable[object]) -> list[str | None]:
    """The field of each header (None: not a column this kind knows; a second column for a field is ignored)."""
    fields: list[str | None] = []
    for header in headers:
        field = _SPELLINGS[kind].get(normalise_header(header))
        fields.append(field if field not in fields else None)
    return fields


_SHEET_NAMES = (
    ("students", ("student", "enrollment", "admission")),
    ("teachers", ("teacher", "staff", "faculty")),
    ("batches", ("batch", "class", "schedule", "timetable")),
    ("payments", ("payment", "fee", "receipt", "collection")),
)


def kind_of_sheet_name(name: str) -> str | None:
    """ "Students", "students list", "Teachers", "Batches", "Fee payments" -> the kind; None if none fits."""
    words = re.split(r"[^a-z]+", name.lower().replace("enrolment", "enrollment"))
    for kind, stems in _SHEET_NAMES:
        if any(word.startswith(stem) for word in words for stem in stems):
            return kind
    return None


def kind_of_headers(headers: Iterable[object]) -> str | None:
    """The kind the headers tell: payments (an amount), batches (days), else students or teachers, whichever has
    more of its columns (students on a tie: "ID, Name, Phone" is more likely a list of students)."""
    headers = list(headers)
    found = {kind: set(match_columns(kind, headers)) - {None} for kind in KINDS}
    usable = [kind for kind in KINDS if set(REQUIRED[kind]) <= found[kind]]
    for kind, telling in (("payments", "amount"), ("batches", "days")):
        if kind in usable and telling in found[kind]:
            return kind
    people = [kind for kind in ("students", "teachers") if kind in usable and "name" in found[kind]]
    return max(people, key=lambda kind: len(found[kind])) if people else None
