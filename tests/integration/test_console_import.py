"""Import and export from the console over HTTP: admins only, CSRF, the dry run's diff without writing, apply
from the server-side copy (bound to the session, deleted after), bad files and bad rows, and the export workbook."""

from __future__ import annotations

import csv
import io

import pytest
from aiohttp import FormData

from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.office import admin_api, staff  # noqa: F401 - admin_api first: hsm.office.console imports it back
from hsm.office.console import uploads
from hsm.records.sheets.export import export_sheet
from tests.integration import test_console as base
from tests.integration.test_console import PASSWORD, audit, csrf_of, error_text, page, sign_in

pytestmark = pytest.mark.asyncio
client = base.client  # the admin API's app with the demo school's staff accounts
IRFAN = "HSM-24-009"  # Mohammed Irfan: two enrollments, two rows of the students sheet


@pytest.fixture(autouse=True)
def upload_root(tmp_path, monkeypatch):
    root = tmp_path / "uploads"
    monkeypatch.setattr(uploads, "ROOT", root)
    return root


def students_csv(tmp_path, change: dict[str, str], rows_changed: int = 2) -> bytes:
    """The export's students CSV, cut to Irfan's rows with `change` (column title -> value) made in the first
    `rows_changed`."""
    path = tmp_path / "export.csv"
    with session_scope() as session:
        export_sheet(session, path, ["students"])
    headers, *rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    irfans = [row for row in rows if IRFAN in row]
    assert len(irfans) == 2
    for row in irfans[:rows_changed]:
        for title, value in change.items():
            row[headers.index(title)] = value
    out = io.StringIO()
    csv.writer(out).writerows([headers, *irfans])
    return out.getvalue().encode()


async def upload(client, body: str, name: str, content: bytes, **fields: str):
    form = FormData({"csrf": csrf_of(body), **fields})
    form.add_field("file", content, filename=name, content_type="text/csv")
    return await client.post("/office/import", data=form, allow_redirects=False)


def name_of(enrollment_id: str) -> str:
    with session_scope() as session:
        return session.query(m.Student).filter_by(enrollment_id=enrollment_id).one().name


async def test_only_admins_import_or_export(client):
    with session_scope() as session:
        staff.add_account(session, "test", login="desk", name="Front Desk", role="staff")
        staff.set_password(session, "test", "desk", PASSWORD)
    for login in ("rahul", "desk"):
        await sign_in(client, login)
        body = await page(client, "/office/people")
        assert "/office/import" not in body
        await page(client, "/office/import", 403)
        assert (await client.get("/office/export.xlsx")).status == 403
        refused = await upload(client, body, "s.csv", b"Enrollment ID,Name\nHSM-24-009,X\n")
        assert refused.status == 403
        await client.post("/office/sign-out", data={"csrf": csrf_of(body)})


async def test_the_dry_run_shows_the_diff_and_apply_writes_it(client, tmp_path, upload_root):
    await sign_in(client, "meera")
    body = await page(client, "/office/import")
    content = students_csv(tmp_path, {"Student Name": "Mohammed Irfan Khan"})
    no_csrf = FormData({"file": content})
    assert (await client.post("/office/import", data=no_csrf)).status == 403
    preview = await upload(client, body, "../../students.csv", content)
    assert preview.status == 200
    diff = await preview.text()
    assert "Would update" in diff and "<del>Mohammed Irfan</del> → <ins>Mohammed Irfan Khan</ins>" in diff
    assert "students.csv" in diff and "Apply these changes" in diff
    assert name_of(IRFAN) == "Mohammed Irfan" and not audit("import.update")
    (kept,) = list(upload_root.iterdir())
    (name,) = {path.name for path in kept.iterdir()} - {"upload.json"}
    assert name.endswith("students.csv") and not (tmp_path / "students.csv").exists()  # no folders
    applied = await client.post(f"/office/import/{kept.name}/apply", data={"csrf": csrf_of(diff)})
    assert applied.status == 200
    assert "Imported" in await applied.text()
    assert name_of(IRFAN) == "Mohammed Irfan Khan"
    (row,) = audit("import.update")
    assert row.actor == "console:meera" and row.after == {"name": "Mohammed Irfan Khan"}
    assert not kept.exists()  # deleted after apply
    again = await client.post(f"/office/import/{kept.name}/apply", data={"csrf": csrf_of(diff)})
    assert again.status == 404
    assert "Mohammed Irfan Khan" in await page(client, f"/office/students/{IRFAN}")


