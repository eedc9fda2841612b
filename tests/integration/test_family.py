"""Students' and guardians' own answers against the demo school at Tue 1 Dec 2026, 16:30: next class (UC-4),
classes remaining (UC-5), dues (UC-7); children chosen by name among the caller's own children only."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from hsm.classes import family
from hsm.infra import models as m
from hsm.people.identity import identify

JOHN = "+919876543210"  # John Doe, a student on his own number: Keyboard Beginner + Guitar Beginner
KAVITHA = "+919845000007"  # guardian of Aarav (Guitar Beginner) and Anika (Keyboard Kids)
SRINIVAS = "+919845000010"  # guardian of Ananya (Keyboard Int. + Guitar Int.) and Nikhil (Keyboard Int.)
SUSAN = "+919845000002"  # guardian of Mary Thomas only
IRFAN = "+919845000009"  # Guitar: 1 class left, fee overdue since Nov 25; Drums due Dec 18
VARUN = "+919845000040"  # Guitar Intermediate, paused
VIVEK = "+919845000018"  # Piano Advanced: no classes left, overdue since Nov 20


def who(session, phone):
    return identify(session, phone)


# ---------------------------------------------------------------- UC-4 next class


def test_john_next_classes(session):
    answer = family.next_classes_text(session, who(session, JOHN))
    assert answer.text == (
        "📅 Your next classes:\n• Guitar (Mr. Rahul) - Today 5:00 PM\n• Keyboard (Ms. Priya) - Tomorrow 6:00 PM"
    )
    assert answer.choices == []


def test_kavitha_sees_both_children_grouped(session):
    answer = family.next_classes_text(session, who(session, KAVITHA))
    assert answer.text == (
        "📅 Next classes:\n"
        "• Aarav: Guitar (Mr. Rahul) - Today 5:00 PM\n"
        "• Anika: Keyboard (Ms. Priya) - Sat, Dec 5 10:00 AM"
    )
    assert answer.choices == []


def test_srinivas_sees_each_childs_courses(session):
    answer = family.next_classes_text(session, who(session, SRINIVAS))
    assert answer.text == (
        "📅 Next classes:\n"
        "• Ananya: Keyboard (Ms. Priya) - Today 6:00 PM\n"
        "• Ananya: Guitar (Mr. Rahul) - Thu, Dec 3 6:15 PM\n"
        "• Nikhil: Keyboard (Ms. Priya) - Today 6:00 PM"
    )


def test_guardian_of_one_child(session):
    assert family.next_classes_text(session, who(session, SUSAN)).text == (
        "📅 Mary's next class:\n• Guitar (Mr. Rahul) - Today 5:00 PM"
    )


def test_class_on_a_given_day(session):
    john = who(session, JOHN)
    assert family.next_classes_text(session, john, day=date(2026, 12, 2)).text == (
        "📅 Tomorrow (Wed, Dec 2):\n• Keyboard (Ms. Priya) - 6:00 PM"
    )
    assert family.next_classes_text(session, john, day=date(2026, 12, 3)).text == (
        "📅 Thu, Dec 3:\n• Guitar (Mr. Rahul) - 5:00 PM"
    )
    assert family.next_classes_text(session, john, day=date(2026, 12, 5)).text == "No class on Sat, Dec 5."
    christmas = family.next_classes_text(session, john, day=date(2026, 12, 25)).text
    assert christmas == "No class on Fri, Dec 25.\n• Keyboard (Ms. Priya) - 6:00 PM (holiday: Christmas)"


def test_no_class_tomorrow_for_either_child(session):
    kavitha = who(session, KAVITHA)
    assert family.next_classes_text(session, kavitha, day=date(2026, 12, 2)).text == (
        "No class tomorrow (Wed, Dec 2) for Aarav or Anika."
    )
    assert family.next_classes_text(session, kavitha, day=date(2026, 12, 5)).text == (
        "📅 Sat, Dec 5:\n• Aarav: no class\n• Anika: Keyboard (Ms. Priya) - 10:00 AM"
    )


def test_todays_class_already_over(session, monkeypatch):
    monkeypatch.setenv("HSM_NOW", "2026-12-01T18:30:00+05:30")
    assert family.next_classes_text(session, who(session, JOHN), day=date(2026, 12, 1)).text == (
        "📅 Today (Tue, Dec 1):\n• Guitar (Mr. Rahul) - 5:00 PM (already over)"
    )


def test_paused_enrollment_is_said_so(session):
    varun = who(session, VARUN)
    assert family.next_classes_text(session, varun).text == (
        "📅 You have no upcoming classes.\n• ⏸️ Guitar Intermediate is paused"
    )
    assert family.next_classes_text(session, varun, day=date(2026, 12, 3)).text == (
        "No class on Thu, Dec 3.\n• ⏸️ Guitar Intermediate is paused"
    )


def test_teacher_leave_skips_to_the_next_class_and_says_why(session):
    rahul = session.execute(select(m.Teacher).filter_by(employee_id="T-101")).scalar_one()
    session.add(m.TeacherLeave(teacher_id=rahul.id, leave_date=date(2026, 12, 1), reason="fever"))
    session.flush()
    assert family.next_classes_text(session, who(session, JOHN)).text == (
        "📅 Your next classes:\n"
        "• Keyboard (Ms. Priya) - Tomorrow 6:00 PM\n"
        "• Guitar (Mr. Rahul) - Thu, Dec 3 5:00 PM (no class today: teacher on leave)"
    )


def test_holiday_is_skipped(session, monkeypatch):
    monkeypatch.setenv("HSM_NOW", "2026-12-24T20:00:00+05:30")
    text = family.next_classes_text(session, who(session, JOHN)).text
    assert "• Keyboard (Ms. Priya) - Mon, Dec 28 6:00 PM (no class tomorrow: Christmas holiday)" in text
    assert "• Guitar (Mr. Rahul) - Tue, Dec 29 5:00 PM" in text


# ---------------------------------------------------------------- UC-5 classes remaining


def test_john_balance(session):
    assert family.balance_text(session, who(session, JOHN)).text == (
        "📊 Your classes:\n"
        "• Keyboard: 15 classes left, next payment ₹2000 due Dec 20\n"
        "• Guitar: 22 classes left, next payment ₹5500 due Feb 10, 2027"
    )


def test_low_balance_and_overdue_are_pointed_out(session):
    assert family.balance_text(session, who(session, IRFAN)).text == (
        "📊 Your classes:\n"
        "• Guitar: ⚠️ only 1 class left, ₹2000 overdue since Nov 25\n"
        "• Drums: 8 classes left, next payment ₹2200 due Dec 18\n\n"
        'Reply "send payment link" to pay online.'
    )
    assert (
        "• Piano: ⚠️ no classes left, ₹2500 overdue since Nov 20"
        in family.balance_text(session, who(session, VIVEK)).text
    )


def test_guardian_balances_per_child(session):
    assert family.balance_text(session, who(session, SRINIVAS)).text == (
        "📊 Classes remaining:\n"
        "• Ananya – Keyboard: 12 classes left, next payment ₹2000 due Dec 15\n"
        "• Ananya – Guitar: 8 classes left, next payment ₹2000 due Dec 15\n"
        "• Nikhil – Keyboard: ⚠️ only 2 classes left, next payment ₹2000 due Dec 15\n\n"
        'Reply "send payment link" to pay online.'
    )
    assert family.balance_text(session, who(session, KAVITHA)).text == (
        "📊 Classes remaining:\n"
        "• Aarav – Guitar: 20 classes left, next payment ₹5500 due Jan 5, 2027\n"
        "• Anika – Keyboard: 5 classes left, next payment ₹2000 due Dec 6"
    )


def test_paused_balance(session):
    assert family.balance_text(session, who(session, VARUN)).text == (
        "📊 Your classes:\n• Guitar (paused): 9 classes left"
    )


# ---------------------------------------------------------------- UC-7 dues


def test_john_dues(session):
    assert family.dues_text(session, who(session, JOHN)).text == (
        "💰 Payment due:\n"
        "• Keyboard: ₹2000 due Dec 20\n"
        "Last payment: ₹5500 for Guitar on Nov 10.\n\n"
        'Reply "send payment link" to pay online.'
    )


def test_overdue_first_with_total(session):
    text = family.dues_text(session, who(session, IRFAN)).text
    assert text.startswith(
        "💰 Payment due:\n• Guitar: ₹2000 ⚠️ overdue since Nov 25\n• Drums: ₹2200 due Dec 18\nTotal: ₹4200\n"
    )


def test_guardian_dues(session):
    assert family.dues_text(session, who(session, SRINIVAS)).text == (
        "💰 Payments due:\n"
        "• Ananya – Keyboard: ₹2000 due Dec 15\n"
        "• Ananya – Guitar: ₹2000 due Dec 15\n"
        "• Nikhil – Keyboard: ₹2000 due Dec 15\n"
        "Total: ₹6000\n\n"
        'Reply "send payment link" to pay online.'
    )
    # Aarav's quarterly fee is due Jan 5, more than 30 days away: only Anika's is due.
    assert family.dues_text(session, who(session, KAVITHA)).text == (
        '💰 Anika\'s payment due:\n• Keyboard: ₹2000 due Dec 6\n\nReply "send payment link" to pay online.'
    )


def test_nothing_due(session):
    assert family.dues_text(session, who(session, VARUN)).text == "✅ Nothing is due in the next 30 days."
    sarah = who(session, "+919845000004")  # quarterly Guitar, due Jan 15
    assert family.dues_text(session, sarah).text == (
        "✅ Nothing is due in the next 30 days. Next payment: Guitar ₹5500 on Jan 15, 2027."
    )


# ---------------------------------------------------------------- choosing a child; no leaks across families


def test_child_named(session):
    kavitha = who(session, KAVITHA)
    for name in ("Anika", "anika reddy", "Anikka"):
        assert family.next_classes_text(session, kavitha, child_name=name).text == (
            "📅 Anika's next class:\n• Keyboard (Ms. Priya) - Sat, Dec 5 10:00 AM"
        )
    assert [s.name for s in family.resolve_children(session, kavitha, "aarav")] == ["Aarav Reddy"]
    assert [s.name for s in family.resolve_children(session, kavitha, None)] == ["Aarav Reddy", "Anika Reddy"]
    assert [s.name for s in family.resolve_children(session, kavitha, "both")] == ["Aarav Reddy", "Anika Reddy"]


def test_a_name_both_children_share_asks_which(session):
    answer = family.balance_text(session, who(session, KAVITHA), child_name="Reddy")
    assert answer.text == "Which child do you mean: Aarav or Anika?"
    assert answer.choices == [("Aarav", "HSM-24-007"), ("Anika", "HSM-24-008")]


def test_another_familys_child_is_not_found_like_a_made_up_name(session):
    kavitha = who(session, KAVITHA)
    assert family.resolve_children(session, kavitha, "Ananya") == []  # Srinivas's daughter
    for answer_for in (family.next_classes_text, family.balance_text, family.dues_text):
        ananya = answer_for(session, kavitha, child_name="Ananya")
        made_up = answer_for(session, kavitha, child_name="Zubin")
        assert (
            ananya.text == "I couldn't find a child called Ananya on your number. Which child do you mean: "
            "Aarav or Anika?"
        )
        assert ananya.text.replace("Ananya", "Zubin") == made_up.text
        assert ananya.choices == made_up.choices == [("Aarav", "HSM-24-007"), ("Anika", "HSM-24-008")]
    srinivas = who(session, SRINIVAS)
    answer = family.next_classes_text(session, srinivas, child_name="Aarav")
    assert answer.text.startswith("I couldn't find a child called Aarav on your number.")
    assert "Guitar (Mr. Rahul) - Today 5:00 PM" not in answer.text


def test_john_asking_for_mary_gets_nothing_about_mary(session):
    john = who(session, JOHN)
    assert family.resolve_children(session, john, "Mary") == []
    for answer_for in (family.next_classes_text, family.balance_text, family.dues_text):
        answer = answer_for(session, john, child_name="Mary")
        assert answer.text == "I couldn't find a student called Mary on your number."
        assert answer.choices == []
    # John naming himself is fine.
    assert "Keyboard (Ms. Priya)" in family.next_classes_text(session, john, child_name="John").text


@pytest.mark.parametrize(
    ("phone", "start"),
    [
        ("+919999999999", "I couldn't find a student linked to this number."),
        ("+919811000101", "This is for students and parents."),
        ("+919800000001", "This is for students and parents."),
    ],
)
def test_others_get_a_refusal_not_an_exception(session, phone, start):
    caller = who(session, phone)
    for answer_for in (family.next_classes_text, family.balance_text, family.dues_text):
        answer = answer_for(session, caller)
        assert answer.text.startswith(start) and answer.choices == []
    assert family.resolve_children(session, caller, None) == []


def test_a_teacher_who_is_also_a_parent_gets_their_childs_answers(session):
    rahul = session.execute(select(m.Teacher).filter_by(employee_id="T-101")).scalar_one()
    mary = session.execute(select(m.Student).filter_by(enrollment_id="HSM-24-002")).scalar_one()
    guardian = m.Guardian(name="Rahul Menon", phone=rahul.phone)
    session.add(guardian)
    session.flush()
    session.add(m.StudentGuardian(student_id=mary.id, guardian_id=guardian.id, relation="uncle"))
    session.flush()
    caller = who(session, rahul.phone)
    assert caller.role == "teacher"
    assert family.next_classes_text(session, caller).text == (
        "📅 Mary's next class:\n• Guitar (Mr. Rahul) - Today 5:00 PM"
    )
