"""People who leave (hsm.people.lifecycle) on SQLite and PostgreSQL: each kind deactivated and reactivated with its
audit row and refusals, and what "left" means everywhere: no role, off rosters, drafts, reminders, audiences and a
guardian's children, "no teacher" for a teacher's batches, no office notices for an admin; reactivation restores it.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from hsm.classes import attendance, batches, family, override, schedule, teacher_day
from hsm.infra import models as m
from hsm.outreach import reminders as rm
from hsm.outreach.broadcast import plan_audience
from hsm.outreach.enrollment import fitting_batches
from hsm.outreach.notices import office_admins
from hsm.people import lifecycle
from hsm.people.identity import identify, identity_if_role_lost
from hsm.records.changes import Conflict, NotFound, RecordError

SUSAN, KAVITHA, RAHUL, MEERA = "+919845000002", "+919845000007", "+919811000101", "+919800000001"
ACTOR = "cli:test"


def audit(session, action: str) -> list[m.AuditLog]:
    return list(session.execute(select(m.AuditLog).where(m.AuditLog.action == action)).scalars())


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def roster_names(session, code: str) -> set[str]:
    return {s.name for s in schedule.batch_roster(session, batches.find_batch(session, code).id)}


def reminder_phones(session, when: str, kind: str) -> set[str]:
    return {r.phone for r in rm.due_reminders(session, at(when)) if r.kind == kind}


def audience(session, code: str) -> set[str]:
    return {r.phone for r in plan_audience(session, {"kind": "batch", "code": code}).recipients}


@pytest.mark.parametrize(
    ("kind", "key", "stored_key", "phone"),
    [
        ("student", "hsm-24-001", "HSM-24-001", "+919876543210"),
        ("guardian", "098450 00007", KAVITHA, KAVITHA),
        ("teacher", "t-101", "T-101", RAHUL),
        ("admin", "ADM-1", "ADM-1", MEERA),
    ],
)
def test_each_kind_leaves_and_comes_back_with_an_audit_trail(session, kind, key, stored_key, phone):
    assert identify(session, phone).role == kind
    person = lifecycle.set_active(session, ACTOR, kind, key, False, "  left   the school ")
    assert person.active is False and person.deactivated_at is not None
    assert identify(session, phone).role == "prospect"
    row = audit(session, f"{kind}.deactivated")[0]
    audited = str(person.id) if kind == "guardian" else stored_key  # a guardian's key is a phone: never audited
    assert (row.actor, row.entity, row.entity_id) == (ACTOR, f"{kind}s", audited)
    assert row.before == {"active": True, "deactivated_at": None}
    assert row.after["active"] is False and row.after["reason"] == "left the school"

    with pytest.raises(Conflict, match="already inactive") as refused:
        lifecycle.set_active(session, ACTOR, kind, key, False)
    assert refused.value.code == "already_inactive"

    person = lifecycle.set_active(session, ACTOR, kind, stored_key, True)
    assert person.active is True and person.deactivated_at is None
    assert identify(session, phone).role == kind
    assert audit(session, f"{kind}.reactivated")[0].after == {"active": True, "deactivated_at": None}
    with pytest.raises(Conflict, match="already active"):
        lifecycle.set_active(session, ACTOR, kind, key, True)


def test_unknown_people_and_bad_input_are_refused(session):
    with pytest.raises(NotFound, match="no student with enrollment ID HSM-99-999"):
        lifecycle.set_active(session, ACTOR, "student", "HSM-99-999", False)
    with pytest.raises(NotFound, match=r"\+91\*+9999"):  # a phone is named masked
        lifecycle.set_active(session, ACTOR, "guardian", "+919845009999", False)
    with pytest.raises(RecordError, match="not a valid phone number"):
        lifecycle.set_active(session, ACTOR, "guardian", "12", False)
    with pytest.raises(RecordError, match="kind must be one of"):
        lifecycle.set_active(session, ACTOR, "parent", "x", False)
    with pytest.raises(RecordError, match="at most 500"):
        lifecycle.set_active(session, ACTOR, "teacher", "T-101", False, "x" * 501)
    assert audit(session, "teacher.deactivated") == []


def test_the_whatsapp_session_row_and_the_role_check_follow_at_once(session):
    session.add(m.WhatsAppSession(phone_number=RAHUL, user_type="teacher", user_id=1, context={}))
    session.flush()
    assert identity_if_role_lost(session, RAHUL, "teacher") is None
    lifecycle.set_active(session, ACTOR, "teacher", "T-101", False, "moved away")
    row = session.execute(select(m.WhatsAppSession).filter_by(phone_number=RAHUL)).scalar_one()
    assert (row.user_type, row.user_id) == ("prospect", None)
    now = identity_if_role_lost(session, RAHUL, "teacher")
    assert now is not None and now.role == "prospect"
    assert identity_if_role_lost(session, RAHUL, "prospect") is None
    lifecycle.set_active(session, ACTOR, "teacher", "T-101", True)
    session.refresh(row)
    assert row.user_type == "teacher"


def test_a_student_who_left_is_off_rosters_drafts_reminders_audiences_and_their_familys_list(session):
    rahul = session.execute(select(m.Teacher).filter_by(employee_id="T-101")).scalar_one()
    kavitha = identify(session, KAVITHA)

    def everything() -> dict:
        meetings = schedule.teacher_classes_on(session, rahul.id, date(2026, 12, 1))
        guitar = next(mt for mt in meetings if mt.batch.code == "GTR-BEG-TT17")
        draft = attendance.start_draft(session, rahul.id, guitar, "guitar 5pm all present")
        names = {s.name for s in attendance.view(session, draft).roster}
        attendance.cancel(session, rahul.id)
        return {
            "roster": "Mary Thomas" in roster_names(session, "GTR-BEG-TT17"),
            "size": teacher_day.roster_sizes(session, [guitar])[guitar.batch.id],
            "draft": "Mary Thomas" in names,
            "fee reminder": SUSAN in reminder_phones(session, "2026-12-05T10:00:00+05:30", rm.FEE_DUE),
            "class reminder": SUSAN in reminder_phones(session, "2026-12-01T16:35:00+05:30", rm.CLASS),
            "broadcast": SUSAN in audience(session, "GTR-BEG-TT17"),
            "child": "Aarav" in family.next_classes_text(session, kavitha).text,
            "teacher finds": bool(override.find_students(session, "Aarav Reddy", teacher_id=rahul.id)),
        }

    before = everything()
    assert all(value for key, value in before.items() if key != "size"), before
    free = {option.code: option.free_seats for option in fitting_batches(session, "GUITAR", 14, None, None)}

    lifecycle.set_active(session, ACTOR, "student", "HSM-24-002", False, "moved to Pune")  # Mary
    lifecycle.set_active(session, ACTOR, "student", "HSM-24-007", False, "stopped")  # Aarav
    after = everything()
    assert after == {
        "roster": False,
        "size": before["size"] - 2,
        "draft": False,
        "fee reminder": False,
        "class reminder": False,
        "broadcast": False,
        "child": False,
        "teacher finds": False,
    }
    seats = {option.code: option.free_seats for option in fitting_batches(session, "GUITAR", 14, None, None)}
    assert seats["GTR-BEG-TT17"] == free.get("GTR-BEG-TT17", 0) + 2
    # The office still finds them, shown as left.
    (aarav,) = override.find_students(session, "Aarav Reddy")
    assert override.student_label(aarav) == "Aarav Reddy (left)"
    assert override.student_card(session, aarav).startswith("👤 Aarav Reddy (HSM-24-007) — left on Tue, Dec 1")
    assert "Anika" in family.next_classes_text(session, kavitha).text  # her other child is untouched

    lifecycle.set_active(session, ACTOR, "student", "HSM-24-002", True)
    lifecycle.set_active(session, ACTOR, "student", "HSM-24-007", True)
    assert everything() == before


def test_a_guardian_who_left_gets_no_reminders_or_broadcasts(session):
    lifecycle.set_active(session, ACTOR, "guardian", SUSAN, False, "asked to be removed")
    assert SUSAN not in reminder_phones(session, "2026-12-05T10:00:00+05:30", rm.FEE_DUE)
    assert SUSAN not in reminder_phones(session, "2026-12-01T16:35:00+05:30", rm.CLASS)
    assert SUSAN not in audience(session, "GTR-BEG-TT17")
    assert "Mary Thomas" in roster_names(session, "GTR-BEG-TT17")  # the child still comes to class
    lifecycle.set_active(session, ACTOR, "guardian", SUSAN, True)
    assert SUSAN in audience(session, "GTR-BEG-TT17")


def test_a_teacher_who_left_leaves_their_batches_with_no_teacher(session):
    john = identify(session, "+919876543210")
    assert "Guitar (Mr. Rahul)" in family.next_classes_text(session, john).text
    lifecycle.set_active(session, ACTOR, "teacher", "T-101", False, "moved away")

    guitar = batches.find_batch(session, "GTR-BEG-TT17")
    assert schedule.teacher_label(guitar) == "no teacher"
    total, orphaned = batches.list_batches(session, no_teacher=True)
    assert total == 3 and {b["code"] for b in orphaned} == {"GTR-BEG-TT17", "GTR-INT-TH18", "PNO-ADV-TU19"}
    assert all(b["teacher"] is None and b["teacher_status"] == "no teacher" for b in orphaned)
    assert "Guitar (no teacher)" in family.next_classes_text(session, john).text
    assert "Guitar Beginner: quarterly, 22 classes left, ₹5500 due Wed, Feb 10 · no teacher" in (
        override.student_card(session, session.get(m.Student, john.person_id))
    )
    susan = next(
        r for r in rm.due_reminders(session, at("2026-12-01T16:35:00+05:30")) if r.phone == SUSAN and r.kind == rm.CLASS
    )
    assert susan.text == "🎵 Hi Susan, reminder: Mary's Guitar Beginner class starts at 5:00 PM today (Studio 2)."
    assert susan.template_params == ("Susan", "Guitar Beginner (Mary)", "HSM", "5:00 PM")

    lifecycle.set_active(session, ACTOR, "teacher", "T-101", True)
    assert schedule.teacher_label(guitar) == "Mr. Rahul"
    assert batches.list_batches(session, no_teacher=True)[0] == 0


def test_an_admin_who_left_gets_no_office_notices(session):
    from hsm.classes import leave, leave_notices

    assert [a.admin_code for a in office_admins(session)] == ["ADM-1", "ADM-2"]
    lifecycle.set_active(session, ACTOR, "admin", "ADM-1", False, "retired")
    assert [a.admin_code for a in office_admins(session)] == ["ADM-2"]
    priya = session.execute(select(m.Teacher).filter_by(employee_id="T-102")).scalar_one()
    plan = leave.plan_leave(session, priya.id, date(2026, 12, 2), "fever")
    notices = leave_notices.leave_notices(session, priya, [plan.leave_date], plan.reason, plan.affected)
    admin_notices = [n.phone for n in notices if n.audience == "admin"]
    assert admin_notices == ["+919800000002"]
    lifecycle.set_active(session, ACTOR, "admin", "ADM-1", True)
    assert [a.admin_code for a in office_admins(session)] == ["ADM-1", "ADM-2"]


# ------------------------------------------------------------------------------------------------ descriptive edits


def test_descriptive_edits_are_normalised_and_audited(session):
    student, before, after = lifecycle.update_person(
        session,
        ACTOR,
        "student",
        "HSM-24-002",
        {"name": "  Mary   Ann Thomas ", "phone": "098450 55501", "email": "mary@x.example", "dob": "2012-08-03"},
    )
    assert (student.name, student.phone, student.email, student.dob) == (
        "Mary Ann Thomas",
        "+919845055501",
        "mary@x.example",
        date(2012, 8, 3),
    )
    assert before == {"name": "Mary Thomas", "phone": None, "email": None, "dob": "2012-08-02"}
    assert after["phone"] == "+919845055501" and after["dob"] == "2012-08-03"
    (row,) = audit(session, "student.updated")
    audited_after = {**after, "phone": "+91******5501"}  # the audit trail keeps phones masked
    assert (row.entity, row.entity_id, row.before, row.after) == ("students", "HSM-24-002", before, audited_after)
    assert identify(session, "+919845055501").role == "student"

    _, _, unchanged = lifecycle.update_person(session, ACTOR, "student", "HSM-24-002", {"name": "Mary Ann Thomas"})
    assert unchanged == {} and len(audit(session, "student.updated")) == 1

    teacher, _, _ = lifecycle.update_person(session, ACTOR, "teacher", "T-101", {"title": "Dr.", "email": None})
    assert teacher.display_name == "Dr. Rahul" and teacher.email is None
    guardian, _, after = lifecycle.update_person(session, ACTOR, "guardian", SUSAN, {"phone": "+91 98450 66602"})
    assert after == {"phone": "+919845066602"}
    assert lifecycle.find_person(session, "guardian", "9845066602").id == guardian.id  # the key moved with it


@pytest.mark.parametrize(
    ("kind", "key", "values", "error", "message"),
    [
        ("teacher", "T-101", {"phone": "+919811000102"}, Conflict, r"already belongs to teacher T-102 \(Priya Iyer\)"),
        ("student", "HSM-24-002", {"phone": KAVITHA}, Conflict, "guardian Kavitha Reddy of another family"),
        ("guardian", SUSAN, {"phone": "+919845000003"}, Conflict, "student HSM-24-003 .Ahmed Khan. of another family"),
        ("admin", "ADM-1", {"phone": "+919800000002"}, Conflict, "admin ADM-2"),
        ("guardian", SUSAN, {"phone": None}, RecordError, "phone cannot be empty"),
        ("student", "HSM-24-002", {"phone": "12345"}, RecordError, "not a valid phone number"),
        ("student", "HSM-24-002", {"dob": "2030-01-01"}, RecordError, "not a plausible date of birth"),
        ("student", "HSM-24-002", {"dob": "02/08/2012"}, RecordError, "YYYY-MM-DD"),
        ("student", "HSM-24-002", {"email": "mary at home"}, RecordError, "not an e-mail address"),
        ("student", "HSM-24-002", {"name": " "}, RecordError, "a name is required"),
        ("student", "HSM-24-002", {"enrollment_id": "HSM-24-099"}, RecordError, "cannot be edited here"),
        ("student", "HSM-24-002", {"title": "Ms."}, RecordError, "title cannot be edited"),
        ("teacher", "T-101", {"title": "Professor Dr."}, RecordError, "at most 10"),
        ("admin", "ADM-1", {}, RecordError, "nothing to change"),
        ("admin", "ADM-9", {"name": "X"}, NotFound, "no admin with admin code ADM-9"),
    ],
)
def test_bad_edits_are_refused_with_nothing_written(session, kind, key, values, error, message):
    with pytest.raises(error, match=message):
        lifecycle.update_person(session, ACTOR, kind, key, values)
    assert audit(session, f"{kind}.updated") == []


def test_a_teacher_who_is_also_a_parent_may_share_the_number(session):
    _, _, after = lifecycle.update_person(session, ACTOR, "teacher", "T-101", {"phone": KAVITHA})
    assert after == {"phone": KAVITHA}
    assert identify(session, KAVITHA).roles == ("teacher", "guardian")


def test_a_guardians_phone_change_is_audited_by_id_with_phones_masked(session):
    guardian, before, after = lifecycle.update_person(session, ACTOR, "guardian", KAVITHA, {"phone": "098450 55509"})
    assert after == {"phone": "+919845055509"}  # the caller sees the number it set
    (row,) = audit(session, "guardian.updated")
    assert (row.entity, row.entity_id) == ("guardians", str(guardian.id))
    assert (row.before, row.after) == ({"phone": "+91******0007"}, {"phone": "+91******5509"})
