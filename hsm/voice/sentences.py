"""What a teacher says in a voice note, as sentences over their own words: the training text of the small
per-teacher language model that biases the recogniser towards their roster, instruments, levels and times."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from hsm.voice.spoken import NUMBER_WORDS, say

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ATTENDANCE_WORDS = (
    "present",
    "absent",
    "except",
    "all",
    "everyone",
    "everybody",
    "else",
    "only",
    "and",
    "came",
    "rest",
)

# {x}: a roster name, instrument or level; {t}: a class time; {d}: a weekday.
# fmt: off
_ATTENDANCE = (
    "all present", "everyone present", "everybody present", "all absent", "everyone absent", "all came",
    "all present except {x}", "all present except {x} and {x}", "everyone present except {x}",
    "everyone present except {x} and {x}", "all present except {x} {x}", "{x} absent", "{x} and {x} absent",
    "{x} {x} absent", "{x} absent rest all present", "{x} and {x} absent rest present", "{x} was absent",
    "{x} did not come", "{x} and {x} did not come", "only {x} present", "only {x} and {x} present",
    "only {x} and {x} came", "absent {x}", "absent {x} and {x}", "{x} present", "{x} and {x} present",
    "{x} {t} all present", "{x} {t} all present except {x}", "{x} {t} all present except {x} and {x}",
    "{x} {t} {x} absent", "{x} {t} {x} and {x} absent", "{x} {x} {t} all present except {x}",
    "{x} {x} all present except {x}", "{x} class all present", "{x} class {x} absent",
    "{t} class all present except {x}", "{t} batch {x} absent", "{x} {t} everyone present",
    "attendance for {x} {t} all present", "mark attendance {x} {t} {x} absent", "everyone else present",
    "{x} absent everyone else present", "{x} and {x} absent everyone else present", "rest all present",
    "{x} class {x} and {x} absent rest all present", "{x} {x} {t} batch all present except {x}",
)
_LEAVE_AND_SCHEDULE = (
    "i am on leave today", "i am on leave tomorrow", "i will be on leave on {d}", "i am on leave on {d}",
    "i can not come today", "i can not come tomorrow", "i am not well today", "i will be late today",
    "cancel my {x} class on {d}", "cancel my {t} class today", "what are my classes today",
    "what are my classes tomorrow", "what are my classes on {d}", "my schedule for {d}", "my schedule today",
    "do i have a class at {t}", "when is my {x} class", "which classes do i have on {d}", "who is in my {x} class",
    "leave on {d} and {d}", "i need leave on {d}", "yes", "no", "cancel",
)
# fmt: on


@dataclass(frozen=True)
class TeacherWords:
    """A teacher's vocabulary sorted into the slots of the sentences: terms (names, instruments, levels), times,
    and which of the terms are roster names."""

    terms: tuple[str, ...]
    times: tuple[str, ...]
    names: tuple[str, ...] = ()


def sort_vocabulary(vocabulary: Sequence[str]) -> TeacherWords:
    """Times (with a digit) apart from the rest; the sentences' own words (attendance words, weekdays, numbers)
    are left out, since the sentences already hold them. Names are the entries written with a capital (the school's
    records keep students' names so; `vocabulary_for` gives the other words in lower case)."""
    own = {*ATTENDANCE_WORDS, *WEEKDAYS, *NUMBER_WORDS}
    terms: dict[str, None] = {}
    times: dict[str, None] = {}
    names: dict[str, None] = {}
    for entry in vocabulary:
        spoken = " ".join(say(entry))
        if not spoken or spoken in own:
            continue
        (times if any(ch.isdigit() for ch in entry) else terms)[spoken] = None
        if entry != entry.lower():
            names[spoken] = None
    return TeacherWords(terms=tuple(terms), times=tuple(times) or ("five pm",), names=tuple(names))


def _fill(template: str, words: TeacherWords, start: int) -> str:
    """The template with its slots filled, the n-th slot of kind {x} from the terms after `start`."""
    cursor = {"x": start, "t": start, "d": start}
    pools = {"x": words.terms or ("class",), "t": words.times, "d": WEEKDAYS}
    parts = []
    for piece in template.split():
        kind = piece[1] if piece.startswith("{") else None
        if kind is None:
            parts.append(piece)
            continue
        pool = pools[kind]
        parts.append(pool[cursor[kind] % len(pool)])
        cursor[kind] += 1 + len(pool) // 3  # pair each name with names across the list, not just its neighbour
    return " ".join(parts)


def teacher_sentences(words: TeacherWords) -> Iterator[str]:
    """Every template with every term in its first slot (and partners spread over the roster)."""
    rounds = max(len(words.terms), len(words.times), len(WEEKDAYS))
    for template, start in itertools.product(_ATTENDANCE + _LEAVE_AND_SCHEDULE, range(rounds)):
        yield _fill(template, words, start)
    yield from (" ".join(say(time)) for time in words.times)
    yield from words.terms
