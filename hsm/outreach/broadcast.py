"""Broadcasts (UC-8): who an announcement reaches, the broadcast with its recipients, and the sender that delivers
it at Meta's pace, retrying transient failures and never messaging one recipient the same broadcast twice.

Audience. `all_students` (every student with an active or paused enrollment), `all_teachers` (active teachers),
`batch` / `course` (students actively enrolled), `custom` (a list of numbers). A student is reached through
`student_contacts`: a minor (under 18 today) through their guardians, an adult (or a minor with no guardian) on
their own phone. Phones are deduplicated; opted-out numbers (`whatsapp_subscriptions.is_active` false, or
`preferences["announcements"]` false) are never messaged: they are stored as `skipped` recipients, so the record
shows they were left out on purpose.

Content. Free-form `text` goes to recipients inside the 24-hour service window (with a 5-minute margin); everyone
else gets the approved `template_name` with `template_params` (a parameter `{name}` becomes the recipient's first
name). A broadcast with only text skips recipients outside the window; one with only a template always uses it.

Exactly once, as far as WhatsApp allows. Meta's /messages has no idempotency key, so "exactly once" rests on
what we record, in this order, per recipient:

1. claim: `UPDATE broadcast_recipients SET attempts = attempts + 1 WHERE id = ? AND status = 'pending' AND
   attempts = 0` (committed). Only the worker whose UPDATE changed the row may send it, so two workers, or a
   restarted one, never send the same recipient. The claim is taken right before the request (after the rate
   limiter), so few recipients are ever claimed-but-unsent. A claimed row (pending, attempts > 0) is "in flight".
2. send: one `POST /messages` (the client retries 429/5xx/timeouts itself). The message carries
   `biz_opaque_callback_data = "hsm:broadcast:<id>:recipient:<id>"`, and the client records every send in
   `whatsapp_messages` (the payload, with that tag, plus Meta's wamid or the error) right after Meta answers.
3. finish: the recipient becomes `sent` with the wamid, or `failed` with the error.

A graceful stop (the run's task cancelled: SIGTERM to a job process, `hsm api` shutting down, or a fatal error in
another send) claims nothing new and lets the sends already in flight finish and record their outcome, so a
stop-and-restart misses nobody and repeats nobody.
After a hard crash a recipient may be left in flight. A run first reconciles those (`reconcile_in_flight`): the
`whatsapp_messages` row carrying its tag tells what happened (accepted: `sent` with that wamid; refused:
`failed`). With no such row, the crash fell between the claim and the client's record, and whether Meta
accepted the message cannot be known: the recipient is marked `failed` with "unknown outcome ..." for manual
review (`needs_review` in the progress) and is NOT resent. This chooses at-most-once over at-least-once for the
sends in flight at the moment of a hard crash (at most `concurrency`, about rate x Meta's latency: a few dozen at
80/s). A residual risk stays with the client: a request that times out after Meta accepted it is retried by the
client and may arrive twice (Meta offers no way to tell). Two runs of one broadcast at once (a job queued twice)
are safe: claims keep them apart; the second's reconciliation may briefly mark the first's in-flight recipients
"unknown outcome", which the first overwrites with the real outcome when its send returns.

Statuses. Meta's sent/delivered/read/failed callbacks update `whatsapp_messages` (the channel's store);
`broadcast_progress` moves recipients forward from those rows before counting.

Queue. `enqueue_broadcast` puts `hsm.outreach.broadcast.broadcast_job` on the RQ queue "broadcasts" when REDIS_URL is set
(`hsm worker` runs it), else runs it in a background thread of this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session, selectinload

from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.config import get_settings
from hsm.infra.db import session_scope
from hsm.infra.phone import InvalidPhoneNumber, mask_phone, normalise_phone
from hsm.whatsapp.client import CloudApiError, WhatsAppClient

log = logging.getLogger("hsm.outreach.broadcast")

DEFAULT_RATE_PER_S = 80.0  # Meta's default Cloud API throughput per business phone number
TEXT_LIMIT = 4096
PARAMETER_LIMIT = 1024
CHUNK_SIZE = 200
ADULT_AGE = 18
SERVICE_WINDOW = timedelta(hours=24)
WINDOW_MARGIN = timedelta(minutes=5)  # a window closing within this is treated as closed
QUEUE_BROADCASTS, QUEUE_REMINDERS = "broadcasts", "reminders"
JOB_TIMEOUT_S = 6 * 3600
AUDIENCE_KINDS = ("all_students", "all_teachers", "batch", "course", "custom")
CURRENT_ENROLLMENTS = ("active", "paused")
OPTED_OUT = "opted out"
NO_WINDOW = "outside the 24-hour window and no approved template"
UNKNOWN_OUTCOME = "unknown outcome: the worker stopped between claiming and recording this send; not resent"
NAME_PLACEHOLDER = "{name}"
_STATUS_RANK = {"pending": 0, "sent": 1, "delivered": 2, "read": 3}


class BroadcastError(ValueError):
    """A broadcast that cannot be made as asked; `field` names the argument at fault."""

    def __init__(self, field: str, message: str, code: str = "invalid", details: dict | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.code = code
        self.details = details or {}


class AudienceError(BroadcastError):
    """The audience is malformed, names an unknown batch or course, holds invalid numbers, or reaches no one."""


@dataclass(frozen=True)
class Recipient:
    phone: str
    name: str | None = None


@dataclass
class AudiencePlan:
    recipients: list[Recipient] = field(default_factory=list)
    opted_out: list[Recipient] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def first_name(name: str | None) -> str:
    parts = (name or "").split()
    return parts[0] if parts else "there"


# ------------------------------------------------------------------------------------------------ audience


def age_on(dob: date, day: date) -> int:
    return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


def is_minor(student: m.Student, day: date) -> bool:
    return student.dob is not None and age_on(student.dob, day) < ADULT_AGE


def student_contacts(student: m.Student, today: date) -> list[Recipient]:
    """Whom to message about a student: a minor's guardians, else the student's own phone (or guardians if none)."""
    guardians = sorted((link.guardian for link in student.guardian_links if link.guardian and link.guardian.phone),
                       key=lambda guardian: guardian.id)
    if student.phone and not (is_minor(student, today) and guardians):
        return [Recipient(student.phone, student.name)]
    return [Recipient(guardian.phone, guardian.name) for guardian in guardians]


def opted_out_phones(session: Session, phones: Iterable[str], preference: str) -> set[str]:
    """The numbers that opted out of WhatsApp altogether, or of `preference` ("announcements", "reminders")."""
    wanted = sorted(set(phones))
    out: set[str] = set()
    for chunk in _chunks(wanted, 500):
        rows = session.execute(
            select(m.WhatsAppSubscription.phone_number, m.WhatsAppSubscription.is_active,
                   m.WhatsAppSubscription.preferences)
            .where(m.WhatsAppSubscription.phone_number.in_(chunk))
        )
        for phone, active, preferences in rows:
            if active is False or (preferences or {}).get(preference) is False:
                out.add(phone)
    return out


def _students_query():
    return select(m.Student).options(
        selectinload(m.Student.guardian_links).selectinload(m.StudentGuardian.guardian)
    ).order_by(m.Student.enrollment_id)


def _enrolled(*conditions) -> Any:
    return select(m.Enrollment.student_id).join(m.Batch, m.Batch.id == m.Enrollment.batch_id).where(*conditions)


def _code(audience: dict) -> str:
    code = audience.get("code")
    if not isinstance(code, str) or not code.strip():
        raise AudienceError("audience.code", f"a {audience['kind']} audience needs a code", "missing_field")
    return code.strip()


def _student_recipients(session: Session, audience: dict) -> list[Recipient]:
    kind = audience["kind"]
    if kind == "all_students":
        ids = _enrolled(m.Enrollment.status.in_(CURRENT_ENROLLMENTS))
    elif kind == "batch":
        code = _code(audience)
        batch = session.execute(select(m.Batch).where(m.Batch.code == code)).scalar_one_or_none()
        if batch is None:
            raise AudienceError("audience.code", f"no batch with code {code!r}", "unknown_batch")
        ids = _enrolled(m.Enrollment.batch_id == batch.id, m.Enrollment.status == "active")
    else:
        code = _code(audience)
        course = session.execute(select(m.Course).where(m.Course.code == code)).scalar_one_or_none()
        if course is None:
            raise AudienceError("audience.code", f"no course with code {code!r}", "unknown_course")
        ids = _enrolled(m.Batch.course_id == course.id, m.Enrollment.status == "active")
    today = clock.today()
    recipients: list[Recipient] = []
    for student in session.execute(_students_query().where(m.Student.id.in_(ids))).scalars():
        recipients.extend(student_contacts(student, today))
    return recipients


def _teacher_recipients(session: Session) -> list[Recipient]:
    teachers = session.execute(
        select(m.Teacher).where(m.Teacher.active.is_(True), m.Teacher.phone.is_not(None))
        .order_by(m.Teacher.employee_id)
    ).scalars()
    return [Recipient(teacher.phone, teacher.name) for teacher in teachers]


def names_by_phone(session: Session, phones: Sequence[str]) -> dict[str, str]:
    """The school's name for each known number (admin, teacher, student, guardian: the first that matches)."""
    names: dict[str, str] = {}
    for model in (m.Guardian, m.Student, m.Teacher, m.Admin):  # later ones win, so admins' names come last
        for chunk in _chunks(list(phones), 500):
            for phone, name in session.execute(select(model.phone, model.name).where(model.phone.in_(chunk))):
                names[phone] = name
    return names


