"""A teacher's day as the bot shows it (UC-2) and teacher leave (UC-3), against the demo school."""

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from hsm.classes import leave, teacher_day
from hsm.infra import models as m

TUESDAY, WEDNESDAY, THURSDAY = date(2026, 12, 1), date(2026, 12, 2), date(2026, 12, 3)
CHRISTMAS = date(2026, 12, 25)
ADMINS = {"+919800000001", "+919800000002"}


def teacher(session, employee_id):
    return session.execute(select(m.Teacher).filter_by(employee_id=employee_id)).scalar_one()


def student(session, enrollment_id):
    return session.execute(select(m.Student).filter_by(enrollment_id=enrollment_id)).scalar_one()


def batch(session, code):
    return session.execute(select(m.Batch).filter_by(code=code)).scalar_one()


def by_phone(notices):
    return {notice.phone: notice for notice in notices}


# ----------------------------------------------------------------------------------------------- UC-2


def test_rahuls_tuesday_is_today(session):
    rahul = teacher(session, "T-101")
    assert teacher_day.format_schedule(session, rahul.id, TUESDAY, TUESDAY) == (
        "📅 Your schedule for today, Tuesday, Dec 1:\n\n"
        "1. Guitar Beginner - 5:00 PM (8 students, Studio 2)\n"
        "2. Piano Advanced - 7:00 PM (5 students, Piano Room)"
    )
    assert [mt.batch.code for mt in teacher_day.schedule_for(session, rahul.id, TUESDAY)] == [
        "GTR-BEG-TT17",
        "PNO-ADV-TU19",
    ]


def test_rahuls_tuesday_seen_from_another_day(session):
    rahul = teacher(session, "T-101")
    assert teacher_day.format_schedule(session, rahul.id, TUESDAY, date(2026, 11, 28)).startswith(
        "📅 Your schedule for Tuesday, Dec 1:\n\n1. Guitar Beginner - 5:00 PM"
    )
    assert teacher_day.format_schedule(session, rahul.id, TUESDAY, date(2026, 11, 30)).startswith(
        "📅 Your schedule for tomorrow, Tuesday, Dec 1:\n\n"
    )


def test_rahuls_thursday_counts_only_active_students(session):
    # Guitar Intermediate has five enrollments; Varun Tej's is paused.
    rahul = teacher(session, "T-101")
    assert teacher_day.format_schedule(session, rahul.id, THURSDAY, TUESDAY) == (
        "📅 Your schedule for Thursday, Dec 3:\n\n"
        "1. Guitar Beginner - 5:00 PM (8 students, Studio 2)\n"
        "2. Guitar Intermediate - 6:15 PM (4 students, Studio 2)"
    )


def test_a_day_without_classes(session):
    rahul = teacher(session, "T-101")
    assert teacher_day.schedule_for(session, rahul.id, date(2026, 11, 30)) == []
    assert teacher_day.format_schedule(session, rahul.id, date(2026, 11, 30), TUESDAY) == (
        "You have no classes on Monday, Nov 30. 🎉"
    )
    assert teacher_day.format_schedule(session, rahul.id, WEDNESDAY, TUESDAY) == (
        "You have no classes tomorrow (Wednesday, Dec 2). 🎉"
    )


def test_priyas_christmas_is_a_holiday(session):
    priya = teacher(session, "T-102")
    assert teacher_day.format_schedule(session, priya.id, CHRISTMAS, TUESDAY) == (
        "📅 Your schedule for Friday, Dec 25:\n\n"
        "1. Piano Beginner - 5:00 PM (3 students, Piano Room) — holiday (Christmas), no class\n"
        "2. Keyboard Beginner - 6:00 PM (4 students, Studio 1) — holiday (Christmas), no class"
    )


def test_one_student_is_singular(session):
    tabla = batch(session, "TBL-BEG-SA16")
    for enrollment in tabla.enrollments[1:]:
        enrollment.status = "ended"
    session.flush()
    imran = teacher(session, "T-106")
    assert teacher_day.format_schedule(session, imran.id, date(2026, 12, 5), TUESDAY) == (
        "📅 Your schedule for Saturday, Dec 5:\n\n1. Tabla Beginner - 4:00 PM (1 student, Studio 3)"
    )


# ----------------------------------------------------------------------------------------------- UC-3 plan


