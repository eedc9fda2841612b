"""The office's records of people over the admin API: students, guardians, teachers and admins listed, shown,
edited (descriptive fields) and deactivated or reactivated, through `hsm.people.lifecycle` and `directory`.

Reads need role staff. Staff may edit, deactivate and reactivate students and guardians; teachers and admins only
role admin may change (a teacher's or admin's phone is what grants their powers on WhatsApp).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from hsm.infra.db import session_scope
from hsm.infra.phone import mask_phone
from hsm.office.admin_api.auth import Caller, requires
from hsm.office.admin_api.errors import Handler
from hsm.office.admin_api.inputs import _string, page, page_query, query_flag, query_text, read_json
from hsm.office.admin_api.state import ADMIN_PREFIX, CALLER
from hsm.people import directory, lifecycle

log = logging.getLogger("hsm.office.admin_api")

# kind -> (the collection in paths and list bodies, the path parameter naming one, the role that may change one)
COLLECTIONS: dict[str, tuple[str, str, str]] = {
    "student": ("students", "enrollment_id", "staff"),
    "guardian": ("guardians", "phone", "staff"),
    "teacher": ("teachers", "employee_id", "admin"),
    "admin": ("admins", "admin_code", "admin"),
}


def _key(request: web.Request, kind: str) -> str:
    return request.match_info[COLLECTIONS[kind][1]]


def _shown(kind: str, key: str) -> str:
    """A key as the log may show it (phones masked)."""
    return mask_phone(key) if kind == "guardian" else key[:40]


def _lister(kind: str) -> Handler:
    collection = COLLECTIONS[kind][0]

    @requires("staff")
    async def list_people(request: web.Request) -> web.Response:
        limit, offset = page_query(request)
        search, active = query_text(request, "q", directory.SEARCH_MAX_CHARS), query_flag(request, "active")
        batch = query_text(request, "batch", 40) if kind == "student" else None

        def work() -> dict:
            with session_scope() as session:
                total, people = directory.list_people(
                    session, kind, search=search, active=active, batch=batch, limit=limit, offset=offset
                )
                return page(collection, [directory.person_summary(session, p) for p in people], total, limit, offset)

        return web.json_response(await asyncio.to_thread(work))

    return list_people


def _getter(kind: str) -> Handler:
    @requires("staff")
    async def get_person(request: web.Request) -> web.Response:
        key = _key(request, kind)

        def work() -> dict:
            with session_scope() as session:
                return directory.person_card(session, lifecycle.find_person(session, kind, key))

        return web.json_response(await asyncio.to_thread(work))

    return get_person


def _patcher(kind: str) -> Handler:
    editable = set(lifecycle.KINDS[kind].editable)

    @requires(COLLECTIONS[kind][2])
    async def patch_person(request: web.Request) -> web.Response:
        caller: Caller = request[CALLER]
        key = _key(request, kind)
        values = await read_json(request, editable)

        def work() -> dict:
            with session_scope() as session:
                person, before, after = lifecycle.update_person(session, caller.actor, kind, key, values)
                return {"before": before, "after": after, kind: directory.person_card(session, person)}

        result = await asyncio.to_thread(work)
        if result["after"]:
            log.info("%s edited %s %s: %s", caller.actor, kind, _shown(kind, key), ", ".join(sorted(result["after"])))
        return web.json_response(result)

    return patch_person


def _activator(kind: str, active: bool) -> Handler:
    @requires(COLLECTIONS[kind][2])
    async def set_active(request: web.Request) -> web.Response:
        caller: Caller = request[CALLER]
        key = _key(request, kind)
        body = await read_json(request, {"reason"})
        reason = _string(body, "reason", required=not active, limit=lifecycle.REASON_MAX_CHARS)

        def work() -> dict[str, Any]:
            with session_scope() as session:
                person = lifecycle.set_active(session, caller.actor, kind, key, active, reason)
                result: dict[str, Any] = {kind: directory.person_summary(session, person)}
                if kind == "teacher":
                    result["batches_without_teacher"] = directory.no_teacher_batches(session, person)
                return result

        result = await asyncio.to_thread(work)
        log.info("%s %s %s %s", caller.actor, "reactivated" if active else "deactivated", kind, _shown(kind, key))
        return web.json_response(result)

    return set_active


def add_people_routes(router: web.UrlDispatcher) -> None:
    """GET /api/admin/{students|guardians|teachers|admins} and /{key}, PATCH /{key}, POST /{key}/deactivate and
    /{key}/reactivate."""
    for kind, (collection, parameter, _) in COLLECTIONS.items():
        base = f"{ADMIN_PREFIX}/{collection}"
        one = f"{base}/{{{parameter}}}"
        router.add_get(base, _lister(kind), allow_head=False)
        router.add_get(one, _getter(kind), allow_head=False)
        router.add_patch(one, _patcher(kind))
        router.add_post(f"{one}/deactivate", _activator(kind, False))
        router.add_post(f"{one}/reactivate", _activator(kind, True))
