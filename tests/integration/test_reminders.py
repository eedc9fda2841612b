"""Fee and class reminders in the demo week (Tuesday 1 Dec 2026), checked against the fixture's due dates; sent once,
free-form with payment buttons inside the 24-hour window, templates outside it; opted-out numbers never."""

from __future__ import annotations

import argparse
import os
from datetime import date, datetime, timedelta

import pytest
import pytest_asyncio
import yaml
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from devtools.chat import text_message, webhook_body
from devtools.sandbox import SANDBOX, SandboxConfig, create_app
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.office.admin_cli import add_admin_commands
from hsm.outreach import reminders as rm
from hsm.whatsapp import store
from hsm.whatsapp.client import RetryPolicy, WhatsAppClient
from hsm.whatsapp.payloads import parse_webhook
from hsm.whatsapp.templates import TEMPLATES_FILE, import_templates, load_templates
from tests.conftest import SCHOOL_FILE

TOKEN, PHONE_ID = "rm-token", "100000000000099"
FAST = RetryPolicy(attempts=3, base_delay_s=0.01, max_delay_s=0.05, timeout_s=2.0)
MORNING = "2026-12-01T09:00:00+05:30"
RAMESH, MOHAMMED, VIVEK, NANDINI = "+919845000012", "+919845000009", "+919845000018", "+919845000039"
GUITAR_BEGINNER_CONTACTS = {
    "+919876543210",  # John Doe, adult
    "+919845000002",  # Susan Thomas, Mary's mother
    "+919845000103",  # Salim Khan: Ahmed is 16, so his father (not Ahmed's own phone)
    "+919845000004",  # Sarah Wilson, 17, no guardian: her own phone
    "+919845000005",  # Vikram Sharma
    "+919845000006",  # Neha Verma
    "+919845000007",  # Kavitha Reddy (Aarav)
    "+919845000009",  # Mohammed Irfan, 17, no guardian
}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def fixture_enrollments() -> list[dict]:
    """(enrollment id of the student, batch, next_due, status) straight from the fixture file."""
    school = yaml.safe_load(SCHOOL_FILE.read_text(encoding="utf-8"))
    return [
        {
            "student": s["enrollment_id"],
            "name": s["name"],
            "batch": e["batch"],
            "next_due": date.fromisoformat(e["next_due"]),
            "status": e.get("status", "active"),
        }
        for s in school["students"]
        for e in s["enrollments"]
    ]


def planned_fees(session, now: datetime) -> dict[str, set[tuple[str, str]]]:
    """kind -> {(student name, batch code)} planned for fees at `now`."""
    out: dict[str, set[tuple[str, str]]] = {rm.FEE_DUE: set(), rm.FEE_OVERDUE: set()}
    for reminder in rm.due_reminders(session, now):
        if reminder.kind in out:
            enrollment = session.get(m.Enrollment, int(reminder.subject.split(":")[1]))
            out[reminder.kind].add((enrollment.student.name, enrollment.batch.code))
    return out


def test_demo_week_fee_reminders_match_the_fixture(session, monkeypatch):
    monkeypatch.setenv("HSM_NOW", MORNING)
    now = at(MORNING)
    today = now.date()
    active = [e for e in fixture_enrollments() if e["status"] == "active"]
    expected_due = {(e["name"], e["batch"]) for e in active if e["next_due"] == today + timedelta(days=3)}
    expected_overdue = {(e["name"], e["batch"]) for e in active if e["next_due"] < today}
    assert expected_due == {("Lakshmi Priya", "GTR-INT-TH18"), ("Lakshmi Priya", "VOC-CAR-MT16")}
    assert expected_overdue == {("Mohammed Irfan", "GTR-BEG-TT17"), ("Vivek Chandra", "PNO-ADV-TU19")}
    assert planned_fees(session, now) == {rm.FEE_DUE: expected_due, rm.FEE_OVERDUE: expected_overdue}

    planned = rm.due_reminders(session, now)
    assert [r.kind for r in planned if r.kind == rm.CLASS] == []  # nothing starts between 09:00 and 09:30
    by_phone = {}
    for reminder in planned:
        by_phone.setdefault(reminder.phone, []).append(reminder)
    assert set(by_phone) == {RAMESH, MOHAMMED, VIVEK}  # Lakshmi Priya is 16: her father Ramesh Babu
    assert sorted(r.text for r in by_phone[RAMESH]) == [
        "💰 Hi Ramesh, Lakshmi's monthly payment of ₹1800 for Carnatic Vocals is due on Fri, Dec 4.",
        "💰 Hi Ramesh, Lakshmi's monthly payment of ₹2000 for Guitar is due on Fri, Dec 4.",
    ]
    (overdue,) = by_phone[VIVEK]
    assert overdue.text == (
        "💰 Hi Vivek, your monthly payment of ₹2500 for Piano was due on Fri, Nov 20 and is now overdue."
    )
    assert overdue.template_params == ("Vivek", "monthly", "2500", "Piano", "Fri, Nov 20 (overdue)")
    assert overdue.buttons == rm.PAYMENT_BUTTONS


