"""The office's records over the admin API (SQLite and PostgreSQL): students, guardians, teachers and admins listed,
searched, paged, shown, edited, deactivated and reactivated; batches with "no teacher"; enrollments listed and
changed (the live balance only by an admin, with a reason). Roles, 400/403/404/409 and the audit trail."""

from __future__ import annotations

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.office import admin_api
from tests.integration.test_admin_api import ADMIN, SECRET, STAFF, error_of

pytestmark = pytest.mark.asyncio
BASE = "/api/admin"


@pytest_asyncio.fixture
async def client(school_db, monkeypatch):
    """The admin API over HTTP on the demo school (nothing here sends WhatsApp messages)."""
    monkeypatch.setenv("ADMIN_JWT_SECRET", SECRET)
    http = TestClient(TestServer(admin_api.create_admin_app()))
    await http.start_server()
    yield http
    await http.close()


def audit_rows(action: str) -> list[m.AuditLog]:
    with session_scope() as s:
        return s.execute(select(m.AuditLog).where(m.AuditLog.action == action).order_by(m.AuditLog.id)).scalars().all()


async def ok(response, status: int = 200) -> dict:
    assert response.status == status, await response.text()
    return await response.json()


async def test_students_are_searched_filtered_and_paged(client):
    everyone = await ok(await client.get(f"{BASE}/students", headers=STAFF))
    assert (everyone["total"], everyone["limit"], everyone["offset"], len(everyone["students"])) == (40, 50, 0, 40)
    assert everyone["students"][0] == {
        "enrollment_id": "HSM-24-001",
        "name": "John Doe",
        "phone": "+919876543210",
        "email": "john.doe@email.com",
        "active": True,
        "status": "active",
        "deactivated_at": None,
        "dob": "2001-04-12",
        "batches": ["GTR-BEG-TT17", "KEY-BEG-MWF18"],
    }
    paged = await ok(await client.get(f"{BASE}/students?limit=5&offset=5", headers=STAFF))
    assert paged["total"] == 40 and [s["enrollment_id"] for s in paged["students"]] == [
        f"HSM-24-00{n}" for n in range(6, 10)
    ] + ["HSM-24-010"]

    async def ids(query: str) -> list[str]:
        body = await ok(await client.get(f"{BASE}/students?{query}", headers=STAFF))
        return [s["enrollment_id"] for s in body["students"]]

    assert await ids("q=rahul") == ["HSM-24-005", "HSM-24-006"]
    assert await ids("q=hsm-24-03") == [f"HSM-24-03{n}" for n in range(10)]
    assert await ids("q=98450%2000007") == ["HSM-24-007", "HSM-24-008"]  # their mother's number
    assert await ids("q=3210") == ["HSM-24-001"]
    assert await ids("q=50%25") == []  # LIKE's wildcards are plain characters
    assert len(await ids("batch=gtr-beg-tt17")) == 8
    assert await ids("active=false") == []
    await client.post(f"{BASE}/students/HSM-24-002/deactivate", json={"reason": "moved"}, headers=STAFF)
    assert await ids("active=false") == ["HSM-24-002"]
    assert len(await ids("active=true&batch=GTR-BEG-TT17")) == 7

    for query, field in (
        ("active=maybe", "active"),
        ("limit=0", "limit"),
        ("offset=-1", "offset"),
        ("q=" + "x" * 101, "q"),
    ):
        assert (await error_of(await client.get(f"{BASE}/students?{query}", headers=STAFF), 400))["field"] == field
    assert (await error_of(await client.get(f"{BASE}/students?batch=NOPE", headers=STAFF), 400))[
        "code"
    ] == "unknown_batch"
    assert (await error_of(await client.get(f"{BASE}/students"), 401))["code"] == "missing_token"


async def test_the_student_card(client):
    card = await ok(await client.get(f"{BASE}/students/hsm-24-009", headers=STAFF))  # Mohammed Irfan
    assert card["name"] == "Mohammed Irfan" and card["status"] == "active"
    guitar = next(e for e in card["enrollments"] if e["batch"]["code"] == "GTR-BEG-TT17")
    assert guitar["teacher"] == {"employee_id": "T-101", "name": "Rahul Menon", "display_name": "Mr. Rahul"}
    assert guitar["teacher_status"] == "assigned" and guitar["overdue"] is True
    assert {"plan", "fee", "classes_remaining", "next_due", "status", "id"} <= set(guitar)
    assert card["attendance"]["since"] == "2026-11-01" and card["attendance"]["recent"]
    assert card["balance"]["overdue"] == guitar["fee"] and card["balance"]["next_due"] == "2026-11-25"
    mary = await ok(await client.get(f"{BASE}/students/HSM-24-002", headers=STAFF))
    assert mary["guardians"] == [
        {"name": "Susan Thomas", "phone": "+919845000002", "email": None, "relation": "mother", "active": True}
    ]
    missing = await error_of(await client.get(f"{BASE}/students/HSM-99-999", headers=STAFF), 404)
    assert missing["code"] == "not_found" and "HSM-99-999" in missing["message"]


