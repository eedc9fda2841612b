"""What a teacher's attendance message says: everyone present/absent, and who was present or absent.

Teachers type short, lower-case, misspelt, code-mixed messages ("guitar 5pm all present except sarah",
"Sarah raledu", "koi nahi aaya", "only John, Mary present"). This module reads them in four small steps:

1. lex      - words (each keeping its exact spelling in the message) and punctuation that matters
              (",", "&", "+", newlines separate names; ":" or " - " introduces a list; "." ";" "!" "?" end a clause);
2. vocabulary - known words and phrases become markers (PRESENT, ABSENT, ALL, EXCEPT, ONLY, ...); batch and time
              words ("guitar", "5pm", "batch", "today") are dropped; everything else is a possible name;
3. grammar  - markers bind the runs of names next to them ("all present except <names>", "<names> absent",
              "absent: <names>", "only <names> came");
4. names    - a run of names is split at separators and, using the roster's names, at name boundaries
              ("John Mary Ahmed" -> John / Mary / Ahmed, while "Rahul S" and "Mohd Irfan" stay whole).

Name fragments are returned as typed (a fragment's words are pieces of the message); matching them to students
is `hsm.classes.roster_match`'s job. The vocabulary lives in the constants below so a trainer can add words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz.distance import OSA

from hsm.classes.roster_match import RosterEntry, match_name, name_tokens, normalise

PRESENT, ABSENT = "present", "absent"

# ---------------------------------------------------------------------------------------------------------------
# Vocabulary. Multi-word entries are phrases ("did not come"); longer phrases win over shorter ones.
# ---------------------------------------------------------------------------------------------------------------

# Word lists stay packed (one word a line would make this module three times as long):
# fmt: off
PRESENT_WORDS = (
    "present", "presnt", "prsnt", "prasent", "presant", "came", "come", "attended", "here", "there", "joined",
    "late", "came late", "turned up", "showed up", "on time", "not absent",
    # Hindi / Urdu: came, present
    "aaya", "aayi", "aaye", "aya", "ayi", "aye", "aai", "aa gaya", "aa gayi", "aa gaye", "hazir", "haazir",
    # Telugu: came (he / she / they)
    "vachadu", "vachindi", "vacharu", "vachaaru", "vaccharu", "vachchaaru", "vachindhi", "vachhadu",
)

ABSENT_WORDS = (
    "absent", "absnt", "abs", "absant", "abesnt", "absents", "missing", "missed", "no show", "noshow", "skipped",
    "bunked", "on leave", "leave", "sick", "not present", "not there", "not here", "wasnt there", "werent there",
    "not came", "not come", "not coming", "didnt come", "didnt came", "did not come", "did not came", "dint come",
    "didnt attend", "did not attend", "not attended", "didnt turn up", "did not turn up", "didnt show up",
    "did not show up", "wont come", "will not come", "couldnt come", "could not come",
    # Hindi / Urdu: didn't come, on leave, missing
    "nahi aaya", "nahi aayi", "nahi aaye", "nahi aya", "nahi ayi", "nahi aye", "nahin aaya", "nahin aayi",
    "nahin aaye", "nhi aaya", "nhi aayi", "nhi aaye", "nai aaya", "nai aayi", "nai aaye", "aaya nahi", "aayi nahi",
    "aaye nahi", "nahi tha", "nahi thi", "nahi the", "chutti", "chhutti", "gayab", "gaayab",
    # Telugu: didn't come, isn't there
    "raledu", "raaledu", "raledhu", "raaledhu", "ravaledu", "raale", "rale", "ledu", "ledhu",
)

# "all", "everyone", and the rest of the class after some names were given
ALL_WORDS = (
    "all", "everyone", "everybody", "every one", "every body", "evry1", "every1", "all students", "whole class",
    "entire class", "full class", "others", "all others", "rest", "rest all", "remaining", "all of them",
    "sab", "sabhi", "saare", "sare", "sab log", "baki", "baaki", "baki sab", "baaki sab", "andaru", "andharu",
    "migatha vallu",
)

# The whole class, with its status in the same breath
ALL_PRESENT_PHRASES = ("full attendance", "full present", "100 attendance", "100 percent", "100 present", "no absent",
                       "koi absent nahi", "koi bhi absent nahi", "no absentees", "no absents")
# Nobody: alone or with "came" the class was absent; with "absent" it was present ("nobody absent", "absent: none")
NOBODY_WORDS = ("nobody", "no one", "noone", "no body", "none", "zero attendance", "0 attendance", "no students",
                "no student", "not a single student", "not even one")

# Hindi "koi" / Telugu "evaru" (anyone): with a negative verb, "koi nahi aaya" = nobody came
ANYONE_WORDS = ("koi", "koi bhi", "evaru", "yevaru", "evvaru")

EXCEPT_WORDS = ("except", "excpt", "expect", "excluding", "other than", "apart from", "besides", "but not",
                "minus", "leaving")
# Postpositions: "Sarah tappa andaru vacharu" (Telugu), "Sarah ko chhodkar sab aaye" (Hindi)
EXCEPT_AFTER_WORDS = ("tappa", "thappa", "minaha", "chhodkar", "chodkar", "chhodke", "chodke", "ke alava",
                      "ke alawa", "ke siva", "ke siwa")
ONLY_WORDS = ("only", "sirf", "matrame", "mathrame", "maatrame")  # not "just": "John just came" = came now
# "but" either ends a clause ("all present but Sarah absent") or means except ("all present but Sarah")
BUT_WORDS = ("but", "however", "lekin", "magar", "kani", "kaani")
AND_WORDS = ("and", "aur", "or", "mariyu", "nd", "plus")
# A lone "n" between names is texting for "and" - unless it is someone's initial (checked against the roster)
SOFT_AND_WORDS = frozenset({"n"})

INSTRUMENT_WORDS = ("guitar", "gitar", "guiter", "piano", "keyboard", "keys", "violin", "drums", "drum", "vocals",
                    "vocal", "singing", "tabla", "flute", "ukulele", "carnatic", "hindustani", "western")
LEVEL_WORDS = ("beginner", "beginners", "begginer", "intermediate", "inter", "advanced", "advance", "basic",
               "kids", "junior", "juniors", "senior", "seniors", "grade", "level")
TIME_WORDS = ("am", "pm", "hrs", "hr", "oclock", "morning", "evening", "afternoon", "today", "todays", "tdy",
              "tday", "aaj", "aj", "ivala", "eeroju", "ee roju", "now", "yesterday", "kal", "ninna",
              "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun", "monday", "tuesday",
              "wednesday", "thursday", "friday", "saturday", "sunday")
# Words about the class or the chat itself, and function words, that never carry who was there
FILLER_WORDS = (
    "batch", "class", "classes", "session", "lesson", "slot", "attendance", "attendence", "atendance",
    "mark", "marked", "marking", "done", "finished", "over", "completed", "complete", "update",
    "updated", "report", "taken", "took", "students", "student", "kids", "children", "bachche", "bacche",
    "pillalu", "for", "of", "in", "at", "on", "to", "from", "with", "the", "a", "an", "is", "are", "was", "were",
    "r", "be", "been", "has", "have", "had", "also", "too", "as", "well", "both", "both of", "them", "they",
    "he", "she", "his", "her", "i", "we", "my", "our", "me", "it", "its", "this", "that", "please", "pls", "plz",
    "kindly", "ok", "okay", "k", "hi", "hello", "hey", "sir", "madam", "mam", "maam", "ji", "garu", "yes",
    "yeah", "yep", "no", "nope", "haan", "ha", "avunu", "sorry", "correction", "actually", "wait", "oh", "oops",
    "hai", "hain", "tha", "thi", "ko", "ka", "ki", "ke", "se", "bhi", "toh", "ne", "log", "gaye", "else", "not",
    "who", "which", "what", "said", "says", "tell", "told", "will", "would", "can", "could", "did", "do", "does",
    "gaya", "gayi", "fyi", "just", "let", "know", "you", "u", "ayyadu", "ayyindi", "ayyaru", "unnaru", "undi",
)

# "P: John, Mary  A: Sarah" - single letters count only right before a colon (elsewhere they are initials)
STATUS_LETTERS = {"p": PRESENT, "a": ABSENT}

# A clause that starts with one of these and ends with "?" is a question, not a statement ("is Sarah absent?")
QUESTION_WORDS = frozenset({"is", "was", "were", "are", "did", "do", "does", "has", "have", "who", "whom", "which",
                            "kya", "kaun", "kon", "any", "anyone", "anybody", "evaraina"})

# Emoji teachers use as ticks and crosses ("John ✅ Sarah ❌")
PRESENT_EMOJI = frozenset("✅✔☑👍")
ABSENT_EMOJI = frozenset("❌✖✗✘❎👎")

# Titles that end with a dot without ending the sentence ("Mohd. Irfan")
ABBREVIATIONS = frozenset({"mohd", "md", "mr", "mrs", "ms", "dr", "st", "sk", "smt", "kum"})

# Misspelt keywords: a word of 5+ letters within one typo of a keyword of 6+ letters counts as that keyword
# ("presnt", "absnt", "everyon"). Shorter words are left alone: too many names are one letter away from them.
FUZZY_MIN_WORD, FUZZY_MIN_KEYWORD = 5, 6
# fmt: on

MAX_PHRASE_WORDS = 4
MAX_NAME_WORDS = 4  # "Sai Teja Goud", "Mohd Irfan Khan"

# Markers
_WORD, _SEP, _COLON, _BREAK, _QUESTION, _ASK = "WORD", "SEP", "COLON", "BREAK", "QUESTION", "ASK"
_ALL, _NOBODY, _ANYONE = "ALL", "NOBODY", "ANYONE"
_EXCEPT, _EXCEPT_AFTER, _ONLY, _BUT = "EXCEPT", "EXCEPT_AFTER", "ONLY", "BUT"
_STATUSES = (PRESENT, ABSENT)
_QUANTIFIERS = (_ALL, _NOBODY, _ANYONE)


@dataclass(frozen=True)
class AttendanceStatement:
    everyone: str | None = None  # "present" / "absent" for the whole class (before the exceptions), else None
    present: tuple[str, ...] = ()  # name fragments said to be present ("only John and Mary came" -> John, Mary)
    absent: tuple[str, ...] = ()  # name fragments said to be absent ("all present except Sarah" -> Sarah)

    def is_empty(self) -> bool:
        """Nothing about who was there."""
        return self.everyone is None and not self.present and not self.absent


# ---------------------------------------------------------------------------------------------------------------
# 1. Lexing
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    kind: str  # _WORD, a status, or a marker
    norm: str = ""  # normalised word ("didn't" -> "didnt")
    surface: str = ""  # the word exactly as typed


def _is_word_char(char: str) -> bool:
    return char.isalnum() or unicodedata.category(char).startswith("M")


def _split_words(text: str) -> list[tuple[str, str]]:
    """[(gap before the word, word)] plus a final (gap, "")."""
    pieces: list[tuple[str, str]] = []
    gap_start, i = 0, 0
    while i < len(text):
        if not _is_word_char(text[i]):
            i += 1
            continue
        start = i
        while i < len(text) and (
            _is_word_char(text[i])
            or (text[i] in "'’" and i + 1 < len(text) and _is_word_char(text[i + 1]) and i > start)
        ):
            i += 1
        pieces.append((text[gap_start:start], text[start:i]))
        gap_start = i
    pieces.append((text[gap_start:], ""))
    return pieces


def _gap_items(gap: str, previous_word: str) -> list[_Item]:
    """Punctuation and emoji between two words, as markers (strongest punctuation wins)."""
    items: list[_Item] = []
    punctuation = None
    strength = {_SEP: 1, _COLON: 2, _BREAK: 3, _QUESTION: 4}
    for char in gap:
        kind = None
        if char in PRESENT_EMOJI or char in ABSENT_EMOJI:
            items.append(_Item(PRESENT if char in PRESENT_EMOJI else ABSENT))
        elif char in ",\n&+/|":
            kind = _SEP
        elif char in ":=":
            kind = _COLON
        elif char in "-–—" and gap.strip() != gap:  # " - " introduces a list; "no-show" is one word
            kind = _COLON
        elif char == "?":
            kind = _QUESTION
        elif char in "!;":
            kind = _BREAK
        elif char == "." and not (normalise(previous_word) in ABBREVIATIONS or len(previous_word) == 1):
            kind = _BREAK  # not after "Mohd." or the initial in "Rahul S."
        if kind and (punctuation is None or strength[kind] > strength[punctuation]):
            punctuation = kind
    if punctuation:
        items.insert(0, _Item(punctuation))
    return items


def _lex(text: str) -> list[_Item]:
    items: list[_Item] = []
    previous = ""
    for gap, word in _split_words(text):
        items.extend(_gap_items(gap, previous))
        if word:
            surface = re.sub(r"['’][sS]$", "", word)  # "Sarah's" -> "Sarah"
            items.append(_Item(_WORD, normalise(surface).replace(" ", ""), surface))
            previous = surface
    return items


# ---------------------------------------------------------------------------------------------------------------
# 2. Vocabulary
# ---------------------------------------------------------------------------------------------------------------


def _phrase_table() -> dict[tuple[str, ...], tuple[str, ...]]:
    table: dict[tuple[str, ...], tuple[str, ...]] = {}

    def add(words: Iterable[str], markers: tuple[str, ...]) -> None:
        for phrase in words:
            table[tuple(phrase.split())] = markers

    add(INSTRUMENT_WORDS + LEVEL_WORDS + TIME_WORDS + FILLER_WORDS, ())
    add(AND_WORDS, (_SEP,))
    add(PRESENT_WORDS, (PRESENT,))
    add(ABSENT_WORDS, (ABSENT,))
    add(ALL_WORDS, (_ALL,))
    add(ALL_PRESENT_PHRASES, (_ALL, PRESENT))
    add(NOBODY_WORDS, (_NOBODY,))
    add(ANYONE_WORDS, (_ANYONE,))
    add(EXCEPT_WORDS, (_EXCEPT,))
    add(EXCEPT_AFTER_WORDS, (_EXCEPT_AFTER,))
    add(ONLY_WORDS, (_ONLY,))
    add(BUT_WORDS, (_BUT,))
    return table


PHRASES = _phrase_table()
_FUZZY_KEYWORDS = {
    phrase[0]: markers
    for phrase, markers in PHRASES.items()
    if len(phrase) == 1 and len(phrase[0]) >= FUZZY_MIN_KEYWORD
}
_NUMBER = re.compile(r"^\d+(?:am|pm|hrs?|h|st|nd|rd|th)?$")


def _fuzzy_keyword(word: str) -> tuple[str, ...] | None:
    """The markers of the keyword `word` is a misspelling of ("presnt"), () for a filler ("attandance"), else None."""
    if len(word) < FUZZY_MIN_WORD:
        return None
    for keyword, markers in _FUZZY_KEYWORDS.items():
        if keyword[0] == word[0] and OSA.distance(word, keyword, score_cutoff=1) <= 1:
            return markers
    return None


def _to_markers(items: list[_Item], name_words: frozenset[str]) -> list[_Item]:
    """Replace known words and phrases by markers; drop batch, time and filler words (unless they are names)."""
    out: list[_Item] = []
    i = 0
    while i < len(items):
        if items[i].kind == _WORD:
            size, replacement = _read_word(items, i, out, name_words)
        else:
            size, replacement = 1, [items[i]]
        out.extend(replacement)
        i += size
    return out


def _read_word(items: list[_Item], i: int, out: list[_Item], name_words: frozenset[str]) -> tuple[int, list[_Item]]:
    """What the word at `i` (and maybe the next few) stands for: (words used, items to emit)."""
    word = items[i].norm
    if word in name_words:
        protected = True  # a student called "Mark" or "Sunny": a name, unless part of a longer phrase
    else:
        protected = False
        if (not out or out[-1].kind in (_BREAK, _QUESTION)) and word in QUESTION_WORDS:
            return 1, [_Item(_ASK)]  # only matters if the clause ends with "?"
        if word in STATUS_LETTERS and i + 1 < len(items) and items[i + 1].kind == _COLON:
            return 1, [_Item(STATUS_LETTERS[word])]  # "P: John, Mary"
    size, markers = _longest_phrase(items, i, protected)
    if size:
        return size, [_Item(marker) for marker in markers]
    if not word or _NUMBER.match(word):  # "5pm", "17", "30"
        return 1, []
    misspelt = None if protected else _fuzzy_keyword(word)
    return 1, [items[i]] if misspelt is None else [_Item(marker) for marker in misspelt]


def _longest_phrase(items: list[_Item], i: int, protected: bool) -> tuple[int, tuple[str, ...]]:
    """The longest vocabulary phrase starting at word `i`: (words, markers); (0, ()) when none."""
    run: list[str] = []
    for following in items[i : i + MAX_PHRASE_WORDS]:
        if following.kind != _WORD:
            break  # a phrase does not run across punctuation
        run.append(following.norm)
    for size in range(len(run), 0, -1):
        markers = PHRASES.get(tuple(run[:size]))
        if markers is None:
            continue
        if size == 1 and protected and not markers:
            return 0, ()  # a filler word that is also a student's name stays a name
        return size, markers
    return 0, ()


# ---------------------------------------------------------------------------------------------------------------
# 3. Grammar
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class _Unit:
    kind: str  # "GROUP" for a run of names, else a marker
    chunks: list[list[_Item]] | None = None  # GROUP: names split at separators
    status: str | None = None  # GROUP: what it was said to be
    consumed: bool = False  # marker: already used


def _units(items: list[_Item]) -> list[_Unit]:
    """Runs of words and separators become GROUP units; other markers stay as they are."""
    units: list[_Unit] = []
    for item in items:
        if item.kind in (_WORD, _SEP):
            if not units or units[-1].kind != "GROUP":
                if item.kind == _SEP:
                    continue  # a separator with no name before it
                units.append(_Unit("GROUP", chunks=[[]]))
            chunks = units[-1].chunks
            assert chunks is not None  # a GROUP unit always has its chunks
            if item.kind == _SEP:
                if chunks[-1]:
                    chunks.append([])
            else:
                chunks[-1].append(item)
        else:
            units.append(_Unit(item.kind))
    for unit in units:
        if unit.kind == "GROUP":
            assert unit.chunks is not None
            unit.chunks = [chunk for chunk in unit.chunks if chunk]
    return [unit for unit in units if unit.kind != "GROUP" or unit.chunks]


def _clauses(units: list[_Unit]) -> list[list[_Unit]]:
    """Split at clause ends; "but" ends a clause unless it means "except" ("all present but Sarah"); questions
    ("is Sarah absent?", "who all came?") are dropped."""
    clauses: list[list[_Unit]] = [[]]
    for i, unit in enumerate(units):
        if unit.kind == _BUT:
            after = units[i + 1 : i + 3]
            names_then_status = len(after) == 2 and after[0].kind == "GROUP" and after[1].kind in _STATUSES
            if after and after[0].kind == "GROUP" and not names_then_status:
                clauses[-1].append(_Unit(_EXCEPT))
                continue
            unit = _Unit(_BREAK)
        if unit.kind == _QUESTION and clauses[-1] and clauses[-1][0].kind == _ASK:
            clauses[-1] = []
        elif unit.kind in (_BREAK, _QUESTION):
            clauses.append([])
        else:
            clauses[-1].append(unit)
    return [clause for clause in clauses if clause]


def _opposite(status: str) -> str:
    return ABSENT if status == PRESENT else PRESENT


def _next(clause: list[_Unit], index: int, step: int = 1) -> int | None:
    """Index of the neighbouring unit, looking past one ":"."""
    i = index + step
    if 0 <= i < len(clause) and clause[i].kind == _COLON:
        i += step
    return i if 0 <= i < len(clause) else None


def _group_at(clause: list[_Unit], index: int | None) -> _Unit | None:
    if index is None or clause[index].kind != "GROUP" or clause[index].status is not None:
        return None
    return clause[index]


def _status_for_quantifier(clause: list[_Unit], index: int) -> str | None:
    """The first unused status after "all"/"nobody" in the clause, else the one just before ("mark present all")."""
    for unit in clause[index + 1 :]:
        if unit.kind in _STATUSES and not unit.consumed:
            unit.consumed = True
            return unit.kind
    before = _next(clause, index, -1)
    if before is None or clause[before].kind not in _STATUSES or clause[before].consumed:
        return None
    if _group_at(clause, _next(clause, before, -1)) is not None:
        return None  # "Sarah absent, others ..." - that status is Sarah's
    clause[before].consumed = True
    return clause[before].kind


def _everyone(clause: list[_Unit]) -> str | None:
    """What the clause says about the whole class ("all present", "nobody came", "koi nahi aaya")."""
    has_except = any(unit.kind in (_EXCEPT, _EXCEPT_AFTER) for unit in clause)
    result = None
    for index, unit in enumerate(clause):
        if unit.kind not in _QUANTIFIERS:
            continue
        status = _status_for_quantifier(clause, index)
        if unit.kind == _ALL:
            result = status or (PRESENT if has_except else None)  # "everyone except Ahmed"
        elif unit.kind == _NOBODY:
            result = _opposite(status) if status else ABSENT  # "nobody came" / "nobody absent" / "no one"
        elif status == ABSENT:  # "koi nahi aaya"; "koi aaya?" is a question
            result = ABSENT
    if result is None and has_except:  # "present except Sarah": the whole class is implied
        result = _status_for_quantifier(clause, -1) or PRESENT
    return result


def _bind_exceptions(clause: list[_Unit], everyone: str) -> None:
    for index, unit in enumerate(clause):
        if unit.kind == _EXCEPT:
            group_index = _next(clause, index)
        elif unit.kind == _EXCEPT_AFTER:
            group_index = _next(clause, index, -1)
        else:
            continue
        group = _group_at(clause, group_index)
        if group is None or group_index is None:  # (no group without an index)
            continue
        group.status = _opposite(everyone)
        after = _next(clause, group_index)
        if after is not None and clause[after].kind in _STATUSES:
            clause[after].consumed = True  # "all present except Sarah absent": Sarah's status is already known


def _bind_only(clause: list[_Unit]) -> str | None:
    """ "only John and Mary came": those names, and the rest of the class the other way. Returns the rest's status."""
    rest = None
    for index, unit in enumerate(clause):
        if unit.kind != _ONLY:
            continue
        group_index = _next(clause, index)
        if _group_at(clause, group_index) is None:
            group_index = _next(clause, index, -1)  # "John matrame vachadu"
        group = _group_at(clause, group_index)
        if group is None or group_index is None:  # (no group without an index)
            continue
        after, before = _next(clause, max(index, group_index)), _next(clause, min(index, group_index), -1)
        status = PRESENT  # "only John and Mary" = they came
        for candidate in (after, before):
            if candidate is not None and clause[candidate].kind in _STATUSES and not clause[candidate].consumed:
                clause[candidate].consumed = True
                status = clause[candidate].kind
                break
        group.status = status
        rest = _opposite(status)
    return rest


