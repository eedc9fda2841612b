"""People beyond students over HTTP: the search across kinds (tagged, paginated, admins for admins only), a
guardian's and a teacher's page with the office's edits through the lifecycle, and what teachers may not open."""

from __future__ import annotations

import pytest

from hsm.infra.db import session_scope
from hsm.office import staff
from tests.integration import test_console as base
from tests.integration.test_console import PASSWORD, audit, csrf_of, error_text, page, sign_in

pytestmark = pytest.mark.asyncio
client = base.client  # the admin API's app with the demo school's staff accounts


def guardian_id(phone: str) -> int:
    from hsm.people.lifecycle import find_person

    with session_scope() as session:
        return find_person(session, "guardian", phone).id


async def test_the_search_finds_guardians_teachers_and_admins_tagged_by_kind(client):
    await sign_in(client, "meera")
    found = await page(client, "/office/people?q=98450+00002")  # Susan Thomas's phone finds her and Mary
    assert "Found for “98450 00002”: 1 student, 1 guardian, 0 teachers, 0 admins." in found
    assert f'href="/office/guardians/{guardian_id("+919845000002")}">Susan Thomas</a>' in found
    assert 'class="tag kind-guardian">guardian</span>' in found and "parent of HSM-24-002" in found
    rahul = await page(client, "/office/people?q=rahul")
    assert "2 students, 0 guardians, 1 teacher, 0 admins" in rahul
    assert 'href="/office/teachers/T-101">Rahul Menon</a>' in rahul
    assert "Rahul Menon" in await page(client, "/office/people?q=t-101")  # by employee id
    assert "Meera" in await page(client, "/office/people?q=ADM-1")
    assert "Nobody matches" in await page(client, "/office/people?q=zzzz")
    guardians = await page(client, "/office/people?kind=guardian")
    assert "Students (40)" in guardians and 'aria-current="page">Guardians' in guardians
    assert "HSM-24-001" not in guardians and "Page 1 of" in guardians
    everyone = await page(client, "/office/people?page=3")  # 40 students, then the guardians
    assert "Page 3 of" in everyone and "kind-guardian" in everyone and "kind-student" not in everyone


async def test_office_staff_do_not_find_admins(client):
    with session_scope() as session:
        staff.add_account(session, "test", login="desk", name="Front Desk", role="staff")
        staff.set_password(session, "test", "desk", PASSWORD)
    await sign_in(client, "desk")
    found = await page(client, "/office/people?q=meera")
    assert "Admins (" not in found and "kind-admin" not in found and "ADM-1" not in found
    assert "Susan Thomas" in await page(client, "/office/people?q=susan")


async def test_a_guardians_page_lists_the_children_and_takes_the_offices_edits(client):
    await sign_in(client, "meera")
    path = f"/office/guardians/{guardian_id('+919845000002')}"
    body = await page(client, path)
    assert "Susan Thomas" in body and "+919845000002" in body
    assert '<a href="/office/students/HSM-24-002">Mary Thomas</a>' in body and "(mother)" in body
    form = {"csrf": csrf_of(body), "name": "Susan Mary Thomas", "phone": "12ab", "email": ""}
    refused = await client.post(f"{path}/edit", data=form, allow_redirects=False)
    assert refused.status == 400 and "is not a valid phone number" in error_text(await refused.text())
    form["phone"] = "+91 98450 00099"
    saved = await client.post(f"{path}/edit", data=form, allow_redirects=False)
    assert saved.status == 303 and saved.headers["Location"] == f"{path}?saved=edit"
    after = await page(client, saved.headers["Location"])
    assert "Details saved." in after and "Susan Mary Thomas" in after and "+919845000099" in after
    (row,) = audit("guardian.updated")
    assert row.actor == "console:meera" and row.after["name"] == "Susan Mary Thomas"
    no_reason = await client.post(f"{path}/active", data={"csrf": csrf_of(after), "active": "0"})
    assert no_reason.status == 400 and "a reason is required" in error_text(await no_reason.text())
    left = await client.post(f"{path}/active", data={"csrf": csrf_of(after), "active": "0", "reason": "moved"})
    assert left.status == 200 and "Reactivate" in await left.text()
    (row,) = audit("guardian.deactivated")
    assert row.actor == "console:meera" and row.after["reason"] == "moved"
    await page(client, "/office/guardians/999999", 404)
    await page(client, "/office/guardians/..%2F1", 404)


async def test_a_teachers_page_shows_batches_and_leave_and_takes_edits(client):
    await sign_in(client, "meera")
    body = await page(client, "/office/teachers/t-101")
    assert "Rahul Menon" in body or "Mr. Rahul" in body
    for code in ("GTR-BEG-TT17", "GTR-INT-TH18", "PNO-ADV-TU19"):
        assert f'href="/office/register/{code}"' in body
    assert "Leave coming up" in body and "Save details" in body
    form = {"csrf": csrf_of(body), "name": "Rahul Menon", "title": "Dr", "phone": "", "email": "rahul@example.com"}
    saved = await client.post("/office/teachers/T-101/edit", data=form, allow_redirects=False)
    assert saved.status == 303
    assert "rahul@example.com" in await page(client, "/office/teachers/T-101?saved=edit")
    assert audit("teacher.updated")[0].actor == "console:meera"
    await page(client, "/office/teachers/T-999", 404)


async def test_teachers_see_their_own_page_only_and_no_guardians(client):
    await sign_in(client, "rahul")
    own = await page(client, "/office/teachers/T-101")
    assert "GTR-BEG-TT17" in own and "Save details" not in own and "Deactivate" not in own
    await page(client, "/office/teachers/T-102", 404)  # Priya's
    await page(client, f"/office/guardians/{guardian_id('+919845000002')}", 404)  # his student's mother
    found = await page(client, "/office/people?q=susan")
    assert "Susan Thomas" not in found and "kind=guardian" not in found
    edit = await client.post("/office/teachers/T-101/edit", data={"csrf": csrf_of(own), "name": "Rahul"})
    assert edit.status == 403
    assert not audit("teacher.updated")
