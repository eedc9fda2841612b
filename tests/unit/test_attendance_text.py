"""Free-text attendance ("guitar 5pm all present except sarah", "Sarah raledu") reads as everyone/present/absent."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hsm.classes.attendance_text import AttendanceStatement, parse_attendance
from hsm.classes.roster_match import RosterEntry, match_name

GUITAR_BEGINNER = (
    "John Doe",
    "Mary Thomas",
    "Ahmed Khan",
    "Sarah Wilson",
    "Rahul Sharma",
    "Rahul Verma",
    "Aarav Reddy",
    "Mohammed Irfan",
)


def known_names(*full_names: str) -> list[str]:
    """What the caller passes: full names, first names and last names."""
    names: list[str] = []
    for full in full_names:
        names.extend([full, *full.split()])
    return names


@pytest.fixture
def known() -> list[str]:
    return known_names(*GUITAR_BEGINNER)


def said(everyone=None, present=(), absent=()) -> AttendanceStatement:
    return AttendanceStatement(everyone=everyone, present=tuple(present), absent=tuple(absent))


P, A = "present", "absent"

CASES = [
    # the whole class
    ("all present", said(P)),
    ("all came", said(P)),
    ("everyone came", said(P)),
    ("sab present", said(P)),
    ("sab aaye", said(P)),
    ("full attendance", said(P)),
    ("100% attendance", said(P)),
    ("Full Attendance 👍", said(P)),
    ("guitar batch done, all came", said(P)),
    ("mark all present", said(P)),
    ("andaru vacharu", said(P)),
    ("nobody absent", said(P)),
    ("absent: none", said(P)),
    ("all absent", said(A)),
    ("nobody came", said(A)),
    ("no one came", said(A)),
    ("present: none", said(A)),
    ("koi nahi aaya", said(A)),
    ("koi bhi nahi aaya", said(A)),
    ("class didn't happen, all absent", said(A)),
    # everyone, with exceptions
    ("all present except Sarah", said(P, absent=["Sarah"])),
    ("all present except sarah and rahul s", said(P, absent=["sarah", "rahul s"])),
    ("everyone except Ahmed", said(P, absent=["Ahmed"])),
    ("everyone except Ahmed came", said(P, absent=["Ahmed"])),
    ("Guitar 5pm: all present except Sarah", said(P, absent=["Sarah"])),
    ("guitar 5 pm all present except sarah", said(P, absent=["sarah"])),
    ("Guitar Beginner 17:00 batch - all present except Sarah", said(P, absent=["Sarah"])),
    ("piano 5:30 class today attendance: all present except Sarah", said(P, absent=["Sarah"])),
    ("all present except Mohd Irfan and sara", said(P, absent=["Mohd Irfan", "sara"])),
    ("all present but Sarah absent", said(P, absent=["Sarah"])),
    ("all present but sarah", said(P, absent=["sarah"])),
    ("everyone present except: Sarah, Rahul V", said(P, absent=["Sarah", "Rahul V"])),
    ("ALL PRESENT EXCEPT SARAH!!! 🎸", said(P, absent=["SARAH"])),
    ("all present except sarah aur ahmed", said(P, absent=["sarah", "ahmed"])),
    ("all present except sarah mariyu ahmed", said(P, absent=["sarah", "ahmed"])),
    ("all present except sarah + ahmed", said(P, absent=["sarah", "ahmed"])),
    ("all present except\nsarah\nahmed", said(P, absent=["sarah", "ahmed"])),
    ("all absent except john", said(A, present=["john"])),
    ("Sarah absent, all others present", said(P, absent=["Sarah"])),
    ("Sarah tappa andaru vacharu", said(P, absent=["Sarah"])),
    ("Sarah ko chhodkar sab aaye", said(P, absent=["Sarah"])),
    ("presnt all excpet sara", said(P, absent=["sara"])),
    # lists of the absent
    ("absent today: Rahul S and Ahmed", said(absent=["Rahul S", "Ahmed"])),
    ("absent: Rahul S, Ahmed", said(absent=["Rahul S", "Ahmed"])),
    ("Rahul S and Ahmed absent", said(absent=["Rahul S", "Ahmed"])),
    ("Rahul S & Ahmed were absent", said(absent=["Rahul S", "Ahmed"])),
    ("Rahul S. and Ahmed absent", said(absent=["Rahul S", "Ahmed"])),
    ("Absent:\nSarah\nRahul V", said(absent=["Sarah", "Rahul V"])),
    ("sarah and rahul both absent", said(absent=["sarah", "rahul"])),
    ("Mohd Irfan absent", said(absent=["Mohd Irfan"])),
    ("Mohd. Irfan absent", said(absent=["Mohd Irfan"])),
    ("Sarah was absent", said(absent=["Sarah"])),
    ("no, Ahmed was absent", said(absent=["Ahmed"])),
    ("Sarah raledu", said(absent=["Sarah"])),
    ("Sarah nahi aayi", said(absent=["Sarah"])),
    ("Sarah nahi aaya", said(absent=["Sarah"])),
    ("Sarah not came", said(absent=["Sarah"])),
    ("sarah didnt come", said(absent=["sarah"])),
    ("sarah didn't come", said(absent=["sarah"])),
    ("sarah missing", said(absent=["sarah"])),
    ("sarah was not there", said(absent=["sarah"])),
    ("sarah no show", said(absent=["sarah"])),
    ("sarah no-show", said(absent=["sarah"])),
    ("Sarah on leave", said(absent=["Sarah"])),
    ("Sarah - absent", said(absent=["Sarah"])),
    ("sarah absnt", said(absent=["sarah"])),
    # lists of the present
    ("only John and Mary came", said(A, present=["John", "Mary"])),
    ("only John, Mary present", said(A, present=["John", "Mary"])),
    ("John Mary matrame vacharu", said(A, present=["John", "Mary"])),
    ("only sarah absent", said(P, absent=["sarah"])),
    ("sab aaye sirf sarah nahi aayi", said(P, absent=["sarah"])),
    ("Sarah matrame raledu", said(P, absent=["Sarah"])),
    ("sarah and john present, rest absent", said(A, present=["sarah", "john"])),
    ("present: John, Mary, Ahmed", said(present=["John", "Mary", "Ahmed"])),
    ("John Mary Ahmed present", said(present=["John", "Mary", "Ahmed"])),
    ("John, Mary, Ahmed present", said(present=["John", "Mary", "Ahmed"])),
    ("John n Mary present", said(present=["John", "Mary"])),
    ("Sarah was also present", said(present=["Sarah"])),
    ("Sarah came late", said(present=["Sarah"])),
    ("John just came", said(present=["John"])),  # "just" is not "only"
    ("sarah aayi", said(present=["sarah"])),
    # both at once
    ("present John Mary absent Sarah", said(present=["John", "Mary"], absent=["Sarah"])),
    ("Present: John\nAbsent: Sarah", said(present=["John"], absent=["Sarah"])),
    ("Sarah - absent, John - present", said(present=["John"], absent=["Sarah"])),
    ("John ✅ Sarah ❌", said(present=["John"], absent=["Sarah"])),
    ("John, Mary present; Sarah absent", said(present=["John", "Mary"], absent=["Sarah"])),
    ("P: john mary, A: sarah", said(present=["john", "mary"], absent=["sarah"])),
    ("all present except sarah. rahul s came late", said(P, present=["rahul s"], absent=["sarah"])),
    ("everyone is present except sarah, she is sick", said(P, absent=["sarah"])),
    ("all present except sarah (sick) 🤒", said(P, absent=["sarah"])),
    # a later word wins
    ("Sarah present. no, Sarah absent", said(absent=["Sarah"])),
    ("all present. no, all absent", said(A)),
    # nothing about who was there
    ("mark attendance for guitar 5pm", said()),
    ("attendance", said()),
    ("Attendance for Guitar Beginner 17:00 today please", said()),
    ("", said()),
    ("   ", said()),
    ("👍🎸", said()),
    ("hi", said()),
    ("Sarah", said()),
    ("all", said()),  # all what? ask rather than guess
    ("class cancelled", said()),
    # questions are not statements
    ("is sarah absent?", said()),
    ("who all came?", said()),
    ("all present except sarah?", said(P, absent=["sarah"])),  # a statement with a stray "?"
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[text[:40] for text, _ in CASES])
def test_reads_attendance_messages(known, text, expected):
    assert parse_attendance(text, known_names=known) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("all present except Sarah", said(P, absent=["Sarah"])),
        ("Rahul S and Ahmed absent", said(absent=["Rahul S", "Ahmed"])),
        ("absent: Mohd Irfan, sara", said(absent=["Mohd Irfan", "sara"])),
        ("John Mary Ahmed present", said(present=["John Mary Ahmed"])),  # no roster: can't tell where names end
    ],
)
def test_works_without_known_names(text, expected):
    assert parse_attendance(text) == expected


def test_known_names_keep_multi_word_names_whole():
    known = known_names(*GUITAR_BEGINNER, "Sai Teja Goud", "Jon Mathew")
    assert parse_attendance("Sai Teja John absent", known) == said(absent=["Sai Teja", "John"])
    assert parse_attendance("mohd irfan sai teja goud absent", known) == said(absent=["mohd irfan", "sai teja goud"])
    assert parse_attendance("absent: jon mathew rahul v", known) == said(absent=["jon mathew", "rahul v"])
    assert parse_attendance("only Sai, Jon came", known) == said(A, present=["Sai", "Jon"])


def test_unknown_names_are_kept_for_the_caller_to_report(known):
    assert parse_attendance("all present except Priyanka", known) == said(P, absent=["Priyanka"])
    assert parse_attendance("John Priyanka Sen absent", known) == said(absent=["John", "Priyanka Sen"])


def test_a_student_named_like_a_filler_word_is_still_a_name():
    known = known_names("Mark Lobo", *GUITAR_BEGINNER)
    assert parse_attendance("Mark absent", known) == said(absent=["Mark"])
    assert parse_attendance("mark attendance for guitar 5pm", known) == said()
    assert parse_attendance("Mark absent") == said()  # without the roster "mark" is the verb


def test_fragments_match_the_roster(known):
    roster = [RosterEntry(100 + i, name) for i, name in enumerate(GUITAR_BEGINNER)]
    statement = parse_attendance("Guitar 5pm: all present except Mohd Irfan, sara and rahul s", known)
    assert [match_name(name, roster).resolved.name for name in statement.absent] == [
        "Mohammed Irfan",
        "Sarah Wilson",
        "Rahul Sharma",
    ]
    ambiguous = parse_attendance("rahul absent", known)
    assert match_name(ambiguous.absent[0], roster).ambiguous


def test_is_empty():
    assert said().is_empty()
    assert not said(P).is_empty()
    assert not said(present=["John"]).is_empty()
    assert not said(absent=["John"]).is_empty()


# --- never raises, never invents ------------------------------------------------------------------------------

VOCABULARY = [
    "all",
    "present",
    "absent",
    "except",
    "only",
    "came",
    "raledu",
    "nahi",
    "aaya",
    "koi",
    "but",
    "and",
    "sarah",
    "rahul",
    "s",
    "mohd",
    "irfan",
    "guitar",
    "5pm",
    "17:00",
    ",",
    ":",
    ".",
    "\n",
    "&",
    "+",
    "-",
    "✅",
    "❌",
    "🎸",
    "مرحبا",
    "שלום",
    "\u202e",
    "\u200f",
    "\x00",
    "\x07",
    "\u0301",
    "É",
    "n",
    "tappa",
]
NASTY = st.one_of(
    st.text(),
    st.text(min_size=4000, max_size=4096),
    st.text(alphabet="مرحبا שלום\u202e\u200f\u0000\u0007\r\n\t🎸👍✅❌éñaß\u0301 ,.:"),  # RTL, controls, emoji
    st.lists(st.sampled_from(VOCABULARY), max_size=40).map(" ".join),
    st.lists(st.sampled_from(VOCABULARY), max_size=40).map("".join),
)


def assert_not_invented(text: str, statement: AttendanceStatement) -> None:
    assert statement.everyone in (None, P, A)
    for fragment in statement.present + statement.absent:
        assert fragment.strip() == fragment and fragment
        for piece in fragment.split(" "):
            assert piece and piece in text, (piece, text)


@settings(max_examples=300, deadline=None)
@given(text=NASTY)
def test_never_raises_and_never_invents_names(text):
    for known in ((), known_names(*GUITAR_BEGINNER)):
        statement = parse_attendance(text, known_names=known)
        assert_not_invented(text, statement)
        assert statement.is_empty() == (statement == said())


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=200), names=st.lists(st.text(max_size=30), max_size=8))
def test_any_known_names_are_accepted(text, names):
    assert_not_invented(text, parse_attendance(text, known_names=names))


def test_a_4096_character_message_is_fine(known):
    long_text = ("sarah rahul s john mary " * 200)[:4090] + " absent"
    statement = parse_attendance(long_text, known)
    assert_not_invented(long_text, statement)
    assert set(statement.absent) >= {"sarah", "rahul s", "john", "mary"}
    assert parse_attendance("a" * 4096, known).is_empty()
    assert parse_attendance("\u202e" * 4096).is_empty()
