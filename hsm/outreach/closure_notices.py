"""Telling families about the office's closures, once: through the broadcast machinery (one recipient per number,
opted-out numbers left out, free text inside the 24-hour window, the `classes_closed` / `classes_reopened`
template outside it), to the active students (or their active guardians) actively enrolled in the affected
batches (every active batch for a whole-school closure).

`close` and `reopen` are what the CLI and the admin API call: the record (`hsm.classes.closures`) and the
broadcast in one transaction; the caller queues the broadcast after the commit (`broadcast.enqueue_broadcast`).
`close_announced` is WhatsApp's: the admin's own broadcast already told the families, so none is sent.

A closure also cancels, in the same transaction, the makeups booked into the classes it closes (credits back,
hsm.classes.makeup_cancel); those families are not in the broadcast's audience (they are not enrolled in the
batch), so each gets its own message (`Outcome.notices`, sent by the caller after the commit with
`hsm.outreach.notify.deliver`; none when `notify` is off). Reopening does not restore those bookings.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hsm.classes import closures, makeup_cancel
from hsm.classes.dates import dates_in
from hsm.infra import clock
from hsm.infra import models as m
from hsm.outreach import broadcast
from hsm.outreach.broadcast import NAME_PLACEHOLDER
from hsm.outreach.notices import Notice, staff_text
from hsm.records.changes import RecordError

log = logging.getLogger("hsm.outreach.closure_notices")

CLOSED_TEMPLATE = "classes_closed"  # {{1}} recipient, {{2}} classes, {{3}} dates, {{4}} reason
REOPENED_TEMPLATE = "classes_reopened"  # {{1}} recipient, {{2}} classes, {{3}} dates
NAMED_BATCHES = 3  # name up to this many batches in the message; more are counted
STUDENT_AUDIENCES = ("all_students", "batch", "course")  # the broadcasts whose families a closure concerns


@dataclass(frozen=True)
class Outcome:
    """A closure made or reopened, and the broadcast that tells the families (None: nobody was told, and why)."""

    closure: m.Closure
    broadcast_id: int | None = None
    recipients: int = 0
    not_told: str | None = None
    makeups_cancelled: int = 0  # makeups booked into the closed classes, cancelled with the closure
    notices: list[Notice] = field(default_factory=list)  # their families', to send after the commit


def classes_text(batches: list[m.Batch], whole_school: bool) -> str:
    """'all classes', 'Guitar Beginner classes', 'Guitar Beginner and Tabla Beginner classes', 'classes of 5
    batches'."""
    if whole_school:
        return "all classes"
    names = list(dict.fromkeys(batch.name for batch in batches))
    if len(names) > NAMED_BATCHES:
        return f"classes of {len(batches)} batches"
    joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"{joined} classes"


def _template(session: Session, name: str) -> str | None:
    found = session.execute(
        select(m.WhatsAppTemplate.template_name).where(
            m.WhatsAppTemplate.template_name == name, m.WhatsAppTemplate.status == "approved"
        )
    ).scalar_one_or_none()
    if found is None:
        log.warning("template %s is not loaded (hsm import-templates): only numbers inside the window are told", name)
    return found


def _tell(
    session: Session, closure: m.Closure, actor: str, start: date, reopened: bool
) -> tuple[int | None, int, str | None]:
    """Queue-ready broadcast to the affected families: (broadcast id, recipients, why nobody when nobody)."""
    batches = closures.affected_batches(session, closure)
    if not batches:
        return None, 0, "no active batch is affected"
    audience = {"kind": broadcast.BATCHES, "codes": [batch.code for batch in batches], "closure_id": closure.id}
    plan = broadcast.plan_audience(session, audience)
    if not plan.recipients:
        return None, 0, f"nobody to tell ({len(plan.opted_out)} opted out)"
    classes = classes_text(batches, closure.whole_school)
    dates = closures.dates_text(start, closure.end_date)
    if reopened:
        text = f"✅ Good news: {classes} on {dates} will be held after all, as usual. - HSM"
        template, params = _template(session, REOPENED_TEMPLATE), [NAME_PLACEHOLDER, classes, dates]
    else:
        text = (
            f"🏫 {classes[0].upper()}{classes[1:]} on {dates} are cancelled: {closure.reason}. "
            "Classes go on as usual after that. - HSM"
        )
        template, params = _template(session, CLOSED_TEMPLATE), [NAME_PLACEHOLDER, classes, dates, closure.reason]
    row = broadcast.create_broadcast(
        session, actor, audience, text=text, template_name=template, template_params=params if template else ()
    )
    return row.id, len(plan.recipients), None