def _bind_statuses(clause: list[_Unit]) -> None:
    """ "<names> absent" binds backwards; a status with no names before it binds forwards ("absent: <names>")."""
    for index, unit in enumerate(clause):
        if unit.kind not in _STATUSES or unit.consumed:
            continue
        group = _group_at(clause, _next(clause, index, -1)) or _group_at(clause, _next(clause, index))
        if group is not None:
            group.status = unit.kind
            unit.consumed = True


# ---------------------------------------------------------------------------------------------------------------
# 4. Names
# ---------------------------------------------------------------------------------------------------------------


def _fragment(words: list[_Item]) -> str:
    return " ".join(word.surface for word in words)


def _split_chunk(words: list[_Item], roster: Sequence[RosterEntry]) -> list[str]:
    """Split "John Mary Ahmed" into names, longest roster name first ("Rahul S", "Mohd Irfan" stay whole).
    Words that fit nobody stay together ("Priyanka Sen"). Without a roster the chunk is one name."""
    if not roster:
        return [_fragment(words)]
    names: list[str] = []
    unknown: list[_Item] = []

    def flush() -> None:
        if unknown:
            names.append(_fragment(unknown))
            unknown.clear()

    i = 0
    while i < len(words):
        size = next(
            (
                size
                for size in range(min(MAX_NAME_WORDS, len(words) - i), 0, -1)
                if match_name(" ".join(w.norm for w in words[i : i + size]), roster).candidates
            ),
            0,
        )
        if size:
            flush()
            names.append(_fragment(words[i : i + size]))
            i += size
            continue
        if words[i].norm in SOFT_AND_WORDS:
            flush()  # "john n mary"
        else:
            unknown.append(words[i])
        i += 1
    flush()
    return names