async def test_staff_edit_a_student_with_conflicts_reported(client):
    url = f"{BASE}/students/HSM-24-002"
    body = await ok(await client.patch(url, json={"phone": "98450 55501", "name": "Mary A. Thomas"}, headers=STAFF))
    assert body["before"] == {"phone": None, "name": "Mary Thomas"}
    assert body["after"] == {"phone": "+919845055501", "name": "Mary A. Thomas"}
    assert body["student"]["phone"] == "+919845055501"
    (row,) = audit_rows("student.updated")
    assert (row.actor, row.entity_id) == ("api:front-desk", "HSM-24-002")
    again = await ok(await client.patch(url, json={"name": "Mary A. Thomas"}, headers=STAFF))
    assert again["after"] == {} and len(audit_rows("student.updated")) == 1

    taken = await error_of(await client.patch(url, json={"phone": "+919845000007"}, headers=STAFF), 409)
    assert (taken["code"], taken["field"]) == ("phone_taken", "phone") and "Kavitha Reddy" in taken["message"]
    cases = [
        ({"phone": "123"}, "phone"),
        ({"dob": "tomorrow"}, "dob"),
        ({"enrollment_id": "HSM-24-099"}, "enrollment_id"),
        ({}, None),
    ]
    for payload, field in cases:
        assert (await error_of(await client.patch(url, json=payload, headers=STAFF), 400)).get("field") == field
    assert (await error_of(await client.patch(url, data="[1]", headers=STAFF), 400))["code"] == "invalid_json"


async def test_students_and_guardians_leave_and_come_back_by_staff(client):
    url = f"{BASE}/students/HSM-24-007"
    missing = await error_of(await client.post(f"{url}/deactivate", json={}, headers=STAFF), 400)
    assert (missing["code"], missing["field"]) == ("missing_field", "reason")
    left = await ok(await client.post(f"{url}/deactivate", json={"reason": "moved to Pune"}, headers=STAFF))
    assert left["student"]["active"] is False and left["student"]["status"] == "left"
    assert left["student"]["deactivated_at"].startswith("2026-12-01")
    twice = await error_of(await client.post(f"{url}/deactivate", json={"reason": "again"}, headers=STAFF), 409)
    assert twice["code"] == "already_inactive"
    kavitha = await ok(await client.get(f"{BASE}/guardians/%2B919845000007", headers=STAFF))
    assert kavitha["children"][0] == {
        "enrollment_id": "HSM-24-007",
        "name": "Aarav Reddy",
        "relation": "mother",
        "active": False,
    }
    back = await ok(await client.post(f"{url}/reactivate", json={}, headers=STAFF))
    assert back["student"]["active"] is True and back["student"]["deactivated_at"] is None
    assert [r.after.get("reason") for r in audit_rows("student.deactivated")] == ["moved to Pune"]

    guardian = f"{BASE}/guardians/919845000007"  # the phone in any format
    body = await ok(await client.post(f"{guardian}/deactivate", json={"reason": "asked"}, headers=STAFF))
    assert body["guardian"]["active"] is False and body["guardian"]["children"] == ["HSM-24-007", "HSM-24-008"]
    listed = await ok(await client.get(f"{BASE}/guardians?active=false", headers=STAFF))
    assert [g["phone"] for g in listed["guardians"]] == ["+919845000007"]
    assert (await error_of(await client.get(f"{BASE}/guardians/12", headers=STAFF), 400))["code"] == "invalid_phone"
    assert (await error_of(await client.get(f"{BASE}/guardians/+919845009999", headers=STAFF), 404))["field"] == "phone"
    unknown = await error_of(await client.post(f"{guardian}/reactivate", json={"why": "x"}, headers=STAFF), 400)
    assert unknown["code"] == "unknown_field"