def close(
    session: Session,
    actor: str,
    start: date,
    end: date | None,
    reason: str,
    batch_codes: list[str] | None = None,
    *,
    notify: bool = True,
) -> Outcome:
    """Record the closure, cancel the makeups booked into its classes, and (with `notify`) make the one broadcast
    telling the affected families and the notices telling the makeups' families. RecordError as
    `closures.create_closure`; a duplicate is refused before anyone is told."""
    closure = closures.create_closure(session, actor, start, end, reason, batch_codes)
    makeups = makeup_cancel.cancel_for_closure(session, closure, actor)
    if not notify:
        return Outcome(closure, not_told="not asked to", makeups_cancelled=len(makeups.bookings))
    broadcast_id, recipients, why = _tell(session, closure, actor, max(closure.start_date, clock.today()), False)
    if broadcast_id is not None:
        closures.mark_notified(session, actor, closure, broadcast_id)
    notices = makeup_cancel.family_notices(session, makeups)
    return Outcome(closure, broadcast_id, recipients, why, len(makeups.bookings), notices)


def reopen(session: Session, actor: str, closure_id: int, *, notify: bool = True) -> Outcome:
    """Cancel the closure; families who were told of it are told the classes are back on (from today)."""
    closure = closures.cancel_closure(session, actor, closure_id)
    if not notify:
        return Outcome(closure, not_told="not asked to")
    if not closure.notified:
        return Outcome(closure, not_told="they were never told of the closure")
    broadcast_id, recipients, why = _tell(session, closure, actor, max(closure.start_date, clock.today()), True)
    return Outcome(closure, broadcast_id, recipients, why)


# ------------------------------------------------------------------------------------------------ WhatsApp


# The reason an announcement gives: "due to rain" before "for Republic Day" ("closed for everyone due to rain").
_REASONS = (
    re.compile(r"\b(?:due to|because of|on account of|owing to)\s+(?P<reason>[^.!\n]{3,})", re.IGNORECASE),
    re.compile(r"\bfor\s+(?!all\b|everyone\b|every\b|students\b|the students\b)(?P<reason>[^.!\n]{3,})", re.IGNORECASE),
)


def reason_in(text: str) -> str:
    """The reason an announcement gives ("... closed on 26 Jan for Republic Day" -> "Republic Day"), else the
    announcement itself."""
    for pattern in _REASONS:
        found = pattern.search(text)
        if found:
            return staff_text(found.group("reason"), closures.MAX_REASON_CHARS).strip(" ,;:")
    return staff_text(text, closures.MAX_REASON_CHARS).strip(" ,;:")


def scope_of(session: Session, audience: dict) -> list[str] | None:
    """The batches a broadcast's audience stands for: None for all students (the whole school), else the codes.
    RecordError for an audience that is not the students of the school, a batch or a course."""
    kind = audience.get("kind")
    if kind == "all_students":
        return None
    if kind == "batch":
        return [str(audience.get("code"))]
    if kind == "course":
        codes = session.execute(
            select(m.Batch.code)
            .join(m.Course, m.Course.id == m.Batch.course_id)
            .where(m.Course.code == audience.get("code"), m.Batch.active.is_(True))
            .order_by(m.Batch.code)
        ).scalars()
        found = list(codes)
        if found:
            return found
    raise RecordError("that announcement did not go to students' families", "audience", "not_families")


def close_announced(session: Session, actor: str, broadcast_id: int, start: date, end: date) -> Outcome:
    """Close the days an admin's broadcast announced, for its audience, without telling the families again: the
    broadcast was their notice. The makeups booked into those classes are cancelled, and their families get
    `Outcome.notices` (the announcement did not say their makeup is off and their credit back)."""
    row = session.get(m.Broadcast, broadcast_id)
    if row is None:
        raise RecordError(f"no broadcast {broadcast_id}", "broadcast_id", "not_found")
    codes = scope_of(session, row.audience or {})
    closure = closures.create_closure(
        session, actor, start, end, reason_in(row.text or ""), codes, notified=True, broadcast_id=broadcast_id
    )
    makeups = makeup_cancel.cancel_for_closure(session, closure, actor)
    notices = makeup_cancel.family_notices(session, makeups)
    return Outcome(closure, broadcast_id, 0, "told by the announcement", len(makeups.bookings), notices)


