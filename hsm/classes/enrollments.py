"""Enrollments as the office sees and changes them: the list (by student, batch, status), each one's view, and
edits of status, plan and fee; the live balance (classes remaining, next due) only with a reason, audited."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from hsm.classes.batches import find_batch, teacher_fields
from hsm.infra import clock
from hsm.infra import models as m
from hsm.records.changes import NotFound, RecordError, apply_changes, record_change

DESCRIPTIVE_FIELDS = ("status", "plan", "fee")
LIVE_FIELDS = ("classes_remaining", "next_due")  # the balance attendance and payments move: corrections only
# What an import never overwrites without `--overwrite <field>` (hsm.records.merge): the live balance, and the
# status too, though the office may edit it here: an office re-importing an old file must not reopen enrollments
# that have ended since.
IMPORT_PROTECTED = (*LIVE_FIELDS, "status")
FEE_MAX = 10_000_000  # whole rupees
CLASSES_MAX = 1000
REASON_MAX_CHARS = 500


def enrollment_view(enrollment: m.Enrollment, today: date | None = None) -> dict[str, Any]:
    """One enrollment: whose, which batch, its teacher (or "no teacher"), plan, fee, classes left, next due."""
    today = today or clock.today()
    batch = enrollment.batch
    student = enrollment.student
    return {
        "id": enrollment.id,
        "student": {"enrollment_id": student.enrollment_id, "name": student.name, "active": bool(student.active)},
        "batch": {"code": batch.code, "name": batch.name, "course": batch.course.name},
        **teacher_fields(batch),
        "plan": enrollment.plan,
        "fee": enrollment.fee,
        "classes_remaining": enrollment.classes_remaining,
        "next_due": enrollment.next_due.isoformat() if enrollment.next_due else None,
        "overdue": enrollment.status == "active" and enrollment.next_due is not None and enrollment.next_due < today,
        "status": enrollment.status,
    }


def _with_details(query):
    return query.options(
        selectinload(m.Enrollment.student),
        selectinload(m.Enrollment.batch).selectinload(m.Batch.course),
        selectinload(m.Enrollment.batch).selectinload(m.Batch.teacher),
    )


def list_enrollments(
    session: Session,
    *,
    student: str | None = None,
    batch: str | None = None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    """(how many match, one page of enrollment views) by student enrollment ID, batch code and status."""
    query = select(m.Enrollment).join(m.Student, m.Student.id == m.Enrollment.student_id)
    if student:
        query = query.where(func.upper(m.Student.enrollment_id) == student.strip().upper())
    if batch:
        try:
            query = query.where(m.Enrollment.batch_id == find_batch(session, batch).id)
        except NotFound as error:  # a filter naming no batch is a bad request, as for students
            raise RecordError(error.message, "batch", "unknown_batch") from error
    if status:
        if status not in m.ENROLLMENT_STATUSES:
            raise RecordError(f"status must be one of {', '.join(m.ENROLLMENT_STATUSES)}", "status")
        query = query.where(m.Enrollment.status == status)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(
        _with_details(query).order_by(m.Student.enrollment_id, m.Enrollment.id).limit(limit).offset(offset)
    ).scalars()
    today = clock.today()
    return total, [enrollment_view(e, today) for e in rows]


def get_enrollment(session: Session, enrollment_id: int, *, for_update: bool = False) -> m.Enrollment:
    query = _with_details(select(m.Enrollment).where(m.Enrollment.id == enrollment_id))
    enrollment = session.execute(query.with_for_update() if for_update else query).scalar_one_or_none()
    if enrollment is None:
        raise NotFound(f"no enrollment with id {enrollment_id}", "id")
    return enrollment


def _whole(value: Any, field: str, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise RecordError(f"{field} must be a whole number", field)
    if not 0 <= value <= high:
        raise RecordError(f"{field} must be between 0 and {high}", field)
    return value


def _due(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError as error:
            raise RecordError(f"next_due must be a date as YYYY-MM-DD, not {value[:20]!r}", "next_due") from error
    raise RecordError("next_due must be a date as YYYY-MM-DD, or null", "next_due")


def _clean(session: Session, enrollment: m.Enrollment, values: Mapping[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for field, value in values.items():
        if field == "status":
            if value not in m.ENROLLMENT_STATUSES:
                raise RecordError(f"status must be one of {', '.join(m.ENROLLMENT_STATUSES)}", "status")
            cleaned[field] = value
        elif field == "plan":
            offered = set(
                session.execute(
                    select(m.CoursePlan.plan).where(m.CoursePlan.course_id == enrollment.batch.course_id)
                ).scalars()
            ) or set(m.PLANS)
            if value not in offered:
                raise RecordError(f"plan must be one of {', '.join(sorted(offered))} for this course", "plan")
            cleaned[field] = value
        elif field == "fee":
            cleaned[field] = _whole(value, "fee", FEE_MAX)
        elif field == "classes_remaining":
            cleaned[field] = _whole(value, "classes_remaining", CLASSES_MAX)
        else:
            cleaned[field] = _due(value)
    return cleaned


def _reason(reason: Any, needed: bool) -> str | None:
    text = " ".join(reason.split()) if isinstance(reason, str) else None
    if reason is not None and not isinstance(reason, str):
        raise RecordError("the reason must be text", "reason")
    if needed and not text:
        raise RecordError("a reason is required to correct classes_remaining or next_due", "reason", "missing_field")
    if text and len(text) > REASON_MAX_CHARS:
        raise RecordError(f"the reason is {len(text)} characters long; at most {REASON_MAX_CHARS}", "reason")
    return text or None


def update_enrollment(
    session: Session, actor: str, enrollment_id: int, values: Mapping[str, Any], reason: str | None = None
) -> tuple[m.Enrollment, dict[str, Any], dict[str, Any]]:
    """Change an enrollment's status, plan or fee, and (with a `reason`) correct its classes remaining or next due
    date; returns (enrollment, before, after) of what changed, audited as `enrollment.updated` (the reason in
    `after`). Who may correct the live balance is the caller's rule (the admin API: role admin)."""
    if not isinstance(values, Mapping) or not values:
        fields = ", ".join(DESCRIPTIVE_FIELDS + LIVE_FIELDS)
        raise RecordError(f"nothing to change: give one or more of {fields}", None, "missing_field")
    unknown = sorted(set(values) - set(DESCRIPTIVE_FIELDS + LIVE_FIELDS))
    if unknown:
        raise RecordError(f"an enrollment's {unknown[0]} cannot be changed here", unknown[0], "unknown_field")
    why = _reason(reason, needed=any(field in values for field in LIVE_FIELDS))
    enrollment = get_enrollment(session, enrollment_id, for_update=True)
    before, after = apply_changes(enrollment, _clean(session, enrollment, values))
    if after:
        if why:
            after["reason"] = why
        record_change(session, actor, "enrollment.updated", "enrollments", enrollment.id, before, after)
        session.flush()
    return enrollment, before, after
