"""What a prospect's message says about the lessons wanted: the age, the level, the days/times and who they are for.

"Hello, my son is 9 and wants to start violin, total beginner, Saturday mornings suit us" →
`read_enquiry` → Enquiry(age=9, level="Beginner", preference="Saturday mornings", lessons_for="son"): the enrollment
form asks only what is still missing (hsm/outreach/enrollment.py finds the course and the batches).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hsm.outreach.enrollment import normalise_level, parse_preference

_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
}
_NUMBER = r"(\d{1,2}|" + "|".join(_NUMBER_WORDS) + r")"
_NOT_A_CLOCK = r"(?!\s*(?:am|pm|a\.m|p\.m)\b|[:.]\d)"  # "is 5pm", "at 6:30": a time, not an age
_AGE_WITH_UNIT = re.compile(rf"\b{_NUMBER}\s*(?:-\s*)?(?:years?|yrs?|y/?o|yo|saal)\b", re.IGNORECASE)
_AGE_ALONE = re.compile(
    rf"^\s*(?:(?:he|she|they|my \w+) (?:is|are) |age\s*:?\s*)?{_NUMBER}\s*[.!]?\s*$",
    re.IGNORECASE,
)
_AGE_IS = re.compile(rf"\b(?:is|aged?|i am|i'm|im)\s*:?\s+(\d{{1,2}})\b{_NOT_A_CLOCK}", re.IGNORECASE)
_AGE_AFTER_PERSON = re.compile(
    rf"\b(?:son|daughter|kid|child|boy|girl|beta|beti)\s*(?:\(\s*age\s*)?(\d{{1,2}})\b{_NOT_A_CLOCK}", re.IGNORECASE
)
MIN_AGE, MAX_AGE = 2, 90


def parse_age(text: str | None) -> int | None:
    """A student's age in what a parent types: "8", "8 years", "she is 8", "my son is 8, ...", "I'm 35", "eight"."""
    text = str(text or "")[:500]
    for pattern in (_AGE_WITH_UNIT, _AGE_ALONE, _AGE_IS, _AGE_AFTER_PERSON):
        found = pattern.search(text)
        if found:
            word = found.group(1).lower()
            age = _NUMBER_WORDS.get(word) or int(word)
            return age if MIN_AGE <= age <= MAX_AGE else None
    return None


# ---------------------------------------------------------------- level

_BEGINNER = re.compile(
    r"\b(?:beginners?|beginer|begginer|basics?|never (?:played|touched|learnt|learned|tried)|no (?:prior )?experience"
    r"|from scratch|from the start|new to (?:it|this|music)|first time|fresher|starting out|naya|nayi)\b",
    re.IGNORECASE,
)
_INTERMEDIATE = re.compile(r"\b(?:intermediate|intermediat)\b", re.IGNORECASE)
_ADVANCED = re.compile(r"\b(?:advanced|advance|expert)\b", re.IGNORECASE)


def parse_level(text: str | None) -> str | None:
    """The level a message states ("total beginner", "never played", "intermediate"), or None when it says none."""
    text = str(text or "")[:500]
    for pattern in (_ADVANCED, _INTERMEDIATE, _BEGINNER):
        found = pattern.search(text)
        if found:
            return normalise_level(found.group(0))
    return None


# ---------------------------------------------------------------- days and times

_DAYS = (
    r"mondays?|tuesdays?|wednesdays?|thursdays?|fridays?|saturdays?|sundays?"
    r"|mon|tue|tues|wed|thu|thur|thurs|fri|sat|weekends?|weekdays?"
)
_PARTS = r"mornings?|afternoons?|evenings?|nights?"
_HINGLISH = {"subah": "mornings", "shaam": "evenings", "sham": "evenings", "raat": "nights"}
_WHEN = re.compile(
    rf"(?<![\w-])(?:(?<!good )(?<!gud )(?:{_PARTS})|{_DAYS}|{'|'.join(_HINGLISH)}"
    r"|(?:after|before|around|at|from)\s+\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm)?(?!\s*(?:years?|yrs?|saal|yo)\b)"
    r"|\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm))(?![\w-])",
    re.IGNORECASE,
)
_SPAN_MAX = 40  # characters: "saturday or sunday mornings" is kept whole; words far apart are joined


def parse_days_times(text: str | None) -> str | None:
    """The days/times a message asks for, in its own words ("Saturday mornings", "evenings after 7"), or None."""
    text = str(text or "")[:500]
    found = list(_WHEN.finditer(text))
    if not found:
        return None
    span = text[found[0].start() : found[-1].end()]
    phrase = span if len(span) <= _SPAN_MAX else " ".join(match.group(0) for match in found)
    phrase = " ".join(_HINGLISH.get(word.lower(), word) for word in phrase.split())
    return phrase if not parse_preference(phrase).empty else None


# ---------------------------------------------------------------- who the lessons are for

_RELATIVES = (
    "son",
    "daughter",
    "kid",
    "kids",
    "child",
    "children",
    "boy",
    "girl",
    "twins",
    "niece",
    "nephew",
    "grandson",
    "granddaughter",
)
_HINDI_RELATIVES = {"beta": "son", "bete": "son", "beti": "daughter", "bachcha": "child", "bacche": "children"}
_CHILD = re.compile(
    rf"\b(?:my|our|mera|meri|mere)\s+(?:\d{{1,2}}\s*(?:years?|yrs?|y/?o|yo)?(?:[- ]old)?\s+)?({'|'.join(_RELATIVES)})\b"
    rf"|\b({'|'.join(_HINDI_RELATIVES)})\b",
    re.IGNORECASE,
)
_SELF = re.compile(
    r"\b(?:for myself|myself|for me|lessons for me|i am \d{1,2}|i'm \d{1,2}|im \d{1,2}|mujhe khud|khud|adult)\b",
    re.IGNORECASE,
)
SELF = "self"


def lessons_for(text: str | None) -> str | None:
    """'son', 'daughter', 'child'... when a parent writes about their child, 'self' for an adult learner, else None."""
    text = str(text or "")[:500]
    child = _CHILD.search(text)
    if child:
        return (child.group(1) or _HINDI_RELATIVES[child.group(2).lower()]).lower()
    return SELF if _SELF.search(text) else None


@dataclass(frozen=True)
class Enquiry:
    age: int | None
    level: str | None
    preference: str | None
    lessons_for: str | None


def read_enquiry(text: str | None) -> Enquiry:
    """Everything a prospect's message gives for the enrollment form."""
    return Enquiry(parse_age(text), parse_level(text), parse_days_times(text), lessons_for(text))
