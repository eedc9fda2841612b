"""Taking teacher leave back ("I can come on Friday after all"): the days named, or the whole leave coming up, are
working days again; their classes are held, and the families of those classes and the admins are told once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm.classes import leave, schedule
from hsm.classes.dates import short_day_label
from hsm.classes.leave_notices import days_text, withdrawal_notices
from hsm.classes.schedule import ClassMeeting
from hsm.infra import clock
from hsm.infra import models as m
from hsm.outreach.notices import Notice
from hsm.records.changes import record_change


@dataclass(frozen=True)
class Withdrawal:
    withdrawn: list[date]  # the days taken back
    not_on_leave: list[date]  # days named that were not on leave
    restored: list[ClassMeeting]  # the classes to come that are held again
    notices: list[Notice]


def leave_days_ahead(session: Session, teacher_id: int, today: date) -> list[date]:
    """The teacher's days on leave from `today` on, in order."""
    return list(
        session.execute(
            select(m.TeacherLeave.leave_date)
            .where(
                m.TeacherLeave.teacher_id == teacher_id,
                m.TeacherLeave.leave_date >= today,
                m.TeacherLeave.status != leave.WITHDRAWN,
            )
            .order_by(m.TeacherLeave.leave_date)
        ).scalars()
    )


def next_leave(session: Session, teacher_id: int, today: date) -> list[date]:
    """The leave coming up: the first run of days on leave in a row from `today` on ([] when there is none)."""
    run: list[date] = []
    for day in leave_days_ahead(session, teacher_id, today):
        if run and day - run[-1] != timedelta(days=1):
            break
        run.append(day)
    return run


def _rows(session: Session, teacher_id: int, days: list[date]) -> dict[date, m.TeacherLeave]:
    rows = session.execute(
        select(m.TeacherLeave).where(
            m.TeacherLeave.teacher_id == teacher_id,
            m.TeacherLeave.leave_date.in_(days),
            m.TeacherLeave.status != leave.WITHDRAWN,
        )
    ).scalars()
    return {row.leave_date: row for row in rows}


def _not_on_leave(session: Session, teacher_id: int, days: list[date], today: date) -> leave.LeaveError:
    ahead = leave_days_ahead(session, teacher_id, today)
    text = f"You're not on leave on {days_text(days)}, so there's nothing to take back."
    text += f" Your leave coming up: {days_text(ahead)}." if ahead else " You have no leave coming up."
    return leave.LeaveError(text)


def withdraw_leave(session: Session, teacher_id: int, days: list[date] | None, actor: str) -> Withdrawal:
    """Take back the teacher's leave on `days` (None: the whole leave coming up), audited through record_change.

    Raises LeaveError (written for the teacher) for a day gone by, when none of the days is on leave, or when
    there is no leave to take back. Only flushes: the caller's transaction commits and sends the notices. Makeups
    the leave cancelled stay cancelled: their families were told and have their credits back to book again.
    """
    if not actor:
        raise ValueError("withdraw_leave needs an actor for the audit log")
    teacher = leave.active_teacher(session, teacher_id)
    now = clock.now()
    today = now.date()
    if days:
        days = sorted(set(days))
        past = [day for day in days if day < today]
        if past:
            raise leave.LeaveError(
                f"{short_day_label(past[0])} has already passed, so that leave can't be taken back. "
                "Please ask the office to correct it."
            )
    else:
        days = next_leave(session, teacher_id, today)
        if not days:
            raise leave.LeaveError("You have no leave coming up, so there's nothing to take back.")
    rows = _rows(session, teacher_id, days)
    if not rows:
        raise _not_on_leave(session, teacher_id, days, today)
    restored: list[ClassMeeting] = []
    for day, row in sorted(rows.items()):
        before = leave.snapshot(row, teacher)
        row.status = leave.WITHDRAWN
        session.flush()
        record_change(session, actor, "leave.withdrawn", "teacher_leaves", row.id, before, leave.snapshot(row, teacher))
        restored += [
            meeting
            for meeting in schedule.teacher_classes_on(session, teacher_id, day)
            if meeting.status == schedule.SCHEDULED and meeting.starts_at > now
        ]
    session.flush()
    withdrawn = sorted(rows)
    return Withdrawal(
        withdrawn,
        [day for day in days if day not in rows],
        restored,
        withdrawal_notices(session, teacher, withdrawn, restored),
    )
