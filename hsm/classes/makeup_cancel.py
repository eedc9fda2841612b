"""Makeups whose host class the school calls off (the teacher's leave, an office closure): cancelled with it, credits
back, the families told once.

`cancel_for_leave` and `cancel_for_closure` run in the transaction that records the leave or the closure
(`hsm.classes.leave.record_leave_days`, `hsm.outreach.closure_notices`), so a failure rolls back both. Each makeup
booked into a cancelled class that has not started yet is cancelled through `makeup_bookings.release` (seat freed,
credit open again, `makeup.cancelled` in `audit_log` with `why`). A booking is always for a day on or before its
credit's expiry, so the credit has not expired; but it may have only days left, through no fault of the family's,
so it stays open at least REBOOK_DAYS after the cancelled class (the audit row shows the old and new expiry).
The host batches' rows are locked before their bookings are looked up (`makeup_bookings.hold_batches`): a booking
made at the same instant is either seen here and cancelled, or waits and then finds the class off.

Withdrawn leave or a reopened closure does not restore these bookings: the family has been told the makeup is off
and their credit is back; they book again (the seat may be theirs again, or someone else's). An import of the
school's records (hsm.records.merge) may add a holiday, move a batch's days or close a batch: `cancel_not_held`
then cancels the makeups booked into classes that no longer take place, in the import's transaction. A batch whose
teacher has left keeps its makeups (no new ones are offered): the office assigns another teacher or cancels them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from hsm.classes.closures import MAX_REASON_CHARS
from hsm.classes.dates import short_day_label
from hsm.classes.leave_notices import family_phones, opted_out_numbers
from hsm.classes.makeup_bookings import class_text, hold_batches, release
from hsm.classes.makeups import missed_meeting
from hsm.classes.schedule import HOLIDAY, ClassMeeting, meetings_between
from hsm.infra import clock
from hsm.infra import models as m
from hsm.outreach.notices import Notice, staff_text

REBOOK_DAYS = 7  # a credit given back stays open at least this long after the cancelled makeup class
FAMILY_TEMPLATE = "makeup_cancelled"  # {{1}} recipient, {{2}} the makeups, {{3}} why the class is off, {{4}} use by


@dataclass(frozen=True)
class CalledOff:
    """The makeups cancelled because their class is off, and why it is off ("Ms. Priya is on leave")."""

    bookings: list[m.MakeupBooking]
    why: str


def _first(name: str) -> str:
    return (name.split() or [name])[0]


def _booked(session: Session, query: Select) -> list[m.MakeupBooking]:
    return list(
        session.execute(
            query.where(m.MakeupBooking.status == "booked").order_by(m.MakeupBooking.class_date, m.MakeupBooking.id)
        ).scalars()
    )


def _cancel(session: Session, bookings: list[m.MakeupBooking], actor: str, why: str, now: datetime | None) -> CalledOff:
    """Cancel those of `bookings` whose class has not started (one under way or over is not undone)."""
    now = now or clock.now()
    done = []
    for booking in bookings:
        meeting = missed_meeting(session, booking.batch_id, booking.class_date)
        if meeting is not None and meeting.starts_at <= now:
            continue
        open_until = booking.class_date + timedelta(days=REBOOK_DAYS)
        if release(session, booking, actor, why=why, open_until=open_until):
            done.append(booking)
    return CalledOff(done, why)


def cancel_for_leave(
    session: Session, teacher: m.Teacher, cancelled: list[ClassMeeting], actor: str, now: datetime | None = None
) -> CalledOff:
    """Cancel the makeups booked into the classes the teacher's leave cancels."""
    why = f"{teacher.display_name} is on leave"
    pairs = {(meeting.batch.id, meeting.class_date) for meeting in cancelled}
    if not pairs:
        return CalledOff([], why)
    days = [day for _, day in pairs]
    hold_batches(session, {batch_id for batch_id, _ in pairs})
    candidates = _booked(
        session,
        select(m.MakeupBooking).where(
            m.MakeupBooking.batch_id.in_({batch_id for batch_id, _ in pairs}),
            m.MakeupBooking.class_date.between(min(days), max(days)),
        ),
    )
    wanted = [booking for booking in candidates if (booking.batch_id, booking.class_date) in pairs]
    return _cancel(session, wanted, actor, why, now)


