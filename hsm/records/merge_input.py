"""What an import brings to the merge: the school's rows by kind, keyed by business key, from a school file or a
spreadsheet, with the descriptive fields each row gives and where it came from.

A kind that is None is not in the input (nothing of that kind is compared); `complete` names the kinds whose every
row is in the input, so that the rows the database has beyond them are reported as "would deactivate". A row's
`values` hold only the fields the input gives: a spreadsheet without an Email column leaves emails alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from hsm.records.school_file import WEEKDAYS, SchoolFile

# Kinds an input can claim to hold completely (guardians go with students: a complete list of students brings
# every guardian the school still has).
COMPLETE_KINDS = ("admins", "teachers", "batches", "students")


@dataclass
class Row:
    """One entry: its business key, the descriptive fields it gives, and where it came from ("Students row 12")."""

    key: str
    values: dict[str, Any]
    where: str


@dataclass
class CourseRow(Row):
    plans: dict[str, dict[str, int]] = field(default_factory=dict)  # "monthly" -> {"fee": 2000, "classes": 8}


@dataclass
class TeacherRow(Row):
    courses: list[str] | None = None  # course codes, when given


@dataclass
class BatchRow(Row):
    course: str | None = None  # course code
    teacher: str | None = None  # employee id
    days: list[int] | None = None  # weekdays, 0 = Monday
    start: time | None = None
    duration_min: int | None = None


@dataclass
class GuardianRow(Row):
    """key: the guardian's phone (E.164); `relation` belongs to the link with the student."""

    relation: str | None = None


@dataclass
class EnrollmentRow(Row):
    """key: the batch code; values may hold plan and fee (descriptive), classes_remaining, next_due and status
    (live state: compared, never overwritten without --overwrite)."""


@dataclass
class StudentRow(Row):
    guardian: GuardianRow | None = None
    enrollments: list[EnrollmentRow] = field(default_factory=list)
    opted_out: bool = False  # the input says the student opted out of WhatsApp (never re-subscribes anyone)


@dataclass
class PaymentRow:
    student: str  # enrollment id
    course: str  # course code
    amount: int
    paid_on: date
    method: str | None
    note: str | None
    reference: str | None  # a UPI UTR or the provider's id; None: a stable key is made from the payment itself
    where: str

    @property
    def key(self) -> str:
        return self.reference or import_payment_reference(self.student, self.paid_on, self.course, self.amount)


@dataclass
class AttendanceRow:
    batch: str
    class_date: date
    student: str
    status: str  # present | absent
    where: str


@dataclass
class MergeInput:
    source: str  # the file's name, for the audit trail's actor ("import:school.yaml")
    school: dict[str, Any] | None = None
    faqs: list[Row] | None = None
    holidays: list[Row] | None = None
    courses: list[CourseRow] | None = None
    admins: list[Row] | None = None
    teachers: list[TeacherRow] | None = None
    batches: list[BatchRow] | None = None
    students: list[StudentRow] | None = None
    payments: list[PaymentRow] | None = None
    attendance: list[AttendanceRow] | None = None
    complete: frozenset[str] = frozenset()


def import_payment_reference(enrollment_id: str, paid_on: date, course: str, amount: int) -> str:
    """The stable reference of a payment that came without one, so that importing it again finds it."""
    return f"import:{enrollment_id}:{paid_on.isoformat()}:{course}:{amount}"


def from_school_file(school: SchoolFile, source: str) -> MergeInput:
    """A validated school file as merge input: every field given, complete for each list the file has."""
    present = school.__fields_set__
    s = school.school
    data = MergeInput(
        source=source,
        school={
            "name": s.name,
            "short_name": s.short_name,
            "timezone": s.timezone,
            "currency": s.currency,
            "phone": s.phone,
            "email": s.email,
            "address": s.address,
            "hours": s.hours,
            "payment_link_base": s.payment_link_base,
        },
        faqs=[Row(f.topic, {"answer": f.answer}, f"school.faqs[{i}] {f.topic}") for i, f in enumerate(s.faqs)],
        complete=frozenset(kind for kind in COMPLETE_KINDS if kind in present),
    )
    if "holidays" in present:
        data.holidays = [
            Row(h.date.isoformat(), {"holiday_date": h.date, "name": h.name}, f"holidays[{i}]")
            for i, h in enumerate(school.holidays)
        ]
    if "courses" in present:
        data.courses = [
            CourseRow(
                c.code,
                {"name": c.name, "min_age": c.min_age, "aliases": list(c.aliases)},
                f"courses[{i}] {c.code}",
                plans={plan: {"fee": terms.fee, "classes": terms.classes} for plan, terms in c.plans.items()},
            )
            for i, c in enumerate(school.courses)
        ]
    if "admins" in present:
        data.admins = [
            Row(a.id, {"name": a.name, "phone": a.phone, "email": a.email}, f"admins[{i}] {a.id}")
            for i, a in enumerate(school.admins)
        ]
    if "teachers" in present:
        data.teachers = [
            TeacherRow(
                t.employee_id,
                {"name": t.name, "title": t.title, "phone": t.phone, "email": t.email},
                f"teachers[{i}] {t.employee_id}",
                courses=list(t.courses),
            )
            for i, t in enumerate(school.teachers)
        ]
    if "batches" in present:
        data.batches = [
            BatchRow(
                b.code,
                {"name": b.name, "level": b.level, "room": b.room, "capacity": b.capacity},
                f"batches[{i}] {b.code}",
                course=b.course,
                teacher=b.teacher,
                days=sorted(WEEKDAYS.index(day) for day in b.days),
                start=b.start,
                duration_min=b.duration_min,
            )
            for i, b in enumerate(school.batches)
        ]
    if "students" in present:
        data.students, data.payments = [], []
        for i, st in enumerate(school.students):
            where = f"students[{i}] {st.enrollment_id}"
            guardian = None
            if st.guardian is not None:
                g = st.guardian
                guardian = GuardianRow(g.phone, {"name": g.name, "email": g.email}, where, relation=g.relation)
            data.students.append(
                StudentRow(
                    st.enrollment_id,
                    {"name": st.name, "dob": st.dob, "phone": st.phone, "email": st.email},
                    where,
                    guardian=guardian,
                    enrollments=[
                        EnrollmentRow(e.batch, e.dict(exclude={"batch"}), f"{where}: enrollments[{n}]")
                        for n, e in enumerate(st.enrollments)
                    ],
                    opted_out=st.whatsapp_opted_out,
                )
            )
            data.payments += [
                PaymentRow(
                    st.enrollment_id, p.course, p.amount, p.date, p.method, p.note, None, f"{where}: payments[{n}]"
                )
                for n, p in enumerate(st.payments)
            ]
    if "attendance" in present:
        data.attendance = [
            AttendanceRow(held.batch, held.date, sid, status, f"attendance[{i}] {held.batch} {held.date}")
            for i, held in enumerate(school.attendance)
            for status, ids in (("present", held.present), ("absent", held.absent))
            for sid in ids
        ]
    return data
