"""Money and class balances: classes remaining per course, what is due when, what is overdue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hsm.infra import clock
from hsm.infra import models as m

LOW_BALANCE = 2  # classes; at or below this the student is told to renew


@dataclass(frozen=True)
class Balance:
    """One enrollment's standing: classes left, the fee and when it is next due."""

    enrollment_id: int
    course: str
    batch: str
    plan: str
    status: str
    classes_remaining: int
    fee: int
    next_due: date | None
    today: date

    @property
    def overdue(self) -> bool:
        return self.next_due is not None and self.next_due < self.today

    @property
    def days_until_due(self) -> int | None:
        return None if self.next_due is None else (self.next_due - self.today).days

    @property
    def low(self) -> bool:
        return self.classes_remaining <= LOW_BALANCE


def balances(session: Session, student_id: int, today: date | None = None) -> list[Balance]:
    """The student's enrollments (active and paused), in enrollment order."""
    today = today or clock.today()
    enrollments = session.execute(
        select(m.Enrollment)
        .where(m.Enrollment.student_id == student_id, m.Enrollment.status != "ended")
        .options(selectinload(m.Enrollment.batch).selectinload(m.Batch.course))
        .order_by(m.Enrollment.id)
    ).scalars()
    return [
        Balance(
            enrollment_id=e.id,
            course=e.batch.course.name,
            batch=e.batch.name,
            plan=e.plan,
            status=e.status,
            classes_remaining=e.classes_remaining,
            fee=e.fee,
            next_due=e.next_due,
            today=today,
        )
        for e in enrollments
    ]


def dues(session: Session, student_id: int, today: date | None = None, within_days: int = 30) -> list[Balance]:
    """Fees that are overdue or due within `within_days`, soonest first (paused enrollments owe nothing)."""
    upcoming = [
        b
        for b in balances(session, student_id, today)
        if b.status == "active" and b.days_until_due is not None and b.days_until_due <= within_days
    ]
    return sorted(upcoming, key=_next_due)


def _next_due(balance: Balance) -> date:
    assert balance.next_due is not None  # dues() keeps only balances with a due date
    return balance.next_due


def last_payment(session: Session, student_id: int) -> m.Payment | None:
    """The student's latest payment that stands (a reversed one does not)."""
    return session.execute(
        select(m.Payment)
        .where(m.Payment.student_id == student_id, m.Payment.reversed_at.is_(None))
        .order_by(m.Payment.paid_on.desc(), m.Payment.id.desc())
        .limit(1)
    ).scalar_one_or_none()
