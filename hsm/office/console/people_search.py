"""People search: students, guardians, teachers (and admins, for admins) by name, phone or key, tagged by kind and
paginated across the kinds; a teacher finds only the students of their own batches."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from hsm.infra.db import session_scope
from hsm.office.console.guard import page
from hsm.office.console.people import own_batch_codes
from hsm.office.console.render import USER, html
from hsm.office.console.sessions import ConsoleUser
from hsm.people import directory

PAGE_SIZE = 20
MAX_PAGE = 10_000
MAX_QUERY_CHARS = 100
OFFICE_KINDS = ("student", "guardian", "teacher")
PLURALS = {"student": "students", "guardian": "guardians", "teacher": "teachers", "admin": "admins"}


def kinds_for(user: ConsoleUser) -> tuple[str, ...]:
    """What `user` may search: a teacher their students; staff also guardians and teachers; admins also admins."""
    if user.is_teacher:
        return ("student",)
    return (*OFFICE_KINDS, "admin") if user.role == "admin" else OFFICE_KINDS


def _page_number(text: str | None) -> int:
    try:
        number = int(text or "1")
    except ValueError:
        return 1
    return min(max(number, 1), MAX_PAGE)


def _row(session: Session, kind: str, person: Any, own: set[str] | None) -> dict[str, Any]:
    """One result: who, their key, how to reach them, what they belong to and their page (admins have none)."""
    summary = directory.person_summary(session, person)
    if kind == "student":
        key, href = summary["enrollment_id"], f"/office/students/{summary['enrollment_id']}"
        belongs = [code for code in summary["batches"] if own is None or code in own] or ["no batch"]
    elif kind == "guardian":
        key, href = "", f"/office/guardians/{person.id}"
        belongs = [f"parent of {', '.join(summary['children'])}"] if summary["children"] else ["no children linked"]
    elif kind == "teacher":
        key, href = summary["employee_id"], f"/office/teachers/{summary['employee_id']}"
        belongs = summary["batches"] or ["no batch"]
    else:
        key, href, belongs = summary["admin_code"], None, ["admin"]
    return {"kind": kind, "name": summary["name"], "key": key, "href": href, "phone": summary["phone"],
            "active": summary["active"], "belongs": ", ".join(belongs)}  # fmt: skip


def _collect(session: Session, user: ConsoleUser, kinds: tuple[str, ...], text: str, number: int) -> tuple:
    """(how many of each kind `user` may search match, the people of page `number` of those of `kinds`, one kind
    after the other)."""
    skip, wanted = (number - 1) * PAGE_SIZE, PAGE_SIZE
    counts: dict[str, int] = {}
    found: list[tuple[str, Any]] = []
    for kind in kinds_for(user):
        listed = kind in kinds
        total, people = directory.list_people(
            session, kind, search=text or None, teacher_id=user.teacher_id if user.is_teacher else None,
            limit=wanted if listed else 0, offset=skip if listed else 0,
        )  # fmt: skip
        counts[kind] = total
        found += [(kind, person) for person in people]
        if listed:
            wanted -= len(people)
            skip = max(0, skip - total)
    return counts, found


def search(session: Session, user: ConsoleUser, text: str, kind: str | None, page_number: int) -> dict[str, Any]:
    """One page of the people matching `text` (everyone when empty) that `user` may see, of one kind or all; a
    page past the last shows the last."""
    allowed = kinds_for(user)
    kinds = (kind,) if kind in allowed else allowed
    counts, found = _collect(session, user, kinds, text, page_number)
    total = sum(counts[k] for k in kinds)
    pages = max(1, -(-total // PAGE_SIZE))
    if not found and total and page_number > pages:
        page_number = pages
        counts, found = _collect(session, user, kinds, text, page_number)
    own = own_batch_codes(session, user)
    rows = [_row(session, kind_of_row, person, own) for kind_of_row, person in found]
    return {"total": total, "counts": counts, "rows": rows, "page": page_number, "pages": pages,
            "kind": kind if kind in allowed else "", "kinds": allowed}  # fmt: skip


def _search(user: ConsoleUser, text: str, kind: str | None, page_number: int) -> dict[str, Any]:
    with session_scope() as session:
        return search(session, user, text, kind, page_number)


@page
async def get_people(request: web.Request) -> web.StreamResponse:
    text = " ".join(request.query.get("q", "").split())[:MAX_QUERY_CHARS]
    kind = request.query.get("kind") or None
    found = await asyncio.to_thread(_search, request[USER], text, kind, _page_number(request.query.get("page")))
    return html(request, "people.html", title="People", q=text, plurals=PLURALS, **found)
