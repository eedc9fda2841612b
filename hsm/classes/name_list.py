"""A bare list of names ("John, Mary and Ahmed", one a line, typos) as the answer to the attendance question the
bot asked ("Who was present?" or "Who was absent?")."""

from __future__ import annotations

from collections.abc import Sequence

from hsm.classes.attendance_text import ABSENT, PRESENT, AttendanceStatement, parse_attendance
from hsm.classes.roster_match import RosterEntry, match_name


def read_name_list(text: str, known_names: Sequence[str], asked: str) -> AttendanceStatement | None:
    """`text` as the answer to "Who was <asked>?": the names it lists, when it says nothing else (no status, no
    question) and at least one of them fits someone in `known_names` (the batch's full, first and last names);
    else None. Names that fit nobody or several students are kept: matching them asks, it never guesses."""
    if asked not in (PRESENT, ABSENT) or not text.strip() or "?" in text:
        return None
    if not parse_attendance(text, known_names).is_empty():
        return None  # it says who was there in its own words
    listed = parse_attendance(f"{asked}: {text}", known_names)
    names = listed.present if asked == PRESENT else listed.absent
    roster = [RosterEntry(index, name) for index, name in enumerate(known_names)]
    if listed.everyone is not None or not any(match_name(name, roster).candidates for name in names):
        return None
    return AttendanceStatement(present=names) if asked == PRESENT else AttendanceStatement(absent=names)
