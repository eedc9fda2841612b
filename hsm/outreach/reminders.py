"""Scheduled reminders: fees coming due and overdue (with "Send payment link" / "I'll pay today" buttons that lead
into the payment flow), and classes about to start. Each goes out once per due date or class and recipient.

Rules (the school's clock, `HSM_NOW` aware):
- fee due: an active enrollment whose `next_due` is exactly N days ahead, for each N in `HSM_FEE_REMINDER_DAYS`
  ("3" by default; a list such as "7,3" sends one reminder per offset; "0" adds one on the due date itself).
  A fee due today is neither "N days ahead" (unless 0 is listed) nor overdue: it becomes overdue tomorrow, the same
  as `billing.Balance.overdue` (next_due < today).
- fee overdue: `next_due` before today; one reminder per enrollment and due date, however long it stays unpaid.
- Fee reminders go out only between `HSM_FEE_REMINDER_HOURS` ("09:00-20:00" by default), so nobody is messaged at
  midnight when a due date passes; a day on which the scheduler never ran in those hours is not caught up.
- Nor on a day the whole school is closed (a holiday, or an office closure of the whole school:
  `hsm.classes.closures`): a "due in N days" reminder that falls on such a day goes out on the first open day
  after it (still before the due date), an overdue one on the next open day. A closure of some batches only does
  not hold fee reminders back: the office is open.
- class: a meeting that will be held (holidays, the office's closures and teacher leave skipped, see
  `schedule.meetings_between`) and starts within the next `HSM_CLASS_REMINDER_MINUTES` (30) minutes.
- Recipients as for broadcasts (`broadcast.student_contacts`): a minor's guardians, else the student's phone;
  students and guardians who left get none.
  Numbers that opted out (`is_active` false, or `preferences["reminders"]` false) are skipped.
- Once: `reminders_sent` is unique on (kind, subject, phone). The row is inserted with status "sending" before the
  send and updated after ("sent" free-form, "template", or "failed"); a crash in between leaves "sending", which
  is never resent (at most once, like broadcasts). Failed reminders are not retried.
- Free-form (with the buttons) inside the 24-hour window, else the approved `payment_reminder` / `class_reminder`
  template.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from hsm.classes import closures, schedule
from hsm.infra import clock, correlation, metrics
from hsm.infra import models as m
from hsm.infra.config import get_settings
from hsm.infra.db import session_scope
from hsm.infra.phone import mask_phone
from hsm.outreach.broadcast import QUEUE_REMINDERS, first_name, opted_out_phones, redis_connection, student_contacts
from hsm.whatsapp import store
from hsm.whatsapp.client import CloudApiError, WhatsAppClient

log = logging.getLogger("hsm.outreach.reminders")

FEE_DUE, FEE_OVERDUE, CLASS = "fee_due", "fee_overdue", "class"
PAYMENT_TEMPLATE, CLASS_TEMPLATE = "payment_reminder", "class_reminder"
# Reply-button ids reach Rasa as payloads; Meta wants them unique, so "pay today" carries a date entity.
PAYMENT_BUTTONS = (
    ("Send payment link", "/request_payment_link"),
    ("I'll pay today", '/request_payment_link{"date": "today"}'),
)
SENDING = "sending"
SCHOOL_AS_TEACHER = "HSM"  # the class_reminder template's teacher while a batch has none


@dataclass(frozen=True)
class PlannedReminder:
    kind: str  # fee_due | fee_overdue | class
    subject: str  # "enrollment:12:2026-12-04:3d", "enrollment:9:2026-11-25", "class:GTR-BEG-TT17:2026-12-01T17:00"
    phone: str
    recipient_name: str
    students: tuple[str, ...]
    text: str
    template: str
    template_params: tuple[str, ...]
    buttons: tuple[tuple[str, str], ...] = ()

    def message(self) -> dict:
        """The free-form message: reply buttons when there are any, else text."""
        if not self.buttons:
            return {"type": "text", "text": {"body": self.text, "preview_url": False}}
        return {
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": {"text": self.text},
                "action": {
                    "buttons": [
                        {"type": "reply", "reply": {"id": payload, "title": title}} for title, payload in self.buttons
                    ]
                },
            },
        }


@dataclass(frozen=True)
class ReminderResult:
    reminder: PlannedReminder
    outcome: str  # planned (dry run) | sent | template | failed | already_sent
    error: str | None = None


# ------------------------------------------------------------------------------------------------ settings


def fee_reminder_days() -> tuple[int, ...]:
    """HSM_FEE_REMINDER_DAYS: days before the due date, largest first (hsm.infra.config)."""
    return get_settings().reminders.fee_days


def class_reminder_minutes() -> int:
    """HSM_CLASS_REMINDER_MINUTES: minutes before the class starts."""
    return get_settings().reminders.class_minutes


def fee_reminder_hours() -> tuple[time, time]:
    """HSM_FEE_REMINDER_HOURS: the hours fee reminders may go out."""
    return get_settings().reminders.fee_hours


# ------------------------------------------------------------------------------------------------ texts


def day_label(day: date, today: date) -> str:
    """'Tue, Dec 8' (with the year when it is not this year)."""
    text = f"{day:%a}, {day:%b} {day.day}"
    return text if day.year == today.year else f"{text}, {day.year}"


def time_label(moment: datetime) -> str:
    return moment.strftime("%I:%M %p").lstrip("0")


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _whose(own: bool, students: list[str]) -> str:
    return "your" if own else f"{_join(students)}'s"


# ------------------------------------------------------------------------------------------------ planning


def _fee_offset_due(next_due: date, today: date, offsets: set[int], closed: closures.ClosedDays) -> int | None:
    """The "due in N days" offset whose reminder goes out today: N days before `next_due`, or, when that day and
    every day since were school-closed days, today as the first open day after it. The smallest when several."""
    days = (next_due - today).days
    if days in offsets:
        return days
    for offset in sorted(offsets):
        planned = next_due - timedelta(days=offset)
        if planned < today and all(
            closed.school_closed(planned + timedelta(days=n)) for n in range((today - planned).days)
        ):
            return offset
    return None


def _fee_drafts(session: Session, today: date) -> list[PlannedReminder]:
    offsets = set(fee_reminder_days())
    # A whole-school closure lasts at most closures.MAX_DAYS: look that far back for reminders held back by one.
    closed = closures.closed_days(
        session, today - timedelta(days=closures.MAX_DAYS + max(offsets, default=0)), today, ()
    )
    if closed.school_closed(today):
        return []
    enrollments = session.execute(
        select(m.Enrollment)
        .join(m.Student, m.Student.id == m.Enrollment.student_id)
        .where(m.Enrollment.status == "active", m.Enrollment.next_due.is_not(None), m.Student.active.is_(True))
        .options(
            selectinload(m.Enrollment.batch).selectinload(m.Batch.course),
            selectinload(m.Enrollment.student)
            .selectinload(m.Student.guardian_links)
            .selectinload(m.StudentGuardian.guardian),
        )
        .order_by(m.Enrollment.next_due, m.Enrollment.id)
    ).scalars()
    planned: list[PlannedReminder] = []
    for enrollment in enrollments:
        days = (enrollment.next_due - today).days
        offset = None if days < 0 else _fee_offset_due(enrollment.next_due, today, offsets, closed)
        if days < 0:
            kind, subject = FEE_OVERDUE, f"enrollment:{enrollment.id}:{enrollment.next_due.isoformat()}"
        elif offset is not None:
            kind, subject = FEE_DUE, f"enrollment:{enrollment.id}:{enrollment.next_due.isoformat()}:{offset}d"
        else:
            continue
        student = enrollment.student
        course = enrollment.batch.course.name
        due = day_label(enrollment.next_due, today)
        for contact in student_contacts(student, today):
            own = contact.phone == student.phone
            child = first_name(student.name)
            greeting = first_name(contact.name)
            what = f"{_whose(own, [child])} {enrollment.plan} payment of ₹{enrollment.fee} for {course}"
            if kind == FEE_OVERDUE:
                text = f"💰 Hi {greeting}, {what} was due on {due} and is now overdue."
                due_param = f"{due} (overdue)"
            elif days == 0:
                text = f"💰 Hi {greeting}, {what} is due today, {due}."
                due_param = due
            else:
                text = f"💰 Hi {greeting}, {what} is due on {due}."
                due_param = due
            course_param = course if own else f"{course} ({child})"
            planned.append(
                PlannedReminder(
                    kind,
                    subject,
                    contact.phone,
                    contact.name or "",
                    (student.name,),
                    text,
                    PAYMENT_TEMPLATE,
                    (greeting, enrollment.plan, str(enrollment.fee), course_param, due_param),
                    PAYMENT_BUTTONS,
                )
            )
    return planned


def _class_drafts(session: Session, now: datetime) -> list[PlannedReminder]:
    horizon = now + timedelta(minutes=class_reminder_minutes())
    batches = list(
        session.execute(
            select(m.Batch)
            .where(m.Batch.active.is_(True))
            .options(selectinload(m.Batch.slots), selectinload(m.Batch.course), selectinload(m.Batch.teacher))
        ).scalars()
    )
    today = now.date()
    meetings = [
        meeting
        for meeting in schedule.meetings_between(session, batches, today, horizon.date())
        if meeting.held and now < meeting.starts_at <= horizon
    ]
    planned: list[PlannedReminder] = []
    for meeting in meetings:
        batch = meeting.batch
        subject = f"class:{batch.code}:{meeting.starts_at:%Y-%m-%dT%H:%M}"
        by_phone: dict[str, tuple[str, bool, list[str]]] = {}
        students = session.execute(
            select(m.Student)
            .join(m.Enrollment, m.Enrollment.student_id == m.Student.id)
            .where(m.Enrollment.batch_id == batch.id, m.Enrollment.status == "active", m.Student.active.is_(True))
            .options(selectinload(m.Student.guardian_links).selectinload(m.StudentGuardian.guardian))
            .order_by(m.Student.enrollment_id)
        ).scalars()
        for student in students:
            for contact in student_contacts(student, today):
                name, own, children = by_phone.setdefault(contact.phone, (contact.name or "", True, []))
                own = own and contact.phone == student.phone
                children.append(first_name(student.name))
                by_phone[contact.phone] = (name, own, children)
        when = time_label(meeting.starts_at)
        day = "today" if meeting.class_date == today else "tomorrow"
        room = f" ({batch.room})" if batch.room else ""
        on_duty = schedule.teacher_on_duty(batch)  # none while the batch's teacher has left
        teacher = on_duty.display_name if on_duty is not None else SCHOOL_AS_TEACHER
        with_whom = f" with {teacher}" if on_duty is not None else ""
        for phone, (name, own, children) in by_phone.items():
            greeting = first_name(name)
            text = (
                f"🎵 Hi {greeting}, reminder: {_whose(own, children)} {batch.name} class{with_whom} "
                f"starts at {when} {day}{room}."
            )
            course_param = batch.name if own else f"{batch.name} ({_join(children)})"
            planned.append(
                PlannedReminder(
                    CLASS,
                    subject,
                    phone,
                    name,
                    tuple(children),
                    text,
                    CLASS_TEMPLATE,
                    (greeting, course_param, teacher, when),
                )
            )
    return planned


def _already_sent(session: Session, planned: list[PlannedReminder]) -> set[tuple[str, str, str]]:
    subjects = sorted({reminder.subject for reminder in planned})
    sent: set[tuple[str, str, str]] = set()
    for start in range(0, len(subjects), 500):
        rows = session.execute(
            select(m.ReminderSent.kind, m.ReminderSent.subject, m.ReminderSent.phone_number).where(
                m.ReminderSent.subject.in_(subjects[start : start + 500])
            )
        )
        sent.update(tuple(row) for row in rows)
    return sent


def due_reminders(session: Session, now: datetime | None = None) -> list[PlannedReminder]:
    """The reminders that should go out at `now` and have not gone out yet (opted-out numbers left out)."""
    now = (now or clock.now()).astimezone(clock.school_timezone())
    planned: list[PlannedReminder] = []
    start, end = fee_reminder_hours()
    if start <= now.time().replace(tzinfo=None) < end:
        planned += _fee_drafts(session, now.date())
    planned += _class_drafts(session, now)
    if not planned:
        return []
    opted_out = opted_out_phones(session, {reminder.phone for reminder in planned}, "reminders")
    sent = _already_sent(session, planned)
    unique: dict[tuple[str, str, str], PlannedReminder] = {}
    for reminder in planned:
        key = (reminder.kind, reminder.subject, reminder.phone)
        if reminder.phone not in opted_out and key not in sent:
            unique.setdefault(key, reminder)
    return list(unique.values())


# ------------------------------------------------------------------------------------------------ sending


def _claim(reminder: PlannedReminder) -> bool:
    try:
        with session_scope() as session:
            session.add(
                m.ReminderSent(
                    kind=reminder.kind, subject=reminder.subject, phone_number=reminder.phone, status=SENDING
                )
            )
        return True
    except IntegrityError:
        return False


def _mark(reminder: PlannedReminder, status: str) -> None:
    with session_scope() as session:
        session.execute(
            update(m.ReminderSent)
            .where(
                m.ReminderSent.kind == reminder.kind,
                m.ReminderSent.subject == reminder.subject,
                m.ReminderSent.phone_number == reminder.phone,
            )
            .values(status=status)
            .execution_options(synchronize_session=False)
        )


def _plan(now: datetime) -> list[PlannedReminder]:
    with session_scope() as session:
        return due_reminders(session, now)


async def _send_one(client: WhatsAppClient, reminder: PlannedReminder) -> ReminderResult:
    if not await asyncio.to_thread(_claim, reminder):
        return ReminderResult(reminder, "already_sent")
    try:
        if await asyncio.to_thread(store.in_service_window, reminder.phone):
            await client.send(reminder.phone, reminder.message(), replying=True)
            outcome = "sent"
        else:
            await client.send_template(reminder.phone, reminder.template, "en", list(reminder.template_params))
            outcome = "template"
    except CloudApiError as error:
        log.error("%s reminder to %s failed: %s", reminder.kind, mask_phone(reminder.phone), error)
        await asyncio.to_thread(_mark, reminder, "failed")
        return ReminderResult(reminder, "failed", str(error))
    await asyncio.to_thread(_mark, reminder, outcome)
    log.info("%s reminder sent to %s (%s)", reminder.kind, mask_phone(reminder.phone), outcome)
    return ReminderResult(reminder, outcome)


async def send_reminders(
    now: datetime | None = None, client: WhatsAppClient | None = None, dry_run: bool = False
) -> list[ReminderResult]:
    """Send (or with `dry_run`, only list) the reminders due at `now`. Without a client, one is built from the
    environment and closed afterwards."""
    now = now or clock.now()
    planned = await asyncio.to_thread(_plan, now)
    if dry_run:
        return [ReminderResult(reminder, "planned") for reminder in planned]
    if not planned:
        return []
    own_client = client is None
    client = client or WhatsAppClient.from_settings(ledger=store.LEDGER)
    try:
        results = [await _send_one(client, reminder) for reminder in planned]
        for result in results:
            metrics.REMINDERS.labels(result.reminder.kind, result.outcome).inc()
        return results
    finally:
        if own_client:
            await client.close()


def reminders_job() -> dict:
    """The scheduled job (in `hsm scheduler`, or on the RQ queue "reminders"): send what is due now, each run
    with a correlation id of its own on its log lines."""
    with correlation.bound(correlation.new_id()):
        results = asyncio.run(send_reminders(clock.now()))
        counts: dict[str, int] = {}
        for result in results:
            counts[result.outcome] = counts.get(result.outcome, 0) + 1
        if results:
            log.info("reminders: %s", counts)
        return counts


def reminders_tick() -> None:
    """Each minute: queue the reminders job on RQ when REDIS_URL is set, else run it here."""
    url = get_settings().redis.url
    if url:
        from rq import Queue

        minute = clock.now().strftime("%Y%m%dT%H%M")
        Queue(QUEUE_REMINDERS, connection=redis_connection(url)).enqueue_call(
            "hsm.outreach.reminders.reminders_job",
            job_id=f"hsm-reminders-{minute}",
            timeout=600,
            result_ttl=3600,
            description=f"reminders {minute}",
        )
        return
    try:
        reminders_job()
    except Exception:  # noqa: BLE001 - the scheduler must keep ticking
        log.exception("reminders run failed")
