"""Absence notices from families and absence alerts to them (hsm.classes.absences, hsm.classes.absence_alerts),
against the demo school on Tuesday 1 Dec 2026, 16:30: Srinivas Reddy's Ananya and Nikhil are both in Keyboard
Intermediate (Ms. Priya, Tue and Sat 18:00) with Tanvi Joshi, an adult student who is her own contact."""

from datetime import date

import pytest
from sqlalchemy import select

from hsm.classes import absence_alerts, absences, attendance
from hsm.classes.attendance_text import parse_attendance
from hsm.infra import models as m
from hsm.people.identity import identify
from hsm.records.changes import RecordError

SRINIVAS, KAVITHA, TANVI, PRIYA = "+919845000010", "+919845000007", "+919845000022", "+919811000102"
TUESDAY = date(2026, 12, 1)
KEYS = "KEY-INT-TS18"


def student(session, name):
    return session.execute(select(m.Student).filter_by(name=name)).scalar_one()


def audit(session, action):
    return session.execute(select(m.AuditLog).filter_by(action=action)).scalars().all()


def notice_for(session, phone, text, **chosen):
    who = identify(session, phone)
    plan = absences.plan_notice(session, who, text, **chosen)
    assert plan.student is not None and plan.meeting is not None, plan
    row = absences.record_absence_notice(
        session,
        plan.student.id,
        plan.meeting.batch.id,
        plan.meeting.class_date,
        reporter_role=who.role,
        reporter_name=who.name,
        reporter_phone=who.phone,
        reason=text,
        actor="whatsapp:test",
    )
    return plan, row


def priyas_saved_class(session, said: str):
    priya = session.execute(select(m.Teacher).filter_by(employee_id="T-102")).scalar_one()
    choice = attendance.choose_class(session, priya.id, batch_code=KEYS)
    draft = attendance.start_draft(session, priya.id, choice.meeting, said)
    current = attendance.apply_statement(session, draft, parse_attendance(said))
    attendance.confirm(session, draft.id, "teacher:T-102")
    return current


def test_a_parent_of_two_names_one_child_and_the_teacher_is_told(session):
    plan, row = notice_for(session, SRINIVAS, "Nikhil can't come to class today, he is unwell")
    assert (plan.student.name, plan.meeting.batch.code, plan.meeting.class_date) == ("Nikhil Reddy", KEYS, TUESDAY)
    assert (row.reporter_role, row.reporter_name, row.reason) == (
        "guardian",
        "Srinivas Reddy",
        "Nikhil can't come to class today, he is unwell",
    )
    (entry,) = audit(session, "absence.noticed")
    assert entry.after["student"] == plan.student.enrollment_id and entry.after["batch"] == KEYS
    teacher = absences.teacher_notice(session, row, TUESDAY)
    assert teacher.phone == PRIYA and teacher.template == "absence_notice_teacher"
    assert "Nikhil Reddy will miss Keyboard Intermediate today (Tue, Dec 1), 6:00 PM" in teacher.text
    assert "he is unwell" in teacher.text
    reply = absences.notice_reply(session, row, False, True, TUESDAY)
    assert reply.text.startswith("Noted: Nikhil will miss Keyboard Intermediate today, 6:00 PM.")
    assert "has been told" in reply.text
    unreached = absences.notice_reply(session, row, False, False, TUESDAY)
    assert "has been told" not in unreached.text and "couldn't reach the teacher" in unreached.text
    again, same = notice_for(session, SRINIVAS, "Nikhil won't come today")
    assert again.existing is not None and same.id == row.id and len(audit(session, "absence.noticed")) == 1


def test_unclear_child_gets_buttons_and_another_family_is_never_searched(session):
    plan = absences.plan_notice(session, identify(session, SRINIVAS), "my child can't come today")
    assert plan.question == "Which child will miss class?"
    assert [c.title for c in plan.choices] == ["Ananya Reddy", "Nikhil Reddy"]
    picked = absences.plan_notice(
        session,
        identify(session, SRINIVAS),
        "my child can't come today",
        student_code=plan.choices[1].entities["student_id"],
    )
    assert picked.student.name == "Nikhil Reddy"
    other = absences.plan_notice(session, identify(session, KAVITHA), "Nikhil can't come today")
    assert [c.title for c in other.choices] == ["Aarav Reddy", "Anika Reddy"]