async def test_teachers_and_admins_are_changed_only_by_an_admin(client):
    teacher = f"{BASE}/teachers/T-101"
    for call in (
        client.patch(teacher, json={"phone": "+919845000002"}, headers=STAFF),
        client.post(f"{teacher}/deactivate", json={"reason": "x"}, headers=STAFF),
        client.post(f"{BASE}/admins/ADM-2/deactivate", json={"reason": "x"}, headers=STAFF),
        client.patch(f"{BASE}/admins/ADM-2", json={"name": "X"}, headers=STAFF),
    ):
        assert (await error_of(await call, 403))["code"] == "forbidden"
    assert audit_rows("teacher.deactivated") == [] and audit_rows("admin.deactivated") == []

    rahul = await ok(await client.get(teacher, headers=STAFF))
    assert rahul["courses"] == ["GUITAR", "PIANO"] and rahul["batches"] == [
        "GTR-BEG-TT17",
        "GTR-INT-TH18",
        "PNO-ADV-TU19",
    ]
    left = await ok(await client.post(f"{teacher}/deactivate", json={"reason": "moved away"}, headers=ADMIN))
    assert left["teacher"]["status"] == "left"
    assert left["batches_without_teacher"] == ["GTR-BEG-TT17", "GTR-INT-TH18", "PNO-ADV-TU19"]
    assert audit_rows("teacher.deactivated")[0].actor == "api:meera"

    listed = await ok(await client.get(f"{BASE}/batches?no_teacher=true", headers=STAFF))
    assert listed["total"] == 3
    assert all(b["teacher"] is None and b["teacher_status"] == "no teacher" for b in listed["batches"])
    edited = await ok(await client.patch(teacher, json={"title": "Dr."}, headers=ADMIN))
    assert edited["teacher"]["display_name"] == "Dr. Rahul"
    await ok(await client.post(f"{teacher}/reactivate", json={}, headers=ADMIN))
    assert (await ok(await client.get(f"{BASE}/batches?no_teacher=true", headers=STAFF)))["total"] == 0

    admins = await ok(await client.get(f"{BASE}/admins", headers=STAFF))
    assert [a["admin_code"] for a in admins["admins"]] == ["ADM-1", "ADM-2"]
    farhan = await ok(await client.post(f"{BASE}/admins/adm-2/deactivate", json={"reason": "left"}, headers=ADMIN))
    assert farhan["admin"] == {**farhan["admin"], "admin_code": "ADM-2", "active": False}
    teachers = await ok(await client.get(f"{BASE}/teachers?q=priya", headers=STAFF))
    assert [t["employee_id"] for t in teachers["teachers"]] == ["T-102"]
    assert (await error_of(await client.get(f"{BASE}/admins/ADM-9", headers=STAFF), 404))["code"] == "not_found"


async def test_batches_show_their_teacher_slots_and_roster(client):
    page = await ok(await client.get(f"{BASE}/batches?limit=2&offset=1", headers=STAFF))
    assert (page["total"], len(page["batches"])) == (11, 2)
    guitar = await ok(await client.get(f"{BASE}/batches?course=guitar", headers=STAFF))
    assert [b["code"] for b in guitar["batches"]] == ["GTR-BEG-TT17", "GTR-INT-TH18"]
    beginner = guitar["batches"][0]
    assert beginner["slots"] == [
        {"weekday": "Tue", "start": "17:00", "duration_min": 60},
        {"weekday": "Thu", "start": "17:00", "duration_min": 60},
    ]
    assert beginner["teacher_status"] == "assigned" and beginner["enrolled"] == 8
    assert beginner["free_seats"] == beginner["capacity"] - 8
    priyas = await ok(await client.get(f"{BASE}/batches?teacher=T-102", headers=STAFF))
    assert priyas["total"] >= 1 and all(b["teacher"]["employee_id"] == "T-102" for b in priyas["batches"])

    await client.post(f"{BASE}/students/HSM-24-002/deactivate", json={"reason": "moved"}, headers=STAFF)
    card = await ok(await client.get(f"{BASE}/batches/gtr-beg-tt17", headers=STAFF))
    names = [s["name"] for s in card["roster"]]
    assert "Mary Thomas" not in names and "John Doe" in names and card["enrolled"] == len(names) == 7
    assert (await error_of(await client.get(f"{BASE}/batches/NOPE", headers=STAFF), 404))["code"] == "not_found"
    assert (await error_of(await client.get(f"{BASE}/batches?no_teacher=perhaps", headers=STAFF), 400))["field"] == (
        "no_teacher"
    )


