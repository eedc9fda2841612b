"""A child's absence over the real webhook (issue #21, items 6 and 8), on Tuesday 1 Dec 2026 at 16:30: Srinivas Reddy
(father of Ananya and Nikhil, both in Ms. Priya's Keyboard Intermediate at 18:00) says Nikhil can't come; Ms. Priya
is told and her draft pre-marks him absent, "informed"; saving tells nobody in that family. Mr. Rahul marks Rahul
Sharma absent from Guitar Beginner without a notice: his father Vikram is told, answers "he was there", and Mr.
Rahul is asked to check. Ananya's notice for Saturday comes in time and earns a makeup class, booked from the
reply's button. The tests run in order and share one database."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from devtools.chat import describe
from hsm.infra import models as m
from hsm.infra.db import session_scope
from tests.e2e.test_teacher_flows import Teacher

pytestmark = pytest.mark.slow

SRINIVAS, VIKRAM = "+919845000010", "+919845000005"
PRIYA, RAHUL = "+919811000102", "+919811000101"
TUESDAY = date(2026, 12, 1)


def received(stack, phone: str, after: int, count: int = 1) -> list[str]:
    return [describe(message["payload"]) for message in stack.replies(phone, after, count=count, settle_s=1.0)]


def test_a_parent_of_two_says_one_child_cannot_come_and_the_teacher_is_told(stack):
    srinivas = Teacher(stack, SRINIVAS)  # a phone that says things and taps buttons
    before = stack.last_seq()
    reply = srinivas.say("Nikhil can't come to class today, he is unwell")
    assert reply == (
        "Noted: Nikhil will miss Keyboard Intermediate today, 6:00 PM. Ms. Priya (the teacher) has been told. A makeup "
        "credit needs notice at least 4 hours before the class (by 2:00 PM for 6:00 PM), so this absence earns none."
    )
    (told,) = received(stack, PRIYA, before)
    assert told.startswith("(template absence_notice_teacher: Nikhil Reddy, Keyboard Intermediate, Tue, Dec 1, 6:00 PM")
    assert "he is unwell" in told
    with session_scope(stack.database_url) as s:
        (notice,) = s.execute(select(m.AbsenceNotice)).scalars().all()
        assert (notice.student.name, notice.batch.code, notice.class_date) == ("Nikhil Reddy", "KEY-INT-TS18", TUESDAY)
        assert (notice.reporter_role, notice.reporter_name) == ("guardian", "Srinivas Reddy")


def test_unclear_child_is_asked_with_buttons_and_a_day_without_class_is_refused(stack):
    srinivas = Teacher(stack, SRINIVAS)
    question = srinivas.say("my child can't come today")
    assert question.startswith("Which child will miss class?")
    assert [c[2] for c in srinivas.choices()] == ["Ananya Reddy", "Nikhil Reddy"]
    before = stack.last_seq()
    again = srinivas.tap("Nikhil Reddy")
    assert again.startswith("Already noted: Nikhil will miss Keyboard Intermediate today, 6:00 PM. A makeup credit")
    assert stack.sent(PRIYA, before) == []  # told once
    refused = srinivas.say("Nikhil can't come on Thursday")
    assert refused == "Nikhil has no class on Thu, Dec 3, so nothing to miss."


def test_the_teachers_draft_premarks_the_informed_absence_and_saving_alerts_nobody(stack):
    priya = Teacher(stack, PRIYA)
    ask = priya.say("attendance for keyboard 6pm")
    assert "Who was present in Keyboard Intermediate 6:00 PM?" in ask
    assert "✗ Nikhil Reddy: absent (informed by the family)" in ask
    summary = priya.say("all present")
    assert "✗ Nikhil Reddy (informed)" in summary and "✓ Ananya Reddy" in summary and "✓ Tanvi Joshi" in summary
    before = stack.last_seq()
    saved = priya.say("yes")
    assert "Attendance saved for Keyboard Intermediate 6:00 PM ✓ (2 present, 1 absent)" in saved
    assert stack.sent(SRINIVAS, before, wait_s=2) == []
    with session_scope(stack.database_url) as s:
        record = s.execute(
            select(m.AttendanceRecord).join(m.Student).where(m.Student.name == "Nikhil Reddy")
        ).scalar_one()
        assert record.status == "absent" and record.absence_notice_id is not None


def test_absent_without_notice_the_father_is_alerted_and_his_reply_reaches_the_teacher(stack):
    rahul = Teacher(stack, RAHUL)
    rahul.say("guitar 5pm all present except Rahul Sharma")
    before = stack.last_seq()
    saved = rahul.say("yes")
    assert "Attendance saved for Guitar Beginner 5:00 PM ✓ (7 present, 1 absent)" in saved
    (alert,) = received(stack, VIKRAM, before)
    assert alert == "(template absence_alert: Vikram, Rahul, Guitar Beginner, Tue, Dec 1, 5:00 PM)"
    vikram = Teacher(stack, VIKRAM)
    before = stack.last_seq()
    answer = vikram.say("he was there")
    assert answer == "Thanks, I've asked Mr. Rahul to check Rahul's attendance for Guitar Beginner today, 5:00 PM."
    (asked,) = received(stack, RAHUL, before)
    assert asked.startswith(
        "🔁 Attendance check: Vikram Sharma (Rahul's parent) says Rahul Sharma was in Guitar Beginner on Tue, Dec 1"
    )
    with session_scope(stack.database_url) as s:
        (row,) = s.execute(select(m.AbsenceAlert)).scalars().all()
        assert row.student.name == "Rahul Sharma" and row.dispute_text == "he was there"


def test_a_notice_in_time_earns_a_makeup_class_offered_with_a_button(stack):
    srinivas = Teacher(stack, SRINIVAS)
    reply = srinivas.say("Ananya can't come on Saturday, we are travelling")
    assert reply.startswith("Noted: Ananya will miss Keyboard Intermediate on Sat")
    assert "This earns a makeup class: book it any time up to" in reply
    assert [c[2] for c in srinivas.choices()] == ["Book a makeup"]
    with session_scope(stack.database_url) as s:
        (credit,) = s.execute(select(m.MakeupCredit)).scalars().all()
        assert (credit.student.name, credit.class_date, credit.status) == ("Ananya Reddy", date(2026, 12, 5), "open")
    offer = srinivas.tap("Book a makeup")
    assert "makeup" in offer.lower()
