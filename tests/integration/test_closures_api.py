"""Closures through the admin API (GET/POST /api/admin/closures, POST .../{id}/cancel) and the CLI (`hsm closures
add|list|cancel`): roles, validation, duplicates refused before anyone is told, the families' broadcast queued once;
makeups booked into the closed classes cancelled and their families told after the commit."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from hsm.cli import main as hsm_main
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.office import admin_api
from hsm.office.admin_api import closures as closures_api
from hsm.outreach import broadcast, notify
from hsm.outreach.notices import Notice
from hsm.outreach.notify import DeliveryReport
from hsm.whatsapp.templates import TEMPLATES_FILE, import_templates
from tests.integration.test_admin_api import ADMIN, SECRET, STAFF, error_of

URL = "/api/admin/closures"


@pytest_asyncio.fixture
async def api(school_db, monkeypatch):
    """(HTTP client of the admin API, None, the broadcast ids handed to the queue); nothing is sent."""
    monkeypatch.setenv("ADMIN_JWT_SECRET", SECRET)
    import_templates(TEMPLATES_FILE, school_db)
    queued: list[int] = []
    client = TestClient(TestServer(admin_api.create_admin_app(enqueue=queued.append)))
    await client.start_server()
    yield client, None, queued
    await client.close()


def closures_in_db() -> list[m.Closure]:
    with session_scope() as s:
        return list(s.execute(select(m.Closure).order_by(m.Closure.id)).scalars())


def broadcasts_in_db() -> int:
    with session_scope() as s:
        return s.execute(select(func.count()).select_from(m.Broadcast)).scalar_one()


# ------------------------------------------------------------------------------------------------ API


@pytest.mark.asyncio
async def test_admin_closes_a_batch_families_told_once_then_reopens(api):
    client, _, queued = api
    body = {"start_date": "2026-12-03", "end_date": "2026-12-04", "reason": "Diwali", "batches": ["GTR-BEG-TT17"]}
    response = await client.post(URL, json=body, headers=ADMIN)
    assert response.status == 201, await response.text()
    made = await response.json()
    assert made["start_date"] == "2026-12-03" and made["end_date"] == "2026-12-04" and made["status"] == "active"
    assert made["batches"] == ["GTR-BEG-TT17"] and made["whole_school"] is False and made["notified"] is True
    assert made["created_by"] == "api:meera"
    notice = made["notice"]
    assert notice["recipients"] == 8 and notice["not_told"] is None and queued == [notice["broadcast_id"]]

    duplicate = await error_of(await client.post(URL, json=body, headers=ADMIN), 409)
    assert duplicate["code"] == "duplicate_closure"
    assert queued == [notice["broadcast_id"]] and broadcasts_in_db() == 1  # nobody told twice

    listed = await (await client.get(URL, headers=STAFF)).json()
    assert listed["total"] == 1 and [c["id"] for c in listed["closures"]] == [made["id"]]

    cancelled = await client.post(f"{URL}/{made['id']}/cancel", headers=ADMIN)
    assert cancelled.status == 200, await cancelled.text()
    reopened = await cancelled.json()
    assert reopened["status"] == "cancelled" and reopened["cancelled_by"] == "api:meera"
    assert reopened["notice"]["broadcast_id"] == queued[-1] and len(queued) == 2
    again = await error_of(await client.post(f"{URL}/{made['id']}/cancel", json={}, headers=ADMIN), 409)
    assert again["code"] == "already_cancelled"
    assert (await (await client.get(URL, headers=ADMIN)).json())["total"] == 0
    everything = await (await client.get(f"{URL}?include_cancelled=true&from=2026-12-01", headers=ADMIN)).json()
    assert everything["total"] == 1 and everything["closures"][0]["status"] == "cancelled"


@pytest.mark.asyncio
async def test_whole_school_without_notice_and_the_list_filters(api):
    client, _, queued = api
    for body in (
        {"start_date": "2026-12-14", "reason": "Elections", "notify": False},
        {"start_date": "2027-01-04", "end_date": "2027-01-08", "reason": "Winter break", "notify": False},
    ):
        response = await client.post(URL, json=body, headers=ADMIN)
        assert response.status == 201, await response.text()
        made = await response.json()
        assert made["whole_school"] is True and made["batches"] == [] and made["notified"] is False
        assert made["notice"] == {
            "broadcast_id": None,
            "recipients": 0,
            "not_told": "not asked to",
            "makeups_cancelled": 0,
            "makeup_families_told": 0,
        }
    assert queued == []
    january = await (await client.get(f"{URL}?from=2027-01-01&to=2027-01-31", headers=ADMIN)).json()
    assert [c["reason"] for c in january["closures"]] == ["Winter break"]
    page = await (await client.get(f"{URL}?limit=1&offset=1", headers=ADMIN)).json()
    assert (page["total"], page["limit"], page["offset"], len(page["closures"])) == (2, 1, 1, 1)


def _makeup_booked(day: str) -> int:
    """Anika (Keyboard Kids) booked into Keyboard Beginner's class on `day` with a credit; the booking's id."""
    from tests.integration.test_makeup_cancel import booked

    with session_scope() as s:
        return booked(s, "HSM-24-008", date.fromisoformat(day)).id


def _booking_status(booking_id: int) -> tuple[str, str]:
    with session_scope() as s:
        booking = s.get(m.MakeupBooking, booking_id)
        return booking.status, booking.credit.status


@pytest.mark.asyncio
async def test_a_closure_cancels_the_makeups_in_it_and_tells_their_families_after_the_commit(api, monkeypatch):
    client, _, queued = api
    booking_id = _makeup_booked("2026-12-04")
    sent: list[Notice] = []

    async def deliver(notices, client=None, kind="reminders"):  # noqa: ANN001, ANN202 - notify.deliver's shape
        assert _booking_status(booking_id) == ("cancelled", "open")  # committed before anyone is told
        sent.extend(notices)
        return DeliveryReport(Counter(sent=len(notices)))

    monkeypatch.setattr(closures_api, "deliver", deliver)
    body = {"start_date": "2026-12-04", "reason": "piano tuning", "batches": ["KEY-BEG-MWF18"]}
    response = await client.post(URL, json=body, headers=ADMIN)
    assert response.status == 201, await response.text()
    notice = (await response.json())["notice"]
    assert (notice["makeups_cancelled"], notice["makeup_families_told"]) == (1, 1) and len(queued) == 1
    assert [(n.phone, n.template) for n in sent] == [("+919845000007", "makeup_cancelled")]
    assert "Anika's makeup class, Keyboard Beginner on Fri, Dec 4 at 6:00 PM, is cancelled" in sent[0].text


@pytest.mark.asyncio
async def test_the_api_refuses(api):
    client, _, queued = api
    staff = await error_of(await client.post(URL, json={"start_date": "2026-12-14", "reason": "x"}, headers=STAFF), 403)
    assert staff["code"] == "forbidden"
    assert (await error_of(await client.post(f"{URL}/1/cancel", headers=STAFF), 403))["code"] == "forbidden"
    cases = [
        ({"reason": "x"}, 400, "start_date"),
        ({"start_date": "14 Dec", "reason": "x"}, 400, "start_date"),
        ({"start_date": "2026-12-14"}, 400, "reason"),
        ({"start_date": "2026-12-14", "end_date": "2026-12-10", "reason": "x"}, 400, "end_date"),
        ({"start_date": "2026-12-14", "end_date": "2027-03-01", "reason": "x"}, 400, "end_date"),
        ({"start_date": "2026-11-02", "reason": "x"}, 400, "start_date"),
        ({"start_date": "2026-12-14", "reason": "x", "batches": ["NOPE"]}, 400, "batches"),
        ({"start_date": "2026-12-14", "reason": "x", "batches": []}, 400, "batches"),
        ({"start_date": "2026-12-14", "reason": "x", "notify": "yes"}, 400, "notify"),
        ({"start_date": "2026-12-14", "reason": "x", "colour": "red"}, 400, "colour"),
    ]
    for body, status, field in cases:
        error = await error_of(await client.post(URL, json=body, headers=ADMIN), status)
        assert error["field"] == field, (body, error)
    holiday = await error_of(
        await client.post(URL, json={"start_date": "2026-12-25", "reason": "x"}, headers=ADMIN), 409
    )
    assert holiday["code"] == "already_closed"
    assert (await error_of(await client.post(f"{URL}/999/cancel", headers=ADMIN), 404))["code"] == "not_found"
    assert (await error_of(await client.get(f"{URL}?from=2026-12-10&to=2026-12-01", headers=ADMIN), 400))[
        "field"
    ] == "to"
    assert (await error_of(await client.get(f"{URL}?include_cancelled=maybe", headers=ADMIN), 400))["field"] == (
        "include_cancelled"
    )
    assert queued == [] and closures_in_db() == []


# ------------------------------------------------------------------------------------------------ CLI


def test_cli_add_list_cancel(school_db, capsys, monkeypatch):
    import_templates(TEMPLATES_FILE, school_db)
    sent: list[int] = []
    monkeypatch.setattr(
        broadcast,
        "enqueue_broadcast",
        lambda broadcast_id: sent.append(broadcast_id) or broadcast.Enqueued(broadcast_id, "rq", "job"),
    )
    add = ["closures", "add", "--from", "2026-12-14", "--to", "15 Dec", "--batch", "GTR-BEG-TT17", "--reason", "Exams"]
    assert hsm_main([*add, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("would close Mon, Dec 14 to Tue, Dec 15 for Guitar Beginner (GTR-BEG-TT17): Exams;")
    assert "8 number(s) would be told in one broadcast (dry run)" in out
    assert closures_in_db() == [] and broadcasts_in_db() == 0 and sent == []

    assert hsm_main(add) == 0
    out = capsys.readouterr().out
    (closure,) = closures_in_db()
    assert f"(closure #{closure.id}); 8 number(s) told in one broadcast" in out
    assert f"broadcast #{closure.broadcast_id} queued for `hsm worker`" in out and sent == [closure.broadcast_id]
    assert closure.created_by == "cli:operator"

    assert hsm_main(add) == 2
    assert "already closed" in capsys.readouterr().err and broadcasts_in_db() == 1 and len(sent) == 1

    assert hsm_main(["closures", "add", "--from", "2026-12-18", "--reason", "Annual day", "--no-notify"]) == 0
    assert "nobody told (not asked to)" in capsys.readouterr().out
    assert hsm_main(["closures", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 2 and "GTR-BEG-TT17" in listed[0] and "whole school" in listed[1]
    assert "Exams" in listed[0] and "told" in listed[0] and "not told" in listed[1]

    assert hsm_main(["closures", "cancel", str(closure.id), "--dry-run"]) == 0
    assert "would reopen" in capsys.readouterr().out and closures_in_db()[0].cancelled_at is None
    assert hsm_main(["closures", "cancel", str(closure.id), "--by", "meera"]) == 0
    out = capsys.readouterr().out
    assert f"reopened closure #{closure.id}" in out and "8 number(s) told" in out and len(sent) == 2
    assert closures_in_db()[0].cancelled_by == "cli:meera"
    assert hsm_main(["closures", "cancel", str(closure.id)]) == 2
    assert "already cancelled" in capsys.readouterr().err
    assert hsm_main(["closures", "list"]) == 0 and len(capsys.readouterr().out.splitlines()) == 1
    assert hsm_main(["closures", "list", "--all"]) == 0
    assert "cancelled" in capsys.readouterr().out


def test_cli_closure_cancels_makeups_and_sends_their_notices(school_db, capsys, monkeypatch):
    monkeypatch.setattr(
        broadcast, "enqueue_broadcast", lambda broadcast_id: broadcast.Enqueued(broadcast_id, "rq", "j")
    )
    booking_id = _makeup_booked("2026-12-04")
    sent: list[Notice] = []

    async def deliver(notices, client=None, kind="reminders"):  # noqa: ANN001, ANN202 - notify.deliver's shape
        sent.extend(notices)
        return DeliveryReport(Counter(sent=len(notices)))

    monkeypatch.setattr(notify, "deliver", deliver)
    add = ["closures", "add", "--from", "2026-12-04", "--batch", "KEY-BEG-MWF18", "--reason", "piano tuning"]
    assert hsm_main([*add, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert (
        "1 makeup booking(s) in those classes would be cancelled (credits back), 1 family number(s) would be told"
        in out
    )
    assert _booking_status(booking_id) == ("booked", "used") and sent == []
    assert hsm_main(add) == 0
    out = capsys.readouterr().out
    assert "1 makeup booking(s) in those classes cancelled (credits back), 1 family number(s) told" in out
    assert "makeup notices: 1 of 1 delivered" in out and [n.phone for n in sent] == ["+919845000007"]
    assert _booking_status(booking_id) == ("cancelled", "open")


def test_cli_refusals(school_db, capsys):
    assert hsm_main(["closures", "add", "--from", "2026-12-10", "--to", "2026-12-01", "--reason", "x"]) == 2
    assert "before the start" in capsys.readouterr().err
    assert hsm_main(["closures", "add", "--from", "2026-12-10", "--batch", "NOPE", "--reason", "x"]) == 2
    assert "NOPE" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        hsm_main(["closures", "add", "--from", "someday", "--reason", "x"])
    assert "not a date" in capsys.readouterr().err
    assert closures_in_db() == []