async def test_an_upload_belongs_to_its_session(client, tmp_path, upload_root):
    await sign_in(client, "meera")
    body = await page(client, "/office/import")
    await upload(client, body, "students.csv", students_csv(tmp_path, {"Student Name": "Someone Else"}))
    (kept,) = list(upload_root.iterdir())
    await client.post("/office/sign-out", data={"csrf": csrf_of(body)})
    await sign_in(client, "farhan")  # another session (another admin)
    other = await page(client, "/office/import")
    assert (await client.post(f"/office/import/{kept.name}/apply", data={"csrf": csrf_of(other)})).status == 404
    assert (await client.post("/office/import/..%2F..%2Fetc/apply", data={"csrf": csrf_of(other)})).status == 404
    assert name_of(IRFAN) == "Mohammed Irfan"


async def test_bad_files_and_bad_rows_are_explained(client, tmp_path, upload_root):
    await sign_in(client, "meera")
    body = await page(client, "/office/import")
    wrong = await upload(client, body, "notes.txt", b"hello")
    assert wrong.status == 400 and "saved as .xlsx (Excel) or .csv" in error_text(await wrong.text())
    broken = await upload(client, body, "records.xlsx", b"not a zip file")
    assert broken.status == 400 and "cannot read records.xlsx" in error_text(await broken.text())
    assert list(upload_root.iterdir()) == []  # refused files are not kept
    too_big = await upload(client, body, "big.csv", b"x" * (uploads.MAX_BYTES + 100 * 1024))
    assert too_big.status == 413 and "at most 2 MB" in await too_big.text()
    bad = await upload(client, body, "students.csv", students_csv(tmp_path, {"DOB": "31/02/2015"}, 1))
    text = await bad.text()
    assert bad.status == 200 and "1 bad row" in text and "<td>students.csv</td><td>2</td>" in text
    assert "Apply these changes" not in text
    (kept,) = list(upload_root.iterdir())
    skipped = await client.post(f"/office/import/{kept.name}/preview", data={"csrf": csrf_of(text), "skip_bad": "1"})
    skipped_text = await skipped.text()
    assert "Bad rows left out" in skipped_text and "students.csv row 2" in skipped_text


async def test_the_export_is_the_import_workbook(client):
    await sign_in(client, "meera")
    response = await client.get("/office/export.xlsx")
    assert response.status == 200 and response.content_type.endswith("spreadsheetml.sheet")
    assert "attachment" in response.headers["Content-Disposition"]
    assert (await response.read()).startswith(b"PK")


async def test_an_import_that_moves_a_batchs_days_cancels_its_makeups_and_tells_the_families(
    client, tmp_path, monkeypatch
):
    from hsm.office.console import imports
    from hsm.outreach.notify import DeliveryReport
    from tests.integration.test_makeup_cancel import HOST, KAVITHA, WEDNESDAY, booked

    with session_scope() as session:
        booking_id = booked(session, "HSM-24-008", WEDNESDAY).id
    sent: list = []

    async def deliver(notices):
        sent.extend(notices)
        report = DeliveryReport()
        report.outcomes["sent"] = len(notices)
        return report

    monkeypatch.setattr(imports, "deliver", deliver)
    path = tmp_path / "export.csv"
    with session_scope() as session:
        export_sheet(session, path, ["batches"])
    headers, *rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    (row,) = [row for row in rows if HOST in row]
    days = next(i for i, title in enumerate(headers) if title.lower().startswith("days"))
    row[days] = row[days].replace("Wed", "").replace(",,", ",").replace(", ,", ",").strip(", ")
    out = io.StringIO()
    csv.writer(out).writerows([headers, row])

    await sign_in(client, "meera")
    preview = await upload(client, await page(client, "/office/import"), "batches.csv", out.getvalue().encode())
    diff = await preview.text()
    assert "Would cancel makeups" in diff and "Anika Reddy: Keyboard Beginner on Wed, Dec 2 " in diff
    assert "the batch no longer meets on Wednesdays" in diff and sent == []
    with session_scope() as session:
        assert session.get(m.MakeupBooking, booking_id).status == "booked"  # a dry run

    (kept,) = list(uploads.ROOT.iterdir())
    applied = await (await client.post(f"/office/import/{kept.name}/apply", data={"csrf": csrf_of(diff)})).text()
    assert "Makeups cancelled" in applied and "1 of 1 family number told" in applied
    assert [notice.phone for notice in sent] == [KAVITHA]
    with session_scope() as session:
        booking = session.get(m.MakeupBooking, booking_id)
        assert (booking.status, booking.credit.status) == ("cancelled", "open")
