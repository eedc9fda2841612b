"""Console analytics over HTTP: the figures of a seeded period (3-5 Jan 2025, before the demo school's own data)
checked against values worked out by hand, the CSV tables, and teachers refused."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from hsm.infra import models as m
from hsm.infra.db import get_engine, session_scope
from hsm.office.analytics import RASA_EVENTS
from tests.integration.test_console import page, sign_in
from tests.integration.test_console_broadcasts import app_client  # noqa: F401  (the fixture)

pytestmark = pytest.mark.asyncio

IST = timezone(timedelta(hours=5, minutes=30))
A, B, C, D = "+919845000101", "+919845000102", "+919845000103", "+919845000104"
PERIOD = "from=2025-01-03&to=2025-01-05"


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A time in the school's zone, as UTC like the stored times."""
    return datetime(2025, 1, day, hour, minute, second, tzinfo=IST).astimezone(timezone.utc)


def message(phone: str, direction: str, when: datetime, status: str) -> m.WhatsAppMessage:
    return m.WhatsAppMessage(phone_number=phone, direction=direction, status=status, created_at=when, updated_at=when)


@pytest.fixture
def seeded(school_db):
    with session_scope() as session:
        session.add_all(
            [
                message(A, "inbound", at(3, 10), "processed"),
                message(A, "outbound", at(3, 10, 0, 4), "delivered"),  # 4 s
                message(B, "inbound", at(3, 11), "processed"),
                message(B, "outbound", at(3, 11, 0, 10), "delivered"),  # 10 s
                message(A, "inbound", at(4, 9), "processed"),
                message(A, "outbound", at(4, 9, 1), "read"),  # 60 s
                message(D, "outbound", at(4, 12), "failed"),
                message(C, "inbound", at(5, 23, 30), "processed"),  # 18:00 UTC, still 5 Jan here; never answered
                message(D, "inbound", at(2, 23, 59), "processed"),  # the day before the period
            ]
        )
        rahul = session.execute(select(m.Teacher).where(m.Teacher.employee_id == "T-101")).scalar_one()
        rahuls = session.execute(select(m.Batch).where(m.Batch.teacher_id == rahul.id)).scalars().first()
        other = session.execute(select(m.Batch).where(m.Batch.teacher_id != rahul.id)).scalars().first()
        enrollments = session.execute(select(m.Enrollment).order_by(m.Enrollment.id).limit(3)).scalars().all()
        students = session.execute(select(m.Student.id).order_by(m.Student.id).limit(3)).scalars().all()
        other_teacher = other.teacher.name

        def mark(batch: m.Batch, student_id: int, day: int, source: str) -> m.AttendanceRecord:
            return m.AttendanceRecord(
                student_id=student_id, batch_id=batch.id, class_date=date(2025, 1, day), status="present", source=source
            )

        session.add_all(
            [
                mark(rahuls, students[0], 3, "whatsapp"),
                mark(rahuls, students[1], 3, "whatsapp"),
                mark(rahuls, students[0], 4, "console"),
                mark(other, students[2], 3, "console"),
            ]
        )
        e1, e2, e3 = enrollments
        session.add_all(
            [
                m.ReminderSent(
                    kind="fee_due",
                    subject=f"enrollment:{e1.id}:2025-01-10:7d",
                    phone_number=A,
                    status="sent",
                    created_at=at(3, 9),
                ),
                m.ReminderSent(
                    kind="fee_overdue",
                    subject=f"enrollment:{e2.id}:2025-01-01",
                    phone_number=B,
                    status="template",
                    created_at=at(4, 9),
                ),
                m.ReminderSent(
                    kind="fee_due",
                    subject=f"enrollment:{e3.id}:2025-01-10:7d",
                    phone_number=C,
                    status="skipped",
                    created_at=at(4, 9),
                ),
                m.Payment(student_id=e1.student_id, enrollment_id=e1.id, amount=2000, paid_on=date(2025, 1, 7)),
                m.Payment(student_id=e2.student_id, enrollment_id=e2.id, amount=1500, paid_on=date(2025, 1, 20)),
            ]
        )
    engine = get_engine()
    RASA_EVENTS.metadata.create_all(engine)  # what Rasa's SQL tracker store creates
    with engine.begin() as connection:
        for intent, when in [
            ("greet", at(3, 10)),
            ("greet", at(4, 9)),
            ("check_schedule", at(3, 11)),
            ("nlu_fallback", at(5, 23, 30)),
            ("nlu_fallback", at(6, 0, 1)),  # after the period
        ]:
            connection.execute(
                RASA_EVENTS.insert().values(
                    sender_id=A, type_name="user", intent_name=intent, timestamp=when.timestamp()
                )
            )
    return other_teacher


def figure(body: str, element_id: str) -> str:
    return re.search(rf'id="{element_id}">([^<]*)<', body).group(1)


async def test_the_figures_of_a_seeded_period(app_client, seeded):  # noqa: F811
    await sign_in(app_client, "meera")
    body = await page(app_client, f"/office/analytics?{PERIOD}")
    assert figure(body, "messages-in") == "4" and figure(body, "messages-out") == "4"
    assert figure(body, "users") == "3"  # A, B, C (D wrote the day before)
    assert figure(body, "fallback-rate") == "25.0%"  # 1 of greet, greet, check_schedule, nlu_fallback
    assert figure(body, "reply-times") == "10 s / 60 s"  # waits 4, 10, 60 s: nearest-rank p50 and p95
    assert figure(body, "delivery-rate") == "75.0%"  # delivered, delivered, read of 4 (one failed)
    assert figure(body, "paid-rate") == "50.0%"  # e1 paid 4 days after; e2 17 days after; e3 skipped
    assert "<svg" in body and "<table" in body

    csv = await (await app_client.get(f"/office/analytics/messages.csv?{PERIOD}")).text()
    assert csv.splitlines() == ["day,inbound,outbound", "2025-01-03,2,2", "2025-01-04,1,2", "2025-01-05,1,0"]
    csv = await (await app_client.get(f"/office/analytics/attendance.csv?{PERIOD}")).text()
    rows = csv.splitlines()
    assert rows[0] == "teacher,classes marked,over whatsapp,share"
    assert set(rows[1:]) == {"Rahul Menon,2,1,0.500", f"{seeded},1,0,0.000"}  # 3 Jan over WhatsApp, 4 Jan not
    csv = await (await app_client.get(f"/office/analytics/payments.csv?{PERIOD}&days=30")).text()
    assert csv.splitlines()[1:] == ["2025-01-03,1,1,2000", "2025-01-04,1,1,1500", "2025-01-05,0,0,0"]
    csv = await (await app_client.get(f"/office/analytics/intents.csv?{PERIOD}")).text()
    assert csv.splitlines() == ["intent,messages", "greet,2", "check_schedule,1", "nlu_fallback,1"]
    response = await app_client.get("/office/analytics/nothing.csv")
    assert response.status == 404


async def test_a_teacher_cannot_open_analytics(app_client):  # noqa: F811
    await sign_in(app_client, "rahul")
    await page(app_client, "/office/analytics", 403)
    response = await app_client.get("/office/analytics/messages.csv", allow_redirects=False)
    assert response.status == 403
