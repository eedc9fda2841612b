"""When classes happen: a teacher's classes on a date, a student's next classes; days without classes (holidays and
the office's closures, from `hsm.classes.closures`) and teachers' leave applied."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hsm.classes import closures
from hsm.classes.closures import Closed
from hsm.infra import clock
from hsm.infra import models as m

HOLIDAY = closures.HOLIDAY
CLOSED = closures.CLOSED  # an office closure (the whole school or the batch)
TEACHER_ON_LEAVE = "cancelled"
SCHEDULED = "scheduled"
NO_TEACHER = "no teacher"  # what a batch shows while its teacher has left and no other is assigned


@dataclass(frozen=True)
class ClassMeeting:
    """One meeting of a batch on a date, with why it will not happen (holiday, closure, teacher's leave) if so."""

    batch: m.Batch
    starts_at: datetime
    duration_min: int
    status: str
    note: str | None = None
    closed: Closed | None = None  # the holiday or closure, when status is HOLIDAY or CLOSED

    @property
    def class_date(self) -> date:
        return self.starts_at.date()

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_min)

    @property
    def held(self) -> bool:
        return self.status == SCHEDULED


def teacher_on_duty(batch: m.Batch) -> m.Teacher | None:
    """The batch's teacher, or None once they have left (deactivated) and the office has not assigned another."""
    teacher = batch.teacher
    return teacher if teacher is not None and teacher.active else None


def teacher_label(batch: m.Batch) -> str:
    """'Mr. Rahul', or 'no teacher' while the batch has none."""
    teacher = teacher_on_duty(batch)
    return teacher.display_name if teacher is not None else NO_TEACHER


def _leaves(session: Session, teacher_ids: set[int], first: date, last: date) -> dict[tuple[int, date], str | None]:
    if not teacher_ids:
        return {}
    rows = session.execute(
        select(m.TeacherLeave).where(
            m.TeacherLeave.teacher_id.in_(teacher_ids),
            m.TeacherLeave.leave_date.between(first, last),
            m.TeacherLeave.status != "withdrawn",
        )
    ).scalars()
    return {(row.teacher_id, row.leave_date): row.reason for row in rows}


def meetings_between(session: Session, batches: list[m.Batch], first: date, last: date) -> list[ClassMeeting]:
    """Every meeting of `batches` from `first` to `last` inclusive, in time order."""
    if not batches:
        return []
    tz = clock.school_timezone()
    closed_days = closures.closed_days(session, first, last, {b.id for b in batches})
    leaves = _leaves(session, {b.teacher_id for b in batches}, first, last)
    meetings: list[ClassMeeting] = []
    day = first
    while day <= last:
        for batch in batches:
            for slot in batch.slots:
                if slot.weekday != day.weekday():
                    continue
                starts_at = datetime.combine(day, slot.start_time, tzinfo=tz)
                closed = closed_days.why(batch.id, day)
                if closed is not None:
                    status, note = closed.kind, closed.reason
                elif (batch.teacher_id, day) in leaves:
                    status, note = TEACHER_ON_LEAVE, "teacher on leave"
                else:
                    status, note = SCHEDULED, None
                meetings.append(ClassMeeting(batch, starts_at, slot.duration_min, status, note, closed))
        day += timedelta(days=1)
    meetings.sort(key=lambda meeting: (meeting.starts_at, meeting.batch.code))
    return meetings


def _batches_query():
    return (
        select(m.Batch)
        .where(m.Batch.active.is_(True))
        .options(selectinload(m.Batch.slots), selectinload(m.Batch.course), selectinload(m.Batch.teacher))
    )


def teacher_classes_on(session: Session, teacher_id: int, day: date) -> list[ClassMeeting]:
    """The teacher's batches meeting on `day`, in time order (holidays, closures and leave marked, not dropped)."""
    batches = list(session.execute(_batches_query().where(m.Batch.teacher_id == teacher_id)).scalars())
    return meetings_between(session, batches, day, day)


def next_classes(
    session: Session, student_id: int, after: datetime | None = None, horizon_days: int = 35
) -> list[tuple[m.Enrollment, ClassMeeting]]:
    """For each active enrollment, its next meeting that will be held and starts after `after` (default: now)."""
    after = after or clock.now()
    enrollments = list(
        session.execute(
            select(m.Enrollment)
            .where(m.Enrollment.student_id == student_id, m.Enrollment.status == "active")
            .options(selectinload(m.Enrollment.batch).selectinload(m.Batch.slots))
            .order_by(m.Enrollment.id)
        ).scalars()
    )
    first = after.astimezone(clock.school_timezone()).date()
    upcoming: list[tuple[m.Enrollment, ClassMeeting]] = []
    for enrollment in enrollments:
        meetings = meetings_between(session, [enrollment.batch], first, first + timedelta(days=horizon_days))
        following = next((mt for mt in meetings if mt.held and mt.starts_at > after), None)
        if following:
            upcoming.append((enrollment, following))
    upcoming.sort(key=lambda pair: pair[1].starts_at)
    return upcoming


def batch_roster(session: Session, batch_id: int) -> list[m.Student]:
    """Students actively enrolled in the batch, by name (students who left are not on it)."""
    return list(
        session.execute(
            select(m.Student)
            .join(m.Enrollment, m.Enrollment.student_id == m.Student.id)
            .where(m.Enrollment.batch_id == batch_id, m.Enrollment.status == "active", m.Student.active.is_(True))
            .order_by(m.Student.name)
        ).scalars()
    )
