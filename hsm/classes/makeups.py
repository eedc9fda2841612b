"""Makeup credits: the school's policy (`HSM_MAKEUP_*`), the credit a class missed with notice earns, open credits.

`grant_credit_for_notice(...)` returns the credit, or None when the policy gives none; `why_no_credit(...)` with
the same arguments is then the sentence to show the family (it is the check the grant makes). Where a credit can be
used is `hsm.classes.makeup_slots`; booking and cancelling are `hsm.classes.makeup_bookings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hsm.classes.dates import day_label, time_label
from hsm.classes.schedule import ClassMeeting, meetings_between
from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.config import get_settings
from hsm.records.changes import record_change, snapshot

CREDIT_FIELDS = ("student_id", "batch_id", "class_date", "noticed_at", "expires_on", "status")


def _hours(value: float) -> str:
    """4.0 -> '4 hours', 1 -> '1 hour', 1.5 -> '1.5 hours'."""
    number = f"{value:g}"
    return f"{number} hour" if number == "1" else f"{number} hours"


@dataclass(frozen=True)
class Policy:
    """The school's makeup policy, as set (hsm.infra.config.Makeups)."""

    notice_hours: float
    credit_days: int
    credits_per_month: int

    @classmethod
    def current(cls) -> Policy:
        section = get_settings().makeups
        return cls(section.notice_hours, section.credit_days, section.credits_per_month)

    @property
    def text(self) -> str:
        """The policy in one sentence, for families."""
        return (
            f"A class missed with at least {_hours(self.notice_hours)}' notice earns a makeup credit, to be used "
            f"within {self.credit_days} days in another batch of the same course and level with a free seat "
            f"(at most {self.credits_per_month} credits a month)."
        )


def missed_meeting(session: Session, batch_id: int, class_date: date) -> ClassMeeting | None:
    """The batch's meeting on that day (held or not), or None when it does not meet that day."""
    batch = session.get(m.Batch, batch_id)
    if batch is None:
        return None
    return next(iter(meetings_between(session, [batch], class_date, class_date)), None)


def credit_for(session: Session, student_id: int, batch_id: int, class_date: date) -> m.MakeupCredit | None:
    """The credit the student's class on `class_date` earned, if any (open or used)."""
    return session.execute(
        select(m.MakeupCredit).where(
            m.MakeupCredit.student_id == student_id,
            m.MakeupCredit.batch_id == batch_id,
            m.MakeupCredit.class_date == class_date,
        )
    ).scalar_one_or_none()


def _credits_in_month(session: Session, student_id: int, day: date) -> int:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return session.execute(
        select(func.count(m.MakeupCredit.id)).where(
            m.MakeupCredit.student_id == student_id,
            m.MakeupCredit.class_date >= first,
            m.MakeupCredit.class_date < following,
        )
    ).scalar_one()


def _enrolled(session: Session, student_id: int, batch_id: int) -> bool:
    return (
        session.execute(
            select(m.Enrollment.id).where(
                m.Enrollment.student_id == student_id,
                m.Enrollment.batch_id == batch_id,
                m.Enrollment.status == "active",
            )
        ).first()
        is not None
    )


def why_no_credit(
    session: Session, *, student_id: int, batch_id: int, class_date: date, noticed_at: datetime
) -> str | None:
    """Why a notice given at `noticed_at` for the student's class earns no credit (a sentence for the family), or
    None when it earns one (or already has)."""
    policy = Policy.current()
    student = session.get(m.Student, student_id)
    if student is None or not _enrolled(session, student_id, batch_id):
        return "That class is not one of the student's classes, so it earns no makeup credit."
    meeting = missed_meeting(session, batch_id, class_date)
    if meeting is None:
        return f"There is no {session.get(m.Batch, batch_id).name} class on {day_label(class_date)} to make up."
    if not meeting.held:
        return f"{meeting.batch.name} on {day_label(class_date)} is not held ({meeting.note}): nothing to make up."
    if credit_for(session, student_id, batch_id, class_date) is not None:
        return None
    if policy.credits_per_month == 0:
        return "The school does not give makeup credits at the moment."
    deadline = meeting.starts_at - timedelta(hours=policy.notice_hours)
    if noticed_at > deadline:
        return (
            f"A makeup credit needs notice at least {_hours(policy.notice_hours)} before the class (by "
            f"{time_label(deadline.astimezone(clock.school_timezone()).time())} for "
            f"{time_label(meeting.starts_at.time())}), so this absence earns none."
        )
    if _credits_in_month(session, student_id, class_date) >= policy.credits_per_month:
        return (
            f"{student.name.split()[0]} already has {policy.credits_per_month} makeup credits for "
            f"{class_date:%B}: the most one month allows, so this absence earns none."
        )
    return None


def grant_credit_for_notice(
    session: Session, *, student_id: int, batch_id: int, class_date: date, noticed_at: datetime, actor: str
) -> m.MakeupCredit | None:
    """The credit the student's class on `class_date`, missed with notice given at `noticed_at`, earns under the
    policy (the same credit again for the same class); None when it earns none: `why_no_credit` says why."""
    existing = credit_for(session, student_id, batch_id, class_date)
    if existing is not None:
        return existing
    if why_no_credit(session, student_id=student_id, batch_id=batch_id, class_date=class_date, noticed_at=noticed_at):
        return None
    credit = m.MakeupCredit(
        student_id=student_id,
        batch_id=batch_id,
        class_date=class_date,
        noticed_at=noticed_at,
        expires_on=class_date + timedelta(days=Policy.current().credit_days),
        status="open",
        created_by=actor,
    )
    session.add(credit)
    session.flush()
    record_change(
        session, actor, "makeup.credit_granted", "makeup_credits", credit.id, None, snapshot(credit, CREDIT_FIELDS)
    )
    return credit


def open_credits(session: Session, student_id: int, today: date | None = None) -> list[m.MakeupCredit]:
    """The student's credits that can still be used, the one expiring first first."""
    today = today or clock.today()
    return list(
        session.execute(
            select(m.MakeupCredit)
            .where(
                m.MakeupCredit.student_id == student_id,
                m.MakeupCredit.status == "open",
                m.MakeupCredit.expires_on >= today,
            )
            .order_by(m.MakeupCredit.expires_on, m.MakeupCredit.id)
        ).scalars()
    )
