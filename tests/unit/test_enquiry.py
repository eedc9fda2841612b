"""What a prospect's first message says: age, level, days/times and who the lessons are for (hsm.outreach.enquiry)."""

from __future__ import annotations

import pytest

from hsm.outreach.enquiry import Enquiry, lessons_for, parse_age, parse_days_times, parse_level, read_enquiry


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Hello, my son is 9 and wants to start violin, total beginner, Saturday mornings suit us",
            Enquiry(9, "Beginner", "Saturday mornings", "son"),
        ),
        (
            "Hi, I am 34 and would like beginner guitar lessons for myself, evenings after 7 are best",
            Enquiry(34, "Beginner", "evenings after 7", "self"),
        ),
        (
            "hello, for my son (age 12): piano, intermediate, he's free on mondays and wednesdays after 5",
            Enquiry(12, "Intermediate", "mondays and wednesdays after 5", "son"),
        ),
        (
            "namaste ji, mujhe khud tabla seekhna hai, age 45, never played, shaam ko time hai",
            Enquiry(45, "Beginner", "evenings", "self"),
        ),
        (
            "my 14 year old has been learning piano for 3 years, advanced now, any batch on tuesdays?",
            Enquiry(14, "Advanced", "tuesdays", None),
        ),
        ("Good morning, I want piano lessons", Enquiry(None, None, None, None)),  # a greeting, not a time
        ("I want to enroll my child in piano classes", Enquiry(None, None, None, "child")),
    ],
)
def test_read_enquiry(text, expected):
    assert read_enquiry(text) == expected


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("8", 8),
        ("eight", 8),
        ("she is 8", 8),
        ("I'm 35, can I learn violin", 35),
        ("beti 8 saal ki hai", 8),
        ("twins aged 9", 9),
        ("the class is 5pm", None),  # a time, not an age
        ("I am 5:30 free", None),
        ("is 1", None),  # below the youngest age taught
        ("violin please", None),
    ],
)
def test_parse_age(text, age):
    assert parse_age(text) == age


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("complete beginner", "Beginner"),
        ("he has never played", "Beginner"),
        ("from scratch", "Beginner"),
        ("knows the basics", "Beginner"),
        ("intermediate maybe", "Intermediate"),
        ("advanced", "Advanced"),
        ("violin on saturdays", None),
    ],
)
def test_parse_level(text, level):
    assert parse_level(text) == level


@pytest.mark.parametrize(
    ("text", "when"),
    [
        ("saturday or sunday mornings are good", "saturday or sunday mornings"),
        ("weekends after 4pm", "weekends after 4pm"),
        ("tuesday thursday 5pm would be perfect", "tuesday thursday 5pm"),
        ("good evening, violin classes?", None),
        ("my son is 10 years old", None),
        ("weekend pe chahiye", "weekend"),
    ],
)
def test_parse_days_times(text, when):
    assert parse_days_times(text) == when


@pytest.mark.parametrize(
    ("text", "who"),
    [
        ("my daughter wants to learn", "daughter"),
        ("our 8 year old son", "son"),
        ("beta ko keyboard sikhana hai", "son"),
        ("lessons for myself", "self"),
        ("adult beginner class", "self"),
        ("piano classes?", None),
    ],
)
def test_lessons_for(text, who):
    assert lessons_for(text) == who
