"""The school's figures for a period (design §8): messages, users, intents and fallbacks, reply times, WhatsApp
attendance adoption, delivery, and payments that followed fee reminders.

Where each comes from. Messages, users, reply times and delivery: `whatsapp_messages` (the channel stores every
inbound message on arrival and every send with Meta's status). Intents: Rasa's own conversation store (the
`events` table of the tracker store, one `user` row per understood message, timed by Rasa's clock); the fallback
rate is the share of them classified `nlu_fallback` (the FallbackClassifier: the bot did not understand).
Attendance: `attendance_records.source` (a class counts as marked over WhatsApp when any of its rows came that
way). Payments after reminders: `reminders_sent` (fee reminders that went out) and `payments` on the reminded
enrollment within `days` of the reminder, reversed ones left out.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, func, inspect, select
from sqlalchemy.orm import Session

from hsm.classes.past_class import LATE_SOURCE, ON_TIME_SOURCE
from hsm.infra import clock
from hsm.infra import models as m

FALLBACK_INTENT = "nlu_fallback"
FEE_REMINDERS = ("fee_due", "fee_overdue")
REMINDERS_THAT_WENT_OUT = ("sent", "template")
DELIVERY_STATUSES = ("sent", "delivered", "read", "failed")
# The columns of Rasa 3.6's SQLTrackerStore table that the figures read (Rasa creates and owns the table).
RASA_EVENTS = Table(
    "events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("type_name", String(255)),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
)

WHATSAPP_SOURCES = {ON_TIME_SOURCE, LATE_SOURCE}  # marked over WhatsApp, on the day or after it


@dataclass(frozen=True)
class Period:
    """Days `first` to `last`, inclusive, in the school's time zone."""

    first: date
    last: date

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    @property
    def starts(self) -> datetime:
        return datetime.combine(self.first, time(), clock.school_timezone()).astimezone(timezone.utc)

    @property
    def ends(self) -> datetime:
        """The instant after the period (midnight after its last day), in UTC like the stored times."""
        return datetime.combine(self.last + timedelta(days=1), time(), clock.school_timezone()).astimezone(timezone.utc)

    def local_day(self, instant: datetime) -> date:
        return clock.as_utc(instant).astimezone(clock.school_timezone()).date()


def messages_per_day(session: Session, period: Period) -> list[dict]:
    """Each day of the period with how many messages came in and went out."""
    counts: Counter = Counter()
    rows = session.execute(
        select(m.WhatsAppMessage.direction, m.WhatsAppMessage.created_at).where(
            m.WhatsAppMessage.created_at >= period.starts, m.WhatsAppMessage.created_at < period.ends
        )
    )
    for direction, created_at in rows:
        counts[(period.local_day(created_at), direction)] += 1
    return [{"day": d, "inbound": counts[(d, "inbound")], "outbound": counts[(d, "outbound")]} for d in period.days]


def distinct_users(session: Session, period: Period) -> int:
    """How many numbers wrote to the school in the period."""
    return session.execute(
        select(func.count(func.distinct(m.WhatsAppMessage.phone_number))).where(
            m.WhatsAppMessage.direction == "inbound",
            m.WhatsAppMessage.created_at >= period.starts,
            m.WhatsAppMessage.created_at < period.ends,
        )
    ).scalar_one()


def intents(tracker: Session, period: Period) -> dict:
    """The intents Rasa recognised in the period, most frequent first, and the fallback rate (None: no message)."""
    if not inspect(tracker.get_bind()).has_table("events"):
        return {"rows": [], "total": 0, "fallbacks": 0, "fallback_rate": None}
    events = RASA_EVENTS.c
    rows = tracker.execute(
        select(events.intent_name, func.count())
        .where(
            events.type_name == "user",
            events.intent_name.is_not(None),
            events.timestamp >= period.starts.timestamp(),
            events.timestamp < period.ends.timestamp(),
        )
        .group_by(events.intent_name)
    ).all()
    ranked = sorted(rows, key=lambda row: (-row[1], row[0]))
    total = sum(count for _, count in ranked)
    fallbacks = sum(count for name, count in ranked if name == FALLBACK_INTENT)
    return {
        "rows": [{"intent": name, "count": count} for name, count in ranked],
        "total": total,
        "fallbacks": fallbacks,
        "fallback_rate": fallbacks / total if total else None,
    }


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile (`share` 0-1) of `values`; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(share * len(ordered))) - 1]


def reply_times(session: Session, period: Period) -> dict:
    """Seconds from each inbound message of the period to the first message sent back to that number after it
    (unanswered ones left out): p50, p95 and how many were answered and not."""
    inbound = session.execute(
        select(m.WhatsAppMessage.phone_number, m.WhatsAppMessage.created_at).where(
            m.WhatsAppMessage.direction == "inbound",
            m.WhatsAppMessage.created_at >= period.starts,
            m.WhatsAppMessage.created_at < period.ends,
        )
    ).all()
    sent: dict[str, list[datetime]] = defaultdict(list)
    for phone, created_at in session.execute(
        select(m.WhatsAppMessage.phone_number, m.WhatsAppMessage.created_at).where(
            m.WhatsAppMessage.direction == "outbound",
            m.WhatsAppMessage.created_at >= period.starts,
            m.WhatsAppMessage.created_at < period.ends + timedelta(days=1),
        )
    ):
        sent[phone].append(clock.as_utc(created_at))
    for times in sent.values():
        times.sort()
    waits: list[float] = []
    for phone, created_at in inbound:
        times = sent.get(phone, [])
        at = bisect.bisect_left(times, clock.as_utc(created_at))
        if at < len(times):
            waits.append((times[at] - clock.as_utc(created_at)).total_seconds())
    return {
        "p50": percentile(waits, 0.50),
        "p95": percentile(waits, 0.95),
        "answered": len(waits),
        "unanswered": len(inbound) - len(waits),
    }


