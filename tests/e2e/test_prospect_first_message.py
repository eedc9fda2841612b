"""Prospects who say everything in their first message, and the office clearing a conversation (issue #21, items 9
and 10), on the real stack at 16:30 on Tuesday 1 Dec 2026 through the signed webhook and the sandbox."""

from __future__ import annotations

from datetime import date

import pytest
import requests
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from devtools.chat import describe
from devtools.localstack import ADMIN_JWT_SECRET
from hsm.infra import models as m
from hsm.office.admin_api import issue_token

pytestmark = pytest.mark.slow

ADMIN = "+919800000001"  # Meera Krishnan
RAHUL = "+919811000101"  # Mr. Rahul Menon, teacher of Guitar Beginner (Tue 5:00 PM)


def ask(stack, phone: str, text: str, expect: int = 1) -> str:
    after = stack.last_seq()
    stack.send_text(phone, text)
    return "\n".join(describe(msg["payload"]) for msg in stack.replies(phone, after, count=expect, settle_s=1.0))


def lead_of(stack, phone: str) -> m.Lead:
    engine = create_engine(stack.database_url)
    try:
        with Session(engine) as session:
            lead = session.execute(select(m.Lead).where(m.Lead.phone == phone)).scalar_one()
            session.expunge(lead)
            return lead
    finally:
        engine.dispose()


def test_a_parent_who_says_everything_gets_the_fitting_batch_at_once(stack):
    phone = "+919700000951"
    reply = ask(
        stack, phone, "Hello, my son is 9 and wants to start violin, total beginner, Saturday mornings suit us", 2
    )
    assert "🎻 Violin: monthly ₹2200" in reply, reply
    assert "Violin Beginner: Sat/Sun 11:00 AM, Mr. Joseph" in reply, reply
    assert "Would you like an administrator to call you?" in reply
    assert "Welcome" not in reply and "How old" not in reply and "Which days" not in reply

    after = stack.last_seq()
    assert "An administrator will call you" in ask(stack, phone, "yes")
    lead = lead_of(stack, phone)
    assert (lead.student_age, lead.level, lead.preferred_slot) == (9, "Beginner", "Saturday mornings")
    told = [msg for msg in stack.sent(after=after) if msg["to"] == ADMIN]
    assert told and "(for their son)" in describe(told[0]["payload"]), told


def test_the_same_about_piano_is_not_asked_the_days_again(stack):
    phone = "+919700000952"
    reply = ask(
        stack,
        phone,
        "Hi, my daughter is 7 and wants to learn piano, complete beginner, weekday evenings after 5 work for us",
        expect=2,
    )
    assert "🎹 Piano: monthly ₹2500" in reply, reply
    assert "Piano Beginner: Wed/Fri 5:00 PM, Ms. Priya" in reply, reply
    assert "Which days or times suit you?" not in reply


def test_an_adult_asking_for_themselves_is_a_prospect_not_off_topic(stack):
    phone = "+919700000953"
    reply = ask(
        stack, phone, "Hi, I am 34 and would like beginner guitar lessons for myself, weekday evenings suit me", 2
    )
    assert "Sorry, I can only help" not in reply, reply
    assert "🎸 Guitar: monthly ₹2000" in reply, reply
    assert "Guitar Beginner: Tue/Thu 5:00 PM, Mr. Rahul" in reply, reply


def test_only_what_is_missing_is_asked_and_the_learner_is_asked_as_you(stack):
    phone = "+919700000954"
    reply = ask(stack, phone, "Hello, I am 40 and want to learn drums myself, saturday or sunday if possible", 2)
    assert "🥁 Drums" in reply and "What's your experience level?" in reply, reply
    reply = ask(stack, phone, "Beginner")
    assert "Nothing matches that time, but these Drums batches have seats:" in reply, reply
    assert "Drums Beginner: Wed/Fri 5:00 PM" in reply


def test_hinglish_first_message(stack):
    phone = "+919700000955"
    reply = ask(stack, phone, "namaste, beti 8 saal ki hai, keyboard seekhna hai, beginner hai, weekend pe chahiye", 2)
    assert "Keyboard Kids: Sat 10:00 AM" in reply, reply
    assert "How old" not in reply and "Which days" not in reply


def clear(stack, phone: str) -> dict:
    """POST /api/whatsapp/sessions/clear on the stack's admin API, as the front desk (a staff token)."""
    api = stack.api_url if stack.api_port else stack.start_api()
    token = issue_token(ADMIN_JWT_SECRET, "front-desk", "staff")
    answer = requests.post(
        f"{api}/api/whatsapp/sessions/clear",
        json={"phone": phone},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_office_clears_a_parent_mid_form_and_the_next_message_starts_fresh(stack):
    parent = "+919700000956"
    assert "How old is the student?" in ask(stack, parent, "I want to enroll my child in piano classes", 2)

    cleared = clear(stack, parent)
    assert cleared["cleared"] is True and cleared["drafts_closed"] == []
    conversation = cleared["conversation"]
    assert conversation["restarts"] == "at the number's next message"
    assert conversation["form"] == "enrollment_form" and "enroll_course" in conversation["slots"]

    reply = ask(stack, parent, "hi")  # mid-form, "hi" would have been taken for the age
    assert "Welcome to the Hyderabad School of Music" in reply, reply
    assert "age as a number" not in reply
    assert "How old is the student?" in ask(stack, parent, "I want to enroll my child in piano classes", 2)


def test_clearing_a_teachers_conversation_closes_the_open_draft(stack):
    assert "Attendance for Guitar Beginner 5:00 PM" in ask(stack, RAHUL, "Guitar 5pm: all present except Sarah")
    cleared = clear(stack, RAHUL)
    assert len(cleared["drafts_closed"]) == 1 and "attendance_draft" in cleared["conversation"]["slots"]

    assert "Attendance saved" not in ask(stack, RAHUL, "yes")
    engine = create_engine(stack.database_url)
    try:
        with Session(engine) as session:
            draft = session.get(m.AttendanceDraft, cleared["drafts_closed"][0])
            saved = session.execute(
                select(m.AttendanceRecord.id)
                .join(m.Batch, m.Batch.id == m.AttendanceRecord.batch_id)
                .where(m.Batch.code == "GTR-BEG-TT17", m.AttendanceRecord.class_date == date(2026, 12, 1))
            ).first()
        assert draft.status == "rejected" and saved is None
    finally:
        engine.dispose()
