"""Staff accounts over the admin API (the service: hsm.office.staff). Reading needs a token; changes need role
admin, except that a staff member's token may change the name and e-mail of their own account (its phone, where
sign-in codes go, and its role only an admin may change). Nobody deactivates their own account, and the last
active admin account stays.

GET   /api/admin/staff                      the accounts, by login, paginated (`?all=true` adds deactivated ones)
POST  /api/admin/staff                      add one (admin)
GET   /api/admin/staff/{login}              one account
PATCH /api/admin/staff/{login}              change some of its fields
POST  /api/admin/staff/{login}/deactivate   it can no longer sign in; its tokens are revoked (admin)
POST  /api/admin/staff/{login}/reactivate   (admin)
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from hsm.infra.db import session_scope
from hsm.office import staff
from hsm.office.admin_api.auth import Caller, requires
from hsm.office.admin_api.errors import ApiError, bad_request
from hsm.office.admin_api.inputs import _string, page, page_query, query_flag, read_json
from hsm.office.admin_api.state import CALLER

log = logging.getLogger("hsm.office.admin_api")

ADD_FIELDS = {"login", "name", "role", "phone", "email", "teacher", "admin"}
OWN_FIELDS = {"name", "email"}  # what a staff member may change on their own account
LIMITS = {"login": 40, "name": 200, "role": 10, "phone": 32, "email": 200, "teacher": 20, "admin": 20}


def _login(request: web.Request) -> str:
    login = request.match_info["login"]
    if len(login) > LIMITS["login"]:
        raise ApiError(404, "not_found", "no such staff account", "login")
    return login


def _list(include_all: bool, role: str | None, limit: int, offset: int) -> dict:
    with session_scope() as session:
        views, total = staff.list_accounts(session, include_inactive=include_all, role=role, limit=limit, offset=offset)
    return page("staff", [view.as_json() for view in views], total, limit, offset)


@requires("staff")
async def get_staff(request: web.Request) -> web.Response:
    limit, offset = page_query(request)
    include_all = query_flag(request, "all", False)
    role = request.query.get("role") or None
    if role is not None and role not in staff.ROLES:
        raise bad_request("role", f"must be one of {', '.join(staff.ROLES)}")
    return web.json_response(await asyncio.to_thread(_list, include_all, role, limit, offset))


def _one(login: str) -> dict:
    with session_scope() as session:
        return staff.StaffView.of(staff.find_account(session, login)).as_json()


@requires("staff")
async def get_staff_account(request: web.Request) -> web.Response:
    return web.json_response(await asyncio.to_thread(_one, _login(request)))


def _add(caller: Caller, fields: dict[str, Any]) -> dict:
    with staff.change_scope() as session:
        return staff.add_account(session, caller.actor, **fields).as_json()


@requires("admin")
async def post_staff(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    body = await read_json(request, ADD_FIELDS)
    fields = {
        key: _string(body, key, key in ("login", "name", "role"), LIMITS[key])
        for key in sorted(ADD_FIELDS)
        if key in body or key in ("login", "name", "role")
    }
    view = await asyncio.to_thread(_add, caller, fields)
    log.info("%s added the staff account %r (%s)", caller.actor, view["login"], view["role"])
    return web.json_response(view, status=201)


def _changes(body: dict) -> dict[str, Any]:
    """The PATCH body's fields: strings, or null to clear phone, email, teacher or admin."""
    changes: dict[str, Any] = {}
    for key, value in body.items():
        if value is None and key in ("phone", "email", "teacher", "admin"):
            changes[key] = None
        else:
            changes[key] = _string(body, key, True, LIMITS[key])
    return changes


def _update(caller: Caller, login: str, changes: dict[str, Any]) -> dict:
    with staff.change_scope() as session:
        return staff.update_account(session, caller.actor, login, changes).as_json()


@requires("staff")
async def patch_staff(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    login = _login(request)
    body = await read_json(request, set(staff.EDITABLE))
    if caller.role != "admin":
        if caller.staff_login is None or caller.staff_login != login.strip().lower():
            raise ApiError(403, "forbidden", "a staff token may change only its own account (role admin: any)")
        others = sorted(set(body) - OWN_FIELDS)
        if others:
            raise ApiError(403, "forbidden", f"only an admin may change {others[0]}", others[0])
    view = await asyncio.to_thread(_update, caller, login, _changes(body))
    log.info("%s updated the staff account %r", caller.actor, view["login"])
    return web.json_response(view)


def _set_active(caller: Caller, login: str, active: bool) -> dict:
    with staff.change_scope() as session:
        change = staff.reactivate if active else staff.deactivate
        return change(session, caller.actor, login).as_json()


async def _activation(request: web.Request, active: bool) -> web.Response:
    caller: Caller = request[CALLER]
    login = _login(request)
    if not active and caller.staff_login is not None and caller.staff_login == login.strip().lower():
        raise ApiError(409, "own_account", "you cannot deactivate your own account: ask another admin")
    if request.body_exists:
        await read_json(request, set())  # nothing to say: an empty object at most
    view = await asyncio.to_thread(_set_active, caller, login, active)
    log.info("%s %s the staff account %r", caller.actor, "reactivated" if active else "deactivated", view["login"])
    return web.json_response(view)


@requires("admin")
async def post_staff_deactivate(request: web.Request) -> web.Response:
    return await _activation(request, False)


@requires("admin")
async def post_staff_reactivate(request: web.Request) -> web.Response:
    return await _activation(request, True)
