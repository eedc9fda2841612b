"""Teacher leave over several days and taking it back (issue #21), against the demo school on Tue 1 Dec 2026, 16:30.

Ms. Priya (T-102): Piano Beginner 17:00 and Keyboard Beginner 18:00 on Wed and Fri, Keyboard Intermediate 18:00 on
Tue and Sat, Keyboard Kids 10:00 on Sat; Christmas (Fri 25 Dec) is a holiday."""

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from hsm.classes import leave, leave_withdraw, schedule
from hsm.infra import models as m

THURSDAY, FRIDAY, SATURDAY = date(2026, 12, 3), date(2026, 12, 4), date(2026, 12, 5)
ADMINS = {"+919800000001", "+919800000002"}
ACTOR = "teacher:T-102"


def priya(session):
    return session.execute(select(m.Teacher).filter_by(employee_id="T-102")).scalar_one()


def codes(meetings):
    return [meeting.batch.code for meeting in meetings]


def audit(session, action):
    return session.execute(select(m.AuditLog).filter_by(entity="teacher_leaves", action=action)).scalars().all()


def on_leave(session, teacher_id, day):
    return {mt.status for mt in schedule.teacher_classes_on(session, teacher_id, day)}


def test_plan_over_three_days_lists_each_days_classes(session):
    plans = leave.plan_leave_days(session, priya(session).id, [SATURDAY, THURSDAY, FRIDAY], "wedding")
    assert [plan.leave_date for plan in plans] == [THURSDAY, FRIDAY, SATURDAY]
    assert [codes(plan.affected) for plan in plans] == [
        [],
        ["PNO-BEG-WF17", "KEY-BEG-MWF18"],
        ["KEY-KIDS-SA10", "KEY-INT-TS18"],
    ]


def test_a_holiday_in_the_range_is_not_cancelled_again(session):
    plans = leave.plan_leave_days(session, priya(session).id, [date(2026, 12, 24), date(2026, 12, 25)], None)
    christmas = plans[1]
    assert christmas.affected == [] and codes(christmas.closed) == ["PNO-BEG-WF17", "KEY-BEG-MWF18"]


@pytest.mark.parametrize(
    ("days", "message"),
    [
        ([], "I couldn't read a date there"),
        ([date(2026, 11, 30), THURSDAY], "Mon, Nov 30 has already passed"),
        ([THURSDAY + timedelta(days=n) for n in range(15)], "That's 15 days (Thu, Dec 3 to Thu, Dec 17). I can record"),
        ([date(2027, 2, 27), date(2027, 3, 2)], "I can record leave up to 90 days ahead"),
    ],
)
def test_refused_ranges(session, days, message):
    with pytest.raises(leave.LeaveError, match=re.escape(message)):
        leave.record_leave_days(session, priya(session).id, days, None, ACTOR)
    assert audit(session, "leave.recorded") == []


def test_fourteen_days_are_accepted(session):
    rows, _ = leave.record_leave_days(
        session, priya(session).id, [THURSDAY + timedelta(days=n) for n in range(14)], None, ACTOR
    )
    assert len(rows) == 14


def test_a_range_is_recorded_day_by_day_and_told_once(session):
    teacher = priya(session)
    rows, notices = leave.record_leave_days(session, teacher.id, [THURSDAY, FRIDAY, SATURDAY], "wedding", ACTOR)
    assert [(row.leave_date, row.reason, row.status) for row in rows] == [
        (day, "wedding", "approved") for day in (THURSDAY, FRIDAY, SATURDAY)
    ]
    assert len(audit(session, "leave.recorded")) == 3
    phones = [notice.phone for notice in notices]
    assert len(phones) == len(set(phones))  # once per phone for the whole leave
    admins = [notice for notice in notices if notice.audience == "admin"]
    assert {notice.phone for notice in admins} == ADMINS
    assert admins[0].text.startswith("Ms. Priya (T-102) is on leave on Thu, Dec 3 to Sat, Dec 5 (wedding). Affected: ")
    assert "Fri, Dec 4: Piano Beginner 5:00 PM" in admins[0].text and "Sat, Dec 5: Keyboard Kids" in admins[0].text
    assert admins[0].template_params[2] == "Thu, Dec 3 to Sat, Dec 5"
    families = [notice for notice in notices if notice.audience != "admin"]
    assert families and all("wedding" not in notice.text for notice in families)
    assert all(notice.template == "class_cancelled" for notice in families)
    assert on_leave(session, teacher.id, FRIDAY) == {schedule.TEACHER_ON_LEAVE}
    assert on_leave(session, teacher.id, SATURDAY) == {schedule.TEACHER_ON_LEAVE}

    again_rows, again = leave.record_leave_days(session, teacher.id, [FRIDAY, SATURDAY], None, ACTOR)
    assert again == [] and len(again_rows) == 2  # already on leave: nobody told twice


