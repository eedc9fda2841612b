"""The merge of an import into the school's records: descriptive fields added and updated, live state (classes
remaining, due dates, status, attendance, payments) never overwritten unless asked per field, rows the input no
longer has reported as "would deactivate"; every row created or updated leaves an audit_log row. Makeups booked into
classes the merge calls off (a holiday added, a batch's days moved, a batch closed) are cancelled with it.

`merge(session, data, options)` writes through the caller's session (the caller owns the transaction: commit, or
roll back for a dry run) and returns the MergeReport.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm.classes import makeup_cancel
from hsm.classes.enrollments import IMPORT_PROTECTED
from hsm.classes.makeup_bookings import class_text, hold_batches
from hsm.infra import clock
from hsm.infra import models as m
from hsm.people.lifecycle import masked, set_active
from hsm.records.changes import RecordError, apply_changes, jsonable, record_change
from hsm.records.merge_input import EnrollmentRow, MergeInput, PaymentRow, StudentRow
from hsm.records.merge_phones import check_phones, foreign_guardian
from hsm.records.merge_report import Change, Disagreement, MergeReport
from hsm.records.school_file import WEEKDAYS

# Live state an operator may ask the file to overwrite, one name per field (`--overwrite next_due,attendance`).
OVERWRITABLE = (*IMPORT_PROTECTED, "attendance", "payments")
PAYMENT_FIELDS = ("amount", "paid_on", "method", "note", "course")


def parse_overwrite(text: str | Iterable[str] | None) -> frozenset[str]:
    """`"classes_remaining, next_due"` -> the set of names; an unknown name is refused (RecordError)."""
    if text is None:
        return frozenset()
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    unknown = [n for n in names if n not in OVERWRITABLE]
    if unknown:
        raise RecordError(
            f"--overwrite: unknown field {', '.join(repr(n) for n in unknown)} (expected some of "
            f"{', '.join(OVERWRITABLE)})",
            field="overwrite",
        )
    return frozenset(names)


@dataclass(frozen=True)
class MergeOptions:
    """How an import merges: which live fields the file may overwrite, whether rows missing from a complete input
    are deactivated, whether a phone may join another family's (hsm.people.phones), whether it is a dry run
    (the caller rolls the transaction back), and who the audit trail names (default: "import:<source>")."""

    overwrite: frozenset[str] = frozenset()
    deactivate_missing: bool = False
    dry_run: bool = False
    allow_shared_phones: bool = False
    actor: str | None = None


def merge(session: Session, data: MergeInput, options: MergeOptions) -> MergeReport:
    """Merge `data` through `session` (the caller's transaction); see the module docstring."""
    report = MergeReport(source=data.source, dry_run=options.dry_run)
    actor = options.actor or f"import:{data.source}"
    # Holidays and batches decide which classes take place: the batches' rows are locked before any is changed, in
    # id order (as bookings, leave and closures take them), and the makeups in classes called off are cancelled.
    calls_off_classes = data.holidays is not None or data.batches is not None
    if calls_off_classes:
        hold_batches(session, None)
    _Merge(session, data, options, report).run()
    if options.deactivate_missing and report.would_deactivate:
        deactivate_missing(session, actor, report)
    if calls_off_classes:
        _cancel_makeups_not_held(session, actor, report)
    return report


def _cancel_makeups_not_held(session: Session, actor: str, report: MergeReport) -> None:
    """The makeups booked into classes the import called off, cancelled in its transaction (a dry run's is rolled
    back with it); their families' notices wait in the report for the commit."""
    for called_off in makeup_cancel.cancel_not_held(session, actor):
        for booking in called_off.bookings:
            label = f"{booking.student.name}: {class_text(session, booking)}"
            report.makeups_cancelled.append(Change("makeup bookings", label, note=called_off.why))
        report.notices += makeup_cancel.family_notices(session, called_off)


# The lifecycle's kind for each reported kind, and the key it takes.
_LIFECYCLE_KINDS = {"admins": "admin", "teachers": "teacher", "students": "student", "guardians": "guardian"}


def deactivate_missing(session: Session, actor: str, report: MergeReport) -> None:
    """The separate step of --deactivate-missing: each row reported as "would deactivate" is deactivated through
    the people lifecycle (batches: marked inactive here), in the import's transaction."""
    reason = f"not in {report.source} (import --deactivate-missing)"
    for change in report.would_deactivate:
        key = change.key
        if change.kind == "batches":
            batch = session.execute(select(m.Batch).filter_by(code=key)).scalar_one()
            before, after = apply_changes(batch, {"active": False})
            record_change(session, actor, "import.deactivate", "batches", key, before, after)
        else:
            set_active(session, actor, _LIFECYCLE_KINDS[change.kind], key, active=False, reason=reason)
        report.deactivated.append(Change(change.kind, change.label))
    report.would_deactivate = []


def _label(name: str, key: str) -> str:
    return f"{name} ({key})"


class _Merge:
    def __init__(self, session: Session, data: MergeInput, options: MergeOptions, report: MergeReport):
        self.session = session
        self.data = data
        self.options = options
        self.report = report
        self.actor = options.actor or f"import:{data.source}"

    # ------------------------------------------------------------------------------------------ writing helpers

    def _all(self, model: type, key: str) -> dict[Any, Any]:
        return {getattr(row, key): row for row in self.session.execute(select(model)).scalars()}

    def put(
        self, kind: str, model: type, row: Any, values: dict[str, Any], label: str, entity_id: str | None, **fixed: Any
    ) -> Any:
        """Create the row (`fixed` + `values`) when `row` is None, else set the values that differ; report and
        audit either (`entity_id` None: the row's id, for rows keyed by a phone; phones audited masked)."""
        table = model.__tablename__  # type: ignore[attr-defined]
        if row is None:
            row = model(**fixed, **values)
            self.session.add(row)
            if entity_id is None:
                self.session.flush()
                entity_id = str(row.id)
            self.report.created.append(Change(kind, label))
            record_change(self.session, self.actor, "import.create", table, entity_id, None, masked(values))
            return row
        entity_id = str(row.id) if entity_id is None else entity_id
        if getattr(row, "active", True) is False:  # people who left come back only through the lifecycle
            self.report.conflicts.append(
                Disagreement(kind, label, "active", False, True, "deactivated: not reactivated")
            )
        before, after = apply_changes(row, values)
        if before:
            self.report.updated.append(Change(kind, label, {k: (before[k], after[k]) for k in before}))
            record_change(self.session, self.actor, "import.update", table, entity_id, masked(before), masked(after))
        return row

    def live(
        self,
        kind: str,
        row: Any,
        values: dict[str, Any],
        label: str,
        entity_id: str,
        option_of: Callable[[str], str],
        shown: Callable[[str, Any], Any] = lambda _field, value: value,
    ) -> None:
        """Live state of an existing row: a differing file value is a conflict, applied only when its option was
        given with --overwrite."""
        table = type(row).__tablename__
        for name, value in values.items():
            old = getattr(row, name)
            if old == value:
                continue
            option = option_of(name)
            if option not in self.options.overwrite:
                hint = f"--overwrite {option}"
                self.report.conflicts.append(
                    Disagreement(kind, label, name, shown(name, old), shown(name, value), hint)
                )
                continue
            before, after = apply_changes(row, {name: value})
            self.report.updated.append(
                Change(kind, label, {name: (shown(name, old), shown(name, value))}, f"--overwrite {option}")
            )
            record_change(self.session, self.actor, "import.overwrite", table, entity_id, before, after)

    # ------------------------------------------------------------------------------------------ the merge

    def run(self) -> None:
        data = self.data
        if data.school is not None:
            school = self.session.get(m.School, 1)
            self.put("school", m.School, school, data.school, data.school["name"], "1", id=1)
        if data.faqs is not None:
            faqs = self._all(m.Faq, "topic")
            for faq in data.faqs:
                self.put("FAQs", m.Faq, faqs.get(faq.key), faq.values, faq.key, faq.key, topic=faq.key)
        if data.holidays is not None:
            holidays = {row.holiday_date.isoformat(): row for row in self.session.execute(select(m.Holiday)).scalars()}
            for h in data.holidays:
                label = f"{h.values['name']} ({h.key})"
                self.put("holidays", m.Holiday, holidays.get(h.key), h.values, label, h.key)
        self.courses: dict[str, m.Course] = self._all(m.Course, "code")
        if data.courses is not None:
            self._courses()
        self.teachers: dict[str, m.Teacher] = self._all(m.Teacher, "employee_id")
        if data.admins is not None:
            admins = self._all(m.Admin, "admin_code")
            for admin in data.admins:
                label = _label(admin.values.get("name") or admins[admin.key].name, admin.key)
                self.put("admins", m.Admin, admins.get(admin.key), admin.values, label, admin.key, admin_code=admin.key)
        if data.teachers is not None:
            self._teachers()
        self.session.flush()
        self.batches: dict[str, m.Batch] = self._all(m.Batch, "code")
        if data.batches is not None:
            self._batches()
        self.students: dict[str, m.Student] = self._all(m.Student, "enrollment_id")
        if data.students is not None:
            self._students(data.students)
        self.session.flush()
        if data.payments is not None:
            self._payments(data.payments)
        if data.attendance is not None:
            self._attendance()
        self.session.flush()
        self._would_deactivate()

    def _courses(self) -> None:
        assert self.data.courses is not None
        for entry in self.data.courses:
            label = _label(entry.values.get("name") or self.courses[entry.key].name, entry.key)
            course = self.put(
                "courses", m.Course, self.courses.get(entry.key), entry.values, label, entry.key, code=entry.key
            )
            self.courses[entry.key] = course
        self.session.flush()
        plans = {(p.course_id, p.plan): p for p in self.session.execute(select(m.CoursePlan)).scalars()}
        for entry in self.data.courses:
            course = self.courses[entry.key]
            for plan, terms in entry.plans.items():
                existing = plans.get((course.id, plan))
                label = f"{course.name} {plan}"
                self.put(
                    "course plans",
                    m.CoursePlan,
                    existing,
                    terms,
                    label,
                    f"{entry.key}:{plan}",
                    course_id=course.id,
                    plan=plan,
                )

    def _teachers(self) -> None:
        assert self.data.teachers is not None
        for entry in self.data.teachers:
            existing = self.teachers.get(entry.key)
            label = _label(entry.values.get("name") or (existing.name if existing else entry.key), entry.key)
            self.teachers[entry.key] = self.put(
                "teachers", m.Teacher, existing, entry.values, label, entry.key, employee_id=entry.key
            )
        self.session.flush()
        links: dict[int, set[int]] = {}
        for teacher_id, course_id in self.session.execute(
            select(m.TeacherCourse.teacher_id, m.TeacherCourse.course_id)
        ):
            links.setdefault(teacher_id, set()).add(course_id)
        code_of = {course.id: code for code, course in self.courses.items()}
        for entry in self.data.teachers:
            if entry.courses is None:
                continue
            teacher = self.teachers[entry.key]
            have = links.get(teacher.id, set())
            want = {self._course(code, entry.where).id for code in entry.courses}
            if have == want:
                continue
            for course_id in want - have:
                self.session.add(m.TeacherCourse(teacher_id=teacher.id, course_id=course_id))
            for course_id in have - want:
                self.session.execute(
                    m.TeacherCourse.__table__.delete().where(
                        (m.TeacherCourse.teacher_id == teacher.id) & (m.TeacherCourse.course_id == course_id)
                    )
                )
            before = sorted(code_of[c] for c in have)
            after = sorted(code_of[c] for c in want)
            if have:  # a new teacher's courses were reported with the teacher's creation
                self.report.updated.append(
                    Change("teachers", _label(teacher.name, entry.key), {"courses": (before, after)})
                )
            action = "import.update" if have else "import.create"
            record_change(
                self.session, self.actor, action, "teachers", entry.key, {"courses": before}, {"courses": after}
            )

    def _course(self, code: str, where: str) -> m.Course:
        course = self.courses.get(code)
        if course is None:
            raise RecordError(f"{where}: unknown course {code!r}")
        return course

    def _batch(self, code: str, where: str) -> m.Batch:
        batch = self.batches.get(code)
        if batch is None:
            raise RecordError(f"{where}: unknown batch {code!r}")
        return batch

    def _student(self, enrollment_id: str, where: str) -> m.Student:
        student = self.students.get(enrollment_id)
        if student is None:
            raise RecordError(f"{where}: unknown student {enrollment_id!r}")
        return student

    def _batches(self) -> None:
        assert self.data.batches is not None
        for entry in self.data.batches:
            values = dict(entry.values)
            if entry.course is not None:
                values["course_id"] = self._course(entry.course, entry.where).id
            if entry.teacher is not None:
                teacher = self.teachers.get(entry.teacher)
                if teacher is None:
                    raise RecordError(f"{entry.where}: unknown teacher {entry.teacher!r}")
                values["teacher_id"] = teacher.id
            existing = self.batches.get(entry.key)
            label = _label(values.get("name") or (existing.name if existing else entry.key), entry.key)
            self.batches[entry.key] = self.put("batches", m.Batch, existing, values, label, entry.key, code=entry.key)
        self.session.flush()
        slots: dict[int, list[m.BatchSlot]] = {}
        for slot in self.session.execute(select(m.BatchSlot).order_by(m.BatchSlot.weekday)).scalars():
            slots.setdefault(slot.batch_id, []).append(slot)
        for entry in self.data.batches:
            if entry.days is not None or entry.start is not None or entry.duration_min is not None:
                self._slots(entry.key, entry, slots.get(self.batches[entry.key].id, []))

    def _slots(self, code: str, entry: Any, existing: list[m.BatchSlot]) -> None:
        """A batch's weekly meetings: days, start and duration as one change of the batch."""
        batch = self.batches[code]
        first = existing[0] if existing else None
        days = entry.days if entry.days is not None else [slot.weekday for slot in existing]
        start = entry.start if entry.start is not None else (first.start_time if first else None)
        duration = entry.duration_min if entry.duration_min is not None else (first.duration_min if first else None)
        if start is None or duration is None:
            raise RecordError(f"{entry.where}: a new batch needs its days, start time and duration")
        have = {(s.weekday, s.start_time, s.duration_min) for s in existing}
        want = {(day, start, duration) for day in days}
        if have == want:
            return
        by_day = {slot.weekday: slot for slot in existing}
        for slot in existing:
            if slot.weekday not in days:
                self.session.delete(slot)
        for day in days:
            kept = by_day.get(day)
            if kept is None:
                self.session.add(m.BatchSlot(batch_id=batch.id, weekday=day, start_time=start, duration_min=duration))
            else:
                kept.start_time, kept.duration_min = start, duration
        before = _slot_view(
            [s.weekday for s in existing], first.start_time if first else None, first.duration_min if first else None
        )
        after = _slot_view(days, start, duration)
        changed = {k: (before[k], after[k]) for k in after if before.get(k) != after[k]}
        if existing:
            self.report.updated.append(Change("batches", _label(batch.name, code), changed))
        action = "import.update" if existing else "import.create"
        record_change(self.session, self.actor, action, "batches", code, {k: v[0] for k, v in changed.items()}, after)

    def _students(self, entries: list[StudentRow]) -> None:
        guardians: dict[str, m.Guardian] = self._all(m.Guardian, "phone")
        if not self.options.allow_shared_phones:  # before anything is written: the records as they are
            check_phones(self.session, entries, self.students, guardians)
        seen: set[str] = set()  # guardians of several children: merged once
        for entry in entries:
            existing = self.students.get(entry.key)
            label = _label(entry.values.get("name") or (existing.name if existing else entry.key), entry.key)
            self.students[entry.key] = self.put(
                "students", m.Student, existing, entry.values, label, entry.key, enrollment_id=entry.key
            )
            if entry.guardian is not None and entry.guardian.key not in seen:
                g = entry.guardian
                seen.add(g.key)
                known = guardians.get(g.key)
                glabel = _label(g.values.get("name") or (known.name if known else g.key), g.key)
                values = g.values
                if known is not None and foreign_guardian(known, g, entries, self.students):
                    # another family's guardian, shared as allowed: linked, but their name is theirs
                    values = {k: v for k, v in g.values.items() if k != "name"}
                    self.report.conflicts.append(
                        Disagreement("guardians", glabel, "name", known.name, g.values.get("name"), "name kept")
                    )
                guardians[g.key] = self.put("guardians", m.Guardian, known, values, glabel, None, phone=g.key)
        self.session.flush()
        self.guardians = guardians
        links = {
            (link.student_id, link.guardian_id): link
            for link in self.session.execute(select(m.StudentGuardian)).scalars()
        }
        enrollments = {(e.student_id, e.batch_id): e for e in self.session.execute(select(m.Enrollment)).scalars()}
        plans = {(p.course_id, p.plan): p for p in self.session.execute(select(m.CoursePlan)).scalars()}
        for entry in entries:
            student = self.students[entry.key]
            if entry.guardian is not None:
                guardian = guardians[entry.guardian.key]
                link = links.get((student.id, guardian.id))
                relation = {"relation": entry.guardian.relation}
                label = f"{guardian.name} and {student.name} ({entry.key})"
                if link is None:
                    self.session.add(m.StudentGuardian(student_id=student.id, guardian_id=guardian.id, **relation))
                    record_change(
                        self.session,
                        self.actor,
                        "import.create",
                        "student_guardians",
                        f"{entry.key}:{guardian.id}",
                        None,
                        relation,
                    )
                elif link.relation != entry.guardian.relation:
                    before, after = apply_changes(link, relation)
                    self.report.updated.append(
                        Change("guardians", label, {"relation": (before["relation"], after["relation"])})
                    )
                    record_change(
                        self.session,
                        self.actor,
                        "import.update",
                        "student_guardians",
                        f"{entry.key}:{guardian.id}",
                        before,
                        after,
                    )
            for enrollment in entry.enrollments:
                self._enrollment(student, entry, enrollment, enrollments, plans)
            if entry.opted_out:
                self._opt_out(student, entry)

    def _enrollment(
        self, student: m.Student, entry: StudentRow, row: EnrollmentRow, existing: dict, plans: dict
    ) -> None:
        batch = self._batch(row.key, row.where)
        enrollment = existing.get((student.id, batch.id))
        label = f"{student.name} ({entry.key}) in {row.key}"
        entity_id = f"{entry.key}:{row.key}"
        descriptive = {k: v for k, v in row.values.items() if k in ("plan", "fee")}
        live_values = {k: v for k, v in row.values.items() if k in IMPORT_PROTECTED}
        if enrollment is None:
            values = {"classes_remaining": 0, "status": "active", "next_due": None, **descriptive, **live_values}
            if "plan" not in values:
                raise RecordError(f"{row.where}: a new enrollment needs its plan (monthly or quarterly)")
            if "fee" not in values:
                plan = plans.get((batch.course_id, values["plan"]))
                if plan is None:
                    raise RecordError(f"{row.where}: no fee given and {batch.course.code} has no {values['plan']} plan")
                values["fee"] = plan.fee
            self.put(
                "enrollments", m.Enrollment, None, values, label, entity_id, student_id=student.id, batch_id=batch.id
            )
            return
        self.put("enrollments", m.Enrollment, enrollment, descriptive, label, entity_id)
        self.live("enrollments", enrollment, live_values, label, entity_id, option_of=lambda name: name)

    def _opt_out(self, student: m.Student, entry: StudentRow) -> None:
        phone = student.phone or (entry.guardian.key if entry.guardian else None)
        if phone is None:
            raise RecordError(f"{entry.where}: opted out of WhatsApp, but the student has no phone number")
        subscription = self.session.execute(
            select(m.WhatsAppSubscription).filter_by(phone_number=phone)
        ).scalar_one_or_none()
        label = _label(student.name, entry.key)
        if subscription is None:
            values = {
                "user_id": student.id,
                "user_type": "student" if phone == student.phone else "guardian",
                "is_active": False,
                "opted_out_at": clock.utcnow(),
            }
            self.put("WhatsApp opt-outs", m.WhatsAppSubscription, None, values, label, None, phone_number=phone)
        elif subscription.is_active:  # they opted in again over WhatsApp: their choice stands
            self.report.conflicts.append(
                Disagreement("WhatsApp opt-outs", label, "opted out", False, True, "they opted in over WhatsApp")
            )

    def _payments(self, rows: list[PaymentRow]) -> None:
        existing: dict[str, m.Payment] = {}
        keys = sorted({row.key for row in rows})
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            for payment in self.session.execute(select(m.Payment).where(m.Payment.reference.in_(chunk))).scalars():
                existing[payment.reference] = payment
        enrollment_of = self._payment_enrollments()
        code_of = {course.id: code for code, course in self.courses.items()}
        for row in rows:
            student = self._student(row.student, row.where)
            course = self._course(row.course, row.where)
            label = f"{student.name} ({row.student}) ₹{row.amount} on {row.paid_on.strftime('%d %b %Y')}"
            payment = existing.get(row.key)
            values = {"amount": row.amount, "paid_on": row.paid_on, "method": row.method, "note": row.note}
            if payment is None:
                existing[row.key] = self.put(
                    "payments",
                    m.Payment,
                    None,
                    {**values, "course_id": course.id},
                    label,
                    row.key,
                    reference=row.key,
                    student_id=student.id,
                    enrollment_id=getattr(enrollment_of.get((student.id, course.id)), "id", None),
                )
                continue
            if payment.student_id != student.id:
                raise RecordError(f"{row.where}: reference {row.key!r} is another student's payment")
            values["course_id"] = course.id
            self.live(
                "payments",
                payment,
                values,
                label,
                row.key,
                option_of=lambda _name: "payments",
                shown=lambda name, value: code_of.get(value) if name == "course_id" else value,
            )

    def _payment_enrollments(self) -> dict[tuple[int, int], m.Enrollment]:
        """The enrollment a payment for (student, course) goes to: the active one of that course, else the newest."""
        chosen: dict[tuple[int, int], m.Enrollment] = {}
        query = select(m.Enrollment).join(m.Batch).add_columns(m.Batch.course_id).order_by(m.Enrollment.id)
        for enrollment, course_id in self.session.execute(query):  # oldest first: a newer one replaces an older
            current = chosen.get((enrollment.student_id, course_id))
            if current is None or enrollment.status == "active" or current.status != "active":
                chosen[(enrollment.student_id, course_id)] = enrollment
        return chosen

    def _attendance(self) -> None:
        assert self.data.attendance is not None
        dates = sorted({row.class_date for row in self.data.attendance})
        existing = {
            (r.student_id, r.batch_id, r.class_date): r
            for r in self.session.execute(
                select(m.AttendanceRecord).where(m.AttendanceRecord.class_date.in_(dates))
            ).scalars()
        }
        for row in self.data.attendance:
            student = self._student(row.student, row.where)
            batch = self._batch(row.batch, row.where)
            record = existing.get((student.id, batch.id, row.class_date))
            label = f"{student.name} ({row.student}) in {row.batch} on {row.class_date.strftime('%d %b %Y')}"
            entity_id = f"{row.batch}:{row.class_date}:{row.student}"
            if record is None:
                values = {"status": row.status, "is_makeup": False, "marked_by": "import", "source": "import"}
                existing[(student.id, batch.id, row.class_date)] = self.put(
                    "attendance",
                    m.AttendanceRecord,
                    None,
                    values,
                    label,
                    entity_id,
                    student_id=student.id,
                    batch_id=batch.id,
                    class_date=row.class_date,
                )
            else:
                self.live("attendance", record, {"status": row.status}, label, entity_id, lambda _name: "attendance")

    def _would_deactivate(self) -> None:
        """Active rows of a kind the input holds completely, which the input does not have."""
        data = self.data
        wanted: list[tuple[str, type, str, set[str]]] = []
        if "admins" in data.complete and data.admins is not None:
            wanted.append(("admins", m.Admin, "admin_code", {row.key for row in data.admins}))
        if "teachers" in data.complete and data.teachers is not None:
            wanted.append(("teachers", m.Teacher, "employee_id", {row.key for row in data.teachers}))
        if "batches" in data.complete and data.batches is not None:
            wanted.append(("batches", m.Batch, "code", {row.key for row in data.batches}))
        if "students" in data.complete and data.students is not None:
            wanted.append(("students", m.Student, "enrollment_id", {row.key for row in data.students}))
            phones = {row.guardian.key for row in data.students if row.guardian is not None}
            wanted.append(("guardians", m.Guardian, "phone", phones))
        for kind, model, key, keys in wanted:
            rows = self.session.execute(
                select(model).where(model.active.is_(True)).order_by(getattr(model, key))  # type: ignore[attr-defined]
            ).scalars()
            for row in rows:
                if getattr(row, key) not in keys:
                    self.report.would_deactivate.append(
                        Change(kind, _label(row.name, getattr(row, key)), key=getattr(row, key))
                    )


def _slot_view(days: list[int], start: Any, duration: int | None) -> dict[str, Any]:
    """A batch's weekly meetings as the report and the audit trail show them."""
    return {"days": [WEEKDAYS[day] for day in sorted(days)], "start": jsonable(start), "duration_min": duration}
