"""Days without classes: the school file's holidays and the office's closures, and the one answer to "is this
batch's class on this day cancelled, and why".

`closed_days(session, first, last, batch_ids)` answers it for a range of days and many batches in one query
(holidays and closures together); schedules, next class, attendance, leave, class and fee reminders all ask it
(through `hsm.classes.schedule.meetings_between` or directly), and nothing else reads `holidays` or `closures`.

- Holidays (`holidays`, written by the school import) close the whole school for one day.
- Closures (`closures`, made by the office: `create_closure`, `hsm closures`, the admin API, WhatsApp) close one
  day or a range, for the whole school or for the batches in `closure_batches`, with a reason; a cancelled
  (reopened) closure is kept and closes nothing.
- When several apply, a holiday comes first, then a whole-school closure, then a batch's own, oldest first.

This module keeps the records (validation, the audit trail); telling families is `hsm.outreach.closure_notices`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Boolean, Integer, cast, func, literal, null, or_, select, true, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from hsm.classes.dates import short_day_label
from hsm.infra import clock
from hsm.infra import models as m
from hsm.outreach.notices import staff_text
from hsm.records.changes import Conflict, NotFound, RecordError, apply_changes, record_change, snapshot

HOLIDAY, CLOSED = "holiday", "closed"
MAX_DAYS = 60  # one closure covers at most this many days
MAX_DAYS_AHEAD = 366  # and starts at most this far ahead
MAX_REASON_CHARS = 200
SCHOOL_SCOPE = "school"
FIELDS = ("reason", "start_date", "end_date", "whole_school", "batches", "notified", "broadcast_id")


@dataclass(frozen=True)
class Closed:
    """Why there is no class: a holiday, or an office closure (of the whole school or of some batches)."""

    kind: str  # HOLIDAY | CLOSED
    reason: str
    whole_school: bool = True
    closure_id: int | None = None

    @property
    def word(self) -> str:
        """'holiday', 'school closed', 'class cancelled'."""
        if self.kind == HOLIDAY:
            return "holiday"
        return "school closed" if self.whole_school else "class cancelled"

    @property
    def phrase(self) -> str:
        """'Christmas holiday', 'school closed (Republic Day)', 'class cancelled (heavy rain)'."""
        return f"{self.reason} holiday" if self.kind == HOLIDAY else f"{self.word} ({self.reason})"

    @property
    def labelled(self) -> str:
        """'holiday: Christmas', 'school closed: Republic Day', 'class cancelled: heavy rain'."""
        return f"{self.word}: {self.reason}"


_PRECEDENCE = {(HOLIDAY, True): 0, (CLOSED, True): 1, (CLOSED, False): 2}


class ClosedDays:
    """The answer of `closed_days` for its range: `why(batch_id, day)`, `school_closed(day)`."""

    def __init__(self, school: dict[date, Closed], batches: dict[tuple[int, date], Closed]) -> None:
        self._school = school
        self._batches = batches

    def school_closed(self, day: date) -> Closed | None:
        """The holiday or whole-school closure on `day`, if any."""
        return self._school.get(day)

    def why(self, batch_id: int, day: date) -> Closed | None:
        """Why the batch has no class on `day`; None when it is not closed."""
        return self._school.get(day) or self._batches.get((batch_id, day))

    def __bool__(self) -> bool:
        return bool(self._school or self._batches)


def _days(start: date, end: date, first: date, last: date) -> Iterable[date]:
    day = max(start, first)
    while day <= min(end, last):
        yield day
        day += timedelta(days=1)


def closed_days(session: Session, first: date, last: date, batch_ids: Iterable[int] | None = None) -> ClosedDays:
    """Holidays and active closures from `first` to `last` inclusive, for `batch_ids` (None: every batch; an empty
    set: only what closes the whole school). One query, whatever the range and the number of batches."""
    holidays = select(
        literal(HOLIDAY).label("kind"),
        m.Holiday.name.label("reason"),
        m.Holiday.holiday_date.label("start_date"),
        m.Holiday.holiday_date.label("end_date"),
        cast(true(), Boolean).label("whole_school"),
        cast(null(), Integer).label("closure_id"),
        cast(null(), Integer).label("batch_id"),
    ).where(m.Holiday.holiday_date.between(first, last))
    scope = m.Closure.whole_school.is_(True)
    if batch_ids is None:
        scope = true()
    else:
        wanted = sorted(set(batch_ids))
        if wanted:
            scope = or_(scope, m.ClosureBatch.batch_id.in_(wanted))
    closures = (
        select(
            literal(CLOSED),
            m.Closure.reason,
            m.Closure.start_date,
            m.Closure.end_date,
            m.Closure.whole_school,
            m.Closure.id,
            m.ClosureBatch.batch_id,
        )
        .outerjoin(m.ClosureBatch, m.ClosureBatch.closure_id == m.Closure.id)
        .where(
            m.Closure.cancelled_at.is_(None),
            m.Closure.start_date <= last,
            m.Closure.end_date >= first,
            scope,
        )
    )
    rows = session.execute(union_all(holidays, closures)).all()
    rows.sort(key=lambda row: (_PRECEDENCE[(row.kind, bool(row.whole_school))], row.closure_id or 0))
    school: dict[date, Closed] = {}
    batches: dict[tuple[int, date], Closed] = {}
    for row in rows:
        closed = Closed(row.kind, row.reason, bool(row.whole_school), row.closure_id)
        for day in _days(row.start_date, row.end_date, first, last):
            if closed.whole_school:
                school.setdefault(day, closed)
            elif row.batch_id is not None:
                batches.setdefault((row.batch_id, day), closed)
    return ClosedDays(school, batches)


# ------------------------------------------------------------------------------------------------ the records


def dates_text(start: date, end: date) -> str:
    """'Mon, Jan 26' or 'Mon, Jan 26 to Fri, Jan 30'."""
    return short_day_label(start) if start == end else f"{short_day_label(start)} to {short_day_label(end)}"


def scope_text(closure: m.Closure) -> str:
    """'the whole school' or 'Guitar Beginner (GTR-BEG-TT17), Keyboard Beginner (KEY-BEG-MWF18)'."""
    if closure.whole_school:
        return "the whole school"
    return ", ".join(f"{batch.name} ({batch.code})" for batch in closure.batches)


def describe(closure: m.Closure) -> dict:
    """A closure as the API and the audit trail show it."""
    data = snapshot(closure, ("id", "reason", "start_date", "end_date", "whole_school", "notified", "broadcast_id"))
    data["batches"] = [batch.code for batch in closure.batches]
    data.update(snapshot(closure, ("created_by", "created_at", "cancelled_by", "cancelled_at")))
    for key in ("created_at", "cancelled_at"):
        stamp = clock.as_utc(getattr(closure, key))
        data[key] = stamp.isoformat() if stamp else None
    data["status"] = "cancelled" if closure.cancelled_at else ("past" if closure.end_date < clock.today() else "active")
    return data


def _reason(reason: object) -> str:
    text = staff_text(reason, MAX_REASON_CHARS)
    if not text:
        raise RecordError("give a reason for the closure (it is what families are told)", "reason", "missing_reason")
    return text


def _check_dates(start: date, end: date, today: date) -> None:
    if end < start:
        raise RecordError(f"the end ({end}) is before the start ({start})", "end_date", "end_before_start")
    days = (end - start).days + 1
    if days > MAX_DAYS:
        raise RecordError(
            f"a closure covers at most {MAX_DAYS} days ({days} asked); make several", "end_date", "too_long"
        )
    if end < today:
        raise RecordError(f"{dates_text(start, end)} is already past: nothing to close", "start_date", "in_the_past")
    if start > today + timedelta(days=MAX_DAYS_AHEAD):
        raise RecordError(f"a closure starts at most {MAX_DAYS_AHEAD} days ahead", "start_date", "too_far_ahead")


def _batches(session: Session, codes: Sequence[str]) -> list[m.Batch]:
    wanted = list(dict.fromkeys(str(code).strip() for code in codes if str(code).strip()))
    if not wanted:
        raise RecordError("name at least one batch, or none for the whole school", "batches", "no_batches")
    found = {b.code: b for b in session.execute(select(m.Batch).where(m.Batch.code.in_(wanted))).scalars()}
    unknown = [code for code in wanted if code not in found or not found[code].active]
    if unknown:
        raise RecordError(f"no active batch with code {', '.join(unknown)}", "batches", "unknown_batch")
    return [found[code] for code in wanted]


def _scope_key(batches: list[m.Batch] | None) -> str:
    if batches is None:
        return SCHOOL_SCOPE
    ids = ",".join(str(batch_id) for batch_id in sorted(batch.id for batch in batches))
    return hashlib.sha256(ids.encode()).hexdigest()


def _active_batch_ids(session: Session) -> list[int]:
    return list(session.execute(select(m.Batch.id).where(m.Batch.active.is_(True))).scalars())


def _already_closed(session: Session, start: date, end: date, batch_ids: list[int]) -> bool:
    """Every one of these batches is already closed on every one of these days (holidays, other closures)."""
    known = closed_days(session, start, end, batch_ids)
    return all(known.why(batch_id, day) for day in _days(start, end, start, end) for batch_id in batch_ids)


def already_closed(session: Session, start: date, end: date, batch_codes: Sequence[str] | None = None) -> bool:
    """Whether every class of those batches (None: every active batch) is already off from `start` to `end`."""
    if batch_codes is None:
        batch_ids = _active_batch_ids(session)
    else:
        batch_ids = list(session.execute(select(m.Batch.id).where(m.Batch.code.in_(list(batch_codes)))).scalars())
    return bool(batch_ids) and _already_closed(session, start, end, batch_ids)


def create_closure(
    session: Session,
    actor: str,
    start: date,
    end: date | None,
    reason: str,
    batch_codes: Sequence[str] | None = None,
    *,
    notified: bool = False,
    broadcast_id: int | None = None,
) -> m.Closure:
    """Close `start` to `end` (default: the one day) for the whole school (`batch_codes` None) or those batches.

    Refused (RecordError): no reason, end before start, more than MAX_DAYS days, wholly past, too far ahead, an
    unknown or inactive batch. Conflict: the same dates and batches are already closed (a duplicate), or every
    one of those days is already closed for them. `notified`/`broadcast_id`: families were already told (the
    admin's own broadcast). Only flushes, with the audit row: the caller's transaction commits."""
    end = end or start
    reason = _reason(reason)
    _check_dates(start, end, clock.today())
    batches = None if batch_codes is None else _batches(session, batch_codes)
    key = _scope_key(batches)
    duplicate = session.execute(
        select(m.Closure.id).where(m.Closure.start_date == start, m.Closure.end_date == end, m.Closure.scope_key == key)
    ).scalar_one_or_none()
    if duplicate is not None:
        raise Conflict(
            f"{dates_text(start, end)} is already closed for {'the whole school' if batches is None else 'them'} "
            f"(closure #{duplicate})",
            None,
            "duplicate_closure",
        )
    batch_ids = _active_batch_ids(session) if batches is None else [batch.id for batch in batches]
    if batch_ids and _already_closed(session, start, end, batch_ids):
        raise Conflict(
            f"there are no classes to close on {dates_text(start, end)}: already closed", None, "already_closed"
        )
    closure = m.Closure(
        reason=reason,
        start_date=start,
        end_date=end,
        whole_school=batches is None,
        scope_key=key,
        created_by=actor[:60],
        created_at=clock.utcnow(),
        notified=notified,
        broadcast_id=broadcast_id,
        batches=batches or [],
    )
    session.add(closure)
    try:  # a concurrent request for the same closure: refused like a duplicate (the transaction is rolled back)
        session.flush()
    except IntegrityError as error:
        raise Conflict(f"{dates_text(start, end)} is already closed for them", None, "duplicate_closure") from error
    record_change(session, actor, "closure.created", "closures", closure.id, None, _audited(closure))
    session.flush()
    return closure


def _audited(closure: m.Closure) -> dict:
    data = describe(closure)
    return {key: data[key] for key in FIELDS}


def get_closure(session: Session, closure_id: int) -> m.Closure:
    closure = session.execute(
        select(m.Closure).where(m.Closure.id == closure_id).options(selectinload(m.Closure.batches))
    ).scalar_one_or_none()
    if closure is None:
        raise NotFound(f"no closure {closure_id}", "closure_id")
    return closure


def cancel_closure(session: Session, actor: str, closure_id: int) -> m.Closure:
    """Reopen: the closure's days have classes again. Conflict when it is already cancelled or already over.
    Makeups the closure cancelled stay cancelled (hsm.classes.makeup_cancel): the families have their credits back."""
    closure = get_closure(session, closure_id)
    if closure.cancelled_at is not None:
        raise Conflict(f"closure #{closure_id} was already cancelled", None, "already_cancelled")
    if closure.end_date < clock.today():
        raise Conflict(
            f"closure #{closure_id} is over ({dates_text(closure.start_date, closure.end_date)})", None, "past"
        )
    before = {"cancelled_at": None, "cancelled_by": None}
    closure.cancelled_at, closure.cancelled_by, closure.scope_key = clock.utcnow(), actor[:60], None
    session.flush()
    after = {"cancelled_at": clock.as_utc(closure.cancelled_at), "cancelled_by": closure.cancelled_by}
    record_change(session, actor, "closure.cancelled", "closures", closure.id, before, after)
    session.flush()
    return closure


def mark_notified(session: Session, actor: str, closure: m.Closure, broadcast_id: int | None) -> None:
    """Families are told of the closure by `broadcast_id` (in the caller's transaction, with its audit row)."""
    before, after = apply_changes(closure, {"notified": True, "broadcast_id": broadcast_id})
    if after:
        record_change(session, actor, "closure.notified", "closures", closure.id, before, after)
    session.flush()


def list_closures(
    session: Session,
    *,
    first: date | None = None,
    last: date | None = None,
    include_cancelled: bool = False,
    include_past: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[m.Closure], int]:
    """Closures overlapping `first`..`last` (default: those not over yet), soonest first; and how many in all."""
    conditions = []
    if first is not None:
        conditions.append(m.Closure.end_date >= first)
    elif not include_past:
        conditions.append(m.Closure.end_date >= clock.today())
    if last is not None:
        conditions.append(m.Closure.start_date <= last)
    if not include_cancelled:
        conditions.append(m.Closure.cancelled_at.is_(None))
    total = session.execute(select(func.count()).select_from(m.Closure).where(*conditions)).scalar_one()
    rows = session.execute(
        select(m.Closure)
        .where(*conditions)
        .options(selectinload(m.Closure.batches))
        .order_by(m.Closure.start_date, m.Closure.id)
        .limit(limit)
        .offset(offset)
    ).scalars()
    return list(rows), total


def affected_batches(session: Session, closure: m.Closure) -> list[m.Batch]:
    """The active batches whose classes the closure cancels (every active batch for the whole school)."""
    if not closure.whole_school:
        return [batch for batch in closure.batches if batch.active]
    return list(session.execute(select(m.Batch).where(m.Batch.active.is_(True)).order_by(m.Batch.code)).scalars())
