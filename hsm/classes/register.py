"""The attendance register: a batch's students × its class days of one month, each cell what happened that day,
and a correction of one cell through the UC-10 override rules (hsm.classes.override)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from hsm.classes import schedule
from hsm.classes.override import apply_override, plan_override
from hsm.infra import clock
from hsm.infra import models as m
from hsm.people.identity import Identity

PRESENT, ABSENT, MAKEUP = "present", "absent", "makeup"
CANCELLED, CLOSED, NOT_MARKED, UPCOMING = "cancelled", "closed", "not marked", "upcoming"
LEGEND = {
    PRESENT: ("P", "present"),
    ABSENT: ("A", "absent"),
    MAKEUP: ("M", "makeup class (present)"),
    CANCELLED: ("C", "cancelled: teacher on leave"),
    CLOSED: ("H", "closed: holiday or office closure"),
    NOT_MARKED: ("?", "held, attendance not marked"),
    UPCOMING: ("", "not held yet"),
}
MAX_REASON = 300


@dataclass(frozen=True)
class ClassDay:
    """One of the batch's class days in the month, and whether it was held."""

    day: date
    status: str  # "held", CANCELLED, CLOSED or UPCOMING
    note: str | None


@dataclass(frozen=True)
class Cell:
    day: date
    status: str  # a LEGEND key
    correctable: bool  # a held class: the office (or the teacher, within their window) may correct it

    @property
    def mark(self) -> str:
        return LEGEND[self.status][0]


@dataclass(frozen=True)
class Row:
    enrollment_id: str
    name: str
    on_roster: bool  # enrolled now (False: a makeup visitor, or someone who left)
    cells: tuple[Cell, ...]

    @property
    def present(self) -> int:
        return sum(1 for cell in self.cells if cell.status in (PRESENT, MAKEUP))

    @property
    def absent(self) -> int:
        return sum(1 for cell in self.cells if cell.status == ABSENT)


@dataclass(frozen=True)
class Register:
    batch_code: str
    batch_name: str
    teacher: str
    month: date  # the month's first day
    days: tuple[ClassDay, ...]
    rows: tuple[Row, ...]

    @property
    def previous_month(self) -> date:
        return (self.month - timedelta(days=1)).replace(day=1)

    @property
    def next_month(self) -> date:
        return (self.month + timedelta(days=32)).replace(day=1)


class RegisterError(ValueError):
    """What the office asked cannot be shown or done; the message is for them."""


def parse_month(text: str | None, today: date) -> date:
    """'2026-11' as 1 Nov 2026; empty means this month; RegisterError for anything else."""
    if not text:
        return today.replace(day=1)
    try:
        year, month = (int(part) for part in text.strip().split("-"))
        return date(year, month, 1)
    except ValueError:
        raise RegisterError(f"{text[:20]!r} is not a month like 2026-11") from None


def month_end(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def _class_days(session: Session, batch: m.Batch, month: date, today: date) -> list[ClassDay]:
    days: list[ClassDay] = []
    for meeting in schedule.meetings_between(session, [batch], month, month_end(month)):
        if meeting.status == schedule.TEACHER_ON_LEAVE:
            status = CANCELLED
        elif not meeting.held:
            status = CLOSED
        elif meeting.class_date > today:
            status = UPCOMING
        else:
            status = "held"
        if not days or days[-1].day != meeting.class_date:
            days.append(ClassDay(meeting.class_date, status, meeting.note))
    return days


def _cell(day: ClassDay, record: m.AttendanceRecord | None) -> Cell:
    if day.status != "held":
        return Cell(day.day, day.status, False)
    if record is None:
        return Cell(day.day, NOT_MARKED, True)
    status = MAKEUP if record.is_makeup and record.status == PRESENT else record.status
    return Cell(day.day, status, not record.is_makeup)


def build_register(session: Session, batch: m.Batch, month: date) -> Register:
    """The batch's register for `month`: its students now (by name), then anyone else with a record that month."""
    today = clock.today()
    days = _class_days(session, batch, month, today)
    records = session.execute(
        select(m.AttendanceRecord)
        .where(m.AttendanceRecord.batch_id == batch.id, m.AttendanceRecord.class_date.between(month, month_end(month)))
        .options(selectinload(m.AttendanceRecord.student))
    ).scalars()
    by_student: dict[int, dict[date, m.AttendanceRecord]] = {}
    visitors: dict[int, m.Student] = {}
    for record in records:
        by_student.setdefault(record.student_id, {})[record.class_date] = record
        visitors[record.student_id] = record.student
    roster = schedule.batch_roster(session, batch.id)
    on_roster = {student.id for student in roster}
    others = sorted((s for sid, s in visitors.items() if sid not in on_roster), key=lambda s: s.name)
    rows = tuple(
        Row(
            student.enrollment_id,
            student.name,
            student.id in on_roster,
            tuple(_cell(day, by_student.get(student.id, {}).get(day.day)) for day in days),
        )
        for student in [*roster, *others]
    )
    return Register(batch.code, batch.name, schedule.teacher_label(batch), month, tuple(days), rows)


def find_batch(session: Session, code: str) -> m.Batch | None:
    return session.execute(
        select(m.Batch)
        .where(func.upper(m.Batch.code) == code.strip().upper()[:40])
        .options(selectinload(m.Batch.slots), selectinload(m.Batch.course), selectinload(m.Batch.teacher))
    ).scalar_one_or_none()


def batches_for(session: Session, teacher_id: int | None) -> list[m.Batch]:
    """The active batches a register may be opened for: a teacher's own (`teacher_id`), else every one."""
    query = select(m.Batch).where(m.Batch.active.is_(True)).order_by(m.Batch.code)
    if teacher_id is not None:
        query = query.where(m.Batch.teacher_id == teacher_id)
    return list(session.execute(query).scalars())


def correct_cell(
    session: Session, who: Identity, batch: m.Batch, enrollment_id: str, day: date, status: str, reason: str, actor: str
) -> str:
    """Correct one cell of the register (UC-10: the teacher's window, held classes only, balance corrected,
    audited with the reason); the message says what changed. RegisterError or OverrideError refuse it."""
    reason = " ".join(reason.split())
    if not reason:
        raise RegisterError("Say why the attendance is corrected (a reason is required).")
    if len(reason) > MAX_REASON:
        raise RegisterError(f"The reason is {len(reason)} characters long; at most {MAX_REASON}.")
    student = session.execute(
        select(m.Student).where(func.upper(m.Student.enrollment_id) == enrollment_id.strip().upper()[:40])
    ).scalar_one_or_none()
    if student is None:
        raise RegisterError(f"There is no student {enrollment_id[:20]!r}.")
    change = plan_override(session, who, student, status, day, batch=batch)
    return apply_override(session, change, actor, reason=reason)
