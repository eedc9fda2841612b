"""Booking a makeup class with a credit and cancelling it (the credit comes back: a booking is for a day before the
credit expires and is cancelled before its class starts, so the credit has not expired), audited, and what the host
batch's teacher is told. A makeup whose host class the school calls off is cancelled by `hsm.classes.makeup_cancel`.

No seat is booked twice, on PostgreSQL or SQLite, however many families tap at once: a booking takes a numbered seat
(1 .. capacity - enrolled), and `makeup_bookings` has a unique (batch, day, seat); of two transactions that take the
last seat, the second fails on that constraint (or, having waited, sees the seat gone) and is refused with Conflict.
A credit is used by a conditional update (open -> used), so one credit books once. No makeup is booked into a class
the school calls off at the same instant: the booking and the calling off both take the host batch's row lock first
(`hold_batches`), so on PostgreSQL the one that comes second waits for the other and sees what it did.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

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


def hold_batches(session: Session, batch_ids: Iterable[int] | None) -> None:
    """Lock the batches' rows (every batch's with None) until the transaction ends, in id order so that two callers
    never wait for each other, and read them again (with their slots): what was loaded before the wait may have
    changed. Taken before a makeup is booked into one of their classes, before the makeups of their classes called
    off (leave, closure) are looked up, and by an import before it changes a batch, so that of two at the same
    instant the second waits for the first and then sees what it did. PostgreSQL's FOR NO KEY UPDATE: rows inserted
    that refer to a batch (attendance, enrollments) do not wait for it. SQLite has no row locks: one writer at a
    time, and a second writer that read before the first wrote fails with "database is locked" (nothing written)."""
    query = (
        select(m.Batch)
        .order_by(m.Batch.id)
        .with_for_update(key_share=True, of=m.Batch)
        .options(selectinload(m.Batch.slots))
        .execution_options(populate_existing=True)
    )
    if batch_ids is not None:
        query = query.where(m.Batch.id.in_(sorted(set(batch_ids))))
    session.execute(query).scalars().all()


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
    hold_batches(session, [batch_id])  # a leave or closure calling this class off now is either seen or waits
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
    if not release(session, booking, actor):
        raise Conflict("That makeup booking is already cancelled.", code="makeup_cancelled")
    return booking


def release(
    session: Session, booking: m.MakeupBooking, actor: str, *, why: str | None = None, open_until: date | None = None
) -> bool:
    """Cancel the booking (its seat freed) and open its credit again, audited (`makeup.cancelled`, with `why` when
    the school called the class off); the credit is kept open until at least `open_until` when given. False when
    the booking was no longer booked (cancelled at the same moment): nothing is changed then."""
    cancelled = session.execute(
        update(m.MakeupBooking)
        .where(m.MakeupBooking.id == booking.id, m.MakeupBooking.status == "booked")
        .values(status="cancelled", seat=None, cancelled_at=clock.utcnow(), updated_at=clock.utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if cancelled != 1:
        return False
    session.refresh(booking)
    credit = booking.credit
    before = {**_audited(booking, booking.batch), "status": "booked"}
    after = _audited(booking, booking.batch)
    credit.status = "open"
    if open_until is not None and credit.expires_on < open_until:
        before["credit_expires_on"] = credit.expires_on.isoformat()
        credit.expires_on = open_until
        after["credit_expires_on"] = open_until.isoformat()
    if why:
        after["why"] = why
    record_change(session, actor, "makeup.cancelled", "makeup_bookings", booking.id, before, after)
    session.flush()
    return True


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