def test_a_family_with_classes_on_two_days_gets_one_message_naming_both(session):
    rahul = session.execute(select(m.Teacher).filter_by(employee_id="T-101")).scalar_one()
    days = [THURSDAY + timedelta(days=n) for n in range(6)]  # Thu 3 to Tue 8: Guitar Beginner twice
    _, notices = leave.record_leave_days(session, rahul.id, days, None, "teacher:T-101")
    mary = next(notice for notice in notices if notice.phone == "+919845000002")  # her mother Susan
    assert mary.text == (
        "Hi Susan, Mr. Rahul is on leave, so these classes are cancelled: "
        "Mary's Guitar Beginner on Thu, Dec 3 at 5:00 PM, Mary's Guitar Beginner on Tue, Dec 8 at 5:00 PM. "
        "We'll let you know about makeup classes."
    )
    assert mary.template_params == ("Susan", "Mary", "Guitar Beginner", "Thursday, Dec 3 and Tuesday, Dec 8", "5:00 PM")
    assert len([notice for notice in notices if notice.phone == "+919845000002"]) == 1


def _families_of(session, code):
    batch = session.execute(select(m.Batch).filter_by(code=code)).scalar_one()
    return schedule.batch_roster(session, batch.id)


def test_taking_one_day_back_restores_its_classes_and_tells_those_families(session):
    teacher = priya(session)
    _, taken = leave.record_leave_days(session, teacher.id, [THURSDAY, FRIDAY, SATURDAY], "wedding", ACTOR)
    done = leave_withdraw.withdraw_leave(session, teacher.id, [FRIDAY], ACTOR)
    assert done.withdrawn == [FRIDAY] and done.not_on_leave == []
    assert codes(done.restored) == ["PNO-BEG-WF17", "KEY-BEG-MWF18"]
    assert on_leave(session, teacher.id, FRIDAY) == {schedule.SCHEDULED}
    assert on_leave(session, teacher.id, SATURDAY) == {schedule.TEACHER_ON_LEAVE}
    (row,) = audit(session, "leave.withdrawn")
    assert (row.actor, row.before["status"], row.after["status"]) == (ACTOR, "approved", "withdrawn")
    assert row.after["leave_date"] == "2026-12-04"

    admins = [notice for notice in done.notices if notice.audience == "admin"]
    assert {notice.phone for notice in admins} == ADMINS
    assert admins[0].text == (
        "Ms. Priya (T-102) is no longer on leave on Fri, Dec 4. Held as usual: Piano Beginner 5:00 PM "
        f"({len(_families_of(session, 'PNO-BEG-WF17'))} students), Keyboard Beginner 6:00 PM "
        f"({len(_families_of(session, 'KEY-BEG-MWF18'))} students)."
    )
    assert admins[0].template == "teacher_leave_withdrawn"
    families = [notice for notice in done.notices if notice.audience != "admin"]
    told_of_friday = {n.phone for n in taken if n.audience != "admin" and "Friday, Dec 4" in n.text}
    assert len(told_of_friday) == 7
    assert [notice.phone for notice in families] == sorted(told_of_friday, key=[n.phone for n in taken].index)
    assert all("Friday, Dec 4 will be held after all" in n.text for n in families)
    assert all(notice.template == "classes_reopened" for notice in families)
    harini = next(notice for notice in families if notice.phone == "+919845000026")
    assert harini.template_params == ("Venkat", "Harini's Piano Beginner class at 5:00 PM", "Friday, Dec 4")


def test_taking_the_whole_leave_back(session):
    teacher = priya(session)
    leave.record_leave_days(session, teacher.id, [FRIDAY, SATURDAY], None, ACTOR)
    leave.record_leave(session, teacher.id, date(2026, 12, 10), None, ACTOR)
    done = leave_withdraw.withdraw_leave(session, teacher.id, None, ACTOR)
    assert done.withdrawn == [FRIDAY, SATURDAY]  # the leave coming up; the later one stays
    assert leave_withdraw.leave_days_ahead(session, teacher.id, date(2026, 12, 1)) == [date(2026, 12, 10)]
    assert len(audit(session, "leave.withdrawn")) == 2


@pytest.mark.parametrize(
    ("days", "message"),
    [
        ([SATURDAY], "You're not on leave on Sat, Dec 5, so there's nothing to take back. Your leave coming up: Fri"),
        ([date(2026, 11, 30)], "Mon, Nov 30 has already passed, so that leave can't be taken back."),
        (None, None),
    ],
)
def test_nothing_to_take_back(session, days, message):
    teacher = priya(session)
    if days is None:
        with pytest.raises(leave.LeaveError, match="You have no leave coming up"):
            leave_withdraw.withdraw_leave(session, teacher.id, None, ACTOR)
        return
    leave.record_leave(session, teacher.id, FRIDAY, None, ACTOR)
    with pytest.raises(leave.LeaveError, match=re.escape(message)):
        leave_withdraw.withdraw_leave(session, teacher.id, days, ACTOR)
    assert audit(session, "leave.withdrawn") == []


def test_a_withdrawn_day_can_be_taken_again(session):
    teacher = priya(session)
    leave.record_leave(session, teacher.id, FRIDAY, None, ACTOR)
    leave_withdraw.withdraw_leave(session, teacher.id, [FRIDAY], ACTOR)
    _, notices = leave.record_leave(session, teacher.id, FRIDAY, "fever", ACTOR)
    assert notices and on_leave(session, teacher.id, FRIDAY) == {schedule.TEACHER_ON_LEAVE}