def _known_roster(known_names: Sequence[str]) -> tuple[list[RosterEntry], frozenset[str]]:
    roster = [RosterEntry(index, name) for index, name in enumerate(known_names) if normalise(name)]
    words = frozenset(word for name in known_names for word in name_tokens(name))
    return roster, words


def _add(result: dict[str, tuple[str, str]], name: str, status: str) -> None:
    """Record a name's status; a later mention of the same name wins ("Sarah present. no, Sarah absent")."""
    key = normalise(name)
    result.pop(key, None)
    result[key] = (name, status)


def parse_attendance(text: str, known_names: Sequence[str] = ()) -> AttendanceStatement:
    """Read an attendance message. `known_names`: the batch's full, first and last names, used to split
    unseparated names ("John Mary Ahmed present") and to keep names that look like filler words."""
    roster, name_words = _known_roster(known_names)
    units = _units(_to_markers(_lex(text or ""), name_words))
    everyone: str | None = None
    said: dict[str, tuple[str, str]] = {}
    for clause in _clauses(units):
        clause_everyone = _everyone(clause)
        if clause_everyone is not None:
            _bind_exceptions(clause, clause_everyone)
        rest = _bind_only(clause)
        _bind_statuses(clause)
        if clause_everyone is not None or rest is not None:
            everyone = clause_everyone or rest  # a later clause corrects an earlier one
        for unit in clause:
            if unit.kind == "GROUP" and unit.status is not None:
                assert unit.chunks is not None  # a GROUP unit always has its chunks
                for chunk in unit.chunks:
                    for name in _split_chunk(chunk, roster):
                        _add(said, name, unit.status)
    present = tuple(name for name, status in said.values() if status == PRESENT)
    absent = tuple(name for name, status in said.values() if status == ABSENT)
    return AttendanceStatement(everyone=everyone, present=present, absent=absent)
