"""Leave over several days and taking it back (issue #21), over the real webhook, as Ms. Priya (+919811000102) on
Tuesday 1 Dec 2026 at 16:30. Her classes from Thu 3 to Sat 5 Dec: none on Thursday; Piano Beginner 17:00 and
Keyboard Beginner 18:00 on Friday; Keyboard Kids 10:00 and Keyboard Intermediate 18:00 on Saturday. The tests run
in order and share one database."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from devtools.chat import describe
from hsm.infra import models as m
from hsm.infra.db import session_scope
from tests.e2e.test_teacher_flows import Teacher

pytestmark = pytest.mark.slow

PRIYA = "+919811000102"
ADMINS = {"+919800000001", "+919800000002"}
THURSDAY, FRIDAY, SATURDAY = date(2026, 12, 3), date(2026, 12, 4), date(2026, 12, 5)
FRIDAY_FAMILIES = {  # Piano Beginner and Keyboard Beginner: guardians, or the student's own phone
    "+919845000026",
    "+919845000028",
    "+919845000027",
    "+919845000021",
    "+919845000019",
    "+919876543210",
    "+919845000020",
}
SATURDAY_FAMILIES = {"+919845000025", "+919845000007", "+919845000024", "+919845000010", "+919845000022"}


def leave_rows(stack) -> dict[date, str]:
    with session_scope(stack.database_url) as s:
        rows = s.execute(select(m.TeacherLeave).join(m.Teacher).where(m.Teacher.employee_id == "T-102")).scalars()
        return {row.leave_date: row.status for row in rows}


def told(stack, after: int) -> dict[str, list[str]]:
    """What each number other than Priya's was sent after `after`."""
    sent: dict[str, list[str]] = {}
    for message in stack.sent(after=after):
        if message["to"] != PRIYA:
            sent.setdefault(message["to"], []).append(describe(message["payload"]))
    return sent


def test_a_three_day_leave_is_reviewed_day_by_day_and_everyone_is_told_once(stack):
    priya = Teacher(stack, PRIYA)
    after = stack.last_seq()
    review = priya.say("on leave from 3rd to 5th Dec, family wedding")
    assert "Leave on Thursday, Dec 3 to Saturday, Dec 5 (family wedding)" in review
    assert "Thu, Dec 3: no classes to cancel" in review
    assert "Fri, Dec 4:\n• Piano Beginner 5:00 PM\n• Keyboard Beginner 6:00 PM" in review
    assert "Sat, Dec 5:\n• Keyboard Kids 10:00 AM\n• Keyboard Intermediate 6:00 PM" in review
    assert leave_rows(stack) == {}  # nothing recorded before the yes
    done = priya.say("yes")
    assert "✅ Leave recorded for Thursday, Dec 3 to Saturday, Dec 5." in done
    assert "I've informed the office and 12 student(s)/parent(s)." in done
    assert leave_rows(stack) == {THURSDAY: "approved", FRIDAY: "approved", SATURDAY: "approved"}
    sent = told(stack, after)
    assert set(sent) == ADMINS | FRIDAY_FAMILIES | SATURDAY_FAMILIES
    assert all(len(messages) == 1 for messages in sent.values())  # once per leave, not once per day
    assert "Thu, Dec 3 to Sat, Dec 5" in sent["+919800000001"][0]
    assert sent["+919845000026"][0].startswith("(template class_cancelled: Venkat, Harini, Piano Beginner, Friday")
    friday = priya.say("classes on friday")
    assert friday.count("cancelled (you're on leave)") == 2


def test_taking_friday_back_restores_its_classes_and_tells_those_families_and_the_admins(stack):
    priya = Teacher(stack, PRIYA)
    after = stack.last_seq()
    back = priya.say("I can come on Friday after all")
    assert "✅ Leave taken back for Friday, Dec 4: these classes are on as usual: Piano Beginner 5:00 PM, " in back
    assert "I've informed the office and 7 student(s)/parent(s)." in back
    assert "You're still on leave on Thu, Dec 3 and Sat, Dec 5." in back
    assert leave_rows(stack) == {THURSDAY: "approved", FRIDAY: "withdrawn", SATURDAY: "approved"}
    sent = told(stack, after)
    assert set(sent) == ADMINS | FRIDAY_FAMILIES  # Saturday's families hear nothing
    assert all(len(messages) == 1 for messages in sent.values())
    assert "teacher_leave_withdrawn" in sent["+919800000002"][0] and "Fri, Dec 4" in sent["+919800000002"][0]
    assert sent["+919845000026"][0] == (
        "(template classes_reopened: Venkat, Harini's Piano Beginner class at 5:00 PM, Friday, Dec 4)"
    )
    with session_scope(stack.database_url) as s:
        audit = s.execute(select(m.AuditLog).filter_by(action="leave.withdrawn")).scalars().all()
        assert [(row.actor, row.after["leave_date"]) for row in audit] == [("teacher:T-102", "2026-12-04")]
    friday = priya.say("classes on friday")
    assert "cancelled" not in friday and "Keyboard Beginner - 6:00 PM" in friday


def test_a_day_not_on_leave_or_gone_by_gets_a_clear_answer(stack):
    priya = Teacher(stack, PRIYA)
    after = stack.last_seq()
    again = priya.say("cancel my leave on the 4th")
    assert "You're not on leave on Fri, Dec 4, so there's nothing to take back." in again
    assert "Your leave coming up: Thu, Dec 3 and Sat, Dec 5." in again
    gone = priya.say("take back my leave on 30th Nov")
    assert "Mon, Nov 30 has already passed, so that leave can't be taken back." in gone
    assert set(told(stack, after)) == set()
    assert leave_rows(stack) == {THURSDAY: "approved", FRIDAY: "withdrawn", SATURDAY: "approved"}


def test_a_range_without_classes_says_so_and_a_range_too_long_is_refused(stack):
    rahul = Teacher(stack)  # Mr. Rahul teaches on Tuesdays and Thursdays
    review = rahul.say("I'll be on leave on friday and saturday, travelling")
    assert "Leave on Friday, Dec 4 and Saturday, Dec 5 (travelling). You have no classes to cancel:" in review
    assert "Fri, Dec 4: no classes to cancel\nSat, Dec 5: no classes to cancel" in review
    assert "Record it anyway?" in review
    rahul.say("no")
    too_long = rahul.say("I am on leave from 1st to 20th Jan", expect=2)
    assert "That's 20 days (Fri, Jan 1 to Wed, Jan 20). I can record leave of up to 14 days at a time here" in too_long
    assert "Which day(s) will you be on leave?" in too_long
    rahul.say("cancel")
    with session_scope(stack.database_url) as s:
        rows = s.execute(select(m.TeacherLeave).join(m.Teacher).where(m.Teacher.employee_id == "T-101")).all()
        assert rows == []
