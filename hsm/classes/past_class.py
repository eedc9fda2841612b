"""A teacher marking a whole past class of their own: which days they may (`HSM_TEACHER_CORRECTION_DAYS` back),
how the day is named in replies, and the record source that shows the office the class was marked late."""

from __future__ import annotations

from datetime import date, timedelta

from hsm.classes.attendance_text import parse_attendance
from hsm.infra.config import get_settings

ON_TIME_SOURCE = "whatsapp"
LATE_SOURCE = "whatsapp_late"  # saved from a draft after the class's day: the office sees "marked late"


def source_for(class_date: date, today: date) -> str:
    """The `attendance_records.source` of a draft saved `today` for a class on `class_date`."""
    return LATE_SOURCE if class_date < today else ON_TIME_SOURCE


def refusal(day: date, today: date) -> str | None:
    """Why a teacher may not mark the whole class of `day` (a future day, or past the correction window)."""
    if day > today:
        return "That class hasn't happened yet, so there is no attendance to mark."
    window = get_settings().attendance.teacher_correction_days
    if day < today - timedelta(days=window):
        return f"Teachers can mark classes of the last {window} days; please ask the office for older ones."
    return None


def when(day: date, today: date) -> str:
    """'today (Tuesday, Dec 1)', 'yesterday (Tuesday, Dec 1)' or 'on Monday, Nov 30'."""
    label = f"{day:%A}, {day:%b} {day.day}"
    if day == today:
        return f"today ({label})"
    if day == today - timedelta(days=1):
        return f"yesterday ({label})"
    return f"on {label}"


def wants_whole_class(text: str) -> bool:
    """A teacher naming a past day means the whole class ("yesterday's guitar class, all present", "attendance
    for Monday"), unless the message is about one student ("Sarah was absent on Tuesday": a single correction)."""
    said = parse_attendance(text)
    return said.everyone is not None or len(said.present) + len(said.absent) != 1