def test_a_fee_reminder_names_the_plans_own_period(session, monkeypatch):
    monkeypatch.setenv("HSM_NOW", MORNING)
    vivek = session.execute(select(m.Enrollment).join(m.Student).where(m.Student.name == "Vivek Chandra")).scalar_one()
    vivek.plan, vivek.fee = "quarterly", 7000
    session.flush()
    (overdue,) = [r for r in rm.due_reminders(session, at(MORNING)) if r.phone == VIVEK]
    assert overdue.text == (
        "💰 Hi Vivek, your quarterly payment of ₹7000 for Piano was due on Fri, Nov 20 and is now overdue."
    )
    assert overdue.template_params == ("Vivek", "quarterly", "7000", "Piano", "Fri, Nov 20 (overdue)")
    (template,) = [t for t in load_templates() if t.name == rm.PAYMENT_TEMPLATE]
    body = template.content
    for number, value in enumerate(overdue.template_params, start=1):
        body = body.replace(f"{{{{{number}}}}}", value)
    assert body.startswith("Hi Vivek, your quarterly payment of ₹7000 for Piano is due on Fri, Nov 20 (overdue).")
    assert "monthly" not in body


def test_fee_reminder_settings(session, monkeypatch):
    now = at(MORNING)
    monkeypatch.setenv("HSM_FEE_REMINDER_DAYS", "7,3")
    planned = rm.due_reminders(session, now)
    mary = [r for r in planned if r.phone == "+919845000002"]
    assert [r.text for r in mary] == ["💰 Hi Susan, Mary's monthly payment of ₹2000 for Guitar is due on Tue, Dec 8."]
    assert mary[0].subject.endswith(":7d")
    assert planned_fees(session, now)[rm.FEE_DUE] == {
        ("Lakshmi Priya", "GTR-INT-TH18"),
        ("Lakshmi Priya", "VOC-CAR-MT16"),  # Dec 4
        ("Mary Thomas", "GTR-BEG-TT17"),
        ("Yash Agarwal", "DRM-BEG-WF17"),
    }  # Dec 8
    # Due today (Fatima Begum, Dec 1) is not overdue yet; listing 0 adds a reminder on the day itself.
    monkeypatch.setenv("HSM_FEE_REMINDER_DAYS", "0")
    (fatima,) = [r for r in rm.due_reminders(session, now) if r.kind == rm.FEE_DUE]
    assert fatima.text == "💰 Hi Nasreen, Fatima's monthly payment of ₹2000 for Keyboard is due today, Tue, Dec 1."
    monkeypatch.setenv("HSM_FEE_REMINDER_DAYS", "3")
    assert ("Fatima Begum", "KEY-BEG-MWF18") in planned_fees(session, at("2026-12-02T09:00:00+05:30"))[rm.FEE_OVERDUE]
    # Fee reminders wait for working hours; nobody is messaged at midnight.
    assert planned_fees(session, at("2026-12-01T08:59:00+05:30")) == {rm.FEE_DUE: set(), rm.FEE_OVERDUE: set()}
    monkeypatch.setenv("HSM_FEE_REMINDER_DAYS", "three")
    with pytest.raises(ValueError, match="HSM_FEE_REMINDER_DAYS"):
        rm.due_reminders(session, now)


