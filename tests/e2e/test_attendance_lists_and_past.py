"""Teachers' attendance as they really answer (issue #21, items 1 and 2) over the real webhook, on Wednesday 2 Dec
2026 at 19:30: Ms. Priya's Keyboard Beginner (18:00) and Piano Beginner (17:00) are over today, and Mr. Rahul
marks his classes of yesterday (Tuesday) and of last Thursday. A bare list of names answers "Who was present?"
(or "Who was absent?"); a whole past class within the correction window is saved as marked late."""

from __future__ import annotations

from datetime import date

import pytest

from tests.e2e.test_teacher_flows import Teacher, balances, records

pytestmark = pytest.mark.slow

PRIYA = "+919811000102"
NOW = "2026-12-02T19:30:00+05:30"
TODAY = date(2026, 12, 2)
YESTERDAY = date(2026, 12, 1)
LAST_THURSDAY = date(2026, 11, 26)


@pytest.fixture(scope="module")
def stack_now():
    return NOW


def test_a_bare_list_of_names_answers_who_was_present(stack):
    priya = Teacher(stack, PRIYA)
    asked = priya.say("keyboard attendance")
    assert "Who was present in Keyboard Beginner 6:00 PM?" in asked
    summary = priya.say("Jhon, Isha\nRohan")  # a typo, a comma, a new line, first names only
    assert "✓ John Doe" in summary and "✓ Isha Gupta" in summary and "✓ Rohan Das" in summary
    assert "✗ Fatima Begum" in summary and "3 present, 1 absent" in summary and "Save it?" in summary
    saved = priya.say("yes")
    assert "Attendance saved for Keyboard Beginner 6:00 PM ✓ (3 present, 1 absent)" in saved
    marked = records(stack, "KEY-BEG-MWF18", TODAY)
    assert marked["Fatima Begum"] == ("absent", "whatsapp", "T-102", False)
    assert marked["John Doe"] == ("present", "whatsapp", "T-102", False)


def test_some_were_absent_then_the_names_are_the_absentees(stack):
    priya = Teacher(stack, PRIYA)
    priya.say("piano attendance")
    asked = priya.tap("✏️ Some were absent")
    assert "Who was absent in Piano Beginner 5:00 PM?" in asked
    summary = priya.say("Kabir and Harini")
    assert "✗ Kabir Malhotra" in summary and "✗ Harini Subramanian" in summary and "✓ Jon Mathew" in summary
    assert "1 present, 2 absent" in summary
    priya.say("yes")
    assert records(stack, "PNO-BEG-WF17", TODAY)["Jon Mathew"][0] == "present"


def test_a_bare_list_outside_an_attendance_step_is_not_attendance(stack):
    rahul = Teacher(stack)
    answer = rahul.say("John, Mary, Ahmed")
    assert "I'm not sure what those names are for" in answer
    assert records(stack, "GTR-BEG-TT17", TODAY) == {} and records(stack, "GTR-BEG-TT17", YESTERDAY) == {}


def test_yesterdays_class_all_present_is_saved_as_marked_late(stack):
    rahul = Teacher(stack)
    before = balances(stack, "GTR-BEG-TT17")
    summary = rahul.say("mark attendance for yesterday's guitar class, all present")
    assert "Attendance for Guitar Beginner 5:00 PM on Tue, Dec 1" in summary and "8 present, 0 absent" in summary
    saved = rahul.say("yes")
    assert "Attendance saved for Guitar Beginner 5:00 PM on Tue, Dec 1 ✓ (8 present, 0 absent)" in saved
    marked = records(stack, "GTR-BEG-TT17", YESTERDAY)
    assert len(marked) == 8 and set(marked.values()) == {("present", "whatsapp_late", "T-101", False)}
    assert balances(stack, "GTR-BEG-TT17")["John Doe"] == before["John Doe"] - 1


def test_a_past_class_answered_with_an_ambiguous_and_an_unknown_name(stack):
    rahul = Teacher(stack)
    shown = rahul.say("attendance for guitar 5pm on 26 Nov")
    assert "Already saved for Guitar Beginner 5:00 PM on Thu, Nov 26" in shown and "To replace it" in shown
    which = rahul.say("John, Rahul, Priyanka")
    assert "I couldn't find 'Priyanka' in this batch. Which Rahul was present?" in which
    summary = rahul.tap("Rahul Verma")
    assert "✓ Rahul Verma" in summary and "✗ Rahul Sharma" in summary
    assert "who did you mean by 'Priyanka'?" in summary  # never a guess: asked, not marked
    summary = rahul.say("Ahmed")
    assert "✓ Ahmed Khan" in summary and "3 present, 5 absent" in summary and "Priyanka" not in summary
    saved = rahul.say("yes")
    assert "Attendance updated for Guitar Beginner 5:00 PM on Thu, Nov 26 ✓ (3 present, 5 absent)" in saved
    marked = records(stack, "GTR-BEG-TT17", LAST_THURSDAY)
    assert marked["Rahul Verma"] == ("present", "import", "import", False)  # present before too: untouched
    assert marked["Sarah Wilson"] == ("absent", "whatsapp_late", "T-101", False)


def test_outside_the_window_or_not_their_class_is_refused(stack):
    rahul = Teacher(stack)
    old = rahul.say("attendance for guitar on 24 Nov")
    assert "Teachers can mark classes of the last 7 days; please ask the office for older ones." in old
    monday = rahul.say("mark attendance for Monday")
    assert "You have no classes on Monday, Nov 30, so there is no attendance to mark." in monday
    priya = Teacher(stack, PRIYA)
    other = priya.say("mark attendance for yesterday's guitar class, all present")
    assert "I couldn't find a Guitar batch yesterday. Your classes yesterday: Keyboard Intermediate 6:00 PM." in other
    assert records(stack, "GTR-BEG-TT17", date(2026, 11, 24)) == {}
