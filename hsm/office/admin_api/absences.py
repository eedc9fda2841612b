"""Absences for the office: GET /api/admin/absences?from=&to= (staff and admin; default today; paginated) lists the
families' notices of a missed class and the alerts of absences without one, with the families' disputes."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from aiohttp import web

from hsm.classes import absences
from hsm.infra import clock
from hsm.infra.db import session_scope
from hsm.office.admin_api.auth import requires
from hsm.office.admin_api.errors import bad_request
from hsm.office.admin_api.inputs import date_value, page, page_query

MAX_SPAN_DAYS = 92


def _listed(first: date, last: date, limit: int, offset: int) -> dict:
    with session_scope() as session:
        items, total = absences.list_absences(session, first, last, limit, offset)
        return page("absences", items, total, limit, offset)


@requires("staff")
async def get_absences(request: web.Request) -> web.Response:
    limit, offset = page_query(request)
    first = date_value(request.query.get("from"), "from") or clock.today()
    last = date_value(request.query.get("to"), "to") or first
    if last < first:
        raise bad_request("to", "is before from")
    if last - first > timedelta(days=MAX_SPAN_DAYS):
        raise bad_request("to", f"is more than {MAX_SPAN_DAYS} days after from")
    return web.json_response(await asyncio.to_thread(_listed, first, last, limit, offset))
