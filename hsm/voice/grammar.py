"""A teacher's attendance notes as a strict JSGF grammar over their own words (roster names, their batches'
instruments, levels and times), and the rule that accepts the grammar's reading only when the open n-gram
reading of the same audio agrees with it: a grammar always finds some sentence in itself, even in noise."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hsm.voice.sentences import TeacherWords

_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?")
# The words a grammar reading rests on: who, and what is said of them. Class words (instrument, time) only pick
# the batch, and the attendance logic checks the batch against the teacher's timetable anyway.
MARK_WORDS = frozenset({"present", "absent", "except", "only", "came", "come"})
# The grammar's reading is taken when at least this share of its names and mark words are in the n-gram reading
# (bench/voice_bench.py: chosen on one half of the corpus, checked on the other; the README's voice section).
# Its confidence is then that share (or the n-gram's, if higher), so the caller's threshold, 0.6 by default, is
# the bar in effect when it is higher: on the half it was chosen on, 0.67 and above drafted fewer notes exactly
# with as many wrong.
MIN_AGREEMENT = 0.6

_RULES = """#JSGF V1.0;
grammar attendance;
public <note> = [<opening>] [<class>] <marks> [today];
<opening> = attendance for | mark attendance [for];
<class> = <label> [<label>] [<time>] [class | batch] | <time> [class | batch];
<everyone> = all | everyone | everybody;
<rest> = everyone else | everybody else | rest all | rest | all others;
<names> = <name> [[and] <name> [[and] <name>]];
<marks> = <everyone> present [except <names>]
        | <names> [is | was | are | were] absent [[and] <rest> present]
        | <names> did not come [[and] <rest> present]
        | absent <names>
        | only <names> (present | came);
"""


def _alternatives(phrases: tuple[str, ...], fallback: str) -> str:
    """`phrases` as JSGF alternatives, leaving out any with a character a JSGF token cannot hold."""
    kept = [p for p in dict.fromkeys(phrases) if p.split() and all(_TOKEN.fullmatch(w) for w in p.split())]
    return " | ".join(kept or [fallback])


def attendance_grammar(words: TeacherWords) -> str:
    """The JSGF grammar of a teacher's attendance notes: "[instrument] [level] [time] [class|batch]" and then "all
    present [except X (and Y)]", "X (and Y) absent [rest all present]", "absent X", "only X present"; X being
    a roster name (first or full) of the teacher's batches."""
    labels = tuple(term for term in words.terms if term not in words.names)
    return _RULES + "\n".join(
        (
            f"<label> = {_alternatives(labels, 'class')};",
            f"<time> = {_alternatives(words.times, 'five pm')};",
            f"<name> = {_alternatives(words.names, 'student')};",
            "",
        )
    )


def spoken_words(grammar: str) -> set[str]:
    """The words a grammar of `attendance_grammar`'s can hear (its rules' names and the header left out)."""
    rules = "\n".join(line for line in grammar.splitlines() if not line.startswith(("#JSGF", "grammar ")))
    return set(_TOKEN.findall(re.sub(r"<[^>]*>", " ", re.sub(r"(public\s+)?<[^>]*>\s*=", " ", rules))))


@dataclass(frozen=True)
class Reading:
    """One search's reading of a note: the words (lower case, spoken form), and that search's confidence (0..1)."""

    text: str
    confidence: float


def key_words(text: str, names: frozenset[str]) -> list[str]:
    """The words of `text` an attendance draft rests on: roster-name words and mark words."""
    return [word for word in text.split() if word in names or word in MARK_WORDS]


def agreement(grammar: str, ngram: str, names: frozenset[str]) -> float:
    """The share of the grammar reading's key words (names, marks) found in the n-gram reading (0 without any)."""
    wanted = key_words(grammar, names)
    heard = set(ngram.split())
    return sum(word in heard for word in wanted) / len(wanted) if wanted else 0.0


def choose(grammar: str, ngram: Reading, names: frozenset[str], bar: float = MIN_AGREEMENT) -> Reading:
    """The grammar's reading when the n-gram reading agrees with it on at least `bar` of its key words, with the
    higher of the two (agreement, n-gram confidence) as its confidence, for the caller's threshold; else the n-gram
    reading. A grammar reading that names someone twice ("mohammed and mohammed") is the grammar filling its
    slots from noise, and is not taken."""
    said = [word for word in grammar.split() if word in names]
    if not grammar or len(set(said)) < len(said) or agreement(grammar, ngram.text, names) < bar:
        return ngram
    return Reading(grammar, max(agreement(grammar, ngram.text, names), ngram.confidence))