def test_plan_leave_on_thursday(session):
    rahul = teacher(session, "T-101")
    plan = leave.plan_leave(session, rahul.id, THURSDAY, "  fever ")
    assert plan.teacher_id == rahul.id and plan.leave_date == THURSDAY
    assert plan.reason == "fever"
    assert [mt.batch.code for mt in plan.affected] == ["GTR-BEG-TT17", "GTR-INT-TH18"]
    assert plan.already_on_leave is False
    assert session.execute(select(func.count()).select_from(m.TeacherLeave)).scalar_one() == 0  # a preview only


def test_classes_on_a_holiday_are_not_affected(session):
    priya = teacher(session, "T-102")
    plan = leave.plan_leave(session, priya.id, CHRISTMAS, None)
    assert plan.affected == []
    _, notices = leave.record_leave(session, priya.id, CHRISTMAS, None, "teacher:T-102")
    assert [(n.audience, n.text) for n in notices] == [
        ("admin", "Ms. Priya (T-102) is on leave on Fri, Dec 25. No classes are affected."),
    ] * 2


def test_leave_today_leaves_out_classes_already_started(session, monkeypatch):
    rahul = teacher(session, "T-101")
    assert [mt.batch.code for mt in leave.plan_leave(session, rahul.id, TUESDAY, None).affected] == [
        "GTR-BEG-TT17",
        "PNO-ADV-TU19",
    ]
    monkeypatch.setenv("HSM_NOW", "2026-12-01T17:30:00+05:30")
    assert [mt.batch.code for mt in leave.plan_leave(session, rahul.id, TUESDAY, None).affected] == ["PNO-ADV-TU19"]


@pytest.mark.parametrize(
    ("leave_date", "message"),
    [
        (date(2026, 11, 30), "Mon, Nov 30 has already passed"),
        (date(2025, 12, 3), "has already passed"),
        (TUESDAY + timedelta(days=91), "up to 90 days ahead (until Mon, Mar 1)"),
    ],
)
def test_refused_dates(session, leave_date, message):
    rahul = teacher(session, "T-101")
    with pytest.raises(leave.LeaveError, match=re.escape(message)):
        leave.record_leave(session, rahul.id, leave_date, "fever", "teacher:T-101")
    with pytest.raises(ValueError):
        leave.plan_leave(session, rahul.id, leave_date, None)
    assert session.execute(select(func.count()).select_from(m.TeacherLeave)).scalar_one() == 0
    assert (
        session.execute(select(func.count()).select_from(m.AuditLog).filter_by(action="leave.recorded")).scalar_one()
        == 0
    )


def test_today_and_the_90th_day_are_accepted(session):
    rahul = teacher(session, "T-101")
    leave.record_leave(session, rahul.id, TUESDAY, None, "teacher:T-101")
    leave.record_leave(session, rahul.id, TUESDAY + timedelta(days=90), None, "teacher:T-101")
    assert session.execute(select(func.count()).select_from(m.TeacherLeave)).scalar_one() == 2


def test_unknown_or_inactive_teacher(session):
    with pytest.raises(leave.LeaveError, match="contact the office"):
        leave.plan_leave(session, 999_999, THURSDAY, None)
    joseph = teacher(session, "T-103")
    joseph.active = False
    session.flush()
    with pytest.raises(leave.LeaveError):
        leave.record_leave(session, joseph.id, date(2026, 12, 5), None, "teacher:T-103")


# ----------------------------------------------------------------------------------------------- UC-3 record


