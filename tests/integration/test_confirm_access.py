"""A "yes" is checked again when it confirms: a draft only by the teacher who owns it, a broadcast only by a caller who
may broadcast, a correction only by a caller who may correct; a refusal is hsm.people.access's fixed text."""

from __future__ import annotations

import asyncio
import json

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select

from actions.attendance import ActionAttendanceConfirm
from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.people import access
from hsm.people.identity import identify

ADMIN_PHONE = "+919800000001"
TEACHER_PHONE = "+919811000102"
GUARDIAN_PHONE = "+919845000007"


def _yes(phone: str, **slots) -> list[dict]:
    tracker = Tracker(
        phone,
        {"role": None, **slots},
        {"text": "yes", "intent": {"name": "affirm"}},
        [],
        False,
        None,
        {},
        "action_listen",
    )
    dispatcher = CollectingDispatcher()
    asyncio.run(ActionAttendanceConfirm().run(dispatcher, tracker, {}))
    return dispatcher.messages


def _identity(phone: str):
    with session_scope() as session:
        return identify(session, phone)


def _draft_for_teacher_with_admins_id() -> tuple[int, int]:
    """A complete draft of the teacher whose id is the admin's id (the tables number people separately)."""
    with session_scope() as session:
        admin = session.execute(select(m.Admin).where(m.Admin.phone == ADMIN_PHONE)).scalar_one()
        teacher = session.get(m.Teacher, admin.id)
        assert teacher is not None
        batch = session.execute(select(m.Batch).where(m.Batch.teacher_id == teacher.id).limit(1)).scalar_one()
        students = (
            session.execute(select(m.Enrollment.student_id).where(m.Enrollment.batch_id == batch.id)).scalars().all()
        )
        draft = m.AttendanceDraft(
            batch_id=batch.id,
            teacher_id=teacher.id,
            attendance_date=clock.today(),
            parsed_data={"present": list(students), "absent": []},
            status="draft",
        )
        session.add(draft)
        session.flush()
        return draft.id, admin.id


def _status(draft_id: int) -> str:
    with session_scope() as session:
        return session.get(m.AttendanceDraft, draft_id).status


def test_an_admins_yes_does_not_confirm_the_teacher_with_the_same_id(school_db):
    draft_id, _ = _draft_for_teacher_with_admins_id()
    for slots in ({}, {"attendance_draft": float(draft_id), "attendance_step": "confirm"}):
        (message,) = _yes(ADMIN_PHONE, **slots)
        assert _status(draft_id) == "draft"
        assert message["text"] == access.refusal_text(_identity(ADMIN_PHONE), "mark_attendance")


def test_another_teachers_draft_is_not_confirmed_by_its_id(school_db):
    draft_id, _ = _draft_for_teacher_with_admins_id()
    with session_scope() as session:
        assert identify(session, TEACHER_PHONE).person_id != session.get(m.AttendanceDraft, draft_id).teacher_id
    (message,) = _yes(TEACHER_PHONE, attendance_draft=float(draft_id), attendance_step="confirm")
    assert _status(draft_id) == "draft"
    assert message["text"] == "There is no attendance waiting to be saved."


def _broadcasts() -> int:
    with session_scope() as session:
        return session.execute(select(func.count()).select_from(m.Broadcast)).scalar_one()


@pytest.mark.parametrize("phone", [TEACHER_PHONE])
def test_a_pending_broadcast_needs_the_broadcast_permission_at_the_yes(school_db, phone):
    pending = json.dumps({"audience": {"all": True}, "text": "School closed tomorrow"})
    (message,) = _yes(phone, pending_broadcast=pending)
    assert _broadcasts() == 0
    assert message["text"] == access.refusal_text(_identity(phone), "broadcast")


def test_a_pending_correction_needs_the_override_permission_at_the_yes(school_db, monkeypatch):
    with session_scope() as session:
        teacher = identify(session, TEACHER_PHONE)
        batch = session.execute(select(m.Batch).where(m.Batch.teacher_id == teacher.person_id).limit(1)).scalar_one()
        student_id = session.execute(
            select(m.Enrollment.student_id).where(m.Enrollment.batch_id == batch.id).limit(1)
        ).scalar_one()
    records = select(func.count()).select_from(m.AttendanceRecord)
    with session_scope() as session:
        before = session.execute(records).scalar_one()
    pending = json.dumps(
        {"student_id": student_id, "batch_id": batch.id, "class_date": clock.today().isoformat(), "status": "absent"}
    )
    # The permission was withdrawn between the plan and the yes.
    monkeypatch.setitem(access.PERMISSIONS, "attendance_override", frozenset({"admin"}))
    (message,) = _yes(TEACHER_PHONE, pending_override=pending)
    with session_scope() as session:
        assert session.execute(records).scalar_one() == before
    assert message["text"] == access.refusal_text(_identity(TEACHER_PHONE), "attendance_override")
