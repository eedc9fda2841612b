"""Batches and enrollments over the admin API: batches with their teacher (or "no teacher") and roster; enrollments
listed and changed through `hsm.classes.enrollments` (the live balance only by role admin, with a reason)."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from hsm.classes import batches, enrollments
from hsm.infra.db import session_scope
from hsm.office.admin_api.auth import Caller, requires
from hsm.office.admin_api.errors import ApiError
from hsm.office.admin_api.inputs import _id_path, page, page_query, query_flag, query_text, read_json
from hsm.office.admin_api.state import ADMIN_PREFIX, CALLER

log = logging.getLogger("hsm.office.admin_api")

ENROLLMENT_FIELDS = set(enrollments.DESCRIPTIVE_FIELDS + enrollments.LIVE_FIELDS) | {"reason"}


@requires("staff")
async def list_batches(request: web.Request) -> web.Response:
    limit, offset = page_query(request)
    course, teacher = query_text(request, "course", 40), query_text(request, "teacher", 40)
    no_teacher = query_flag(request, "no_teacher")

    def work() -> dict:
        with session_scope() as session:
            total, found = batches.list_batches(
                session, course=course, teacher=teacher, no_teacher=no_teacher, limit=limit, offset=offset
            )
            return page("batches", found, total, limit, offset)

    return web.json_response(await asyncio.to_thread(work))


@requires("staff")
async def get_batch(request: web.Request) -> web.Response:
    code = request.match_info["code"]

    def work() -> dict:
        with session_scope() as session:
            return batches.batch_card(session, code)

    return web.json_response(await asyncio.to_thread(work))


@requires("staff")
async def list_enrollments(request: web.Request) -> web.Response:
    limit, offset = page_query(request)
    student, batch = query_text(request, "student", 40), query_text(request, "batch", 40)
    status = query_text(request, "status", 20)

    def work() -> dict:
        with session_scope() as session:
            total, found = enrollments.list_enrollments(
                session, student=student, batch=batch, status=status, limit=limit, offset=offset
            )
            return page("enrollments", found, total, limit, offset)

    return web.json_response(await asyncio.to_thread(work))


@requires("staff")
async def patch_enrollment(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    enrollment_id = _id_path(request, "id")
    body = await read_json(request, ENROLLMENT_FIELDS)
    live = sorted(field for field in enrollments.LIVE_FIELDS if field in body)
    if live and caller.role != "admin":
        raise ApiError(403, "forbidden", f"correcting {' and '.join(live)} needs role admin", live[0])
    reason = body.pop("reason", None)

    def work() -> dict:
        with session_scope() as session:
            enrollment, before, after = enrollments.update_enrollment(
                session, caller.actor, enrollment_id, body, reason
            )
            return {"before": before, "after": after, "enrollment": enrollments.enrollment_view(enrollment)}

    result = await asyncio.to_thread(work)
    if result["after"]:
        changed = ", ".join(sorted(set(result["after"]) - {"reason"}))
        log.info("%s changed enrollment %d: %s", caller.actor, enrollment_id, changed)
    return web.json_response(result)


def add_class_routes(router: web.UrlDispatcher) -> None:
    """GET /api/admin/batches and /{code}; GET /api/admin/enrollments, PATCH /{id}."""
    router.add_get(f"{ADMIN_PREFIX}/batches", list_batches, allow_head=False)
    router.add_get(f"{ADMIN_PREFIX}/batches/{{code}}", get_batch, allow_head=False)
    router.add_get(f"{ADMIN_PREFIX}/enrollments", list_enrollments, allow_head=False)
    router.add_patch(f"{ADMIN_PREFIX}/enrollments/{{id}}", patch_enrollment)
