"""Enrollment inquiries (UC-6) against the demo school: course facts, honest age answers, batches that fit, leads."""

from __future__ import annotations

from datetime import time

import pytest
from sqlalchemy import func, select

from hsm.infra import models as m
from hsm.outreach import enrollment
from hsm.outreach.notices import Notice

PROSPECT = "+919845099999"


@pytest.mark.parametrize(
    ("asked", "course"),
    [
        ("piano", "Piano"),
        ("Piano", "Piano"),
        ("keys", "Keyboard"),
        ("keyboard", "Keyboard"),
        ("guitaar", "Guitar"),
        ("singing", "Carnatic Vocals"),
        ("carnatic", "Carnatic Vocals"),
        ("carnatic music", "Carnatic Vocals"),
        ("drum", "Drums"),
        ("tabla", "Tabla"),
        ("violin", "Violin"),
        ("I want to enroll my child in piano classes", "Piano"),
        ("guitar lessons for my son", "Guitar"),
        ("flute", None),
        ("salsa", None),
        ("music", None),
        ("", None),
        (None, None),
    ],
)
def test_which_course(session, asked, course):
    info = enrollment.course_info(session, asked)
    assert (info.name if info else None) == course


def test_course_facts_come_from_the_school(session):
    piano = enrollment.course_info(session, "piano")
    assert (piano.code, piano.min_age, piano.levels) == ("PIANO", 6, ("Beginner", "Advanced"))
    assert [(p.plan, p.fee, p.classes) for p in piano.plans] == [("monthly", 2500, 8), ("quarterly", 7000, 24)]
    assert enrollment.course_info_text(piano) == (
        "🎹 Piano: monthly ₹2500 (8 classes), quarterly ₹7000 (24 classes). Minimum age 6."
    )
    assert enrollment.course_info_text(enrollment.course_info(session, "singing")) == (
        "🎤 Carnatic Vocals: monthly ₹1800 (8 classes), quarterly ₹5000 (24 classes). Minimum age 6."
    )
    assert enrollment.unknown_course_text(session, "flute") == (
        "Sorry, we don't teach flute. We teach Guitar, Piano, Keyboard, Violin, Drums, Carnatic Vocals and Tabla."
    )


def test_age_below_the_minimum_gets_an_honest_answer(session):
    drums = enrollment.course_info(session, "drums")
    assert enrollment.age_check(drums, 6) == (
        "Drums starts at age 8; we'd love to see your child in a couple of years — Keyboard starts at 5."
    )
    assert enrollment.age_check(drums, 7) == (
        "Drums starts at age 8; we'd love to see your child in a year — Keyboard starts at 5."
    )
    assert enrollment.age_check(drums, 8) is None
    assert enrollment.age_check(drums, None) is None
    assert enrollment.age_check(enrollment.course_info(session, "keyboard"), 3) == (
        "Keyboard starts at age 5; we'd love to see your child in a couple of years."
    )
    assert enrollment.age_check(drums, 4) == (
        "Drums starts at age 8; we'd love to see your child in 4 years — Keyboard starts even earlier, at 5."
    )
    assert enrollment.fitting_batches(session, "DRUMS", 6, None, None) == []


def test_weekend_keyboard_for_an_eight_year_old(session):
    (kids,) = enrollment.fitting_batches(session, "KEYBOARD", 8, None, "weekends")
    assert (kids.code, kids.name, kids.level, kids.teacher) == (
        "KEY-KIDS-SA10",
        "Keyboard Kids",
        "Beginner",
        "Ms. Priya",
    )
    assert kids.text == "Sat 10:00 AM, Ms. Priya, 7 seats free"  # capacity 10, three active (Anika, Meghana, Advik)
    assert kids.fits_preference


