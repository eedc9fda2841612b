"""GET /api/admin/absences: the families' notices and the alerts of a day, for staff and admins only."""

from __future__ import annotations

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from hsm.infra.db import session_scope
from hsm.office import admin_api
from tests.integration.test_absences import SRINIVAS, notice_for
from tests.integration.test_admin_api import SECRET, STAFF, error_of

URL = "/api/admin/absences"


@pytest_asyncio.fixture
async def client(school_db, monkeypatch):
    monkeypatch.setenv("ADMIN_JWT_SECRET", SECRET)
    api = TestClient(TestServer(admin_api.create_admin_app(enqueue=lambda _: None)))
    await api.start_server()
    yield api
    await api.close()


@pytest.mark.asyncio
async def test_staff_list_the_notices_of_a_day(client):
    with session_scope() as s:
        notice_for(s, SRINIVAS, "Nikhil can't come to class today, he is unwell")
    response = await client.get(URL, headers=STAFF)  # default: today (Tue, Dec 1)
    assert response.status == 200, await response.text()
    listed = await response.json()
    assert listed["total"] == 1 and listed["limit"] == 50 and listed["offset"] == 0
    (item,) = listed["absences"]
    assert item["kind"] == "notice" and item["class_date"] == "2026-12-01"
    assert item["starts_at"] == "2026-12-01T18:00:00+05:30"
    assert item["student"]["name"] == "Nikhil Reddy" and item["batch"]["code"] == "KEY-INT-TS18"
    assert item["reason"] == "Nikhil can't come to class today, he is unwell"
    other_day = await (await client.get(URL, params={"from": "2026-12-02"}, headers=STAFF)).json()
    assert other_day["total"] == 0


@pytest.mark.asyncio
async def test_the_list_refuses_bad_dates_and_no_token(client):
    await error_of(await client.get(URL, params={"from": "2026-12-05", "to": "2026-12-01"}, headers=STAFF), 400)
    await error_of(await client.get(URL, params={"from": "2026-01-01", "to": "2026-12-01"}, headers=STAFF), 400)
    await error_of(await client.get(URL, params={"from": "tomorrow"}, headers=STAFF), 400)
    assert (await client.get(URL)).status == 401