def test_a_day_without_class_and_a_class_already_over_are_refused(session, monkeypatch):
    srinivas = identify(session, SRINIVAS)
    thursday = absences.plan_notice(session, srinivas, "Nikhil can't come on Thursday")
    assert thursday.problem == "Nikhil has no class on Thu, Dec 3, so nothing to miss."
    monkeypatch.setenv("HSM_NOW", "2026-12-01T19:30:00+05:30")
    over = absences.plan_notice(session, srinivas, "Nikhil can't come today")
    assert over.problem.startswith("Keyboard Intermediate 6:00 PM today is already over")
    nikhil, keys = student(session, "Nikhil Reddy"), session.execute(select(m.Batch).filter_by(code=KEYS)).scalar_one()
    with pytest.raises(RecordError):
        absences.record_absence_notice(
            session,
            nikhil.id,
            keys.id,
            TUESDAY,
            reporter_role="guardian",
            reporter_name="Srinivas Reddy",
            reporter_phone=SRINIVAS,
            reason=None,
            actor="whatsapp:test",
        )


def test_without_a_day_the_next_class_is_meant(session):
    plan = absences.plan_notice(session, identify(session, KAVITHA), "Anika will miss her class")
    assert (plan.meeting.batch.code, plan.meeting.class_date) == ("KEY-KIDS-SA10", date(2026, 12, 5))


def test_the_draft_premarks_the_informed_absence_and_only_the_others_are_alerted(session):
    notice_for(session, SRINIVAS, "Nikhil can't come to class today, he is unwell")
    current = priyas_saved_class(session, "all present except Tanvi and Ananya")
    nikhil = student(session, "Nikhil Reddy")
    assert nikhil.id in current.informed and current.marks[nikhil.id] == "absent"
    assert "✗ Nikhil Reddy (informed)" in attendance.summary_text(current)
    records = {
        r.student.name: (r.status, r.absence_notice_id is not None)
        for r in session.execute(select(m.AttendanceRecord).filter_by(class_date=TUESDAY)).scalars()
        if r.batch.code == KEYS
    }
    assert records == {
        "Nikhil Reddy": ("absent", True),
        "Tanvi Joshi": ("absent", False),
        "Ananya Reddy": ("absent", False),
    }
    batch_id = current.draft.batch_id
    alerts = absence_alerts.absence_alerts(session, batch_id, TUESDAY, "teacher:T-102")
    texts = {n.phone: n.text for n in alerts}
    assert texts == {
        SRINIVAS: "Ananya was marked absent from Keyboard Intermediate today, 6:00 PM. Reply if this is wrong.",
        TANVI: "You were marked absent from Keyboard Intermediate today, 6:00 PM. Reply if this is wrong.",
    }
    assert {n.template for n in alerts} == {"absence_alert"}
    assert absence_alerts.absence_alerts(session, batch_id, TUESDAY, "teacher:T-102") == []  # once per class
    assert len(audit(session, "absence.alerted")) == 2


def test_alerts_can_be_turned_off(session, monkeypatch):
    monkeypatch.setenv("HSM_ABSENCE_ALERTS", "off")
    current = priyas_saved_class(session, "all present except Ananya")
    assert absence_alerts.absence_alerts(session, current.draft.batch_id, TUESDAY, "teacher:T-102") == []


def test_he_was_there_asks_the_teacher_and_the_office_sees_it(session, monkeypatch):
    srinivas = identify(session, SRINIVAS)
    nothing = absence_alerts.dispute_absence(session, srinivas, "she was there", "whatsapp:test")
    assert nothing.notices == [] and "couldn't find a recent absence" in nothing.told(True)
    notice_for(session, SRINIVAS, "Nikhil can't come to class today, he is unwell")
    current = priyas_saved_class(session, "all present except Ananya")
    absence_alerts.absence_alerts(session, current.draft.batch_id, TUESDAY, "teacher:T-102")
    monkeypatch.setenv("HSM_NOW", "2026-12-01T20:00:00+05:30")
    dispute = absence_alerts.dispute_absence(session, srinivas, "she was there", "whatsapp:test")
    (asked,) = dispute.notices
    assert asked.phone == PRIYA and asked.template == "absence_disputed"
    assert "Srinivas Reddy (Ananya's parent) says Ananya Reddy was in Keyboard Intermediate on Tue, Dec 1" in asked.text
    assert dispute.told(True).startswith("Thanks, I've asked ")
    assert dispute.told(True).endswith("to check Ananya's attendance for Keyboard Intermediate today, 6:00 PM.")
    assert "couldn't reach the teacher" in dispute.told(False)
    assert len(audit(session, "absence.disputed")) == 1
    listed, total = absences.list_absences(session, TUESDAY, TUESDAY, 50, 0)
    assert total == 2
    assert [(item["kind"], item["student"]["name"]) for item in listed] == [
        ("alert", "Ananya Reddy"),
        ("notice", "Nikhil Reddy"),
    ]
    assert listed[0]["disputed"]["said"] == "she was there"
    assert listed[1]["reported_by"] == {"role": "guardian", "name": "Srinivas Reddy"}
    monkeypatch.setenv("HSM_NOW", "2026-12-04T20:00:00+05:30")  # past REPLY_HOURS (48)
    late = absence_alerts.dispute_absence(session, srinivas, "she was there", "whatsapp:test")
    assert late.notices == []
