"""Issue #21 items 4 and 5 over the real webhook, as Mr. Rahul (+919811000101) on Thursday 3 Dec 2026 at 19:40,
when both his guitar batches have met (Guitar Beginner 17:00 and Guitar Intermediate 18:15): the level, the
time or the instrument in the message picks the class whenever it fits exactly one, and a "yes" to a draft that
still has a question open saves nothing and asks it again."""

from __future__ import annotations

from datetime import date

import pytest

from tests.e2e.test_teacher_flows import Teacher, records

pytestmark = pytest.mark.slow

THURSDAY = date(2026, 12, 3)


@pytest.fixture(scope="module")
def stack_now():
    return "2026-12-03T19:40:00+05:30"


def test_the_level_picks_the_intermediate_batch_without_a_question(stack):
    rahul = Teacher(stack)
    asked = rahul.say("attendance for guitar intermediate")
    assert "Which class" not in asked
    assert "Guitar Intermediate 6:15 PM" in asked
    rahul.say("cancel")


def test_the_time_picks_the_beginner_batch(stack):
    rahul = Teacher(stack)
    asked = rahul.say("mark attendance for the 5pm guitar class")
    assert "Which class" not in asked
    assert "Guitar Beginner 5:00 PM" in asked
    rahul.say("cancel")


def test_the_instrument_alone_takes_the_class_that_just_ended_and_names_it(stack):
    rahul = Teacher(stack)
    asked = rahul.say("guitar attendance")  # two guitar batches today; Intermediate ended 25 minutes ago
    assert "Who was present in Guitar Intermediate 6:15 PM?" in asked
    rahul.say("cancel")


def test_a_yes_with_a_question_open_saves_nothing_and_asks_again(stack):
    rahul = Teacher(stack)
    which = rahul.say("guitar beginner: Rahul absent")
    assert "Which Rahul was absent?" in which
    again = rahul.say("yes")
    assert "Which Rahul was absent?" in again
    assert records(stack, "GTR-BEG-TT17", THURSDAY) == {}  # nothing saved yet
    summary = rahul.tap("Rahul Verma")
    assert "✗ Rahul Verma" in summary and "7 present, 1 absent" in summary
    saved = rahul.say("yes")
    assert "Attendance saved for Guitar Beginner 5:00 PM ✓ (7 present, 1 absent)" in saved
    marked = records(stack, "GTR-BEG-TT17", THURSDAY)
    assert marked["Rahul Verma"][0] == "absent" and marked["Rahul Sharma"][0] == "present"
