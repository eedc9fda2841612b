"""Rasa custom actions, one module per area; thin wrappers over `hsm` services."""

from actions.attendance import ActionAttendance, ActionAttendanceConfirm, ActionCancel
from actions.faq import ActionAnswerFaq, ActionShowMenu
from actions.leave import ActionAbsenceNotice, ActionLeaveRecord, ActionLeaveReview, ActionLeaveStart, ValidateLeaveForm
from actions.schedule import ActionShowSchedule
from actions.session import ActionSessionStart

__all__ = [
    "ActionAbsenceNotice", "ActionAnswerFaq", "ActionAttendance", "ActionAttendanceConfirm", "ActionCancel",
    "ActionLeaveRecord", "ActionLeaveReview", "ActionLeaveStart", "ActionSessionStart", "ActionShowMenu",
    "ActionShowSchedule", "ValidateLeaveForm",
]