# Words that say an announcement closes something ("school closed", "no class", "holiday", "chutti"); "band" is
# left out on purpose: a music school has bands.
_CLOSURE_WORDS = re.compile(
    r"\b(closed|closure|shut|holidays?|chutti|bandh|no\s+(?:\w+\s+){0,2}class(?:es)?|cancell?ed|"
    r"class(?:es)?\s+(?:is\s+|are\s+)?(?:off|nahi|nahin)|will\s+not\s+be\s+held|won'?t\s+be\s+held)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Offer:
    """Days an admin's announcement says are closed, offered to be marked closed for its audience."""

    broadcast_id: int
    ranges: list[tuple[date, date]] = field(default_factory=list)
    scope: str = "the whole school"

    def question(self) -> str:
        days = ", ".join(closures.dates_text(first, last) for first, last in self.ranges)
        return (
            f"Also mark {days} as closed for {self.scope}? Schedules, next-class answers and reminders will skip "
            "those classes. Families just got your announcement, so they won't be told again."
        )

    def as_json(self) -> dict:
        return {
            "broadcast_id": self.broadcast_id,
            "ranges": [[first.isoformat(), last.isoformat()] for first, last in self.ranges],
            "scope": self.scope,
        }

    @classmethod
    def from_json(cls, data: dict) -> Offer:
        ranges = [(date.fromisoformat(first), date.fromisoformat(last)) for first, last in data["ranges"]]
        return cls(int(data["broadcast_id"]), ranges, str(data.get("scope") or ""))


def _scope_label(session: Session, audience: dict) -> str:
    kind, code = audience.get("kind"), audience.get("code")
    if kind == "batch":
        name = session.execute(select(m.Batch.name).where(m.Batch.code == code)).scalar_one_or_none()
        return f"the {name or code} batch"
    if kind == "course":
        name = session.execute(select(m.Course.name).where(m.Course.code == code)).scalar_one_or_none()
        return f"all {name or code} batches"
    return "the whole school"


def offer_for(session: Session, broadcast_id: int, audience: dict, text: str) -> Offer | None:
    """The closure an announcement to students' families suggests: its text says something is closed and names
    days from today on that are not already closed for its audience; None otherwise (or for teachers, lists)."""
    if audience.get("kind") not in STUDENT_AUDIENCES or not _CLOSURE_WORDS.search(text or ""):
        return None
    try:
        codes = scope_of(session, audience)
    except RecordError:
        return None
    today = clock.today()
    ranges = [
        (max(first, today), last)
        for first, last in dates_in(text, today)
        if last >= today and (last - max(first, today)).days < closures.MAX_DAYS
    ]
    ranges = [(first, last) for first, last in ranges if not closures.already_closed(session, first, last, codes)]
    if not ranges:
        return None
    return Offer(broadcast_id, ranges, _scope_label(session, audience))


def accept_offer(session: Session, actor: str, offer: Offer) -> tuple[list[str], list[Notice]]:
    """Close each offered range for the announcement's audience, nobody told again but the families of makeups
    the closures cancel (their notices, to send after the commit); a line per range. A range that another request
    closed at the same moment (the database refused it) leaves the transaction unusable: then nothing is marked
    (rolled back), no notice, and one line says to try again."""
    lines: list[str] = []
    notices: list[Notice] = []
    for first, last in offer.ranges:
        try:
            made = close_announced(session, actor, offer.broadcast_id, first, last)
        except RecordError as error:
            if isinstance(error.__cause__, IntegrityError):
                session.rollback()
                line = f"• nothing was marked: the closures changed at the same moment ({error.message}); try again"
                return [line], []
            lines.append(f"• {closures.dates_text(first, last)}: not marked, {error.message}")
            continue
        line = f"• {closures.dates_text(first, last)}: closed for {offer.scope} (closure #{made.closure.id})"
        if made.makeups_cancelled:
            line += f"; {made.makeups_cancelled} makeup booking(s) in those classes cancelled, credits back"
        lines.append(line)
        notices += made.notices
    return lines, notices