def test_class_reminders_half_an_hour_before(session):
    at_1635 = [r for r in rm.due_reminders(session, at("2026-12-01T16:35:00+05:30")) if r.kind == rm.CLASS]
    assert {r.phone for r in at_1635} == GUITAR_BEGINNER_CONTACTS
    assert {r.subject for r in at_1635} == {"class:GTR-BEG-TT17:2026-12-01T17:00"}
    susan = next(r for r in at_1635 if r.phone == "+919845000002")
    assert susan.text == (
        "🎵 Hi Susan, reminder: Mary's Guitar Beginner class with Mr. Rahul starts at 5:00 PM today (Studio 2)."
    )
    assert susan.template_params == ("Susan", "Guitar Beginner (Mary)", "Mr. Rahul", "5:00 PM")
    assert not [r for r in rm.due_reminders(session, at("2026-12-01T16:29:00+05:30")) if r.kind == rm.CLASS]
    # Saturday's Tabla at 16:00: Omar and Siddharth's mother; Nandini opted out.
    tabla = [r for r in rm.due_reminders(session, at("2026-12-05T15:35:00+05:30")) if r.kind == rm.CLASS]
    assert {r.phone for r in tabla} == {"+919845000037", "+919845000038"}
    # No reminder for a class that will not be held: Christmas (Friday), or the teacher on leave.
    assert not [r for r in rm.due_reminders(session, at("2026-12-25T16:35:00+05:30")) if r.kind == rm.CLASS]
    teacher = session.execute(select(m.Teacher).filter_by(employee_id="T-101")).scalar_one()
    session.add(m.TeacherLeave(teacher_id=teacher.id, leave_date=date(2026, 12, 1), reason="fever"))
    session.flush()
    assert not [r for r in rm.due_reminders(session, at("2026-12-01T16:35:00+05:30")) if r.kind == rm.CLASS]


def test_opted_out_numbers_are_never_reminded(session, monkeypatch):
    monkeypatch.setenv("HSM_FEE_REMINDER_DAYS", "6")  # Dec 7: Nandini Rao and Isha Gupta
    session.add(
        m.WhatsAppSubscription(
            phone_number="+919845000019", is_active=True, preferences={"reminders": False, "announcements": True}
        )
    )
    session.flush()
    planned = rm.due_reminders(session, at(MORNING))
    assert NANDINI not in {r.phone for r in planned}
    assert "+919845000019" not in {r.phone for r in planned}  # Pooja Gupta turned reminders off
    assert planned_fees(session, at(MORNING))[rm.FEE_DUE] == set()


# ------------------------------------------------------------------------------------------------ sending


@pytest_asyncio.fixture
async def sandbox():
    server = TestServer(create_app(SandboxConfig(access_token=TOKEN, phone_number_id=PHONE_ID)))
    await server.start_server()
    yield server
    await server.close()


def client_for(server: TestServer) -> WhatsAppClient:
    return WhatsAppClient(str(server.make_url("/v21.0")), PHONE_ID, TOKEN, ledger=store.LEDGER, retry=FAST)


def sent_rows() -> list[tuple[str, str, str, str]]:
    with session_scope() as s:
        return sorted(
            (r.kind, r.subject, r.phone_number, r.status) for r in s.execute(select(m.ReminderSent)).scalars()
        )