def _custom_recipients(session: Session, audience: dict, plan: AudiencePlan) -> list[Recipient]:
    raw = audience.get("phones")
    if not isinstance(raw, list) or not raw:
        raise AudienceError("audience.phones", "a custom audience needs a non-empty list of phone numbers",
                            "missing_field")
    phones: list[str] = []
    for item in raw:
        try:
            if not isinstance(item, (str, int)) or isinstance(item, bool):
                raise InvalidPhoneNumber(repr(item))
            phones.append(normalise_phone(item))
        except InvalidPhoneNumber:
            plan.invalid.append(str(item))
    names = names_by_phone(session, sorted(set(phones)))
    return [Recipient(phone, names.get(phone)) for phone in phones]


def plan_audience(session: Session, audience: dict) -> AudiencePlan:
    """Everyone the audience names: to message, opted out, and (custom lists) invalid numbers."""
    if not isinstance(audience, dict) or audience.get("kind") not in AUDIENCE_KINDS:
        raise AudienceError("audience.kind", f"kind must be one of {', '.join(AUDIENCE_KINDS)}", "invalid_kind")
    plan = AudiencePlan()
    kind = audience["kind"]
    if kind == "all_teachers":
        found = _teacher_recipients(session)
    elif kind == "custom":
        found = _custom_recipients(session, audience, plan)
    else:
        found = _student_recipients(session, audience)
    unique: dict[str, Recipient] = {}
    for recipient in found:
        unique.setdefault(recipient.phone, recipient)
    opted_out = opted_out_phones(session, unique, "announcements")
    for recipient in unique.values():
        (plan.opted_out if recipient.phone in opted_out else plan.recipients).append(recipient)
    return plan