def test_children_see_the_kids_batch_first_adults_never(session):
    child = enrollment.fitting_batches(session, "KEYBOARD", 8, "beginner", None)
    assert [(o.code, o.text) for o in child] == [
        ("KEY-KIDS-SA10", "Sat 10:00 AM, Ms. Priya, 7 seats free"),
        ("KEY-BEG-MWF18", "Mon/Wed/Fri 6:00 PM, Ms. Priya, 6 seats free"),  # John, Isha, Rohan, Fatima
    ]
    adult = enrollment.fitting_batches(session, "KEYBOARD", 30, None, None)
    assert [o.code for o in adult] == ["KEY-BEG-MWF18"]


def test_level_and_seats(session):
    (guitar,) = enrollment.fitting_batches(session, "GUITAR", 10, None, None)  # unknown level: Beginner
    assert guitar.text == "Tue/Thu 5:00 PM, Mr. Rahul, 2 seats free"  # capacity 10, eight active
    (intermediate,) = enrollment.fitting_batches(session, "GUITAR", 15, "intermediate", "thursday evening")
    assert intermediate.text == "Thu 6:15 PM, Mr. Rahul, 4 seats free"  # capacity 8, Varun's paused seat is free
    (advanced,) = enrollment.fitting_batches(session, "PIANO", 30, "advanced", None)
    assert advanced.text == "Tue 7:00 PM, Mr. Rahul, 1 seat free"
    assert enrollment.fitting_batches(session, "DRUMS", 12, "intermediate", None) == []
    assert enrollment.fitting_batches(session, "FLUTE", 12, None, None) == []


def test_a_full_batch_is_not_offered(session):
    batch = session.execute(select(m.Batch).filter_by(code="PNO-ADV-TU19")).scalar_one()
    newcomer = m.Student(enrollment_id="HSM-24-099", name="New Comer")
    session.add(newcomer)
    session.flush()
    session.add(m.Enrollment(student_id=newcomer.id, batch_id=batch.id, plan="monthly", fee=2500, classes_remaining=8))
    session.flush()
    assert enrollment.fitting_batches(session, "PIANO", 30, "advanced", None) == []


def test_preference_is_soft(session):
    options = enrollment.fitting_batches(session, "PIANO", 8, None, "weekends")
    assert [(o.code, o.text, o.fits_preference) for o in options] == [
        ("PNO-BEG-WF17", "Wed/Fri 5:00 PM, Ms. Priya, 3 seats free", False)
    ]
    info = enrollment.course_info(session, "piano")
    assert enrollment.batches_text(info, options) == (
        "Nothing matches that time, but these Piano batches have seats:\n"
        "• Piano Beginner: Wed/Fri 5:00 PM, Ms. Priya, 3 seats free\n\n"
        "Would you like an administrator to call you?"
    )
    assert [o.code for o in enrollment.fitting_batches(session, "KEYBOARD", 8, None, "after 5pm")] == ["KEY-BEG-MWF18"]
    assert [o.code for o in enrollment.fitting_batches(session, "KEYBOARD", 8, None, "saturday morning")] == [
        "KEY-KIDS-SA10"
    ]


@pytest.mark.parametrize(
    ("text", "days", "earliest", "latest"),
    [
        ("weekends", {5, 6}, None, None),
        ("evenings", None, time(16), time(21)),
        ("saturday morning", {5}, time(6), time(12)),
        ("after 5pm", None, time(17), None),
        ("after 5", None, time(17), None),
        ("weekdays before 6:30 p.m.", {0, 1, 2, 3, 4}, None, time(18, 30)),
        ("Tue or Thu", {1, 3}, None, None),
        ("anytime", None, None, None),
    ],
)
def test_parse_preference(text, days, earliest, latest):
    preference = enrollment.parse_preference(text)
    assert (set(preference.days) if preference.days else None, preference.earliest, preference.latest) == (
        days,
        earliest,
        latest,
    )


@pytest.mark.parametrize(
    ("said", "level"),
    [
        (None, "Beginner"),
        ("beginner", "Beginner"),
        ("never played", "Beginner"),
        ("begginer", "Beginner"),
        ("some experience", "Intermediate"),
        ("played for 2 years", "Intermediate"),
        ("advanced", "Advanced"),
        ("no idea", "Beginner"),
    ],
)
def test_levels(said, level):
    assert enrollment.normalise_level(said) == level


