"""Admitting a student over the admin API: POST /api/admin/students (staff), and the admission fields that converting
a lead (hsm.office.admin_api.leads) reads the same way. As with PATCH /api/admin/enrollments/{id}, the enrollment's
starting balance (`classes_remaining`, `next_due`, a `fee` other than the plan's) and `allow_shared_phone` are for
role admin only (`check_admin_fields`)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.office.admin_api.auth import Caller, requires
from hsm.office.admin_api.errors import ApiError, bad_request
from hsm.office.admin_api.inputs import _string, body_flag, date_value, read_json
from hsm.office.admin_api.state import CALLER
from hsm.people.admissions import Admission, admit_student

log = logging.getLogger("hsm.office.admin_api")

# What both an admission and a lead's conversion may say about the enrollment, as admit_student names it.
ENROLLMENT_FIELDS = {
    "batch",
    "plan",
    "fee",
    "classes_remaining",
    "next_due",
    "enrollment_id",
    "over_capacity",
    "allow_shared_phone",
    "dob",
    "email",
}
STUDENT_FIELDS = ENROLLMENT_FIELDS | {"name", "phone", "guardian"}
GUARDIAN_FIELDS = {"name", "phone", "relation", "email"}
MAX_MONEY = 10_000_000  # whole rupees
MAX_CLASSES = 1000
ADMIN_ONLY_FIELDS = ("classes_remaining", "next_due", "allow_shared_phone")  # and a fee other than the plan's


def int_field(body: dict, key: str, high: int) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise bad_request(key, f"must be a whole number from 0 to {high}")
    return value


def enrollment_values(body: dict) -> dict[str, Any]:
    """The admission's enrollment fields of a request body, as admit_student's keyword arguments."""
    return {
        "batch_code": _string(body, "batch", required=False, limit=40),
        "plan": _string(body, "plan", limit=20),
        "fee": int_field(body, "fee", MAX_MONEY),
        "classes_remaining": int_field(body, "classes_remaining", MAX_CLASSES),
        "next_due": date_value(body.get("next_due"), "next_due"),
        "enrollment_id": _string(body, "enrollment_id", required=False, limit=20),
        "over_capacity": body_flag(body, "over_capacity", False),
        "allow_shared_phone": body_flag(body, "allow_shared_phone", False),
        "dob": date_value(body.get("dob"), "dob"),
        "email": _string(body, "email", required=False, limit=200),
    }


def check_admin_fields(caller: Caller, values: dict[str, Any]) -> None:
    """403 when a caller who is not an admin sets the enrollment's starting balance or shares a phone (a fee is
    checked against the plan's in `check_fee`, which needs the database)."""
    if caller.role == "admin":
        return
    given = [field for field in ADMIN_ONLY_FIELDS if values.get(field) is not None and values.get(field) is not False]
    if given:
        raise ApiError(
            403,
            "forbidden",
            f"setting {' and '.join(given)} when admitting needs role admin (staff: leave them out for the plan's "
            "defaults)",
            given[0],
        )


def check_fee(session: Session, caller: Caller, batch_code: str | None, plan: str | None, fee: int | None) -> None:
    """403 when a caller who is not an admin gives a fee other than the plan's (an unknown batch or plan is left to
    admit_student to refuse)."""
    if caller.role == "admin" or fee is None or batch_code is None:
        return
    plan_fee = session.execute(
        select(m.CoursePlan.fee)
        .join(m.Batch, m.Batch.course_id == m.CoursePlan.course_id)
        .where(m.Batch.code == batch_code, m.CoursePlan.plan == plan)
    ).scalar_one_or_none()
    if plan_fee is not None and fee != plan_fee:
        raise ApiError(403, "forbidden", f"a fee other than the {plan} plan's ({plan_fee}) needs role admin", "fee")


def _guardian(body: dict) -> dict[str, Any] | None:
    value = body.get("guardian")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad_request("guardian", "must be an object with name, phone, relation, email")
    unknown = sorted(set(value) - GUARDIAN_FIELDS)
    if unknown:
        raise bad_request(f"guardian.{unknown[0]}", f"unknown field (allowed: {', '.join(sorted(GUARDIAN_FIELDS))})")
    return {
        "name": _string(value, "name", limit=200, parent="guardian"),
        "phone": _string(value, "phone", limit=32, parent="guardian"),
        "relation": _string(value, "relation", required=False, limit=40, parent="guardian"),
        "email": _string(value, "email", required=False, limit=200, parent="guardian"),
    }


def admission_json(admission: Admission) -> dict[str, Any]:
    student, enrollment, guardian = admission.student, admission.enrollment, admission.guardian
    return {
        "student": {
            "id": student.id,
            "enrollment_id": student.enrollment_id,
            "name": student.name,
            "phone": student.phone,
            "dob": student.dob.isoformat() if student.dob else None,
            "email": student.email,
        },
        "guardian": None
        if guardian is None
        else {
            "id": guardian.id,
            "name": guardian.name,
            "phone": guardian.phone,
            "relation": admission.relation,
            "created": admission.guardian_created,
        },
        "enrollment": {
            "id": enrollment.id,
            "batch": enrollment.batch.code,
            "course": enrollment.batch.course.code,
            "plan": enrollment.plan,
            "fee": enrollment.fee,
            "classes_remaining": enrollment.classes_remaining,
            "next_due": enrollment.next_due.isoformat() if enrollment.next_due else None,
            "status": enrollment.status,
        },
    }


def _admit(caller: Caller, values: dict[str, Any]) -> dict[str, Any]:
    with session_scope() as session:
        check_fee(session, caller, values["batch_code"], values["plan"], values["fee"])
        admission = admit_student(session, caller.actor, **values)
        return admission_json(admission)


@requires("staff")
async def post_student(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    body = await read_json(request, STUDENT_FIELDS)
    values = enrollment_values(body)
    if values["batch_code"] is None:
        raise bad_request("batch", "is required", "missing_field")
    values.update(
        name=_string(body, "name", limit=200),
        phone=_string(body, "phone", required=False, limit=32),
        guardian=_guardian(body),
    )
    check_admin_fields(caller, values)
    admitted = await asyncio.to_thread(_admit, caller, values)
    log.info("%s admitted %s into %s", caller.actor, admitted["student"]["enrollment_id"], values["batch_code"])
    return web.json_response(admitted, status=201)