def test_record_leave_on_thursday(session):
    rahul = teacher(session, "T-101")
    row, notices = leave.record_leave(session, rahul.id, THURSDAY, "fever", "teacher:T-101")
    assert (row.teacher_id, row.leave_date, row.reason, row.status) == (rahul.id, THURSDAY, "fever", "approved")

    admin_text = (
        "Mr. Rahul (T-101) is on leave on Thu, Dec 3 (fever). Affected: Guitar Beginner 5:00 PM "
        "(8 students), Guitar Intermediate 6:15 PM (4 students)."
    )
    admins = [n for n in notices if n.audience == "admin"]
    assert {n.phone for n in admins} == ADMINS
    assert {n.text for n in admins} == {admin_text}
    assert admins[0].template == "teacher_leave"
    assert notices[:2] == admins  # admins first

    sent = by_phone(notices)
    mary = sent["+919845000002"]  # through her mother Susan
    assert mary.audience == "guardian"
    assert mary.text == (
        "Hi Susan, Mary's Guitar Beginner class on Thursday, Dec 3 at 5:00 PM is cancelled: "
        "Mr. Rahul is on leave. We'll let you know about a makeup class."
    )
    assert mary.template == "class_cancelled"
    assert mary.template_params == ("Susan", "Mary", "Guitar Beginner", "Thursday, Dec 3", "5:00 PM")

    ahmed = sent["+919845000003"]  # his own phone, not his father's
    assert ahmed.audience == "student"
    assert ahmed.text == (
        "Hi Ahmed, your Guitar Beginner class on Thursday, Dec 3 at 5:00 PM is cancelled: "
        "Mr. Rahul is on leave. We'll let you know about a makeup class."
    )
    assert "+919845000103" not in sent

    daniel = sent["+919845000013"]
    assert daniel.template_params == ("Daniel", "Daniel", "Guitar Intermediate", "Thursday, Dec 3", "6:15 PM")
    assert sent["+919845000010"].text.startswith("Hi Srinivas, Ananya's Guitar Intermediate class")

    assert "+919845000040" not in sent  # Varun Tej: paused enrollment
    assert "+919811000101" not in sent  # not the teacher himself
    assert "fever" not in " ".join(n.text for n in notices if n.audience != "admin")  # the reason stays private
    assert len(notices) == 2 + 8 + 4
    assert len(sent) == len(notices)  # one notice per phone
    assert all(n.phone.startswith("+") and n.phone[1:].isdigit() for n in notices)


def test_record_leave_writes_the_audit_log(session):
    rahul = teacher(session, "T-101")
    row, _ = leave.record_leave(session, rahul.id, THURSDAY, "fever", "teacher:T-101")
    audit = session.execute(select(m.AuditLog).filter_by(entity="teacher_leaves")).scalar_one()
    assert (audit.actor, audit.action, audit.entity_id) == ("teacher:T-101", "leave.recorded", str(row.id))
    assert audit.before is None
    assert audit.after == {
        "teacher": "T-101",
        "leave_date": "2026-12-03",
        "reason": "fever",
        "status": "approved",
        "affected_batches": ["GTR-BEG-TT17", "GTR-INT-TH18"],
    }


def test_schedule_after_leave_shows_the_cancellations(session):
    rahul = teacher(session, "T-101")
    leave.record_leave(session, rahul.id, THURSDAY, "fever", "teacher:T-101")
    assert teacher_day.format_schedule(session, rahul.id, THURSDAY, TUESDAY) == (
        "📅 Your schedule for Thursday, Dec 3:\n\n"
        "1. Guitar Beginner - 5:00 PM (8 students, Studio 2) — cancelled (you're on leave)\n"
        "2. Guitar Intermediate - 6:15 PM (4 students, Studio 2) — cancelled (you're on leave)"
    )
    plan = leave.plan_leave(session, rahul.id, THURSDAY, None)
    assert plan.already_on_leave is True
    assert [mt.batch.code for mt in plan.affected] == ["GTR-BEG-TT17", "GTR-INT-TH18"]


def test_recording_twice_is_idempotent(session):
    rahul = teacher(session, "T-101")
    first, notices = leave.record_leave(session, rahul.id, THURSDAY, "fever", "teacher:T-101")
    assert notices
    again, notices = leave.record_leave(session, rahul.id, THURSDAY, "fever", "teacher:T-101")
    assert again.id == first.id and notices == []
    updated, notices = leave.record_leave(session, rahul.id, THURSDAY, "doctor's appointment", "admin:ADM-1")
    assert updated.id == first.id and notices == []
    assert updated.reason == "doctor's appointment"
    kept, _ = leave.record_leave(session, rahul.id, THURSDAY, None, "teacher:T-101")  # no reason: keep the old one
    assert kept.reason == "doctor's appointment"
    assert session.execute(select(func.count()).select_from(m.TeacherLeave)).scalar_one() == 1
    actions = session.execute(
        select(m.AuditLog.action, m.AuditLog.actor).where(m.AuditLog.action.like("leave.%")).order_by(m.AuditLog.id)
    ).all()
    assert [tuple(a) for a in actions] == [("leave.recorded", "teacher:T-101"), ("leave.updated", "admin:ADM-1")]


