"""Query services against the demo school: who a number is, teachers' days, next classes, balances and dues."""

from datetime import date, datetime

import pytest
from sqlalchemy import select

from hsm.classes import schedule
from hsm.infra import models as m
from hsm.infra.clock import now, school_timezone
from hsm.money import billing
from hsm.people import identity


def teacher(session, employee_id):
    return session.execute(select(m.Teacher).filter_by(employee_id=employee_id)).scalar_one()


def student(session, enrollment_id):
    return session.execute(select(m.Student).filter_by(enrollment_id=enrollment_id)).scalar_one()


@pytest.mark.parametrize(
    ("phone", "role", "name"),
    [
        ("+919800000001", "admin", "Meera Krishnan"),
        ("+919811000101", "teacher", "Rahul Menon"),
        ("+919876543210", "student", "John Doe"),
        ("919845000007", "guardian", "Kavitha Reddy"),  # WhatsApp's wa_id format
        ("098450 00010", "guardian", "Srinivas Reddy"),
        ("+919999999999", "prospect", None),
        ("garbage", "prospect", None),
    ],
)
def test_who_a_phone_number_is(session, phone, role, name):
    who = identity.identify(session, phone)
    assert (who.role, who.name) == (role, name)


def test_a_student_with_a_guardian_is_the_student_on_their_own_phone(session):
    ahmed = identity.identify(session, "+919845000003")
    assert ahmed.role == "student" and ahmed.name == "Ahmed Khan"
    salim = identity.identify(session, "+919845000103")
    assert salim.role == "guardian"
    assert [s.name for s in identity.students_for(session, salim)] == ["Ahmed Khan"]


def test_a_number_with_two_roles_can_switch(session):
    rahul = teacher(session, "T-101")
    session.add(m.Guardian(name="Rahul Menon", phone=rahul.phone))
    session.flush()
    who = identity.identify(session, rahul.phone)
    assert who.role == "teacher" and who.roles == ("teacher", "guardian")
    assert who.as_role("guardian").role == "guardian"
    with pytest.raises(ValueError):
        who.as_role("admin")


def test_guardian_children(session):
    kavitha = identity.identify(session, "+919845000007")
    assert [s.name for s in identity.guardian_children(session, kavitha.person_id)] == ["Aarav Reddy", "Anika Reddy"]
    srinivas = identity.identify(session, "+919845000010")
    assert [s.name for s in identity.students_for(session, srinivas)] == ["Ananya Reddy", "Nikhil Reddy"]
    assert identity.students_for(session, identity.identify(session, "+919811000101")) == []


def test_teacher_batches_on_a_date(session):
    rahul = teacher(session, "T-101")
    tuesday = schedule.teacher_classes_on(session, rahul.id, date(2026, 12, 1))
    assert [(c.batch.name, c.starts_at.strftime("%H:%M"), c.status) for c in tuesday] == [
        ("Guitar Beginner", "17:00", "scheduled"),
        ("Piano Advanced", "19:00", "scheduled"),
    ]
    thursday = schedule.teacher_classes_on(session, rahul.id, date(2026, 12, 3))
    assert [(c.batch.code, c.starts_at.strftime("%H:%M")) for c in thursday] == [
        ("GTR-BEG-TT17", "17:00"),
        ("GTR-INT-TH18", "18:15"),
    ]
    assert schedule.teacher_classes_on(session, rahul.id, date(2026, 11, 30)) == []  # Monday: none


def test_holiday_and_leave_are_marked_not_dropped(session):
    priya = teacher(session, "T-102")
    christmas = schedule.teacher_classes_on(session, priya.id, date(2026, 12, 25))
    assert [(c.batch.code, c.status, c.note) for c in christmas] == [
        ("PNO-BEG-WF17", "holiday", "Christmas"),
        ("KEY-BEG-MWF18", "holiday", "Christmas"),
    ]
    session.add(m.TeacherLeave(teacher_id=priya.id, leave_date=date(2026, 12, 2), reason="fever"))
    session.flush()
    wednesday = schedule.teacher_classes_on(session, priya.id, date(2026, 12, 2))
    assert {c.status for c in wednesday} == {"cancelled"}


def test_next_classes_from_the_demo_instant(session):
    assert now() == datetime(2026, 12, 1, 16, 30, tzinfo=school_timezone())
    john = student(session, "HSM-24-001")
    upcoming = schedule.next_classes(session, john.id)
    assert [
        (e.batch.course.name, c.batch.teacher.display_name, c.starts_at.strftime("%a %d %b %H:%M")) for e, c in upcoming
    ] == [
        ("Guitar", "Mr. Rahul", "Tue 01 Dec 17:00"),
        ("Keyboard", "Ms. Priya", "Wed 02 Dec 18:00"),
    ]
    anika = student(session, "HSM-24-008")
    assert [c.starts_at.strftime("%a %d %b %H:%M") for _, c in schedule.next_classes(session, anika.id)] == [
        "Sat 05 Dec 10:00"
    ]


def test_next_classes_skip_started_classes_holidays_leave_and_paused(session):
    john = student(session, "HSM-24-001")
    after_start = datetime(2026, 12, 1, 17, 5, tzinfo=school_timezone())
    guitar = next(c for e, c in schedule.next_classes(session, john.id, after_start) if e.batch.code == "GTR-BEG-TT17")
    assert guitar.class_date == date(2026, 12, 3)

    christmas_eve = datetime(2026, 12, 24, 20, 0, tzinfo=school_timezone())
    keyboard = next(
        c for e, c in schedule.next_classes(session, john.id, christmas_eve) if e.batch.code == "KEY-BEG-MWF18"
    )
    assert keyboard.class_date == date(2026, 12, 28)  # Fri 25th is Christmas

    rahul = teacher(session, "T-101")
    session.add(m.TeacherLeave(teacher_id=rahul.id, leave_date=date(2026, 12, 1), reason="fever"))
    session.flush()
    guitar = next(c for e, c in schedule.next_classes(session, john.id) if e.batch.code == "GTR-BEG-TT17")
    assert guitar.class_date == date(2026, 12, 3)

    varun = student(session, "HSM-24-040")
    assert schedule.next_classes(session, varun.id) == []


def test_batch_roster(session):
    guitar = session.execute(select(m.Batch).filter_by(code="GTR-BEG-TT17")).scalar_one()
    names = [s.name for s in schedule.batch_roster(session, guitar.id)]
    assert len(names) == 8 and names[0] == "Aarav Reddy" and "Rahul Sharma" in names and "Rahul Verma" in names


def test_balances_and_dues(session):
    john = student(session, "HSM-24-001")
    assert [
        (b.course, b.plan, b.classes_remaining, b.fee, b.next_due.isoformat(), b.overdue)
        for b in billing.balances(session, john.id)
    ] == [
        ("Keyboard", "monthly", 15, 2000, "2026-12-20", False),
        ("Guitar", "quarterly", 22, 5500, "2027-02-10", False),
    ]
    assert [b.course for b in billing.dues(session, john.id)] == ["Keyboard"]
    assert billing.last_payment(session, john.id).amount == 5500

    irfan = student(session, "HSM-24-009")
    guitar, drums = billing.balances(session, irfan.id)
    assert guitar.overdue and guitar.low and guitar.days_until_due == -6
    assert not drums.overdue and not drums.low
    assert [b.course for b in billing.dues(session, irfan.id)] == ["Guitar", "Drums"]

    varun = student(session, "HSM-24-040")
    (paused,) = billing.balances(session, varun.id)
    assert paused.status == "paused" and billing.dues(session, varun.id) == []