async def test_enrollments_are_listed_and_changed_with_the_live_balance_kept_for_admins(client):
    johns = await ok(await client.get(f"{BASE}/enrollments?student=HSM-24-001", headers=STAFF))
    assert johns["total"] == 2 and {e["batch"]["code"] for e in johns["enrollments"]} == {
        "GTR-BEG-TT17",
        "KEY-BEG-MWF18",
    }
    paused = await ok(await client.get(f"{BASE}/enrollments?status=paused", headers=STAFF))
    assert [e["student"]["enrollment_id"] for e in paused["enrollments"]] == ["HSM-24-040"]
    in_batch = await ok(await client.get(f"{BASE}/enrollments?batch=GTR-BEG-TT17&limit=3", headers=STAFF))
    assert (in_batch["total"], len(in_batch["enrollments"])) == (8, 3)
    bad_status = await error_of(await client.get(f"{BASE}/enrollments?status=gone", headers=STAFF), 400)
    assert bad_status["field"] == "status"
    unknown = await error_of(await client.get(f"{BASE}/enrollments?batch=NOPE", headers=STAFF), 400)
    assert (unknown["code"], unknown["field"]) == ("unknown_batch", "batch")

    guitar = next(e for e in johns["enrollments"] if e["batch"]["code"] == "GTR-BEG-TT17")
    url = f"{BASE}/enrollments/{guitar['id']}"
    body = await ok(await client.patch(url, json={"fee": 6000, "status": "paused"}, headers=STAFF))
    assert body["before"] == {"fee": 5500, "status": "active"} and body["after"] == {"fee": 6000, "status": "paused"}
    assert body["enrollment"]["status"] == "paused"

    refused = await error_of(await client.patch(url, json={"classes_remaining": 30, "reason": "x"}, headers=STAFF), 403)
    assert refused["field"] == "classes_remaining"
    no_reason = await error_of(await client.patch(url, json={"classes_remaining": 30}, headers=ADMIN), 400)
    assert no_reason["field"] == "reason"
    fixed = await ok(
        await client.patch(
            url,
            json={"classes_remaining": 30, "next_due": "2027-03-01", "reason": "paid cash in November"},
            headers=ADMIN,
        )
    )
    assert fixed["before"] == {"classes_remaining": 22, "next_due": "2027-02-10"}
    assert fixed["after"] == {"classes_remaining": 30, "next_due": "2027-03-01", "reason": "paid cash in November"}
    rows = audit_rows("enrollment.updated")
    assert [(r.actor, r.entity, r.entity_id) for r in rows] == [
        ("api:front-desk", "enrollments", str(guitar["id"])),
        ("api:meera", "enrollments", str(guitar["id"])),
    ]
    for payload, field in (
        ({"plan": "yearly"}, "plan"),
        ({"fee": -1}, "fee"),
        ({"fee": "6000"}, "fee"),
        ({"next_due": "soon", "reason": "x"}, "next_due"),
        ({"student": "HSM-24-002"}, "student"),
    ):
        assert (await error_of(await client.patch(url, json=payload, headers=ADMIN), 400))["field"] == field
    assert await error_of(await client.patch(f"{BASE}/enrollments/99999", json={"fee": 1}, headers=ADMIN), 404)
    assert await error_of(await client.patch(f"{BASE}/enrollments/abc", json={"fee": 1}, headers=ADMIN), 400)


@pytest.mark.parametrize(
    ("collection", "key", "edit", "missing", "total"),
    [
        ("students", "HSM-24-040", {"email": "varun@example.com"}, "HSM-24-999", 40),
        ("guardians", "+919845000002", {"name": "Susan M. Thomas"}, "+919845009999", 22),
        ("teachers", "T-106", {"email": "imran@example.com"}, "T-999", 6),
        ("admins", "ADM-2", {"phone": "+919800000022"}, "ADM-9", 2),
    ],
)
async def test_every_kind_is_paged_edited_deactivated_and_reactivated(client, collection, key, edit, missing, total):
    first = await ok(await client.get(f"{BASE}/{collection}?limit=1", headers=STAFF))
    rest = await ok(await client.get(f"{BASE}/{collection}?limit=200&offset=1", headers=STAFF))
    assert first["total"] == rest["total"] == total and len(first[collection]) == 1
    assert len(rest[collection]) == total - 1 and first[collection][0] not in rest[collection]
    url = f"{BASE}/{collection}/{key.replace('+', '%2B')}"
    kind = collection[:-1]
    edited = await ok(await client.patch(url, json=edit, headers=ADMIN))
    assert edited["after"] == edit and all(edited[kind][field] == value for field, value in edit.items())

    assert (await error_of(await client.post(f"{url}/reactivate", json={}, headers=ADMIN), 409))["code"] == (
        "already_active"
    )
    left = await ok(await client.post(f"{url}/deactivate", json={"reason": "left"}, headers=ADMIN))
    assert left[kind]["active"] is False
    gone = await ok(await client.get(f"{BASE}/{collection}?active=true", headers=STAFF))
    assert gone["total"] == total - 1
    back = await ok(await client.post(f"{url}/reactivate", json={"reason": "came back"}, headers=ADMIN))
    assert back[kind]["active"] is True
    assert [r.after["reason"] for r in audit_rows(f"{kind}.reactivated")] == ["came back"]

    missing_url = f"{BASE}/{collection}/{missing.replace('+', '%2B')}"
    for call in (
        client.get(missing_url, headers=STAFF),
        client.patch(missing_url, json=edit, headers=ADMIN),
        client.post(f"{missing_url}/deactivate", json={"reason": "x"}, headers=ADMIN),
    ):
        assert (await error_of(await call, 404))["code"] == "not_found"
    too_long = await error_of(await client.post(f"{url}/deactivate", json={"reason": "x" * 501}, headers=ADMIN), 400)
    assert too_long["field"] == "reason"
