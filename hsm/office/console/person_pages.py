"""Guardians' and teachers' pages: contacts, a guardian's children, a teacher's batches and leave coming up, and the
office's edits and deactivation through hsm.people.lifecycle (a teacher sees only their own page, read-only)."""

from __future__ import annotations

import asyncio
from calendar import day_abbr
from collections.abc import Callable
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.office.console.guard import page
from hsm.office.console.render import USER, html, redirect
from hsm.office.console.sessions import ConsoleUser
from hsm.people import directory, lifecycle
from hsm.records.changes import RecordError

LEAVE_AHEAD = 10  # the next leave days a teacher's page lists
SAVED = {"edit": "Details saved.", "active": "Saved."}


def _guardian(session: Session, user: ConsoleUser, key: str) -> m.Guardian | None:
    if user.is_teacher or not key.isdigit() or len(key) > 12:
        return None
    return session.get(m.Guardian, int(key))


def _teacher(session: Session, user: ConsoleUser, key: str) -> m.Teacher | None:
    query = select(m.Teacher).where(func.upper(m.Teacher.employee_id) == key.strip().upper()[:40])
    if user.is_teacher:
        query = query.where(m.Teacher.id == user.teacher_id)
    return session.execute(query).scalar_one_or_none()


def _guardian_view(session: Session, guardian: m.Guardian) -> dict[str, Any]:
    return {**directory.person_card(session, guardian), "id": guardian.id}


def _teacher_view(session: Session, teacher: m.Teacher) -> dict[str, Any]:
    batches = session.execute(
        select(m.Batch)
        .where(m.Batch.teacher_id == teacher.id)
        .options(selectinload(m.Batch.course), selectinload(m.Batch.slots))
        .order_by(m.Batch.active.desc(), m.Batch.code)
    ).scalars()
    leave = session.execute(
        select(m.TeacherLeave)
        .where(
            m.TeacherLeave.teacher_id == teacher.id,
            m.TeacherLeave.leave_date >= clock.today(),
            m.TeacherLeave.status != "withdrawn",
        )
        .order_by(m.TeacherLeave.leave_date)
        .limit(LEAVE_AHEAD)
    ).scalars()
    return {
        **directory.person_summary(session, teacher),
        "batch_rows": [
            {
                "code": b.code,
                "name": b.name,
                "course": b.course.name,
                "room": b.room,
                "active": bool(b.active),
                "slots": [f"{day_abbr[s.weekday]} {s.start_time:%H:%M}" for s in b.slots],
            }
            for b in batches
        ],  # fmt: skip
        "leave": [{"date": row.leave_date, "reason": row.reason} for row in leave],
    }


PAGES: dict[str, tuple[Callable[..., Any], Callable[..., dict[str, Any]], str]] = {
    "guardian": (_guardian, _guardian_view, "guardian.html"),
    "teacher": (_teacher, _teacher_view, "teacher.html"),
}


def person_view(kind: str, user: ConsoleUser, key: str) -> dict[str, Any] | None:
    """What `user` sees of the guardian (by id) or teacher (by employee id); None when not theirs to see."""
    find, view, _ = PAGES[kind]
    with session_scope() as session:
        person = find(session, user, key)
        return None if person is None else view(session, person)


async def _show(
    request: web.Request, kind: str, problem: str | None = None, status: int = 200, form: dict[str, str] | None = None
) -> web.StreamResponse:
    view = await asyncio.to_thread(person_view, kind, request[USER], request.match_info["key"])
    if view is None:
        raise web.HTTPNotFound()
    saved = SAVED.get(request.query.get("saved", ""))
    return html(
        request, PAGES[kind][2], status=status, title=view["name"], person=view, problem=problem, saved=saved,
        form=form or {}, editable=lifecycle.kind_of(kind).editable,
    )  # fmt: skip


def _change(kind: str, user: ConsoleUser, key: str, action: str, form: dict[str, str]) -> None:
    """Edit the contact fields, or deactivate (a reason required) or reactivate, through the lifecycle."""
    with session_scope() as session:
        person = PAGES[kind][0](session, user, key)
        if person is None:
            raise web.HTTPNotFound()
        lifecycle_key = lifecycle.key_of(person)
        if action == "edit":
            values = {field: form.get(field, "").strip() or None for field in lifecycle.kind_of(kind).editable}
            lifecycle.update_person(session, user.actor, kind, lifecycle_key, values)
            return
        active = form.get("active") == "1"
        if not active and not form.get("reason", "").strip():
            raise RecordError(f"say why the {kind} is leaving (a reason is required)", "reason", "missing_field")
        lifecycle.set_active(session, user.actor, kind, lifecycle_key, active, form.get("reason"))


async def _post(request: web.Request, kind: str, action: str) -> web.StreamResponse:
    user: ConsoleUser = request[USER]
    if user.is_teacher or (kind == "teacher" and not user.is_admin):  # a teacher's phone carries teacher powers
        raise web.HTTPForbidden()
    key = request.match_info["key"]
    form = {name: str(value)[:500] for name, value in (await request.post()).items() if name != "csrf"}
    try:
        await asyncio.to_thread(_change, kind, user, key, action, form)
    except RecordError as error:
        status = 409 if error.kind == "conflict" else 400
        return await _show(request, kind, error.message, status, {"form": action, **form})
    return redirect(f"/office/{kind}s/{key.upper()}?saved={action}")


@page
async def get_guardian(request: web.Request) -> web.StreamResponse:
    return await _show(request, "guardian")


@page
async def get_teacher(request: web.Request) -> web.StreamResponse:
    return await _show(request, "teacher")


@page
async def post_guardian_edit(request: web.Request) -> web.StreamResponse:
    return await _post(request, "guardian", "edit")


@page
async def post_guardian_active(request: web.Request) -> web.StreamResponse:
    return await _post(request, "guardian", "active")


@page
async def post_teacher_edit(request: web.Request) -> web.StreamResponse:
    return await _post(request, "teacher", "edit")


@page
async def post_teacher_active(request: web.Request) -> web.StreamResponse:
    return await _post(request, "teacher", "active")


def add_person_routes(app: web.Application) -> None:
    """The guardians' and teachers' pages (a guardian by id: their phone is no URL; a teacher by employee id)."""
    for kind, get, edit, active in (
        ("guardian", get_guardian, post_guardian_edit, post_guardian_active),
        ("teacher", get_teacher, post_teacher_edit, post_teacher_active),
    ):
        app.router.add_get(f"/office/{kind}s/{{key}}", get, allow_head=False)
        app.router.add_post(f"/office/{kind}s/{{key}}/edit", edit)
        app.router.add_post(f"/office/{kind}s/{{key}}/active", active)
