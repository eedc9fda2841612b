"""`hsm export-sheet`: the school's active students (one row per enrollment, with the guardian), teachers, batches
and payments in the shapes the import reads, so that an export imported again changes nothing."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hsm.infra import models as m
from hsm.records.merge_input import import_payment_reference
from hsm.records.school_file import WEEKDAYS
from hsm.records.sheets.columns import COLUMNS, KINDS
from hsm.records.sheets.reading import SheetFileError

SHEET_TITLES = {"students": "Students", "teachers": "Teachers", "batches": "Batches", "payments": "Payments"}
DATE_FORMAT = "DD/MM/YYYY"


def _students(session: Session) -> list[list[Any]]:
    opted_out = set(
        session.execute(
            select(m.WhatsAppSubscription.phone_number).where(m.WhatsAppSubscription.is_active.is_(False))
        ).scalars()
    )
    students = session.execute(
        select(m.Student)
        .where(m.Student.active.is_(True))
        .order_by(m.Student.enrollment_id)
        .options(
            selectinload(m.Student.enrollments).selectinload(m.Enrollment.batch),
            selectinload(m.Student.guardian_links).selectinload(m.StudentGuardian.guardian),
        )
    ).scalars()
    rows = []
    for student in students:
        links = sorted(student.guardian_links, key=lambda link: link.guardian_id)
        guardian = links[0].guardian if links else None
        phone = student.phone or (guardian.phone if guardian else None)
        person = [student.enrollment_id, student.name, student.dob, student.phone, student.email]
        person += [guardian.name, guardian.phone, links[0].relation, guardian.email] if guardian else [None] * 4
        enrollments = [
            [e.batch.code, e.plan, e.fee, e.classes_remaining, e.next_due, e.status] for e in student.enrollments
        ]
        for enrollment in enrollments or [[None] * 6]:
            rows.append(person + enrollment + ["yes" if phone in opted_out else None])
    return rows


def _teachers(session: Session) -> list[list[Any]]:
    teachers = session.execute(
        select(m.Teacher).where(m.Teacher.active.is_(True)).order_by(m.Teacher.employee_id)
    ).scalars()
    return [[t.employee_id, t.name, t.title, t.phone, t.email, ", ".join(c.code for c in t.courses)] for t in teachers]


def _batches(session: Session) -> list[list[Any]]:
    batches = session.execute(
        select(m.Batch)
        .where(m.Batch.active.is_(True))
        .order_by(m.Batch.code)
        .options(selectinload(m.Batch.slots), selectinload(m.Batch.course), selectinload(m.Batch.teacher))
    ).scalars()
    rows = []
    for b in batches:
        first = b.slots[0] if b.slots else None
        days = ", ".join(WEEKDAYS[slot.weekday] for slot in b.slots)
        start = first.start_time.strftime("%H:%M") if first else None
        duration = first.duration_min if first else None
        rows.append(
            [b.code, b.name, b.course.code, b.level, b.teacher.employee_id, days, start, duration, b.room, b.capacity]
        )
    return rows


def _payments(session: Session) -> list[list[Any]]:
    payments = session.execute(
        select(m.Payment)
        .join(m.Student, m.Payment.student_id == m.Student.id)
        .order_by(m.Student.enrollment_id, m.Payment.paid_on, m.Payment.id)
        .options(selectinload(m.Payment.student), selectinload(m.Payment.course))
    ).scalars()
    rows = []
    for p in payments:
        course = p.course.code if p.course else None
        made_up = import_payment_reference(p.student.enrollment_id, p.paid_on, course or "", p.amount)
        reference = None if p.reference == made_up else p.reference
        rows.append(
            [p.student.enrollment_id, p.student.name, course, None, p.amount, p.paid_on, p.method, reference, p.note]
        )
    return rows


_ROWS = {"students": _students, "teachers": _teachers, "batches": _batches, "payments": _payments}


def export_rows(session: Session, kind: str) -> tuple[list[str], list[list[Any]]]:
    """The headers and rows of one kind."""
    return [column.title for column in COLUMNS[kind]], _ROWS[kind](session)


def export_sheet(session: Session, path: str | Path, kinds: list[str] | None = None) -> dict[str, int]:
    """Write `kinds` (all by default) to an .xlsx workbook (a sheet each) or one kind to a .csv file; returns the
    rows written per kind."""
    path = Path(path)
    kinds = kinds or list(KINDS)
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        raise SheetFileError(f"unknown kind {unknown[0]!r} (expected {', '.join(KINDS)})")
    written: dict[str, int] = {}
    if path.suffix.lower() == ".csv":
        if len(kinds) != 1:
            raise SheetFileError("a CSV file holds one kind: give --kind students, teachers, batches or payments")
        headers, rows = export_rows(session, kinds[0])
        with path.open("w", newline="", encoding="utf-8-sig") as handle:  # the BOM: Excel then reads UTF-8
            writer = csv.writer(handle)
            writer.writerow(headers)
            writer.writerows([[_csv_cell(cell) for cell in row] for row in rows])
        return {kinds[0]: len(rows)}
    if path.suffix.lower() != ".xlsx":
        raise SheetFileError(f"{path.name}: expected an .xlsx or .csv file name")
    workbook = Workbook()
    workbook.remove(workbook.active)
    for kind in kinds:
        headers, rows = export_rows(session, kind)
        sheet = workbook.create_sheet(SHEET_TITLES[kind])
        sheet.append(headers)
        for row in rows:
            sheet.append(row)
        for column_cells in sheet.iter_cols(min_row=2):
            for cell in column_cells:
                if isinstance(cell.value, date):
                    cell.number_format = DATE_FORMAT
        sheet.freeze_panes = "A2"
        written[kind] = len(rows)
    workbook.save(path)
    return written


def _csv_cell(value: Any) -> Any:
    return value.strftime("%d/%m/%Y") if isinstance(value, date) else value