def test_a_concurrent_recording_wins_quietly(session, monkeypatch):
    """Another request inserts the same leave between our read and our insert: no error, no second notices."""
    rahul = teacher(session, "T-101")
    session.add(m.TeacherLeave(teacher_id=rahul.id, leave_date=THURSDAY, reason="fever"))
    session.flush()
    real_leave_row = leave._leave_row
    calls = {"n": 0}

    def stale_leave_row(*args):
        calls["n"] += 1
        return None if calls["n"] <= 2 else real_leave_row(*args)  # plan_leave's and record_leave's reads

    monkeypatch.setattr(leave, "_leave_row", stale_leave_row)
    row, notices = leave.record_leave(session, rahul.id, THURSDAY, "fever", "teacher:T-101")
    assert notices == [] and row.reason == "fever"
    assert session.execute(select(func.count()).select_from(m.TeacherLeave)).scalar_one() == 1


def test_a_withdrawn_leave_reported_again_is_new(session):
    rahul = teacher(session, "T-101")
    row, _ = leave.record_leave(session, rahul.id, THURSDAY, "fever", "teacher:T-101")
    row.status = "withdrawn"
    session.flush()
    again, notices = leave.record_leave(session, rahul.id, THURSDAY, "fever again", "teacher:T-101")
    assert again.id == row.id and again.status == "approved" and again.reason == "fever again"
    assert len(notices) == 14
    last = session.execute(select(m.AuditLog).order_by(m.AuditLog.id.desc())).scalars().first()
    assert last.action == "leave.recorded" and last.before["status"] == "withdrawn"


def test_a_guardian_of_two_affected_children_gets_one_notice(session):
    # Kavitha Reddy's Aarav is in Guitar Beginner; put her Anika into Guitar Intermediate for this test.
    anika = student(session, "HSM-24-008")
    session.add(
        m.Enrollment(
            student_id=anika.id,
            batch_id=batch(session, "GTR-INT-TH18").id,
            plan="monthly",
            classes_remaining=8,
            fee=2000,
        )
    )
    session.flush()
    rahul = teacher(session, "T-101")
    _, notices = leave.record_leave(session, rahul.id, THURSDAY, None, "teacher:T-101")
    kavitha = [n for n in notices if n.phone == "+919845000007"]
    assert len(kavitha) == 1
    assert kavitha[0].audience == "guardian"
    assert kavitha[0].text == (
        "Hi Kavitha, Mr. Rahul is on leave on Thursday, Dec 3, so these classes are cancelled: "
        "Aarav's Guitar Beginner at 5:00 PM, Anika's Guitar Intermediate at 6:15 PM. "
        "We'll let you know about makeup classes."
    )
    assert kavitha[0].template_params == (
        "Kavitha",
        "Aarav and Anika",
        "Guitar Beginner and Guitar Intermediate",
        "Thursday, Dec 3",
        "5:00 PM and 6:15 PM",
    )
    assert "Mr. Rahul (T-101) is on leave on Thu, Dec 3. Affected:" in notices[0].text


def test_opted_out_numbers_are_skipped(session):
    # Nandini Rao's number is opted out in the demo school; enroll her in Guitar Beginner, and opt out an admin.
    nandini = student(session, "HSM-24-039")
    session.add(
        m.Enrollment(
            student_id=nandini.id,
            batch_id=batch(session, "GTR-BEG-TT17").id,
            plan="monthly",
            classes_remaining=8,
            fee=2000,
        )
    )
    session.add(m.WhatsAppSubscription(phone_number="+919800000002", user_type="admin", is_active=False))
    session.add(m.WhatsAppSubscription(phone_number="+919845000002", user_type="guardian", is_active=True))
    session.flush()
    rahul = teacher(session, "T-101")
    _, notices = leave.record_leave(session, rahul.id, THURSDAY, "fever", "teacher:T-101")
    sent = by_phone(notices)
    assert "+919845000039" not in sent
    assert "+919800000002" not in sent and "+919800000001" in sent
    assert "+919845000002" in sent  # an active subscription is no opt-out
    assert "(9 students)" in sent["+919800000001"].text  # she still counts in the class


def test_inactive_admins_are_not_told(session):
    farhan = session.execute(select(m.Admin).filter_by(admin_code="ADM-2")).scalar_one()
    farhan.active = False
    session.flush()
    rahul = teacher(session, "T-101")
    _, notices = leave.record_leave(session, rahul.id, THURSDAY, None, "teacher:T-101")
    assert [n.phone for n in notices if n.audience == "admin"] == ["+919800000001"]
