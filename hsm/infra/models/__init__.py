"""SQLAlchemy models: the school's core tables and the seed design's `whatsapp_*` / `attendance_drafts` tables.

Integer surrogate keys everywhere (portable between SQLite and PostgreSQL); business keys (`enrollment_id`,
`employee_id`, course and batch `code`, WhatsApp message id) are unique columns. Timestamps are stored in UTC.
One module per concern (`base`, `school`, `people`, `classes`, `makeups`, `money`, `outreach`, `whatsapp`,
`office`); every name is re-exported here, so callers write `from hsm.infra import models as m` and `m.Student`.
"""

from __future__ import annotations

from hsm.infra.models.absences import REPORTER_ROLES, AbsenceAlert, AbsenceNotice
from hsm.infra.models.base import NAMING_CONVENTION, PHONE, ROLES, WA_ADDRESS, Base, TimestampMixin, mapper_registry
from hsm.infra.models.classes import (
    ATTENDANCE_STATUSES,
    ENROLLMENT_STATUSES,
    PLANS,
    AttendanceRecord,
    Batch,
    BatchSlot,
    Closure,
    ClosureBatch,
    Enrollment,
    TeacherLeave,
)
from hsm.infra.models.makeups import BOOKING_STATUSES, CREDIT_STATUSES, MakeupBooking, MakeupCredit
from hsm.infra.models.money import IssuedPaymentLink, Payment
from hsm.infra.models.office import (
    API_ROLES,
    STAFF_ROLES,
    AdminToken,
    AdminTokenRevocation,
    AuditLog,
    ConsoleSession,
    ConsoleSignInCode,
    StaffAccount,
)
from hsm.infra.models.outreach import (
    BROADCAST_STATUSES,
    LEAD_STATUSES,
    RECIPIENT_STATUSES,
    Broadcast,
    BroadcastRecipient,
    Lead,
    LeadEvent,
    ReminderSent,
)
from hsm.infra.models.people import Admin, Guardian, LinkCode, Student, StudentGuardian, Teacher, TeacherCourse
from hsm.infra.models.school import Course, CoursePlan, Faq, Holiday, School
from hsm.infra.models.whatsapp import (
    DRAFT_STATUSES,
    MESSAGE_DIRECTIONS,
    SESSION_USER_TYPES,
    TEMPLATE_STATUSES,
    AttendanceDraft,
    WhatsAppMessage,
    WhatsAppSession,
    WhatsAppSubscription,
    WhatsAppTemplate,
)

__all__ = [
    "NAMING_CONVENTION",
    "mapper_registry",
    "Base",
    "PHONE",
    "WA_ADDRESS",
    "ROLES",
    "TimestampMixin",
    "School",
    "Faq",
    "Holiday",
    "Course",
    "CoursePlan",
    "Admin",
    "Teacher",
    "TeacherCourse",
    "Student",
    "Guardian",
    "StudentGuardian",
    "LinkCode",
    "Batch",
    "BatchSlot",
    "Closure",
    "ClosureBatch",
    "ENROLLMENT_STATUSES",
    "PLANS",
    "Enrollment",
    "ATTENDANCE_STATUSES",
    "AttendanceRecord",
    "TeacherLeave",
    "REPORTER_ROLES",
    "AbsenceNotice",
    "AbsenceAlert",
    "CREDIT_STATUSES",
    "BOOKING_STATUSES",
    "MakeupCredit",
    "MakeupBooking",
    "Payment",
    "IssuedPaymentLink",
    "LEAD_STATUSES",
    "Lead",
    "LeadEvent",
    "BROADCAST_STATUSES",
    "RECIPIENT_STATUSES",
    "Broadcast",
    "BroadcastRecipient",
    "ReminderSent",
    "SESSION_USER_TYPES",
    "MESSAGE_DIRECTIONS",
    "WhatsAppSession",
    "WhatsAppMessage",
    "WhatsAppSubscription",
    "TEMPLATE_STATUSES",
    "WhatsAppTemplate",
    "DRAFT_STATUSES",
    "AttendanceDraft",
    "AuditLog",
    "AdminTokenRevocation",
    "STAFF_ROLES",
    "API_ROLES",
    "StaffAccount",
    "AdminToken",
    "ConsoleSession",
    "ConsoleSignInCode",
]