def resolve_audience(session: Session, audience: dict) -> list[Recipient]:
    """The numbers to message, opted-out ones left out; invalid custom numbers raise AudienceError naming them."""
    plan = plan_audience(session, audience)
    if plan.invalid:
        raise AudienceError("audience.phones", f"not valid phone numbers: {', '.join(plan.invalid)}",
                            "invalid_phone", {"invalid": plan.invalid})
    return plan.recipients


# ------------------------------------------------------------------------------------------------ creating


def _check_text(text: Any) -> str | None:
    if text is None:
        return None
    if not isinstance(text, str) or not text.strip():
        raise BroadcastError("text", "the text is empty", "empty_text")
    text = text.strip()
    if len(text) > TEXT_LIMIT:
        raise BroadcastError("text", f"the text has {len(text)} characters; WhatsApp allows {TEXT_LIMIT}",
                             "text_too_long")
    return text


def _check_template(session: Session, name: Any, params: Any) -> tuple[m.WhatsAppTemplate | None, list[str]]:
    params = list(params or ())
    if name is None:
        if params:
            raise BroadcastError("template_params", "parameters need a template_name", "parameters_without_template")
        return None, []
    if not isinstance(name, str) or not name.strip():
        raise BroadcastError("template_name", "the template name is empty", "invalid")
    template = session.execute(
        select(m.WhatsAppTemplate).where(m.WhatsAppTemplate.template_name == name.strip())
    ).scalars().first()
    if template is None:
        raise BroadcastError("template_name", f"no template named {name!r}", "unknown_template")
    if template.status != "approved":
        raise BroadcastError("template_name", f"template {name!r} is {template.status}, not approved by Meta",
                             "template_not_approved")
    variables = list(template.variables or [])
    if len(params) != len(variables):
        listed = f" ({', '.join(map(str, variables))})" if variables else ""
        raise BroadcastError("template_params", f"template {name!r} takes {len(variables)} parameters{listed}, "
                                                f"got {len(params)}", "wrong_parameter_count")
    for index, param in enumerate(params):
        if not isinstance(param, str) or not param.strip():
            raise BroadcastError(f"template_params[{index}]", "must be a non-empty string", "invalid_parameter")
        if "\n" in param or "\t" in param or "    " in param or len(param) > PARAMETER_LIMIT:
            raise BroadcastError(f"template_params[{index}]", "Meta refuses parameters with new lines, tabs, four "
                                 f"spaces in a row or over {PARAMETER_LIMIT} characters", "invalid_parameter")
    return template, [param.strip() for param in params]


def audience_summary(audience: dict) -> dict:
    """The audience without a custom list's numbers (for logs, audit and progress)."""
    summary = {key: value for key, value in audience.items() if key != "phones"}
    if "phones" in audience:
        summary["phones"] = len(audience["phones"]) if isinstance(audience["phones"], list) else 0
    return summary