def test_missing_details():
    assert enrollment.missing_details(None, None, None) == ["age", "level", "preferred_slot"]
    assert enrollment.missing_details(8, None, "weekends") == ["level"]
    assert enrollment.missing_details(8, "beginner", "weekends") == []


def leads(session) -> list[m.Lead]:
    return session.execute(select(m.Lead).where(m.Lead.phone == PROSPECT).order_by(m.Lead.id)).scalars().all()


def test_lead_and_admin_notices(session):
    lead, notices = enrollment.create_lead(session, "98450 99999", "Anita", "PIANO", 8, "beginner", "weekends")
    assert (
        lead.name,
        lead.phone,
        lead.course.code,
        lead.student_age,
        lead.level,
        lead.preferred_slot,
        lead.source,
        lead.status,
    ) == ("Anita", PROSPECT, "PIANO", 8, "Beginner", "weekends", "whatsapp", "new")
    text = "🆕 Lead: “Anita” (+91 98450 99999) wants Piano for an 8-year-old beginner, prefers weekends."
    params = ("“Anita” (+91 98450 99999) wants Piano for an 8-year-old beginner, prefers weekends",)
    assert notices == [
        Notice("+919800000001", "admin", text, "new_lead_admin", params),
        Notice("+919800000002", "admin", text, "new_lead_admin", params),
    ]
    audit = session.execute(select(m.AuditLog).filter_by(entity="leads", action="lead.created")).scalar_one()
    assert audit.entity_id == str(lead.id) and audit.after["student_age"] == 8
    assert enrollment.lead_confirmation_text(lead) == (
        "Thank you! An administrator will call you on +91 98450 99999 soon. 🙏"
    )


def test_lead_is_idempotent_per_phone_and_course(session):
    first, _ = enrollment.create_lead(session, PROSPECT, "Anita", "PIANO", 8, "beginner", "weekends")
    again, notices = enrollment.create_lead(session, "+91 98450 99999", "Anita", "PIANO", 8, "beginner", "weekends")
    assert again.id == first.id and notices == [] and len(leads(session)) == 1

    updated, notices = enrollment.create_lead(session, PROSPECT, None, "PIANO", None, None, "saturday morning")
    assert updated.id == first.id and len(leads(session)) == 1
    assert (updated.name, updated.student_age, updated.preferred_slot) == ("Anita", 8, "saturday morning")
    assert notices[0].text == (
        "✏️ Lead updated: “Anita” (+91 98450 99999) wants Piano for an 8-year-old beginner, prefers saturday morning."
    )
    assert (
        session.execute(select(func.count()).select_from(m.AuditLog).where(m.AuditLog.entity == "leads")).scalar_one()
        == 2
    )

    other_course, _ = enrollment.create_lead(session, PROSPECT, "Anita", "KEYBOARD", 8, None, None)
    assert other_course.id != first.id
    first.status = "contacted"
    session.flush()
    fresh, notices = enrollment.create_lead(session, PROSPECT, "Anita", "PIANO", 8, None, None)
    assert fresh.id != first.id and len(notices) == 2 and len(leads(session)) == 3


def test_lead_notices_skip_inactive_admins_and_read_well_without_details(session):
    farhan = session.execute(select(m.Admin).filter_by(admin_code="ADM-2")).scalar_one()
    farhan.active = False
    session.flush()
    lead, notices = enrollment.create_lead(session, PROSPECT, None, "GUITAR", 11, None, None)
    assert [n.phone for n in notices] == ["+919800000001"]
    assert notices[0].text == "🆕 Lead: Someone (+91 98450 99999) wants Guitar for an 11-year-old."
    _, notices = enrollment.create_lead(session, PROSPECT, "Ravi", None, None, None, None)
    assert notices[0].text == "🆕 Lead: “Ravi” (+91 98450 99999) asked about classes."
