"""Admissions against the demo school (SQLite and PostgreSQL), on Tuesday 1 Dec 2026: a student with guardian and
enrollment in one step, with the school's defaults; every check refuses before anything is written; a lead
converted in one step, its number becoming the student's (an adult) or the guardian's (a child)."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from hsm.infra import models as m
from hsm.outreach import enrollment
from hsm.outreach.leads import lead_events, move_lead
from hsm.people.admissions import GuardianDetails, admit_student, convert_lead, next_enrollment_id
from hsm.people.identity import identify
from hsm.records.changes import Conflict, NotFound, RecordError

ACTOR = "api:front-desk"
NEW_PHONE = "+919700000950"


def counts(session) -> tuple[int, ...]:
    return tuple(
        session.execute(select(func.count()).select_from(model)).scalar_one()
        for model in (m.Student, m.Guardian, m.StudentGuardian, m.Enrollment, m.AuditLog)
    )


def admit(session, **overrides):
    values = {"name": "Nisha Rao", "phone": NEW_PHONE, "batch_code": "KEY-BEG-MWF18", "plan": "monthly"}
    return admit_student(session, ACTOR, **{**values, **overrides})


def test_an_adult_is_admitted_with_the_schools_defaults_and_audited(session):
    admission = admit(session, dob=date(2000, 1, 2), email="nisha@example.com")
    student, enrollment_row = admission.student, admission.enrollment
    assert (student.enrollment_id, student.name, student.phone, student.active) == (
        "HSM-26-001",
        "Nisha Rao",
        NEW_PHONE,
        True,
    )
    assert (enrollment_row.plan, enrollment_row.fee, enrollment_row.classes_remaining, enrollment_row.status) == (
        "monthly",
        2000,
        8,
        "active",
    )
    assert enrollment_row.next_due == date(2027, 1, 1) and admission.guardian is None
    actions = session.execute(
        select(m.AuditLog.action, m.AuditLog.entity_id, m.AuditLog.actor).where(m.AuditLog.actor == ACTOR)
    ).all()
    assert sorted(actions) == [
        ("enrollment.created", "HSM-26-001:KEY-BEG-MWF18", ACTOR),
        ("student.admitted", "HSM-26-001", ACTOR),
    ]
    assert identify(session, NEW_PHONE).role == "student"
    second = admit(session, name="Second", phone="+919700000951", plan="quarterly", batch_code="gtr-int-th18")
    assert second.student.enrollment_id == "HSM-26-002"
    assert (second.enrollment.fee, second.enrollment.classes_remaining) == (5500, 24)
    assert second.enrollment.next_due == date(2027, 3, 1)


def test_given_values_win_over_the_defaults(session):
    admission = admit(session, fee=1500, classes_remaining=4, next_due=date(2026, 12, 15), enrollment_id=" hsm-26-100 ")
    assert admission.student.enrollment_id == "HSM-26-100"
    assert (admission.enrollment.fee, admission.enrollment.classes_remaining) == (1500, 4)
    assert admission.enrollment.next_due == date(2026, 12, 15)
    assert next_enrollment_id(session) == "HSM-26-101"
    assert next_enrollment_id(session, date(2027, 1, 5)) == "HSM-27-001"


def test_a_child_gets_a_new_guardian_and_a_sibling_links_the_existing_one(session):
    child = admit(
        session,
        name="Tara Rao",
        phone=None,
        dob=date(2016, 5, 1),
        guardian=GuardianDetails("Lakshmi Rao", "98450 77777", "Mother", "lakshmi@example.com"),
    )
    assert child.guardian_created and child.guardian.phone == "+919845077777" and child.relation == "mother"
    sibling = admit(
        session,
        name="Varun Rao",
        phone=None,
        dob=date(2014, 5, 1),
        guardian={"name": "lakshmi  rao", "phone": "+919845077777"},
    )
    assert not sibling.guardian_created and sibling.guardian.id == child.guardian.id
    who = identify(session, "+919845077777")
    assert who.role == "guardian"
    kavitha = admit(
        session, name="Third Reddy", phone=None, guardian={"name": "Kavitha Reddy", "phone": "+919845000007"}
    )
    assert not kavitha.guardian_created and kavitha.guardian.name == "Kavitha Reddy"
    actions = set(session.execute(select(m.AuditLog.action).where(m.AuditLog.actor == ACTOR)).scalars())
    assert {"guardian.created", "guardian.linked", "student.admitted", "enrollment.created"} <= actions


def test_a_guardian_who_had_left_is_active_again(session):
    guardian = session.execute(select(m.Guardian).where(m.Guardian.phone == "+919845000002")).scalar_one()
    guardian.active = False
    session.flush()
    admission = admit(session, phone=None, guardian={"name": "Susan Thomas", "phone": "+919845000002"})
    assert admission.guardian.active and admission.guardian.deactivated_at is None


@pytest.mark.parametrize(
    "overrides, error, field, message",
    [
        ({"name": "  "}, RecordError, "name", "a name is required"),
        ({"phone": "12345"}, RecordError, "phone", "not a valid phone number"),
        ({"email": "nisha@"}, RecordError, "email", "not an e-mail address"),
        ({"batch_code": "GTR-XX"}, RecordError, "batch", "unknown batch 'GTR-XX'"),
        ({"plan": "yearly"}, RecordError, "plan", "Keyboard has no 'yearly' plan (monthly, quarterly)"),
        ({"phone": None}, RecordError, "phone", "a student needs a phone or a guardian"),
        ({"dob": date(2012, 1, 1)}, RecordError, "guardian", "a student under 18 needs a guardian (this one is 14)"),
        ({"dob": date(2027, 1, 1)}, RecordError, "dob", "is in the future"),
        (
            {"dob": date(2021, 1, 1), "batch_code": "DRM-BEG-WF17", "guardian": {"name": "A", "phone": "9845011111"}},
            RecordError,
            "dob",
            "Drums starts at age 8; the student is 5",
        ),
        ({"guardian": {"name": "No Phone"}}, RecordError, "guardian.phone", "a guardian needs a phone"),
        ({"guardian": {"phone": "+919845011111"}}, RecordError, "guardian.name", "a name is required"),
        ({"fee": -1}, RecordError, "fee", "must be a whole number"),
        ({"enrollment_id": "HSM-24-001"}, Conflict, "enrollment_id", "enrollment id HSM-24-001 is taken"),
        ({"phone": "+919876543210"}, Conflict, "phone", "already the phone of student HSM-24-001 John Doe"),
        ({"phone": "+919811000101"}, Conflict, "phone", "already the phone of teacher T-101 Rahul Menon"),
        ({"phone": "+919845000007"}, Conflict, "phone", "already the phone of guardian Kavitha Reddy"),
        (
            {"phone": None, "guardian": {"name": "Someone Else", "phone": "+919845000007"}},
            Conflict,
            "guardian.phone",
            "already the phone of guardian Kavitha Reddy, another family's",
        ),
        (
            {"phone": None, "guardian": {"name": "Parent", "phone": "+919876543210"}},
            Conflict,
            "guardian.phone",
            "already the phone of student HSM-24-001 John Doe",
        ),
        (
            {"phone": "+919800000001"},
            Conflict,
            "phone",
            "already the phone of admin ADM-1 Meera Krishnan",
        ),
    ],
)
def test_admission_checks_refuse_before_anything_is_written(session, overrides, error, field, message):
    before = counts(session)
    with pytest.raises(error) as refused:
        admit(session, **overrides)
    assert refused.value.field == field and message in refused.value.message, refused.value.message
    assert counts(session) == before


def test_an_admin_who_is_also_a_parent_is_the_childs_guardian(session):
    admission = admit(session, phone=None, guardian={"name": "Meera Krishnan", "phone": "+919800000001"})
    assert admission.guardian_created and admission.guardian.phone == "+919800000001"
    guardian_audit = session.execute(select(m.AuditLog).where(m.AuditLog.action == "guardian.created")).scalar_one()
    assert guardian_audit.entity_id == str(admission.guardian.id)
    assert guardian_audit.after == {"name": "Meera Krishnan", "phone": "+91******0001"}


def test_a_shared_phone_is_admitted_when_allowed(session):
    admission = admit(session, phone="+919876543210", allow_shared_phone=True)
    assert admission.student.phone == "+919876543210"
    linked = admit(
        session,
        name="Other Child",
        phone=None,
        guardian={"name": "Someone Else", "phone": "+919845000007"},
        allow_shared_phone=True,
    )
    assert linked.guardian.name == "Kavitha Reddy"  # the existing guardian, linked as asked


def test_a_full_batch_is_refused_unless_over_capacity(session):
    batch = session.execute(select(m.Batch).where(m.Batch.code == "PNO-ADV-TU19")).scalar_one()
    taken = session.execute(
        select(func.count()).select_from(m.Enrollment).where(m.Enrollment.batch_id == batch.id)
    ).scalar_one()
    batch.capacity = taken
    session.flush()
    before = counts(session)
    with pytest.raises(Conflict, match=rf"batch PNO-ADV-TU19 is full \({taken} of {taken} seats taken\)") as refused:
        admit(session, batch_code="PNO-ADV-TU19")
    assert refused.value.code == "batch_full" and counts(session) == before
    admission = admit(session, batch_code="PNO-ADV-TU19", over_capacity=True)
    assert admission.enrollment.batch.code == "PNO-ADV-TU19"
    audit = session.execute(select(m.AuditLog).where(m.AuditLog.action == "enrollment.created")).scalar_one()
    assert audit.after["over_capacity"] is True


def test_an_inactive_batch_is_refused(session):
    batch = session.execute(select(m.Batch).where(m.Batch.code == "TBL-BEG-SA16")).scalar_one()
    batch.active = False
    session.flush()
    with pytest.raises(Conflict, match="batch TBL-BEG-SA16 is not active"):
        admit(session, batch_code="TBL-BEG-SA16")


# ------------------------------------------------------------------------------------------------ leads


def lead_of(session, phone: str, name: str | None, course: str, age: int | None) -> int:
    lead, _ = enrollment.create_lead(session, phone, name, course, age, "beginner", "evenings")
    return lead.id


def test_an_adults_lead_becomes_a_student_on_their_own_number(session):
    lead_id = lead_of(session, NEW_PHONE, "Ravi Kumar", "DRUMS", 30)
    move_lead(session, lead_id, "contacted", ACTOR)
    lead, admission = convert_lead(session, ACTOR, lead_id, batch_code="DRM-BEG-WF17", plan="monthly", note="paid")
    assert (admission.student.name, admission.student.phone, admission.guardian) == ("Ravi Kumar", NEW_PHONE, None)
    assert (lead.status, lead.student_id) == ("enrolled", admission.student.id)
    last = lead_events(session, lead_id)[-1]
    assert (last.from_status, last.to_status, last.note, last.details) == (
        "contacted",
        "enrolled",
        "paid",
        {"student": admission.student.enrollment_id},
    )
    who = identify(session, NEW_PHONE)
    assert (who.role, who.name) == ("student", "Ravi Kumar")


def test_a_childs_lead_makes_the_enquiring_number_the_guardians(session):
    lead_id = lead_of(session, NEW_PHONE, "Anita", "PIANO", 8)
    with pytest.raises(RecordError, match="give the student's name") as refused:
        convert_lead(session, ACTOR, lead_id, batch_code="PNO-BEG-WF17", plan="monthly")
    assert refused.value.field == "student_name"
    lead, admission = convert_lead(
        session,
        ACTOR,
        lead_id,
        batch_code="PNO-BEG-WF17",
        plan="quarterly",
        student_name="Arjun Kumar",
        guardian_name="Anita Kumar",
        guardian_relation="mother",
        dob=date(2018, 6, 1),
    )
    assert admission.student.phone is None and admission.guardian.phone == NEW_PHONE
    assert (admission.guardian.name, admission.relation) == ("Anita Kumar", "mother")
    assert identify(session, NEW_PHONE).role == "guardian" and lead.student.name == "Arjun Kumar"


def test_converting_takes_the_trial_batch_and_refuses_a_closed_lead(session):
    lead_id = lead_of(session, NEW_PHONE, "Ravi Kumar", "DRUMS", 30)
    with pytest.raises(RecordError, match="which batch") as refused:
        convert_lead(session, ACTOR, lead_id, plan="monthly")
    assert refused.value.field == "batch"
    move_lead(session, lead_id, "trial_booked", ACTOR, trial_at=datetime(2026, 12, 2, 17, 0), batch="DRM-BEG-WF17")
    lead, admission = convert_lead(session, ACTOR, lead_id, plan="monthly")
    assert admission.enrollment.batch.code == "DRM-BEG-WF17"
    with pytest.raises(Conflict, match=f"lead {lead_id} is enrolled") as refused:
        convert_lead(session, ACTOR, lead_id, plan="monthly")
    assert admission.student.enrollment_id in refused.value.message
    lost_id = lead_of(session, "+919700000960", "Gone", "GUITAR", 40)
    move_lead(session, lost_id, "lost", ACTOR, reason="chose another school")
    with pytest.raises(Conflict, match="is lost"):
        convert_lead(session, ACTOR, lost_id, batch_code="GTR-BEG-TT17", plan="monthly")
    with pytest.raises(NotFound):
        convert_lead(session, ACTOR, 999, batch_code="GTR-BEG-TT17", plan="monthly")


def test_a_refused_conversion_leaves_the_lead_and_the_records_alone(session):
    lead_id = lead_of(session, "+919876543210", "John Doe", "GUITAR", 25)  # John's number: a student's already
    before = counts(session)
    with pytest.raises(Conflict, match="already the phone of student HSM-24-001"):
        convert_lead(session, ACTOR, lead_id, batch_code="PNO-BEG-WF17", plan="monthly")
    assert counts(session) == before
    assert session.get(m.Lead, lead_id).status == "new"