def create_broadcast(session: Session, created_by: str, audience: dict, text: str | None = None,
                     template_name: str | None = None, template_params: Sequence[str] = ()) -> m.Broadcast:
    """A queued broadcast with one pending recipient per number (opted-out ones stored as skipped), in the caller's
    transaction; raises BroadcastError (unknown or unapproved template, wrong parameters, empty or long text,
    invalid numbers, nobody to message)."""
    text = _check_text(text)
    template, params = _check_template(session, template_name, template_params)
    if text is None and template is None:
        raise BroadcastError("text", "give a text, a template_name, or both", "missing_content")
    plan = plan_audience(session, audience)
    if plan.invalid:
        raise AudienceError("audience.phones", f"not valid phone numbers: {', '.join(plan.invalid)}",
                            "invalid_phone", {"invalid": plan.invalid})
    if not plan.recipients:
        raise AudienceError("audience", f"nobody to message ({len(plan.opted_out)} opted out)", "empty_audience")
    broadcast = m.Broadcast(created_by=created_by, audience=dict(audience), text=text,
                            template_name=template.template_name if template else None,
                            template_params=params, status="queued")
    session.add(broadcast)
    session.flush()
    now = clock.utcnow()
    # Every row with the same keys: an executemany takes its columns from the first row.
    rows = [{"broadcast_id": broadcast.id, "phone_number": r.phone, "name": r.name, "status": "pending",
             "attempts": 0, "error_message": None, "updated_at": now} for r in plan.recipients]
    rows += [{"broadcast_id": broadcast.id, "phone_number": r.phone, "name": r.name, "status": "skipped",
              "attempts": 0, "error_message": OPTED_OUT, "updated_at": now} for r in plan.opted_out]
    for chunk in _chunks(rows, 1000):
        session.execute(insert(m.BroadcastRecipient), list(chunk))
    session.add(m.AuditLog(actor=created_by[:60], action="broadcast.created", entity="broadcasts",
                           entity_id=str(broadcast.id), before=None,
                           after={"audience": audience_summary(audience), "recipients": len(plan.recipients),
                                  "opted_out": len(plan.opted_out), "text": text,
                                  "template_name": broadcast.template_name, "template_params": params}))
    session.flush()
    log.info("broadcast %d by %s: %d recipients, %d opted out (%s)", broadcast.id, created_by,
             len(plan.recipients), len(plan.opted_out), audience_summary(audience))
    return broadcast


# ------------------------------------------------------------------------------------------------ progress


def _recipient_status(message_status: str | None) -> str:
    return message_status if message_status in ("delivered", "read", "failed") else "sent"


def sync_recipient_statuses(session: Session, broadcast_id: int) -> int:
    """Move recipients forward from the delivered/read/failed statuses Meta reported on their messages."""
    rows = session.execute(
        select(m.BroadcastRecipient, m.WhatsAppMessage.status, m.WhatsAppMessage.error_message)
        .join(m.WhatsAppMessage, m.WhatsAppMessage.whatsapp_message_id == m.BroadcastRecipient.whatsapp_message_id)
        .where(m.BroadcastRecipient.broadcast_id == broadcast_id,
               m.BroadcastRecipient.status.in_(("sent", "delivered")),
               m.WhatsAppMessage.status.in_(("delivered", "read", "failed")))
    ).all()
    changed = 0
    for recipient, status, error in rows:
        if status == "failed":
            recipient.status, recipient.error_message = "failed", error or "failed after sending (Meta status)"
        elif _STATUS_RANK[status] > _STATUS_RANK[recipient.status]:
            recipient.status = status
        else:
            continue
        changed += 1
    session.flush()
    return changed


def broadcast_progress(session: Session, broadcast_id: int) -> dict:
    """Totals: `queued` (not sent yet; `in_flight` of them claimed), `sent` (accepted by Meta: sent, delivered or
    read), `delivered` (delivered or read), `read`, `failed` (`needs_review` of them with an unknown outcome),
    `skipped` (opted out, or outside the window with no template). Raises BroadcastError when there is no such
    broadcast."""
    broadcast = session.get(m.Broadcast, broadcast_id)
    if broadcast is None:
        raise BroadcastError("broadcast_id", f"no broadcast {broadcast_id}", "not_found")
    sync_recipient_statuses(session, broadcast_id)
    counts: Counter = Counter(dict(session.execute(
        select(m.BroadcastRecipient.status, func.count())
        .where(m.BroadcastRecipient.broadcast_id == broadcast_id).group_by(m.BroadcastRecipient.status)
    ).all()))

    def count(*conditions) -> int:
        return session.execute(select(func.count()).select_from(m.BroadcastRecipient).where(
            m.BroadcastRecipient.broadcast_id == broadcast_id, *conditions)).scalar_one()

    in_flight = count(m.BroadcastRecipient.status == "pending", m.BroadcastRecipient.attempts > 0)
    needs_review = count(m.BroadcastRecipient.status == "failed",
                         m.BroadcastRecipient.error_message.like("unknown outcome%"))

    def iso(value: datetime | None) -> str | None:
        return clock.as_utc(value).isoformat() if value else None

    return {
        "broadcast_id": broadcast.id,
        "status": broadcast.status,
        "created_by": broadcast.created_by,
        "audience": audience_summary(broadcast.audience or {}),
        "text": broadcast.text,
        "template_name": broadcast.template_name,
        "created_at": iso(broadcast.created_at),
        "started_at": iso(broadcast.started_at),
        "finished_at": iso(broadcast.finished_at),
        "total": sum(counts[s] for s in m.RECIPIENT_STATUSES),
        "queued": counts["pending"],
        "in_flight": in_flight,
        "sent": counts["sent"] + counts["delivered"] + counts["read"],
        "delivered": counts["delivered"] + counts["read"],
        "read": counts["read"],
        "failed": counts["failed"],
        "needs_review": needs_review,
        "skipped": counts["skipped"],
    }


