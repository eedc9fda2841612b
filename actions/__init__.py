"""Rasa custom actions, one module per area; thin wrappers over `hsm` services."""

from actions.attendance import ActionAttendance, ActionAttendanceConfirm, ActionCancel
from actions.billing import ActionClassesRemaining, ActionPaymentLink, ActionPaymentStatus
from actions.enrollment import (
    ActionEnrollmentLead,
    ActionEnrollmentNoCall,
    ActionEnrollmentOffer,
    ActionEnrollmentStart,
    ValidateEnrollmentForm,
)
from actions.fallback import ActionFallback
from actions.faq import ActionAnswerFaq, ActionShowMenu
from actions.leave import ActionAbsenceNotice, ActionLeaveRecord, ActionLeaveReview, ActionLeaveStart, ValidateLeaveForm
from actions.schedule import ActionShowSchedule
from actions.session import ActionSessionStart

__all__ = [
    "ActionAbsenceNotice", "ActionAnswerFaq", "ActionAttendance", "ActionAttendanceConfirm", "ActionCancel",
    "ActionClassesRemaining", "ActionEnrollmentLead", "ActionEnrollmentNoCall", "ActionEnrollmentOffer",
    "ActionEnrollmentStart", "ActionFallback", "ActionLeaveRecord", "ActionLeaveReview", "ActionLeaveStart",
    "ActionPaymentLink", "ActionPaymentStatus", "ActionSessionStart", "ActionShowMenu", "ActionShowSchedule",
    "ValidateEnrollmentForm", "ValidateLeaveForm",
]