def attendance_adoption(session: Session, period: Period) -> list[dict]:
    """Per teacher, the classes of the period with attendance saved, and how many were marked over WhatsApp."""
    rows = session.execute(
        select(m.AttendanceRecord.batch_id, m.AttendanceRecord.class_date, m.AttendanceRecord.source)
        .where(m.AttendanceRecord.class_date >= period.first, m.AttendanceRecord.class_date <= period.last)
        .distinct()
    ).all()
    sources: dict[tuple[int, date], set[str]] = defaultdict(set)
    for batch_id, class_date, source in rows:
        sources[(batch_id, class_date)].add(source)
    teachers = dict(
        session.execute(
            select(m.Batch.id, m.Teacher.name)
            .outerjoin(m.Teacher, m.Teacher.id == m.Batch.teacher_id)
            .where(m.Batch.id.in_({batch_id for batch_id, _ in sources}))
        ).all()
    )
    classes: Counter = Counter()
    over_whatsapp: Counter = Counter()
    for (batch_id, _), used in sources.items():
        teacher = teachers.get(batch_id) or "No teacher"
        classes[teacher] += 1
        over_whatsapp[teacher] += bool(used & WHATSAPP_SOURCES)
    return [
        {"teacher": t, "classes": classes[t], "whatsapp": over_whatsapp[t], "share": over_whatsapp[t] / classes[t]}
        for t in sorted(classes)
    ]


def delivery(session: Session, period: Period) -> dict:
    """The messages sent in the period by their last status from Meta, and the share delivered (or read)."""
    counts = Counter(
        dict(
            session.execute(
                select(m.WhatsAppMessage.status, func.count())
                .where(
                    m.WhatsAppMessage.direction == "outbound",
                    m.WhatsAppMessage.created_at >= period.starts,
                    m.WhatsAppMessage.created_at < period.ends,
                    m.WhatsAppMessage.status.in_(DELIVERY_STATUSES),
                )
                .group_by(m.WhatsAppMessage.status)
            ).all()
        )
    )
    total = sum(counts.values())
    reached = counts["delivered"] + counts["read"]
    return {
        "rows": [{"status": status, "count": counts[status]} for status in DELIVERY_STATUSES],
        "total": total,
        "rate": reached / total if total else None,
    }


def _enrollment_of(subject: str) -> int | None:
    parts = subject.split(":")
    return int(parts[1]) if len(parts) > 1 and parts[0] == "enrollment" and parts[1].isdigit() else None


def payments_after_reminders(session: Session, period: Period, days: int) -> dict:
    """Fee reminders that went out in the period, per day, with how many were followed within `days` by a payment
    on the reminded enrollment, and the rupees those payments brought (each payment counted once)."""
    reminders = session.execute(
        select(m.ReminderSent.subject, m.ReminderSent.created_at).where(
            m.ReminderSent.kind.in_(FEE_REMINDERS),
            m.ReminderSent.status.in_(REMINDERS_THAT_WENT_OUT),
            m.ReminderSent.created_at >= period.starts,
            m.ReminderSent.created_at < period.ends,
        )
    ).all()
    reminded = [(e, period.local_day(at)) for subject, at in reminders if (e := _enrollment_of(subject)) is not None]
    payments: dict[int, list[tuple[int, date, int]]] = defaultdict(list)
    if reminded:
        for payment_id, enrollment_id, paid_on, amount in session.execute(
            select(m.Payment.id, m.Payment.enrollment_id, m.Payment.paid_on, m.Payment.amount).where(
                m.Payment.enrollment_id.in_({e for e, _ in reminded}),
                m.Payment.reversed_at.is_(None),
                m.Payment.paid_on >= period.first,
                m.Payment.paid_on <= period.last + timedelta(days=days),
            )
        ):
            payments[enrollment_id].append((payment_id, paid_on, amount))
    per_day: dict[date, dict] = {d: {"day": d, "reminders": 0, "paid": 0, "amount": 0} for d in period.days}
    counted: set[int] = set()
    for enrollment_id, day in reminded:
        row = per_day[day]
        row["reminders"] += 1
        after = [p for p in payments[enrollment_id] if day <= p[1] <= day + timedelta(days=days)]
        row["paid"] += bool(after)
        for payment_id, _, amount in after:
            if payment_id not in counted:
                counted.add(payment_id)
                row["amount"] += amount
    rows = list(per_day.values())
    sent = sum(r["reminders"] for r in rows)
    paid = sum(r["paid"] for r in rows)
    return {
        "rows": rows,
        "days": days,
        "reminders": sent,
        "paid": paid,
        "amount": sum(r["amount"] for r in rows),
        "rate": paid / sent if sent else None,
    }
