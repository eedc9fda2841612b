"""A teacher's classes on a day as the bot shows them (UC-2): times, room, class size, holidays, closures, leave."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from hsm.classes import schedule
from hsm.classes.dates import day_label, time_label
from hsm.classes.schedule import ClassMeeting


def schedule_for(session: Session, teacher_id: int, day: date) -> list[ClassMeeting]:
    """The teacher's classes on `day` in time order; holidays, closures and the teacher's leave are marked."""
    return schedule.teacher_classes_on(session, teacher_id, day)


def students_label(count: int) -> str:
    return f"{count} student" if count == 1 else f"{count} students"


def roster_sizes(session: Session, meetings: list[ClassMeeting]) -> dict[int, int]:
    """Active roster size per batch id of `meetings`."""
    sizes: dict[int, int] = {}
    for meeting in meetings:
        if meeting.batch.id not in sizes:
            sizes[meeting.batch.id] = len(schedule.batch_roster(session, meeting.batch.id))
    return sizes


def _why_not_held(meeting: ClassMeeting) -> str:
    if meeting.closed is not None:  # " — holiday (Christmas), no class", " — school closed (heavy rain), no class"
        return f" — {meeting.closed.word} ({meeting.closed.reason}), no class"
    if meeting.status == schedule.TEACHER_ON_LEAVE:
        return " — cancelled (you're on leave)"
    return "" if meeting.held else " — cancelled"


def _class_line(number: int, meeting: ClassMeeting, size: int) -> str:
    details = ", ".join(part for part in (students_label(size), meeting.batch.room) if part)
    return (
        f"{number}. {meeting.batch.name} - {time_label(meeting.starts_at.time())} ({details}){_why_not_held(meeting)}"
    )


def _relative_word(day: date, today: date) -> str | None:
    if day == today:
        return "today"
    if day == today + timedelta(days=1):
        return "tomorrow"
    return None


def format_schedule(session: Session, teacher_id: int, day: date, today: date) -> str:
    """The reply to "my schedule today": a numbered list of the day's classes, or a line saying there are none."""
    meetings = schedule_for(session, teacher_id, day)
    relative = _relative_word(day, today)
    if not meetings:
        when = f"{relative} ({day_label(day)})" if relative else f"on {day_label(day)}"
        return f"You have no classes {when}. 🎉"
    sizes = roster_sizes(session, meetings)
    header = f"📅 Your schedule for {relative + ', ' if relative else ''}{day_label(day)}:"
    lines = [_class_line(number, meeting, sizes[meeting.batch.id]) for number, meeting in enumerate(meetings, 1)]
    return header + "\n\n" + "\n".join(lines)
