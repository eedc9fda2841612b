"""The leads pipeline and admissions over the admin API (aiohttp test server, SQLite and PostgreSQL): roles, filters
and pages, a lead's history, moves refused with 400/403/404/409, a conversion and an admission in one request."""

from __future__ import annotations

import time

import jwt
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.office import admin_api
from hsm.outreach import enrollment

SECRET = "test-admin-secret-" + "0123456789abcdef" * 4
LEADS, STUDENTS = "/api/admin/leads", "/api/admin/students"


def bearer(role: str, sub: str) -> dict:
    return {"Authorization": f"Bearer {admin_api.issue_token(SECRET, sub, role)}"}


@pytest_asyncio.fixture
async def api(school_db, monkeypatch):
    monkeypatch.setenv("ADMIN_JWT_SECRET", SECRET)
    client = TestClient(TestServer(admin_api.create_admin_app()))
    await client.start_server()
    yield client
    await client.close()


@pytest.fixture
def admin(school_db) -> dict:
    return bearer("admin", "meera")


@pytest.fixture
def staff(school_db) -> dict:
    return bearer("staff", "front-desk")


def make_leads(*specs: tuple[str, str | None, str | None, int | None]) -> list[int]:
    ids = []
    with session_scope() as session:
        for phone, name, course, age in specs:
            lead, _ = enrollment.create_lead(session, phone, name, course, age, None, None)
            ids.append(lead.id)
    return ids


async def error_of(response, status: int) -> dict:
    assert response.status == status, await response.text()
    return (await response.json())["error"]


@pytest.mark.asyncio
async def test_leads_need_a_token_and_staff_may_read_them(api, staff):
    make_leads(("+919700000901", "Anita", "PIANO", 8))
    assert (await error_of(await api.get(LEADS), 401))["code"] == "missing_token"
    now = int(time.time())
    claims = {"sub": "john", "role": "student", "iss": "hsm", "aud": "hsm-admin-api", "iat": now, "exp": now + 60}
    student_token = {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}
    assert (await error_of(await api.get(LEADS, headers=student_token), 403))["code"] == "forbidden"
    assert (await error_of(await api.post(STUDENTS, json={}, headers=student_token), 403))["code"] == "forbidden"
    body = await (await api.get(LEADS, headers=staff)).json()
    assert (body["total"], body["limit"], body["offset"]) == (1, 50, 0)
    (lead,) = body["leads"]
    assert (lead["name"], lead["phone"], lead["course"], lead["status"], lead["moves"]) == (
        "Anita",
        "+919700000901",
        {"code": "PIANO", "name": "Piano"},
        "new",
        ["contacted", "trial_booked", "enrolled", "lost"],
    )
    assert "events" not in lead


