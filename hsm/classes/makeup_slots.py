"""Where a makeup credit can be used: the classes of other batches of the same course and level in the next two
weeks that are held (no holiday, closure or teacher's leave) and have a free seat; and who is booked into a class.

Free seats = the batch's capacity - its active enrolled students - the makeups already booked into that class.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from hsm.classes.dates import short_day_label, time_label
from hsm.classes.schedule import ClassMeeting, meetings_between, teacher_label, teacher_on_duty
from hsm.infra import clock
from hsm.infra import models as m

HORIZON_DAYS = 14


@dataclass(frozen=True)
class Slot:
    """A class a credit can be used in, and how many seats it has free."""

    meeting: ClassMeeting
    free: int

    @property
    def batch(self) -> m.Batch:
        return self.meeting.batch

    @property
    def class_date(self) -> date:
        return self.meeting.class_date

    @property
    def title(self) -> str:
        """'Wed, Dec 2 · 6:00 PM' (at most 24 characters: a WhatsApp list row's title)."""
        return f"{short_day_label(self.class_date)} · {time_label(self.meeting.starts_at.time())}"

    @property
    def description(self) -> str:
        """'Keyboard Beginner, Ms. Priya, 3 seats free'."""
        seats = "1 seat" if self.free == 1 else f"{self.free} seats"
        return f"{self.batch.name}, {teacher_label(self.batch)}, {seats} free"


def enrolled_counts(session: Session, batch_ids: list[int]) -> dict[int, int]:
    """Active students actively enrolled, per batch."""
    rows = session.execute(
        select(m.Enrollment.batch_id, func.count(m.Enrollment.id))
        .join(m.Student, m.Student.id == m.Enrollment.student_id)
        .where(m.Enrollment.batch_id.in_(batch_ids), m.Enrollment.status == "active", m.Student.active.is_(True))
        .group_by(m.Enrollment.batch_id)
    ).all()
    return {batch_id: count for batch_id, count in rows}


def booked_seats(session: Session, batch_ids: list[int], first: date, last: date) -> Counter[tuple[int, date]]:
    """Makeups booked per (batch, day)."""
    rows = session.execute(
        select(m.MakeupBooking.batch_id, m.MakeupBooking.class_date).where(
            m.MakeupBooking.batch_id.in_(batch_ids),
            m.MakeupBooking.class_date.between(first, last),
            m.MakeupBooking.status == "booked",
        )
    ).all()
    return Counter((batch_id, day) for batch_id, day in rows)


def host_batches(session: Session, credit: m.MakeupCredit) -> list[m.Batch]:
    """Active batches of the credit's course and level, with a teacher, other than the student's own."""
    missed = session.get(m.Batch, credit.batch_id)
    own = select(m.Enrollment.batch_id).where(
        m.Enrollment.student_id == credit.student_id, m.Enrollment.status == "active"
    )
    candidates = session.execute(
        select(m.Batch)
        .where(
            m.Batch.active.is_(True),
            m.Batch.course_id == missed.course_id,
            m.Batch.id != missed.id,
            m.Batch.id.not_in(own),
        )
        .options(selectinload(m.Batch.slots), selectinload(m.Batch.course), selectinload(m.Batch.teacher))
        .order_by(m.Batch.code)
    ).scalars()
    level = (missed.level or "").strip().lower()
    return [b for b in candidates if (b.level or "").strip().lower() == level and teacher_on_duty(b) is not None]


def open_slots(session: Session, credit: m.MakeupCredit, now: datetime | None = None) -> list[Slot]:
    """The classes the credit can be used in, from now to two weeks ahead (and not after the credit expires), in
    time order; those the student is already booked into are left out."""
    now = now or clock.now()
    today = now.astimezone(clock.school_timezone()).date()
    last = min(today + timedelta(days=HORIZON_DAYS), credit.expires_on)
    batches = host_batches(session, credit)
    if not batches or last < today:
        return []
    ids = [b.id for b in batches]
    enrolled = enrolled_counts(session, ids)
    taken = booked_seats(session, ids, today, last)
    own = set(
        session.execute(
            select(m.MakeupBooking.batch_id, m.MakeupBooking.class_date).where(
                m.MakeupBooking.student_id == credit.student_id, m.MakeupBooking.status == "booked"
            )
        ).all()
    )
    slots = []
    for meeting in meetings_between(session, batches, today, last):
        key = (meeting.batch.id, meeting.class_date)
        free = meeting.batch.capacity - enrolled.get(meeting.batch.id, 0) - taken[key]
        if meeting.held and meeting.starts_at > now and free > 0 and key not in own:
            slots.append(Slot(meeting, free))
    return slots


def booked_students(session: Session, batch_id: int, day: date) -> list[m.Student]:
    """The students booked into the batch's class on `day` as a makeup, by name."""
    return list(
        session.execute(
            select(m.Student)
            .join(m.MakeupBooking, m.MakeupBooking.student_id == m.Student.id)
            .where(
                m.MakeupBooking.batch_id == batch_id,
                m.MakeupBooking.class_date == day,
                m.MakeupBooking.status == "booked",
            )
            .order_by(m.Student.name)
        ).scalars()
    )
