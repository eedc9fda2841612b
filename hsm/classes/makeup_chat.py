"""Makeup classes in the family's chat: which child, the open slots as a list, the booking from a tapped row, and
cancelling; only the caller's own children's credits and bookings are ever found (a forged payload finds nothing).

Payloads: `/book_makeup` (optionally `{"person": "Anika"}`), a slot row `/book_makeup{"makeup_slot":
"<credit id>:<batch code>:<YYYY-MM-DD>"}`, `/cancel_makeup` (optionally `{"makeup_booking": "<id>"}`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm.classes import makeup_bookings
from hsm.classes.dates import short_day_label
from hsm.classes.family import first_name, resolve_children
from hsm.classes.makeup_bookings import class_text, teacher_notice
from hsm.classes.makeup_slots import open_slots
from hsm.classes.makeups import Policy, open_credits
from hsm.classes.schedule import teacher_label
from hsm.infra import clock
from hsm.infra import models as m
from hsm.outreach.notices import Notice
from hsm.people.identity import Identity, students_for
from hsm.whatsapp.render import ListRow

BOOK, CANCEL = "book_makeup", "cancel_makeup"
MAX_ROWS = 10


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: list[dict] = field(default_factory=list)  # {"title", "payload"}
    rows: list[ListRow] = field(default_factory=list)  # a WhatsApp list
    notices: list[Notice] = field(default_factory=list)


def payload(intent: str, **entities: str) -> str:
    return f"/{intent}" + (json.dumps(entities, separators=(",", ":")) if entities else "")


def actor_of(identity: Identity) -> str:
    return f"whatsapp:{identity.role}-{identity.person_id}"


def _names(students: list[m.Student]) -> str:
    names = [first_name(s) for s in students]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" or {names[-1]}"


def _children(session: Session, identity: Identity, child_name: str | None) -> tuple[list[m.Student], Reply | None]:
    students = resolve_children(session, identity, child_name)
    if students:
        return students, None
    if child_name and students_for(session, identity):
        return [], Reply(f"I couldn't find a child called {child_name.strip()[:40]} on your number.")
    return [], Reply("I couldn't find any enrolled student on your number. Please contact the office.")


def offer(session: Session, identity: Identity, child_name: str | None, now: datetime | None = None) -> Reply:
    """The open slots for the child's makeup credit as a list; or which child; or why there is nothing to book."""
    now = now or clock.now()
    students, problem = _children(session, identity, child_name)
    if problem:
        return problem
    today = now.astimezone(clock.school_timezone()).date()
    with_credit = [(s, credits[0]) for s in students if (credits := open_credits(session, s.id, today))]
    if not with_credit:
        return Reply(f"There is no makeup credit to use right now for {_names(students)}. {Policy.current().text}")
    if len(with_credit) > 1:
        return Reply(
            "Which child is the makeup for?",
            buttons=[{"title": first_name(s), "payload": payload(BOOK, person=first_name(s))} for s, _ in with_credit],
        )
    student, credit = with_credit[0]
    missed = f"{credit.batch.name} class missed on {short_day_label(credit.class_date)}"
    slots = open_slots(session, credit, now)[:MAX_ROWS]
    if not slots:
        return Reply(
            f"{first_name(student)} has a makeup credit for the {missed} (use it by "
            f"{short_day_label(credit.expires_on)}), but no class of the same course and level has a free seat in "
            "the next two weeks. Please ask again in a few days, or call the office."
        )
    rows = [
        ListRow(s.title, payload(BOOK, makeup_slot=f"{credit.id}:{s.batch.code}:{s.class_date}"), s.description)
        for s in slots
    ]
    return Reply(
        f"{first_name(student)} has a makeup credit for the {missed} (use it by "
        f"{short_day_label(credit.expires_on)}). Pick a class with a free seat:",
        rows=rows,
    )


def _slot(key: str) -> tuple[int, str, date] | None:
    parts = key.split(":")
    try:
        return int(parts[0]), parts[1], date.fromisoformat(parts[2])
    except (IndexError, ValueError):
        return None


def book_slot(session: Session, identity: Identity, key: str, now: datetime | None = None) -> Reply:
    """Book the tapped slot; a Conflict (seat gone, credit used) propagates: roll back, then `offer` again."""
    now = now or clock.now()
    parsed = _slot(key)
    credit = session.get(m.MakeupCredit, parsed[0]) if parsed else None
    own = {s.id for s in students_for(session, identity)}
    batch = session.execute(select(m.Batch).where(m.Batch.code == parsed[1])).scalar_one_or_none() if parsed else None
    if parsed is None or credit is None or credit.student_id not in own or batch is None:
        return Reply("I couldn't find that makeup class. Say 'book a makeup' to see the open ones.")
    booking = makeup_bookings.book(
        session, credit_id=credit.id, batch_id=batch.id, class_date=parsed[2], actor=actor_of(identity), now=now
    )
    notice = teacher_notice(session, booking)
    return Reply(
        f"✅ Booked: {first_name(booking.student)}'s makeup class, {class_text(session, booking)} with "
        f"{teacher_label(batch)}. The teacher knows. To cancel, say 'cancel my makeup'.",
        notices=[notice] if notice else [],
    )


def cancel(
    session: Session, identity: Identity, child_name: str | None, booking_id: str | None, now: datetime | None = None
) -> Reply:
    """Cancel the family's one booked makeup, the one tapped, or ask which when there are several."""
    now = now or clock.now()
    students, problem = _children(session, identity, child_name)
    if problem:
        return problem
    bookings = makeup_bookings.booked(session, [s.id for s in students], now)
    if booking_id is not None:
        bookings = [b for b in bookings if str(b.id) == str(booking_id)]
    if not bookings:
        return Reply(f"No makeup class is booked for {_names(students)}.")
    if len(bookings) > 1:
        return Reply(
            "Which makeup class should I cancel?",
            buttons=[
                {
                    "title": f"{first_name(b.student)} {short_day_label(b.class_date)}",
                    "payload": payload(CANCEL, makeup_booking=str(b.id)),
                }
                for b in bookings
            ],
        )
    booking = makeup_bookings.cancel_booking(session, booking_id=bookings[0].id, actor=actor_of(identity), now=now)
    notice = teacher_notice(session, booking)
    return Reply(
        f"Cancelled {first_name(booking.student)}'s makeup class, {class_text(session, booking)}. The credit is back: "
        f"use it by {short_day_label(booking.credit.expires_on)} (say 'book a makeup').",
        notices=[notice] if notice else [],
    )