# ------------------------------------------------------------------------------------------------ sending


class TokenBucket:
    """At most `rate` acquisitions per second on average, with bursts of up to `burst`."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = max(1.0, burst if burst is not None else rate / 10)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


@dataclass(frozen=True)
class _Content:
    text: str | None
    template_name: str | None
    language: str
    params: tuple[str, ...]


@dataclass(frozen=True)
class _Item:
    id: int
    phone: str
    name: str | None
    mode: str  # "text" | "template"


def callback_tag(broadcast_id: int, recipient_id: int) -> str:
    """What a broadcast message carries in `biz_opaque_callback_data` (and so in its `whatsapp_messages` row)."""
    return f"hsm:broadcast:{broadcast_id}:recipient:{recipient_id}"


def _message_tag(row: m.WhatsAppMessage) -> str | None:
    payload = (row.message_metadata or {}).get("payload") or {}
    return payload.get("biz_opaque_callback_data") if isinstance(payload, dict) else None


def _start_run(broadcast_id: int) -> _Content | None:
    """Mark the broadcast running; None when it is finished or cancelled (nothing to do)."""
    with session_scope() as session:
        broadcast = session.get(m.Broadcast, broadcast_id)
        if broadcast is None:
            raise BroadcastError("broadcast_id", f"no broadcast {broadcast_id}", "not_found")
        if broadcast.status in ("done", "cancelled"):
            return None
        broadcast.status = "running"
        broadcast.started_at = broadcast.started_at or clock.utcnow()
        template = None
        if broadcast.template_name:
            template = session.execute(select(m.WhatsAppTemplate).where(
                m.WhatsAppTemplate.template_name == broadcast.template_name,
                m.WhatsAppTemplate.status == "approved")).scalars().first()
            if template is None:
                log.error("broadcast %d: template %s is no longer approved; only in-window recipients get the text",
                          broadcast_id, broadcast.template_name)
        return _Content(broadcast.text, template.template_name if template else None,
                        template.language if template else "en", tuple(broadcast.template_params or ()))


def reconcile_in_flight(broadcast_id: int) -> Counter:
    """Settle recipients a crashed worker left claimed: by the `whatsapp_messages` row carrying their tag, else
    `failed` with an unknown outcome (never resent). Returns how many became each status."""
    outcome: Counter = Counter()
    with session_scope() as session:
        rows = session.execute(select(m.BroadcastRecipient).where(
            m.BroadcastRecipient.broadcast_id == broadcast_id, m.BroadcastRecipient.status == "pending",
            m.BroadcastRecipient.attempts > 0).order_by(m.BroadcastRecipient.id)).scalars().all()
        for recipient in rows:
            tag = callback_tag(broadcast_id, recipient.id)
            claimed_at = clock.as_utc(recipient.updated_at) - timedelta(minutes=1)
            records = [row for row in session.execute(
                select(m.WhatsAppMessage).where(
                    m.WhatsAppMessage.phone_number == recipient.phone_number,
                    m.WhatsAppMessage.direction == "outbound", m.WhatsAppMessage.created_at >= claimed_at)
                .order_by(m.WhatsAppMessage.id)).scalars() if _message_tag(row) == tag]
            accepted = [row for row in records if row.whatsapp_message_id]
            if accepted:
                recipient.status = _recipient_status(accepted[0].status)
                recipient.whatsapp_message_id = accepted[0].whatsapp_message_id
                recipient.error_message = None
            elif records:
                recipient.status = "failed"
                recipient.error_message = (records[-1].error_message or "send failed")[:1000]
            else:
                recipient.status, recipient.error_message = "failed", UNKNOWN_OUTCOME
            recipient.updated_at = clock.utcnow()
            outcome[recipient.status] += 1
            log.warning("broadcast %d: recipient %s was left in flight; now %s%s", broadcast_id,
                        mask_phone(recipient.phone_number), recipient.status,
                        " (needs review)" if recipient.error_message == UNKNOWN_OUTCOME else "")
    return outcome


def _phones_in_window(session: Session, phones: Sequence[str], now: datetime) -> set[str]:
    open_since = now - SERVICE_WINDOW + WINDOW_MARGIN
    rows = session.execute(
        select(m.WhatsAppMessage.phone_number, func.max(m.WhatsAppMessage.created_at))
        .where(m.WhatsAppMessage.direction == "inbound", m.WhatsAppMessage.phone_number.in_(list(phones)))
        .group_by(m.WhatsAppMessage.phone_number)
    )
    return {phone for phone, last in rows if last is not None and clock.as_utc(last) >= open_since}


def _next_chunk(broadcast_id: int, after_id: int, size: int, content: _Content) -> tuple[list[_Item], int | None]:
    """The next unclaimed recipients after `after_id`, each with how it will be reached; those that cannot be
    (opted out since, or outside the window with no template) are marked skipped here. (items, last id seen)."""
    with session_scope() as session:
        rows = session.execute(
            select(m.BroadcastRecipient.id, m.BroadcastRecipient.phone_number, m.BroadcastRecipient.name)
            .where(m.BroadcastRecipient.broadcast_id == broadcast_id, m.BroadcastRecipient.status == "pending",
                   m.BroadcastRecipient.attempts == 0, m.BroadcastRecipient.id > after_id)
            .order_by(m.BroadcastRecipient.id).limit(size)
        ).all()
        if not rows:
            return [], None
        phones = [row.phone_number for row in rows]
        opted_out = opted_out_phones(session, phones, "announcements")
        in_window = _phones_in_window(session, phones, clock.utcnow()) if content.text else set()
        items: list[_Item] = []
        for row in rows:
            reason = None
            if row.phone_number in opted_out:
                reason = OPTED_OUT
            elif content.text and row.phone_number in in_window:
                items.append(_Item(row.id, row.phone_number, row.name, "text"))
            elif content.template_name:
                items.append(_Item(row.id, row.phone_number, row.name, "template"))
            else:
                reason = NO_WINDOW
            if reason:
                session.execute(
                    update(m.BroadcastRecipient)
                    .where(m.BroadcastRecipient.id == row.id, m.BroadcastRecipient.status == "pending",
                           m.BroadcastRecipient.attempts == 0)
                    .values(status="skipped", error_message=reason, updated_at=clock.utcnow())
                    .execution_options(synchronize_session=False))
        return items, rows[-1].id


def _claim(recipient_id: int) -> bool:
    """Step 1 of the protocol: only the worker whose update changes the row may send to it."""
    with session_scope() as session:
        result = session.execute(
            update(m.BroadcastRecipient)
            .where(m.BroadcastRecipient.id == recipient_id, m.BroadcastRecipient.status == "pending",
                   m.BroadcastRecipient.attempts == 0)
            .values(attempts=m.BroadcastRecipient.attempts + 1, updated_at=clock.utcnow())
            .execution_options(synchronize_session=False))
        return result.rowcount == 1


def _record(recipient_id: int, status: str, wamid: str | None, error: str | None) -> None:
    """Step 3: the outcome (by id alone, so it also corrects a concurrent reconciliation's guess)."""
    with session_scope() as session:
        session.execute(
            update(m.BroadcastRecipient).where(m.BroadcastRecipient.id == recipient_id)
            .values(status=status, whatsapp_message_id=wamid, error_message=error, updated_at=clock.utcnow())
            .execution_options(synchronize_session=False))


def _finish_run(broadcast_id: int) -> dict:
    with session_scope() as session:
        left = session.execute(select(func.count()).select_from(m.BroadcastRecipient).where(
            m.BroadcastRecipient.broadcast_id == broadcast_id, m.BroadcastRecipient.status == "pending")).scalar_one()
        broadcast = session.get(m.Broadcast, broadcast_id)
        if left == 0 and broadcast.status == "running":
            broadcast.status = "done"
            broadcast.finished_at = clock.utcnow()
        return broadcast_progress(session, broadcast_id)


class _Sender:
    """One run over a broadcast's unclaimed recipients: rate-limited, bounded, stoppable without loss."""

    def __init__(self, broadcast_id: int, client: WhatsAppClient, content: _Content, rate_per_s: float,
                 concurrency: int, chunk_size: int) -> None:
        self.broadcast_id = broadcast_id
        self.client = client
        self.content = content
        self.bucket = TokenBucket(rate_per_s)
        self.slots = asyncio.Semaphore(concurrency)
        self.chunk_size = chunk_size
        self.in_flight: set[asyncio.Task] = set()
        self.fatal: BaseException | None = None
        self.outcomes: Counter = Counter()

    def message(self, item: _Item) -> dict:
        tag = callback_tag(self.broadcast_id, item.id)
        if item.mode == "text":
            return {"type": "text", "text": {"body": self.content.text, "preview_url": False},
                    "biz_opaque_callback_data": tag}
        params = [p.replace(NAME_PLACEHOLDER, first_name(item.name)) for p in self.content.params]
        components = [{"type": "body", "parameters": [{"type": "text", "text": p} for p in params]}] if params else []
        return {"type": "template", "template": {"name": self.content.template_name,
                                                 "language": {"code": self.content.language},
                                                 "components": components},
                "biz_opaque_callback_data": tag}

    async def deliver(self, item: _Item) -> None:
        if not await asyncio.to_thread(_claim, item.id):
            self.outcomes["claimed_elsewhere"] += 1
            return
        try:
            # replying=True: the window was checked when the chunk was prepared (templates need none).
            result = await self.client.send(item.phone, self.message(item), replying=True)
        except CloudApiError as error:
            detail = f"{error} (HTTP {error.status}, code {error.code})" if error.status else str(error)
            await asyncio.to_thread(_record, item.id, "failed", None, detail[:1000])
            self.outcomes["failed"] += 1
            return
        await asyncio.to_thread(_record, item.id, "sent", result.wamid or None, None)
        self.outcomes["sent"] += 1

    def _done(self, task: asyncio.Task) -> None:
        self.in_flight.discard(task)
        self.slots.release()
        if not task.cancelled() and task.exception() is not None and self.fatal is None:
            self.fatal = task.exception()
            log.error("broadcast %d: stopping after an unexpected error: %r", self.broadcast_id, self.fatal)

    async def run(self) -> None:
        after_id = 0
        fetch = asyncio.create_task(asyncio.to_thread(_next_chunk, self.broadcast_id, after_id, self.chunk_size,
                                                      self.content))
        try:
            while self.fatal is None:
                items, last_id = await fetch
                if last_id is None:
                    break
                fetch = asyncio.create_task(asyncio.to_thread(_next_chunk, self.broadcast_id, last_id,
                                                              self.chunk_size, self.content))
                for item in items:
                    await self.slots.acquire()
                    if self.fatal is not None:
                        self.slots.release()
                        break
                    await self.bucket.acquire()
                    task = asyncio.create_task(self.deliver(item))
                    self.in_flight.add(task)
                    task.add_done_callback(self._done)
        finally:
            if not fetch.done():
                fetch.cancel()
            with contextlib.suppress(BaseException):
                await fetch
            # A graceful stop: the sends already started finish and record their outcome, even if the stop (a
            # cancellation) arrives while we wait for them; the cancellation is passed on afterwards.
            cancelled = False
            while self.in_flight:
                try:
                    await asyncio.shield(asyncio.gather(*self.in_flight, return_exceptions=True))
                except asyncio.CancelledError:
                    cancelled = True
            if cancelled:
                raise asyncio.CancelledError
        if self.fatal is not None:
            raise self.fatal


async def run_broadcast(broadcast_id: int, client: WhatsAppClient, rate_per_s: float = DEFAULT_RATE_PER_S, *,
                        concurrency: int | None = None, chunk_size: int = CHUNK_SIZE) -> dict:
    """Send a broadcast to its unclaimed recipients (resuming one that was interrupted) and return its progress.

    Sends at most `rate_per_s` messages a second (token bucket), `concurrency` at a time (default: the rate, 4 to
    100). Cancelling it stops claiming, waits for the sends in flight, then raises CancelledError: a later run
    carries on where it stopped."""
    if rate_per_s <= 0:
        raise ValueError("rate_per_s must be positive")
    content = await asyncio.to_thread(_start_run, broadcast_id)
    if content is None:
        return await asyncio.to_thread(_progress, broadcast_id)
    settled = await asyncio.to_thread(reconcile_in_flight, broadcast_id)
    if settled:
        log.warning("broadcast %d: settled recipients left in flight: %s", broadcast_id, dict(settled))
    concurrency = concurrency or max(4, min(100, int(rate_per_s)))
    sender = _Sender(broadcast_id, client, content, rate_per_s, concurrency, chunk_size)
    started = time.monotonic()
    log.info("broadcast %d: sending at up to %.0f/s, %d at a time", broadcast_id, rate_per_s, concurrency)
    await sender.run()
    progress = await asyncio.to_thread(_finish_run, broadcast_id)
    log.info("broadcast %d: run finished in %.1fs: %s; totals sent %d, failed %d, skipped %d, queued %d",
             broadcast_id, time.monotonic() - started, dict(sender.outcomes), progress["sent"], progress["failed"],
             progress["skipped"], progress["queued"])
    return progress


def _progress(broadcast_id: int) -> dict:
    with session_scope() as session:
        return broadcast_progress(session, broadcast_id)


# ------------------------------------------------------------------------------------------------ queue


@dataclass(frozen=True)
class Enqueued:
    broadcast_id: int
    backend: str  # "rq" or "thread"
    job_id: str
    thread: threading.Thread | None = None


def broadcast_rate() -> float:
    """HSM_BROADCAST_RATE messages a second (default 80, Meta's default throughput)."""
    raw = os.environ.get("HSM_BROADCAST_RATE") or ""
    try:
        rate = float(raw) if raw.strip() else DEFAULT_RATE_PER_S
    except ValueError as error:
        raise ValueError(f"HSM_BROADCAST_RATE={raw!r} is not a number") from error
    if rate <= 0:
        raise ValueError("HSM_BROADCAST_RATE must be positive")
    return rate


_RUNNING: dict[object, tuple[asyncio.AbstractEventLoop, asyncio.Task]] = {}
_RUNNING_LOCK = threading.Lock()


def broadcast_job(broadcast_id: int) -> dict:
    """The queue job: run the broadcast with a client built from the environment (blocking). SIGTERM (in a main
    thread) or `stop_running_broadcasts` stops it gracefully: it raises CancelledError and a later run resumes."""

    async def main() -> dict:
        loop, task, key = asyncio.get_running_loop(), asyncio.current_task(), object()
        if threading.current_thread() is threading.main_thread():
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signal.SIGTERM, task.cancel)
        with _RUNNING_LOCK:
            _RUNNING[key] = (loop, task)
        try:
            async with WhatsAppClient.from_settings() as client:
                return await run_broadcast(broadcast_id, client, broadcast_rate())
        finally:
            with _RUNNING_LOCK:
                _RUNNING.pop(key, None)

    return asyncio.run(main())