@pytest.mark.asyncio
async def test_reminders_go_out_once_with_buttons_or_templates(school_db, sandbox, monkeypatch):
    monkeypatch.setenv("HSM_NOW", MORNING)
    import_templates(TEMPLATES_FILE, school_db)
    store.store_inbound(parse_webhook(webhook_body(RAMESH, text_message("hello"))))  # Ramesh's window is open
    dry = await rm.send_reminders(at(MORNING), None, dry_run=True)
    assert len(dry) == 4 and {r.outcome for r in dry} == {"planned"} and sent_rows() == []
    async with client_for(sandbox) as client:
        results = await rm.send_reminders(at(MORNING), client)
        assert sorted(r.outcome for r in results) == ["sent", "sent", "template", "template"]
        messages = sandbox.app[SANDBOX].messages
        assert sorted(msg["to"] for msg in messages) == sorted([RAMESH, RAMESH, MOHAMMED, VIVEK])
        interactive = [msg["payload"]["interactive"] for msg in messages if msg["to"] == RAMESH]
        assert [(b["reply"]["title"], b["reply"]["id"]) for b in interactive[0]["action"]["buttons"]] == [
            ("Send payment link", "/request_payment_link"),
            ("I'll pay today", '/request_payment_link{"date": "today"}'),
        ]
        assert interactive[0]["body"]["text"].startswith("💰 Hi Ramesh, Lakshmi's monthly payment of ₹")
        (vivek,) = [msg["payload"]["template"] for msg in messages if msg["to"] == VIVEK]
        assert vivek["name"] == "payment_reminder"
        assert [p["text"] for p in vivek["components"][0]["parameters"]] == [
            "Vivek",
            "monthly",
            "2500",
            "Piano",
            "Fri, Nov 20 (overdue)",
        ]
        # The second run (the next minute) sends nothing.
        assert await rm.send_reminders(at("2026-12-01T09:01:00+05:30"), client) == []
        assert len(sandbox.app[SANDBOX].messages) == 4
        # Class reminders at 16:35, each once; no template for a number that never wrote means the template.
        monkeypatch.setenv("HSM_NOW", "2026-12-01T16:35:00+05:30")
        classes = await rm.send_reminders(at("2026-12-01T16:35:00+05:30"), client)
        assert {r.reminder.phone for r in classes} == GUITAR_BEGINNER_CONTACTS
        assert {r.outcome for r in classes} == {"template"}
        assert await rm.send_reminders(at("2026-12-01T16:36:00+05:30"), client) == []
    rows = sent_rows()
    assert len(rows) == 12 and {row[3] for row in rows} == {"sent", "template"}
    assert ("fee_overdue", "enrollment:22:2026-11-20", VIVEK, "template") in rows


@pytest.mark.asyncio
async def test_a_reminder_claimed_by_a_crashed_run_is_not_sent_again(school_db, sandbox, monkeypatch):
    monkeypatch.setenv("HSM_NOW", MORNING)
    import_templates(TEMPLATES_FILE, school_db)
    planned = await rm.send_reminders(at(MORNING), None, dry_run=True)
    vivek = next(result.reminder for result in planned if result.reminder.phone == VIVEK)
    with session_scope() as s:  # a run that claimed Vivek's reminder and died before recording the outcome
        s.add(m.ReminderSent(kind=vivek.kind, subject=vivek.subject, phone_number=VIVEK, status=rm.SENDING))
    async with client_for(sandbox) as client:
        results = await rm.send_reminders(at(MORNING), client)
    assert VIVEK not in {r.reminder.phone for r in results}
    assert VIVEK not in {msg["to"] for msg in sandbox.app[SANDBOX].messages}


def test_reminders_run_dry_run_prints_masked_phones(school_db, capsys):
    parser = argparse.ArgumentParser(prog="hsm")
    add_admin_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["reminders", "run", "--dry-run", "--at", "2026-12-01T16:35:00+05:30"])
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert "12 reminder(s) would go out at Tue 01 Dec 2026 16:35 IST" in out
    assert "+91******0012  fee_due      💰 Hi Ramesh, Lakshmi's monthly payment" in out
    assert "+91******0002  class        🎵 Hi Susan" in out
    assert "+919845000012" not in out
    with session_scope() as s:
        assert s.execute(select(m.ReminderSent)).first() is None


def test_the_scheduler_tick_queues_the_job_on_rq_when_redis_is_set(db_url, monkeypatch):
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError
    from rq import Queue

    redis_url = os.environ.get("HSM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    connection = Redis.from_url(redis_url)
    try:
        connection.ping()
    except RedisConnectionError as error:
        pytest.skip(f"Redis not reachable at {redis_url}: {error}")
    queue = Queue(rm.QUEUE_REMINDERS, connection=connection)
    queue.empty()
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("HSM_NOW", MORNING)
    rm.reminders_tick()
    (job,) = queue.jobs
    assert (job.func_name, job.id) == ("hsm.outreach.reminders.reminders_job", "hsm-reminders-20261201T0900")
    queue.empty()
