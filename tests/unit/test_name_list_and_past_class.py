"""A bare list of names answering "Who was present/absent?", and the rules for marking a whole past class."""

from __future__ import annotations

from datetime import date

import pytest

from hsm.classes import past_class
from hsm.classes.name_list import read_name_list

GUITAR_BEGINNERS = [
    "John Doe",
    "Mary Thomas",
    "Ahmed Khan",
    "Sarah Wilson",
    "Rahul Sharma",
    "Rahul Verma",
    "Aarav Reddy",
    "Mohammed Irfan",
]
KNOWN = [part for name in GUITAR_BEGINNERS for part in (name, *name.split())]
WEDNESDAY = date(2026, 12, 2)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("John, Mary, Ahmed", ("John", "Mary", "Ahmed")),
        ("John, Mary and Ahmed", ("John", "Mary", "Ahmed")),
        ("john\nmary\nahmed", ("john", "mary", "ahmed")),
        ("Jhon, Mery & Ahmad", ("Jhon", "Mery", "Ahmad")),
        ("John Mary Ahmed", ("John", "Mary", "Ahmed")),
        ("mohd irfan n aarav", ("mohd irfan", "aarav")),
        ("Rahul, Priyanka", ("Rahul", "Priyanka")),  # kept: matching them asks which Rahul, and who Priyanka is
    ],
)
def test_a_list_of_names_answers_the_question_asked(text, names):
    assert read_name_list(text, KNOWN, "present").present == names
    absent = read_name_list(text, KNOWN, "absent")
    assert absent.absent == names and absent.present == () and absent.everyone is None


@pytest.mark.parametrize(
    "text",
    [
        "what time is my class",  # fits no one
        "Priyanka",  # a single name on no roster is not read as a list
        "who is John?",  # a question
        "John, Mary absent",  # says who was there in its own words
        "all present",
        "ok",
        "",
    ],
)
def test_anything_else_is_not_a_list(text):
    assert read_name_list(text, KNOWN, "present") is None


def test_only_a_present_or_absent_question_is_answered():
    assert read_name_list("John, Mary", KNOWN, "batch") is None


def test_a_teacher_may_mark_the_last_week_but_not_the_future(monkeypatch):
    assert past_class.refusal(WEDNESDAY, WEDNESDAY) is None
    assert past_class.refusal(date(2026, 11, 25), WEDNESDAY) is None  # 7 days back: the default window
    older = past_class.refusal(date(2026, 11, 24), WEDNESDAY)
    assert older == "Teachers can mark classes of the last 7 days; please ask the office for older ones."
    assert "hasn't happened yet" in past_class.refusal(date(2026, 12, 3), WEDNESDAY)
    monkeypatch.setenv("HSM_TEACHER_CORRECTION_DAYS", "1")
    assert past_class.refusal(date(2026, 12, 1), WEDNESDAY) is None
    assert "last 1 days" in past_class.refusal(date(2026, 11, 30), WEDNESDAY)


def test_the_day_is_named_and_a_late_save_is_marked():
    assert past_class.when(WEDNESDAY, WEDNESDAY) == "today (Wednesday, Dec 2)"
    assert past_class.when(date(2026, 12, 1), WEDNESDAY) == "yesterday (Tuesday, Dec 1)"
    assert past_class.when(date(2026, 11, 30), WEDNESDAY) == "on Monday, Nov 30"
    assert past_class.source_for(WEDNESDAY, WEDNESDAY) == "whatsapp"
    assert past_class.source_for(date(2026, 12, 1), WEDNESDAY) == "whatsapp_late"


@pytest.mark.parametrize(
    ("text", "whole"),
    [
        ("mark attendance for yesterday's guitar class, all present", True),
        ("attendance for guitar on Monday", True),
        ("yesterday guitar: John and Mary absent", True),
        ("Sarah was absent on Tuesday", False),  # one student: a single correction
        ("Mark John Doe as present in yesterday's Guitar class", False),
    ],
)
def test_a_past_day_means_the_whole_class_unless_one_student_is_named(text, whole):
    assert past_class.wants_whole_class(text) is whole