def cancel_for_closure(session: Session, closure: m.Closure, actor: str, now: datetime | None = None) -> CalledOff:
    """Cancel the makeups booked into the classes the closure closes (every batch's for the whole school) from
    today on."""
    today = (now or clock.now()).astimezone(clock.school_timezone()).date()
    query = select(m.MakeupBooking).where(
        m.MakeupBooking.class_date.between(max(closure.start_date, today), closure.end_date)
    )
    batch_ids = None if closure.whole_school else [batch.id for batch in closure.batches]
    hold_batches(session, batch_ids)
    if batch_ids is not None:
        query = query.where(m.MakeupBooking.batch_id.in_(batch_ids))
    why = f"the school is closed: {closure.reason}" if closure.whole_school else closure.reason
    return _cancel(session, _booked(session, query), actor, why, now)


def _why_not_held(booking: m.MakeupBooking, meeting: ClassMeeting | None, today: date) -> str | None:
    """Why the booking's class no longer takes place ("holiday: Diwali"), or None when it still does (or, for a
    class of today the import took off the timetable, when it may already have taken place: left to the office)."""
    batch = booking.batch
    if meeting is None:
        if booking.class_date <= today:
            return None
        return f"the batch no longer meets on {booking.class_date.strftime('%A')}s"
    if not batch.active:
        return "the batch has closed"
    if meeting.held:
        return None
    if meeting.closed is not None and meeting.closed.kind == HOLIDAY:
        return f"holiday: {meeting.closed.reason}"
    if meeting.closed is not None:
        return meeting.closed.reason
    return "the teacher is on leave"


def cancel_not_held(session: Session, actor: str, now: datetime | None = None) -> list[CalledOff]:
    """Cancel the makeups booked from today on into classes that no longer take place (after an import added a
    holiday, moved a batch's days or closed the batch), one CalledOff per reason so each family is told why. The
    caller holds every batch's row lock (`hold_batches(session, None)`) from before it changed any."""
    now = now or clock.now()
    today = now.astimezone(clock.school_timezone()).date()
    bookings = _booked(session, select(m.MakeupBooking).where(m.MakeupBooking.class_date >= today))
    if not bookings:
        return []
    batches = list({booking.batch_id: booking.batch for booking in bookings}.values())
    last = max(booking.class_date for booking in bookings)
    meetings: dict[tuple[int, date], ClassMeeting] = {}
    for meeting in meetings_between(session, batches, today, last):
        meetings.setdefault((meeting.batch.id, meeting.class_date), meeting)  # the day's first, as missed_meeting
    groups: dict[str, list[m.MakeupBooking]] = {}
    for booking in bookings:
        why = _why_not_held(booking, meetings.get((booking.batch_id, booking.class_date)), today)
        if why is not None:
            groups.setdefault(staff_text(why, MAX_REASON_CHARS), []).append(booking)
    called_off = [_cancel(session, group, actor, why, now) for why, group in groups.items()]
    return [each for each in called_off if each.bookings]


@dataclass
class _Phone:
    """One number's makeups called off, and whom it is: (booking, is the student's own phone) each."""

    name: str
    audience: str
    items: list[tuple[m.MakeupBooking, bool]] = field(default_factory=list)


def _whose(booking: m.MakeupBooking, own: bool) -> str:
    return "your" if own else f"{_first(booking.student.name)}'s"


def _notice(session: Session, phone: str, told: _Phone, why: str) -> Notice:
    greeting = _first(told.name)
    makeups = "; ".join(f"{_whose(booking, own)} {class_text(session, booking)}" for booking, own in told.items)
    use_by = short_day_label(min(booking.credit.expires_on for booking, _ in told.items))
    if len(told.items) == 1:
        booking, own = told.items[0]
        text = (
            f"Hi {greeting}, {_whose(booking, own)} makeup class, {class_text(session, booking)}, is cancelled "
            f"because the class is not running ({why}). The makeup credit is back, to use by {use_by}: say "
            '"makeup" to book another class.'
        )
    else:
        text = (
            f"Hi {greeting}, these makeup classes are cancelled because the classes are not running ({why}): "
            f'{makeups}. The makeup credits are back (the first to use by {use_by}): say "makeup" to book others.'
        )
    return Notice(phone, told.audience, text, FAMILY_TEMPLATE, (greeting, makeups, why, use_by))


def family_notices(session: Session, called_off: CalledOff) -> list[Notice]:
    """What the families of the makeups called off are told: one message per number (the student's own, else each
    active guardian's, as class-cancelled notices go) naming every makeup of theirs called off; numbers that opted
    out are left out."""
    skip = opted_out_numbers(session)
    phones: dict[str, _Phone] = {}
    for booking in called_off.bookings:
        for phone, audience, name in family_phones(session, booking.student):
            if phone in skip:
                continue
            told = phones.setdefault(phone, _Phone(name, audience))
            told.items.append((booking, audience == "student"))
    return [_notice(session, phone, told, called_off.why) for phone, told in phones.items()]
