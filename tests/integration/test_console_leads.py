"""Leads in the console over HTTP: the board, moving a lead with a note (and the rules' messages), enrolling it
through the admissions service, CSRF, and teachers kept out."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.outreach.enrollment import create_lead
from tests.integration import test_console as base
from tests.integration.test_console import audit, csrf_of, error_text, page, sign_in

pytestmark = pytest.mark.asyncio
client = base.client  # the admin API's app with the demo school's staff accounts


def new_lead(name: str, phone: str, course: str = "GUITAR", age: int | None = 30) -> int:
    with session_scope() as session:
        lead, _ = create_lead(session, phone, name, course, age, None, "evenings")
        return lead.id


async def post(client, path: str, body: str, **fields: str):
    return await client.post(path, data={"csrf": csrf_of(body), **fields}, allow_redirects=False)


async def test_the_board_has_a_column_per_status(client):
    lead_id = new_lead("Kiran Rao", "+919811100001")
    await sign_in(client, "meera")
    body = await page(client, "/office/leads")
    for label in ("New", "Contacted", "Trial booked", "Enrolled", "Lost"):
        assert f'>{label} <span class="count">' in body
    assert f'href="/office/leads/{lead_id}">Kiran Rao</a>' in body
    listing = await page(client, "/office/leads?status=new&q=kiran")
    assert "1 lead new matching “kiran”" in listing
    empty = await page(client, "/office/leads?status=lost")
    assert "No leads here" in empty


async def test_moving_a_lead_with_a_note_and_the_rules(client):
    lead_id = new_lead("Kiran Rao", "+919811100001")
    await sign_in(client, "meera")
    body = await page(client, f"/office/leads/{lead_id}")
    response = await post(client, f"/office/leads/{lead_id}/move", body, status="lost", note="")
    assert response.status == 400
    assert error_text(await response.text()) == "a lost lead needs a reason"
    response = await post(client, f"/office/leads/{lead_id}/move", body, status="contacted", note="called, will visit")
    assert response.status == 303
    after = await page(client, response.headers["Location"])
    assert "Saved: the lead is now contacted." in after and "called, will visit" in after
    (row,) = audit("lead.moved")
    assert row.actor == "console:meera" and row.after["note"] == "called, will visit"
    response = await post(
        client, f"/office/leads/{lead_id}/move", after, status="trial_booked", trial_at="2026-11-01 10:00"
    )
    assert response.status == 400
    assert "is past" in error_text(await response.text())
    response = await client.post(f"/office/leads/{lead_id}/move", data={"status": "lost", "reason": "x"})
    assert response.status == 403


async def test_enrolling_a_lead_admits_the_student(client):
    lead_id = new_lead("Kiran Rao", "+919811100001")
    await sign_in(client, "meera")
    body = await page(client, f"/office/leads/{lead_id}")
    response = await post(client, f"/office/leads/{lead_id}/enroll", body, batch="GTR-BEG-TT17", plan="monthly")
    assert response.status == 303
    after = await page(client, response.headers["Location"])
    assert "Saved: the lead is now enrolled." in after
    with session_scope() as session:
        lead = session.get(m.Lead, lead_id)
        student = session.execute(select(m.Student).where(m.Student.id == lead.student_id)).scalar_one()
        assert lead.status == "enrolled" and student.name == "Kiran Rao" and student.phone == "+919811100001"
    assert f'href="/office/students/{student.enrollment_id}"' in after
    child = new_lead("Sunita Das", "+919811100002", age=9)
    body = await page(client, f"/office/leads/{child}")
    response = await post(client, f"/office/leads/{child}/enroll", body, batch="GTR-BEG-TT17", plan="monthly")
    assert response.status == 400
    assert "give the student&#39;s name" in error_text(await response.text())


async def test_teachers_have_no_leads(client):
    lead_id = new_lead("Kiran Rao", "+919811100001")
    await sign_in(client, "rahul")
    assert ">Leads</a>" not in await page(client, "/office/")
    await page(client, "/office/leads", 403)
    await page(client, f"/office/leads/{lead_id}", 403)