def stop_running_broadcasts(timeout_s: float = 30.0) -> int:
    """Gracefully stop the broadcasts running in this process's threads (at `hsm api` shutdown): no new claims,
    sends in flight finish and are recorded. Returns how many were asked to stop."""
    with _RUNNING_LOCK:
        running = list(_RUNNING.values())
    for loop, task in running:
        with contextlib.suppress(RuntimeError):  # its loop may have just closed
            loop.call_soon_threadsafe(task.cancel)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with _RUNNING_LOCK:
            if not _RUNNING:
                break
        time.sleep(0.05)
    return len(running)


def _thread_job(broadcast_id: int) -> None:
    try:
        broadcast_job(broadcast_id)
    except asyncio.CancelledError:
        log.warning("broadcast %d stopped; it resumes on the next start", broadcast_id)
    except Exception:  # noqa: BLE001 - a background thread has nobody to raise to
        log.exception("broadcast %d failed in the background; it resumes on the next start", broadcast_id)


def redis_connection(url: str | None = None):
    from redis import Redis

    url = url or get_settings().redis_url
    if not url:
        raise RuntimeError("REDIS_URL is not set")
    return Redis.from_url(url)


def enqueue_broadcast(broadcast_id: int) -> Enqueued:
    """Queue the broadcast: an RQ job on "broadcasts" when REDIS_URL is set, else a background thread here."""
    url = get_settings().redis_url
    if url:
        from rq import Queue, Retry

        queue = Queue(QUEUE_BROADCASTS, connection=redis_connection(url))
        job = queue.enqueue_call(
            "hsm.outreach.broadcast.broadcast_job", args=(broadcast_id,),
            job_id=f"hsm-broadcast-{broadcast_id}-{uuid.uuid4().hex[:8]}", timeout=JOB_TIMEOUT_S,
            retry=Retry(max=3, interval=[10, 60, 300]), description=f"broadcast {broadcast_id}")
        log.info("broadcast %d queued as RQ job %s", broadcast_id, job.id)
        return Enqueued(broadcast_id, "rq", job.id)
    thread = threading.Thread(target=_thread_job, args=(broadcast_id,), name=f"hsm-broadcast-{broadcast_id}",
                              daemon=True)
    thread.start()
    return Enqueued(broadcast_id, "thread", thread.name, thread)


