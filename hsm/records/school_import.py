"""`hsm import-school FILE`: load a school file into the database, idempotently and in one transaction.

Every row is found by its business key (course/batch code, employee id, enrollment id, guardian phone, ...) and
updated in place, so a second import of the same file changes nothing. Any error rolls the whole import back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.records.school_file import WEEKDAYS, SchoolFile, load_school_file


@dataclass
class ImportReport:
    """How many rows of each kind the import created or changed."""

    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, created: bool, changed: bool) -> None:
        if created:
            self.created[kind] = self.created.get(kind, 0) + 1
        elif changed:
            self.updated[kind] = self.updated.get(kind, 0) + 1

    def summary(self) -> str:
        def fmt(counts: dict[str, int]) -> str:
            return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "nothing"

        return f"created {fmt(self.created)}; updated {fmt(self.updated)}"


class _Upserter:
    """Find-or-create by key, set attributes, and tell the report whether anything changed."""

    def __init__(self, session: Session, report: ImportReport):
        self.session = session
        self.report = report

    def upsert(self, model: type, key: dict, values: dict, kind: str):
        row = self.session.execute(select(model).filter_by(**key)).scalar_one_or_none()
        created = row is None
        if created:
            row = model(**key)
            self.session.add(row)
        changed = False
        for name, value in values.items():
            if created or getattr(row, name) != value:
                setattr(row, name, value)
                changed = True
        self.report.count(kind, created, changed)
        self.session.flush()
        return row


def import_school(school: SchoolFile, session: Session) -> ImportReport:
    """Write `school` through `session` (the caller owns the transaction)."""
    report = ImportReport()
    up = _Upserter(session, report)

    s = school.school
    up.upsert(
        m.School,
        {"id": 1},
        {
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
        "school",
    )
    for faq in s.faqs:
        up.upsert(m.Faq, {"topic": faq.topic}, {"answer": faq.answer}, "faqs")
    for holiday in school.holidays:
        up.upsert(m.Holiday, {"holiday_date": holiday.date}, {"name": holiday.name}, "holidays")

    courses: dict[str, m.Course] = {}
    for entry in school.courses:
        course = up.upsert(
            m.Course,
            {"code": entry.code},
            {"name": entry.name, "min_age": entry.min_age, "aliases": list(entry.aliases)},
            "courses",
        )
        courses[entry.code] = course
        for plan, terms in entry.plans.items():
            up.upsert(
                m.CoursePlan,
                {"course_id": course.id, "plan": plan},
                {"fee": terms.fee, "classes": terms.classes},
                "course_plans",
            )

    for admin in school.admins:
        up.upsert(
            m.Admin,
            {"admin_code": admin.id},
            {"name": admin.name, "phone": admin.phone, "email": admin.email},
            "admins",
        )

    teachers: dict[str, m.Teacher] = {}
    for teacher_entry in school.teachers:
        teacher = up.upsert(
            m.Teacher,
            {"employee_id": teacher_entry.employee_id},
            {
                "name": teacher_entry.name,
                "title": teacher_entry.title,
                "phone": teacher_entry.phone,
                "email": teacher_entry.email,
            },
            "teachers",
        )
        teachers[teacher_entry.employee_id] = teacher
        for code in teacher_entry.courses:
            up.upsert(m.TeacherCourse, {"teacher_id": teacher.id, "course_id": courses[code].id}, {}, "teacher_courses")

    batches: dict[str, m.Batch] = {}
    for batch_entry in school.batches:
        batch = up.upsert(
            m.Batch,
            {"code": batch_entry.code},
            {
                "name": batch_entry.name,
                "course_id": courses[batch_entry.course].id,
                "level": batch_entry.level,
                "teacher_id": teachers[batch_entry.teacher].id,
                "room": batch_entry.room,
                "capacity": batch_entry.capacity,
            },
            "batches",
        )
        batches[batch_entry.code] = batch
        wanted = {WEEKDAYS.index(day) for day in batch_entry.days}
        for slot in list(batch.slots):
            if slot.weekday not in wanted:
                session.delete(slot)
                report.count("batch_slots", False, True)
        for weekday in sorted(wanted):
            up.upsert(
                m.BatchSlot,
                {"batch_id": batch.id, "weekday": weekday},
                {"start_time": batch_entry.start, "duration_min": batch_entry.duration_min},
                "batch_slots",
            )

    students: dict[str, m.Student] = {}
    opted_out_phones: list[tuple[str, m.Student]] = []
    for student_entry in school.students:
        student = up.upsert(
            m.Student,
            {"enrollment_id": student_entry.enrollment_id},
            {
                "name": student_entry.name,
                "dob": student_entry.dob,
                "phone": student_entry.phone,
                "email": student_entry.email,
            },
            "students",
        )
        students[student_entry.enrollment_id] = student
        if student_entry.guardian:
            g = student_entry.guardian
            guardian = up.upsert(m.Guardian, {"phone": g.phone}, {"name": g.name, "email": g.email}, "guardians")
            up.upsert(
                m.StudentGuardian,
                {"student_id": student.id, "guardian_id": guardian.id},
                {"relation": g.relation},
                "student_guardians",
            )
        for enrollment in student_entry.enrollments:
            up.upsert(
                m.Enrollment,
                {"student_id": student.id, "batch_id": batches[enrollment.batch].id},
                {
                    "plan": enrollment.plan,
                    "classes_remaining": enrollment.classes_remaining,
                    "fee": enrollment.fee,
                    "next_due": enrollment.next_due,
                    "status": enrollment.status,
                },
                "enrollments",
            )
        for payment in student_entry.payments:
            course = courses[payment.course]
            reference = (
                f"import:{student_entry.enrollment_id}:{payment.date.isoformat()}:{payment.course}:{payment.amount}"
            )
            enrollment_row = next((e for e in student.enrollments if e.batch.course_id == course.id), None)
            up.upsert(
                m.Payment,
                {"reference": reference},
                {
                    "student_id": student.id,
                    "course_id": course.id,
                    "enrollment_id": enrollment_row.id if enrollment_row else None,
                    "amount": payment.amount,
                    "paid_on": payment.date,
                    "method": payment.method,
                    "note": payment.note,
                },
                "payments",
            )
        if student_entry.whatsapp_opted_out:
            phone = student_entry.phone
            if not phone:
                # The school file's checks refuse an opted-out student with neither a phone nor a guardian.
                assert student_entry.guardian is not None
                phone = student_entry.guardian.phone
            opted_out_phones.append((phone, student))

    for held in school.attendance:
        batch = batches[held.batch]
        for status, ids in (("present", held.present), ("absent", held.absent)):
            for sid in ids:
                up.upsert(
                    m.AttendanceRecord,
                    {"student_id": students[sid].id, "batch_id": batch.id, "class_date": held.date},
                    {"status": status, "is_makeup": False, "marked_by": "import", "source": "import"},
                    "attendance_records",
                )

    for phone, student in opted_out_phones:
        subscription = session.execute(
            select(m.WhatsAppSubscription).filter_by(phone_number=phone)
        ).scalar_one_or_none()
        values = {
            "user_id": student.id,
            "user_type": "student" if phone == student.phone else "guardian",
            "is_active": False,
        }
        if subscription is None or subscription.is_active:
            values["opted_out_at"] = datetime.now(timezone.utc)
        up.upsert(m.WhatsAppSubscription, {"phone_number": phone}, values, "whatsapp_subscriptions")
    return report


def import_school_file(
    path: str | Path, database_url: str | None = None, allow_shared_phones: bool = False
) -> ImportReport:
    """Validate the whole file first (phones shared across families refused unless `allow_shared_phones`), then
    write it in a single transaction."""
    school = load_school_file(path, allow_shared_phones)
    with session_scope(database_url) as session:
        return import_school(school, session)
