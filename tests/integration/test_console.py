"""The office console over HTTP (aiohttp's test client against the admin API's app): signing in and out, the
session cookie, CSRF, expiry, the Today page and People for the demo school, and what a teacher may see."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, update

from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.office import admin_api, staff
from hsm.office.console import sessions
from hsm.office.console.sign_in_pages import FAILED

SECRET = "test-console-secret-" + "0123456789abcdef" * 4
PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf" value="([^"]*)"')
# Rahul Menon (T-101) teaches GTR-BEG-TT17, GTR-INT-TH18 and PNO-ADV-TU19; these students are in none of them.
NOT_RAHULS = {
    "HSM-24-008": ("Anika Reddy", "+919845000007"),
    "HSM-24-019": ("Isha Gupta", "+919845000019"),
    "HSM-24-037": ("Omar Sheikh", "+919845000037"),
    "HSM-24-038": ("Siddharth Bose", "+919845000038"),
}

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def client(school_db, monkeypatch):
    """A client of the admin API's app with the demo school's staff accounts; meera (admin), rahul and priya
    (teachers) have PASSWORD."""
    monkeypatch.setenv("ADMIN_JWT_SECRET", SECRET)
    with session_scope() as session:
        staff.add_from_school(session, "test")
        for login in ("meera", "rahul", "priya", "farhan"):
            staff.set_password(session, "test", login, PASSWORD)
    test_client = TestClient(TestServer(admin_api.create_admin_app(enqueue=lambda _: None)))
    await test_client.start_server()
    yield test_client
    await test_client.close()


async def sign_in(client, login: str, password: str = PASSWORD, headers: dict | None = None):
    form = await client.get("/office/sign-in")
    assert form.status == 200
    token = CSRF.search(await form.text()).group(1)
    return await client.post(
        "/office/sign-in",
        data={"login": login, "password": password, "csrf": token, "next": "/office/"},
        allow_redirects=False,
        headers=headers or {},
    )


async def page(client, path: str, status: int = 200) -> str:
    response = await client.get(path, allow_redirects=False)
    assert response.status == status, (path, response.status, response.headers.get("Location"))
    assert response.content_type == "text/html"
    return await response.text()


def csrf_of(body: str) -> str:
    return CSRF.search(body).group(1)


def error_text(body: str) -> str:
    return re.search(r'<p class="error"[^>]*>([^<]*)</p>', body).group(1)


def audit(action: str) -> list[m.AuditLog]:
    with session_scope() as session:
        return list(session.execute(select(m.AuditLog).where(m.AuditLog.action == action)).scalars())


# ------------------------------------------------------------------------------------------------ signing in


async def test_an_admin_signs_in_with_a_session_cookie(client):
    response = await sign_in(client, "meera")
    assert response.status == 303 and response.headers["Location"] == "/office/"
    cookie = next(c for c in response.headers.getall("Set-Cookie") if c.startswith(f"{sessions.COOKIE}="))
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/office"} <= flags
    assert "secure" not in flags  # plain HTTP (the local stack); see the next test
    value = cookie.split(";")[0].split("=", 1)[1]
    session_id = value.rsplit(".", 1)[0]
    with session_scope() as session:
        row = session.execute(select(m.ConsoleSession)).scalar_one()
        assert row.id_hash == sessions.id_hash(session_id) and session_id not in row.id_hash
        assert row.revoked_at is None
    assert [row.entity_id for row in audit("console.signed_in")] == ["meera"]
    body = await page(client, "/office/")
    assert "Meera Krishnan" in body and "Sign out" in body


async def test_the_cookie_is_secure_behind_https(client):
    response = await sign_in(client, "meera", headers={"X-Forwarded-Proto": "https"})
    cookie = next(c for c in response.headers.getall("Set-Cookie") if c.startswith(f"{sessions.COOKIE}="))
    assert "secure" in cookie.lower()


async def test_every_failed_sign_in_says_the_same(client):
    with session_scope() as session:
        staff.deactivate(session, "test", "farhan")
    outcomes = {}
    for login, password in [("meera", "wrong password here"), ("nobody", PASSWORD), ("farhan", PASSWORD)]:
        response = await sign_in(client, login, password)
        outcomes[login] = (response.status, error_text(await response.text()))
    for _ in range(5):  # rahul's fifth wrong password locks the account: then even the right one fails alike
        await sign_in(client, "rahul", "not rahuls password")
    response = await sign_in(client, "rahul", PASSWORD)
    body = await response.text()
    outcomes["rahul"] = (response.status, error_text(body))
    assert set(outcomes.values()) == {(401, FAILED)}
    for word in ("locked", "unknown", "no such", "deactivated", "inactive", "exist"):
        assert word not in body.lower()
    assert sessions.COOKIE not in client.session.cookie_jar.filter_cookies(client.make_url("/office/"))
    assert audit("staff.locked") and not audit("console.signed_in")


async def test_posts_without_the_csrf_token_are_refused(client):
    form = await client.get("/office/sign-in")
    refused = await client.post("/office/sign-in", data={"login": "meera", "password": PASSWORD})
    assert refused.status == 403 and "form had expired" in await refused.text()
    forged = await client.post("/office/sign-in", data={"login": "meera", "password": PASSWORD, "csrf": "x" * 43})
    assert forged.status == 403
    assert form.status == 200 and not audit("console.signed_in")
    await sign_in(client, "meera")
    for data in ({}, {"csrf": ""}, {"csrf": "forged"}):
        response = await client.post("/office/sign-out", data=data, allow_redirects=False)
        assert response.status == 403
    await page(client, "/office/")  # still signed in
    assert not audit("console.signed_out")


async def test_sign_out_ends_the_session(client):
    await sign_in(client, "meera")
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/office/"))[sessions.COOKIE].value
    body = await page(client, "/office/")
    response = await client.post("/office/sign-out", data={"csrf": csrf_of(body)}, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/office/sign-in?notice=signed_out"
    assert "You have signed out." in await page(client, "/office/sign-in?notice=signed_out")
    assert [row.entity_id for row in audit("console.signed_out")] == ["meera"]
    client.session.cookie_jar.update_cookies({sessions.COOKIE: cookie}, client.make_url("/office/"))
    again = await client.get("/office/", allow_redirects=False)  # the old cookie is worth nothing now
    assert again.status == 303 and again.headers["Location"].startswith("/office/sign-in?next=")


@pytest.mark.parametrize("column", ["last_seen_at", "expires_at"])
async def test_idle_and_old_sessions_expire(client, column):
    await sign_in(client, "meera")
    await page(client, "/office/")
    past = datetime.now(timezone.utc) - (sessions.IDLE + timedelta(minutes=1))
    with session_scope() as session:
        session.execute(update(m.ConsoleSession).values({column: past}))
    response = await client.get("/office/people", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/office/sign-in?next=%2Foffice%2Fpeople&notice=expired"
    assert "Your session has ended" in await page(client, response.headers["Location"])


async def test_pages_need_a_session_and_the_api_still_needs_its_token(client):
    for path in ("/office/", "/office/people", "/office/students/HSM-24-001"):
        response = await client.get(path, allow_redirects=False)
        assert response.status == 303 and response.headers["Location"].startswith("/office/sign-in?next=")
    api = await client.get("/api/admin/staff")
    assert api.status == 401 and (await api.json())["error"]["code"] == "missing_token"
    moved = await client.get("/office", allow_redirects=False)
    assert moved.headers["Location"] == "/office/"
    style = await client.get("/office/static/console.css")
    assert style.status == 200 and style.content_type == "text/css"


# ------------------------------------------------------------------------------------------------ today


async def test_today_for_the_office(client):
    await sign_in(client, "meera")
    response = await client.get("/office/")
    body = await response.text()
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    assert "Tue 1 Dec 2026, 16:30" in body
    # Tuesday's classes, in time order, each with its teacher; none has started at 16:30.
    order = [body.index(name) for name in ("Guitar Beginner", "Keyboard Intermediate", "Piano Advanced")]
    assert order == sorted(order)
    assert "17:00–18:00" in body and "19:00–20:15" in body and "Mr. Rahul" in body and "Ms. Priya" in body
    assert "Attendance not saved yet" not in body and "No closures, and no teacher is on leave today." in body
    assert "Fatima Begum" in body  # due today
    overdue = body[body.index("Fees overdue") :]
    assert "Vivek Chandra" in overdue and "Mohammed Irfan" in overdue
    assert "No new leads." in body


async def test_today_shows_saved_attendance_leave_and_closures(client, monkeypatch):
    monkeypatch.setenv("HSM_NOW", "2026-12-01T18:30:00+05:30")
    with session_scope() as session:
        batch = session.execute(select(m.Batch).where(m.Batch.code == "GTR-BEG-TT17")).scalar_one()
        student = session.execute(select(m.Student).where(m.Student.enrollment_id == "HSM-24-002")).scalar_one()
        session.add(
            m.AttendanceRecord(
                student_id=student.id,
                batch_id=batch.id,
                class_date=datetime(2026, 12, 1).date(),
                status="present",
                marked_by="T-101",
                source="whatsapp",
            )
        )
        priya = session.execute(select(m.Teacher).where(m.Teacher.employee_id == "T-102")).scalar_one()
        session.add(m.TeacherLeave(teacher_id=priya.id, leave_date=datetime(2026, 12, 1).date(), reason="fever"))
    await sign_in(client, "meera")
    body = await page(client, "/office/")
    assert "Attendance saved</span> via WhatsApp by T-101: 1 present, 0 absent" in body
    assert "Cancelled: teacher on leave" in body and "Ms. Priya" in body and "(fever)" in body


# ------------------------------------------------------------------------------------------------ people


async def test_people_search_pages_and_the_card(client):
    await sign_in(client, "meera")
    body = await page(client, "/office/people?q=rahul")
    assert "Rahul Sharma" in body and "Rahul Verma" in body and "2 students, 0 guardians, 1 teacher" in body
    assert "Siddharth Bose" in await page(client, "/office/people?q=HSM-24-038")
    assert "Siddharth Bose" in await page(client, "/office/people?q=98450+00038")  # his mother's phone
    assert "Nobody matches" in await page(client, "/office/people?q=zzzz")
    first = await page(client, "/office/people?kind=student")
    second = await page(client, "/office/people?kind=student&page=2")
    assert "Page 1 of 2" in first and "HSM-24-001" in first and "HSM-24-021" not in first
    assert "Page 2 of 2" in second and "HSM-24-040" in second
    assert "Page 2 of 2" in await page(client, "/office/people?kind=student&page=99")
    card = await page(client, "/office/students/HSM-24-001")
    for text in ("John Doe", "+919876543210", "Keyboard Beginner", "Guitar Beginner", "₹5,500", "Last payment"):
        assert text in card
    assert "Thu 26 Nov 2026" in card  # the guitar class he attended
    mary = await page(client, "/office/students/hsm-24-002")
    assert "Susan Thomas" in mary and "+919845000002" in mary and "mother" in mary
    await page(client, "/office/students/HSM-99-999", 404)
    missing = await page(client, "/office/no-such-page", 404)
    assert "Not found" in missing


async def test_a_teacher_sees_only_their_batches(client):
    await sign_in(client, "rahul")
    today = await page(client, "/office/")
    assert "Guitar Beginner" in today and "Piano Advanced" in today
    assert "Keyboard Intermediate" not in today and "Fees overdue" not in today and "New leads" not in today
    people = await page(client, "/office/people")
    assert "Mary Thomas" in people and "in your batches" in people
    assert "Page 1 of" not in people  # 19 students: one page
    john = await page(client, "/office/students/HSM-24-001")
    assert "GTR-BEG-TT17" in john and "KEY-BEG-MWF18" not in john and "Last payment" not in john
    for enrollment_id, (name, phone) in NOT_RAHULS.items():
        await page(client, f"/office/students/{enrollment_id}", 404)
        found = await page(client, f"/office/people?q={name.split()[0]}")
        assert name not in found and enrollment_id not in found
        for body in (today, people, john, found):
            assert name not in body and phone not in body and enrollment_id not in body


async def test_another_teacher_sees_theirs(client):
    await sign_in(client, "priya")
    today = await page(client, "/office/")
    assert "Keyboard Intermediate" in today and "Guitar Beginner" not in today
    await page(client, "/office/students/HSM-24-002", 404)  # Mary Thomas is in Rahul's batch
    assert "Isha Gupta" in await page(client, "/office/students/HSM-24-019")
