"""The attendance register over HTTP: the month grid, a cell corrected under the UC-10 rules (reason required,
the teacher's window, balance and audit), a teacher refused another teacher's batch, CSRF, CSV and PDF."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from hsm.infra import models as m
from hsm.infra.db import session_scope
from tests.integration import test_console as base
from tests.integration.test_console import audit, csrf_of, error_text, page, sign_in

pytestmark = pytest.mark.asyncio
client = base.client  # the admin API's app with the demo school's staff accounts
NOV = "/office/register/GTR-BEG-TT17?month=2026-11"


def classes_left(enrollment_id: str, batch: str) -> int:
    with session_scope() as session:
        return session.execute(
            select(m.Enrollment.classes_remaining)
            .join(m.Student, m.Student.id == m.Enrollment.student_id)
            .join(m.Batch, m.Batch.id == m.Enrollment.batch_id)
            .where(m.Student.enrollment_id == enrollment_id, m.Batch.code == batch)
        ).scalar_one()


async def correct(client, body: str, **fields: str):
    form = {"csrf": csrf_of(body), "month": "2026-11", **fields}
    return await client.post("/office/register/GTR-BEG-TT17/correct", data=form, allow_redirects=False)


async def test_the_month_grid_shows_each_class_day_and_status(client):
    await sign_in(client, "meera")
    body = await page(client, NOV)
    assert "Guitar Beginner" in body and "November 2026" in body
    assert 'aria-label="John Doe, Thu 26 Nov 2026: present. Correct"' in body
    assert 'aria-label="Mohammed Irfan, Thu 26 Nov 2026: absent. Correct"' in body
    assert 'aria-label="John Doe, Tue 24 Nov 2026: not marked. Correct"' in body
    december = await page(client, "/office/register/KEY-BEG-MWF18?month=2026-12")
    assert 'title="upcoming"' in december and 'title="closed"' in december and 'title="Christmas"' in december
    assert "Fri 25 Dec 2026" not in december  # neither a class to come nor a holiday can be corrected


async def test_an_admin_corrects_a_cell_with_a_reason_and_it_is_audited(client):
    await sign_in(client, "meera")
    body = await page(client, NOV + "&student=HSM-24-009&day=2026-11-26")
    assert "Correct Mohammed Irfan, Thu 26 Nov 2026" in body
    before = classes_left("HSM-24-009", "GTR-BEG-TT17")
    response = await correct(client, body, student="HSM-24-009", day="2026-11-26", status="present", reason="came late")
    assert response.status == 303
    after = await page(client, response.headers["Location"])
    assert "Saved: Mohammed Irfan, Thu 26 Nov 2026 is now present." in after
    assert classes_left("HSM-24-009", "GTR-BEG-TT17") == before - 1
    (row,) = audit("attendance.override")
    assert row.actor == "console:meera"
    assert row.entity_id == "GTR-BEG-TT17:2026-11-26:HSM-24-009"
    assert row.after == {"status": "present", "reason": "came late"}


async def test_a_correction_needs_a_reason_and_a_status(client):
    await sign_in(client, "meera")
    body = await page(client, NOV)
    response = await correct(client, body, student="HSM-24-009", day="2026-11-26", status="present", reason="  ")
    assert response.status == 400
    assert "reason is required" in error_text(await response.text())
    response = await correct(client, body, student="HSM-24-009", day="2026-11-26", status="late", reason="x")
    assert response.status == 400
    assert error_text(await response.text()) == "Choose present or absent."
    response = await correct(client, body, student="HSM-24-009", day="2026-11-25", status="present", reason="x")
    assert response.status == 400
    assert "couldn&#39;t find a class" in error_text(await response.text())
    assert audit("attendance.override") == []


async def test_a_correction_without_the_csrf_token_is_refused(client):
    await sign_in(client, "meera")
    response = await client.post(
        "/office/register/GTR-BEG-TT17/correct",
        data={"student": "HSM-24-009", "day": "2026-11-26", "status": "present", "reason": "x"},
        allow_redirects=False,
    )
    assert response.status == 403
    assert audit("attendance.override") == []


async def test_a_teacher_sees_only_their_batches_and_their_window(client):
    await sign_in(client, "rahul")
    index = await page(client, "/office/register")
    assert "GTR-BEG-TT17" in index and "KEY-BEG-MWF18" not in index
    await page(client, "/office/register/KEY-BEG-MWF18?month=2026-11", 403)
    await page(client, "/office/register/KEY-BEG-MWF18/export.csv", 403)
    body = await page(client, NOV)
    assert "Teachers can correct classes since" in body
    assert 'aria-label="John Doe, Tue 3 Nov 2026' not in body  # older than the window: no link
    response = await correct(client, body, student="HSM-24-001", day="2026-11-03", status="present", reason="x")
    assert response.status == 400
    assert "Teachers can correct classes of the last 7 days" in error_text(await response.text())
    response = await correct(client, body, student="HSM-24-001", day="2026-11-26", status="absent", reason="left early")
    assert response.status == 303
    assert audit("attendance.override")[0].actor == "console:rahul"


async def test_the_month_as_csv_and_pdf(client):
    await sign_in(client, "meera")
    response = await client.get("/office/register/GTR-BEG-TT17/export.csv?month=2026-11")
    assert response.status == 200
    assert 'filename="attendance-GTR-BEG-TT17-2026-11.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0][:3] == ["enrollment_id", "name", "2026-11-03"]
    assert rows[0][-3:] == ["2026-11-26", "present", "absent"]
    by_id = {row[0]: row for row in rows[1:]}
    assert by_id["HSM-24-001"][-3:] == ["present", "1", "0"]
    assert by_id["HSM-24-009"][-3:] == ["absent", "0", "1"]
    assert by_id["HSM-24-001"][2] == "not marked"
    response = await client.get("/office/register/GTR-BEG-TT17/export.pdf?month=2026-11")
    assert response.status == 200 and response.content_type == "application/pdf"
    assert (await response.read()).startswith(b"%PDF")
    await page(client, "/office/register/GTR-BEG-TT17?month=November", 400)