@pytest.mark.asyncio
async def test_the_list_filters_and_pages(api, staff):
    ids = make_leads(
        ("+919700000901", "Anita Rao", "PIANO", 8),
        ("+919700000902", "Ravi Kumar", "DRUMS", 30),
        ("+919700000903", "Sunita", "PIANO", 11),
    )

    async def listed(query: str) -> tuple[list[int], int]:
        answer = await api.get(f"{LEADS}?{query}", headers=staff)
        assert answer.status == 200, await answer.text()
        body = await answer.json()
        return [lead["id"] for lead in body["leads"]], body["total"]

    assert await listed("") == (ids[::-1], 3)
    assert await listed("course=piano") == ([ids[2], ids[0]], 2)
    assert await listed("search=kumar") == ([ids[1]], 1)
    assert await listed("search=%2B91970000090") == (ids[::-1], 3)
    assert await listed("status=new,lost&since=2026-12-01") == (ids[::-1], 3)
    assert await listed("since=2026-12-02") == ([], 0)
    assert await listed("limit=2") == (ids[:0:-1], 3)
    assert await listed("limit=2&offset=2") == ([ids[0]], 3)
    for query, field in (
        ("status=closed", "status"),
        ("course=flute", "course"),
        ("since=yesterday", "since"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("offset=-1", "offset"),
    ):
        error = await error_of(await api.get(f"{LEADS}?{query}", headers=staff), 400)
        assert error["field"] == field, (query, error)


@pytest.mark.asyncio
async def test_a_lead_moves_and_shows_its_history(api, staff):
    (lead_id,) = make_leads(("+919700000901", "Anita", "PIANO", 8))
    url = f"{LEADS}/{lead_id}"
    moved = await api.post(f"{url}/move", json={"status": "contacted", "note": "called"}, headers=staff)
    assert moved.status == 200, await moved.text()
    booking = {"status": "trial_booked", "trial_at": "2026-12-04 17:00", "batch": "PNO-BEG-WF17"}
    booked = await (await api.post(f"{url}/move", json=booking, headers=staff)).json()
    assert (booked["status"], booked["trial_at"], booked["trial_batch"]) == (
        "trial_booked",
        "2026-12-04T17:00:00+05:30",
        "PNO-BEG-WF17",
    )
    shown = await (await api.get(url, headers=staff)).json()
    assert [(e["from_status"], e["to_status"], e["actor"], e["note"]) for e in shown["events"]] == [
        (None, "new", "whatsapp:prospect", None),
        ("new", "contacted", "api:front-desk", "called"),
        ("contacted", "trial_booked", "api:front-desk", None),
    ]
    assert shown["events"][2]["details"]["trial_at"] == "2026-12-04T17:00:00+05:30"
    with session_scope() as session:
        actors = session.execute(
            select(m.AuditLog.actor).where(m.AuditLog.action == "lead.moved", m.AuditLog.entity_id == str(lead_id))
        ).scalars()
        assert list(actors) == ["api:front-desk", "api:front-desk"]


@pytest.mark.asyncio
async def test_refused_moves_answer_with_the_reason(api, staff, admin):
    (lead_id,) = make_leads(("+919700000901", "Anita", "PIANO", 8))
    url = f"{LEADS}/{lead_id}/move"
    cases = [
        ({"status": "new"}, 409, "move_not_allowed", "status"),
        ({"status": "lost"}, 400, "missing_field", "reason"),
        ({"status": "trial_booked"}, 400, "missing_field", "trial_at"),
        ({"status": "trial_booked", "trial_at": "2026-11-30 10:00"}, 400, "invalid_field", "trial_at"),
        ({"status": "trial_booked", "trial_at": "someday"}, 400, "invalid_field", "trial_at"),
        ({"status": "enrolled"}, 400, "missing_field", "student"),
        ({"status": "contacted", "colour": "red"}, 400, "unknown_field", "colour"),
        ({}, 400, "missing_field", "status"),
    ]
    for body, status, code, field in cases:
        error = await error_of(await api.post(url, json=body, headers=staff), status)
        assert (error["code"], error["field"]) == (code, field), (body, error)
    assert (await error_of(await api.post(f"{LEADS}/999/move", json={"status": "contacted"}, headers=staff), 404))[
        "code"
    ] == "not_found"
    assert (await error_of(await api.post(f"{LEADS}/0/move", json={"status": "contacted"}, headers=staff), 400))[
        "field"
    ] == "lead_id"
    lost = await api.post(url, json={"status": "lost", "reason": "too far"}, headers=staff)
    assert lost.status == 200
    error = await error_of(await api.post(url, json={"status": "contacted"}, headers=staff), 403)
    assert error["code"] == "forbidden" and "only an admin may reopen" in error["message"]
    error = await error_of(await api.post(url, json={"status": "trial_booked"}, headers=admin), 409)
    assert "final" in error["message"]
    reopened = await (await api.post(url, json={"status": "contacted", "note": "back"}, headers=admin)).json()
    assert (reopened["status"], reopened["lost_reason"], reopened["events"][-1]["actor"]) == (
        "contacted",
        None,
        "api:meera",
    )


@pytest.mark.asyncio
async def test_a_lead_is_converted_in_one_request(api, staff):
    (lead_id,) = make_leads(("+919700000901", "Anita", "PIANO", 8))
    url = f"{LEADS}/{lead_id}/convert"
    error = await error_of(await api.post(url, json={"plan": "monthly"}, headers=staff), 400)
    assert error["field"] == "batch"
    error = await error_of(await api.post(url, json={"batch": "PNO-BEG-WF17", "plan": "monthly"}, headers=staff), 400)
    assert error["field"] == "student_name"
    body = {
        "batch": "PNO-BEG-WF17",
        "plan": "monthly",
        "student_name": "Arjun Kumar",
        "guardian_name": "Anita Kumar",
        "guardian_relation": "mother",
        "dob": "2018-06-01",
        "note": "paid at the desk",
    }
    answer = await api.post(url, json=body, headers=staff)
    assert answer.status == 200, await answer.text()
    converted = await answer.json()
    assert converted["student"]["enrollment_id"] == "HSM-26-001" and converted["student"]["phone"] is None
    assert converted["guardian"] == {
        "id": converted["guardian"]["id"],
        "name": "Anita Kumar",
        "phone": "+919700000901",
        "relation": "mother",
        "created": True,
    }
    assert converted["enrollment"] == {
        "id": converted["enrollment"]["id"],
        "batch": "PNO-BEG-WF17",
        "course": "PIANO",
        "plan": "monthly",
        "fee": 2500,
        "classes_remaining": 8,
        "next_due": "2027-01-01",
        "status": "active",
    }
    lead = converted["lead"]
    assert (lead["status"], lead["student"], lead["moves"]) == ("enrolled", "HSM-26-001", ["contacted"])
    assert lead["events"][-1]["note"] == "paid at the desk"
    again = await error_of(await api.post(url, json=body, headers=staff), 409)
    assert "is enrolled" in again["message"]


@pytest.mark.asyncio
async def test_post_students_admits_and_validates(api, staff, admin):
    body = {
        "name": "Tara Rao",
        "dob": "2016-05-01",
        "guardian": {"name": "Lakshmi Rao", "phone": "+919845077777", "relation": "mother"},
        "batch": "KEY-KIDS-SA10",
        "plan": "quarterly",
        "fee": 5500,  # the plan's: staff may repeat it
    }
    answer = await api.post(STUDENTS, json=body, headers=staff)
    assert answer.status == 201, await answer.text()
    admitted = await answer.json()
    assert admitted["student"]["name"] == "Tara Rao" and admitted["enrollment"]["fee"] == 5500
    assert admitted["guardian"]["created"] is True
    sibling = {**body, "name": "Varun Rao", "dob": "2017-01-01"}
    linked = await (await api.post(STUDENTS, json=sibling, headers=staff)).json()
    assert linked["guardian"]["id"] == admitted["guardian"]["id"] and linked["guardian"]["created"] is False
    cases = [
        ({**body, "guardian": None}, 400, "guardian"),  # 9 years old: needs a guardian
        ({**body, "batch": None}, 400, "batch"),
        ({**body, "plan": "weekly"}, 400, "plan"),
        ({**body, "dob": "01/05/2016"}, 400, "dob"),
        ({**body, "fee": -5}, 400, "fee"),
        ({**body, "over_capacity": "yes"}, 400, "over_capacity"),
        ({**body, "guardian": {"name": "X", "phone": "+919845077777", "age": 40}}, 400, "guardian.age"),
        ({**body, "guardian": {"name": "Someone Else", "phone": "+919845000007"}}, 409, "guardian.phone"),
        ({**body, "enrollment_id": "HSM-24-001"}, 409, "enrollment_id"),
        ({"name": "Adult", "phone": "+919876543210", "batch": "KEY-BEG-MWF18", "plan": "monthly"}, 409, "phone"),
    ]
    for case, status, field in cases:
        error = await error_of(await api.post(STUDENTS, json=case, headers=staff), status)
        assert error["field"] == field, (case, error)
    shared = {"name": "Adult", "phone": "+919876543210", "batch": "KEY-BEG-MWF18", "plan": "monthly"}
    allowed = await api.post(STUDENTS, json={**shared, "allow_shared_phone": True}, headers=admin)
    assert allowed.status == 201
    assert (await error_of(await api.post(STUDENTS, json=body), 401))["code"] == "missing_token"


@pytest.mark.asyncio
async def test_staff_may_not_set_an_admissions_balance_or_share_a_phone(api, staff, admin):
    """As PATCH /api/admin/enrollments/{id}: the live balance, a fee other than the plan's and a shared phone are
    for role admin; staff get the plan's defaults (and may repeat the plan's fee)."""
    body = {"name": "Ravi Menon", "phone": "+919700000950", "batch": "PNO-BEG-WF17", "plan": "monthly"}
    for extra, field in [
        ({"classes_remaining": 99}, "classes_remaining"),
        ({"next_due": "2030-01-01"}, "next_due"),
        ({"fee": 0}, "fee"),
        ({"fee": 2499}, "fee"),
        ({"allow_shared_phone": True}, "allow_shared_phone"),
    ]:
        error = await error_of(await api.post(STUDENTS, json={**body, **extra}, headers=staff), 403)
        assert (error["code"], error["field"]) == ("forbidden", field), extra
        assert "needs role admin" in error["message"]
    (lead_id,) = make_leads(("+919700000951", "Kiran", "PIANO", 30))
    url = f"{LEADS}/{lead_id}/convert"
    convert = {"batch": "PNO-BEG-WF17", "plan": "monthly"}
    for extra, field in [({"classes_remaining": 0}, "classes_remaining"), ({"fee": 0}, "fee")]:
        error = await error_of(await api.post(url, json={**convert, **extra}, headers=staff), 403)
        assert error["field"] == field, extra
    with session_scope() as session:
        assert session.execute(select(m.Student).where(m.Student.name.in_(["Ravi Menon", "Kiran"]))).first() is None
    answer = await api.post(url, json={**convert, "fee": 2500}, headers=staff)  # the plan's fee
    assert answer.status == 200, await answer.text()
    answer = await api.post(STUDENTS, json={**body, "fee": 0, "classes_remaining": 99}, headers=admin)
    assert answer.status == 201, await answer.text()
    assert ((await answer.json())["enrollment"]["fee"], (await answer.json())["enrollment"]["classes_remaining"]) == (
        0,
        99,
    )
