"""Booking a makeup class with a credit and cancelling it (the credit comes back: a booking is for a day before the
credit expires and is cancelled before its class starts, so the credit has not expired), audited, and what the host
batch's teacher is told.

No seat is booked twice, on PostgreSQL or SQLite, however many families tap at once: a booking takes a numbered seat
(1 .. capacity - enrolled), and `makeup_bookings` has a unique (batch, day, seat); of two transactions that take the
last seat, the second fails on that constraint (or, having waited, sees the seat gone) and is refused with Conflict.
A credit is used by a conditional update (open -> used), so one credit books once.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hsm.classes.dates import short_day_label, time_label
from hsm.classes.makeup_slots import Slot, enrolled_counts, open_slots
from hsm.classes.makeups import missed_meeting
from hsm.classes.schedule import teacher_on_duty
from hsm.infra import clock
from hsm.infra import models as m
from hsm.outreach.notices import Notice
from hsm.records.changes import Conflict, NotFound, record_change

TEACHER_TEMPLATE = "makeup_teacher"
GONE = "Sorry, that class has no free seat any more (or is no longer open for makeups)."


def _today(now: datetime) -> date:
    return now.astimezone(clock.school_timezone()).date()


def _seat(session: Session, slot: Slot) -> int:
    """The lowest seat number of the class not booked (seats 1 .. capacity - enrolled)."""
    batch = slot.batch
    seats = batch.capacity - enrolled_counts(session, [batch.id]).get(batch.id, 0)
    taken = set(
        session.execute(
            select(m.MakeupBooking.seat).where(
                m.MakeupBooking.batch_id == batch.id,
                m.MakeupBooking.class_date == slot.class_date,
                m.MakeupBooking.status == "booked",
            )
        ).scalars()
    )
    free = next((seat for seat in range(1, seats + 1) if seat not in taken), None)
    if free is None:
        raise Conflict(GONE, code="makeup_full")
    return free


def _audited(booking: m.MakeupBooking, batch: m.Batch) -> dict:
    return {
        "student_id": booking.student_id,
        "credit_id": booking.credit_id,
        "batch": batch.code,
        "class_date": booking.class_date.isoformat(),
        "status": booking.status,
    }


def book(
    session: Session, *, credit_id: int, batch_id: int, class_date: date, actor: str, now: datetime | None = None
) -> m.MakeupBooking:
    """Use the credit for a seat in the batch's class on `class_date`: Conflict when the credit is used or expired,
    or the class is not one of its open slots any more (full, closed, started), or another booking took the seat
    at the same moment (the caller's transaction must then be rolled back)."""
    now = now or clock.now()
    credit = session.get(m.MakeupCredit, credit_id)
    if credit is None:
        raise NotFound("That makeup credit doesn't exist.")
    if credit.status != "open":
        raise Conflict("That makeup credit has already been used.", code="credit_used")
    if credit.expires_on < _today(now):
        raise Conflict("That makeup credit has expired.", code="credit_expired")
    slot = next(
        (s for s in open_slots(session, credit, now) if (s.batch.id, s.class_date) == (batch_id, class_date)), None
    )
    if slot is None:
        raise Conflict(GONE, code="makeup_full")
    seat = _seat(session, slot)
    used = session.execute(
        update(m.MakeupCredit)
        .where(m.MakeupCredit.id == credit_id, m.MakeupCredit.status == "open")
        .values(status="used", updated_at=clock.utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if used != 1:
        raise Conflict("That makeup credit has already been used.", code="credit_used")
    booking = m.MakeupBooking(
        credit_id=credit_id,
        student_id=credit.student_id,
        batch_id=batch_id,
        class_date=class_date,
        seat=seat,
        status="booked",
        created_by=actor,
    )
    session.add(booking)
    try:
        session.flush()
    except IntegrityError as error:  # another booking took this seat first
        raise Conflict(GONE, code="makeup_full") from error
    session.refresh(credit)
    record_change(session, actor, "makeup.booked", "makeup_bookings", booking.id, None, _audited(booking, slot.batch))
    return booking


def cancel_booking(session: Session, *, booking_id: int, actor: str, now: datetime | None = None) -> m.MakeupBooking:
    """Cancel a booked makeup before its class starts; its credit is open again."""
    now = now or clock.now()
    booking = session.get(m.MakeupBooking, booking_id)
    if booking is None:
        raise NotFound("That makeup booking doesn't exist.")
    meeting = missed_meeting(session, booking.batch_id, booking.class_date)
    if meeting is not None and meeting.starts_at <= now:
        raise Conflict("That makeup class has already started, so it can't be cancelled.", code="makeup_started")
    cancelled = session.execute(
        update(m.MakeupBooking)
        .where(m.MakeupBooking.id == booking_id, m.MakeupBooking.status == "booked")
        .values(status="cancelled", seat=None, cancelled_at=clock.utcnow(), updated_at=clock.utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if cancelled != 1:
        raise Conflict("That makeup booking is already cancelled.", code="makeup_cancelled")
    session.refresh(booking)
    booking.credit.status = "open"
    before = {**_audited(booking, booking.batch), "status": "booked"}
    record_change(
        session, actor, "makeup.cancelled", "makeup_bookings", booking.id, before, _audited(booking, booking.batch)
    )
    session.flush()
    return booking


def booked(session: Session, student_ids: list[int], now: datetime | None = None) -> list[m.MakeupBooking]:
    """The students' makeups booked for today or later, soonest first."""
    today = _today(now or clock.now())
    return list(
        session.execute(
            select(m.MakeupBooking)
            .where(
                m.MakeupBooking.student_id.in_(student_ids),
                m.MakeupBooking.status == "booked",
                m.MakeupBooking.class_date >= today,
            )
            .order_by(m.MakeupBooking.class_date, m.MakeupBooking.id)
        ).scalars()
    )


def class_text(session: Session, booking: m.MakeupBooking) -> str:
    """'Keyboard Beginner on Wed, Dec 2 at 6:00 PM'."""
    meeting = missed_meeting(session, booking.batch_id, booking.class_date)
    at = f" at {time_label(meeting.starts_at.time())}" if meeting is not None else ""
    return f"{booking.batch.name} on {short_day_label(booking.class_date)}{at}"


def teacher_notice(session: Session, booking: m.MakeupBooking) -> Notice | None:
    """What the host batch's teacher is told of a booking or its cancellation (None: no teacher with a phone)."""
    teacher = teacher_on_duty(booking.batch)
    if teacher is None or not teacher.phone:
        return None
    missed = booking.credit.batch
    what = class_text(session, booking)
    if booking.status == "booked":
        change = f"{booking.student.name} ({missed.name}) joins {what} as a makeup; they are on that day's attendance."
    else:
        change = f"{booking.student.name}'s makeup in {what} is cancelled."
    return Notice(
        teacher.phone,
        "teacher",
        f"📅 Makeup class: {change}",
        template=TEACHER_TEMPLATE,
        template_params=(teacher.display_name, change),
    )