def unfinished_broadcasts() -> list[int]:
    """Broadcasts queued or interrupted (still running, with recipients pending)."""
    with session_scope() as session:
        pending = select(m.BroadcastRecipient.broadcast_id).where(m.BroadcastRecipient.status == "pending")
        return list(session.execute(
            select(m.Broadcast.id).where(m.Broadcast.status.in_(("queued", "running")), m.Broadcast.id.in_(pending))
            .order_by(m.Broadcast.id)).scalars())


def resume_broadcasts() -> list[Enqueued]:
    """Queue every unfinished broadcast again (at start-up of `hsm worker`, or of `hsm api` without Redis).
    Safe even if one is still running elsewhere: recipients are claimed one by one."""
    resumed = [enqueue_broadcast(broadcast_id) for broadcast_id in unfinished_broadcasts()]
    if resumed:
        log.info("resumed broadcasts %s", ", ".join(str(item.broadcast_id) for item in resumed))
    return resumed


def run_worker(burst: bool = False) -> int:
    """`hsm worker`: an RQ worker for the "broadcasts" and "reminders" queues (needs REDIS_URL)."""
    from rq import Worker

    if not get_settings().redis_url:
        log.error("REDIS_URL is not set: without Redis, broadcasts run inside `hsm api` and reminders inside "
                  "`hsm scheduler`; there is nothing for a worker to do")
        return 2
    connection = redis_connection()
    resume_broadcasts()
    worker = Worker([QUEUE_BROADCASTS, QUEUE_REMINDERS], connection=connection)
    worker.work(burst=burst, with_scheduler=True)
    return 0
