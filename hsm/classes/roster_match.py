"""Match a name a teacher typed ("sara", "Rahul S", "mohd irfan") against ONE batch's roster.

Pure Python, no database. Matching is case-, accent- and punctuation-insensitive and works token by token:
each typed word must fit a different word of the student's name (any order, so "Sharma Rahul" works too).
A typed word fits a name word, from best to worst, as

1. EXACT    - the same word ("rahul" / "Rahul"),
2. VARIANT  - a known spelling or short form of it ("mohd" / "Mohammed", "abhi" / "Abhishek"),
3. INITIAL  - a prefix of it, next to a word that fits better ("Rahul S" / "Rahul Sharma"),
4. TYPO     - within a small edit distance (rapidfuzz OSA: "jhon" / "John", "sara" / "Sarah").

A student's rank is the worst fit among the typed words (then the number of typos). Only the students with the
best rank are returned, so an exact first name beats a typo of another ("Jon" -> Jon Mathew, not John Doe), and
two students who fit equally well ("Rahul") are both returned: the caller asks, we never guess.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import OSA

# Spellings of the same name. The first spelling of each group is the canonical one.
NAME_VARIANTS: tuple[tuple[str, ...], ...] = (
    (
        "mohammed",
        "mohammad",
        "mohamed",
        "mohamad",
        "muhammad",
        "muhammed",
        "mohd",
        "md",
        "mhd",
        "mohmed",
        "mohmmad",
        "mohammd",
    ),
    ("ahmed", "ahmad", "ahamed"),
    ("syed", "sayed", "saiyed", "sayyid", "syyed"),
    ("shaikh", "sheikh", "shaik", "sk"),
    ("abdul", "abdool"),
    ("yusuf", "yousuf", "yousaf", "yusuff"),
    ("fatima", "fathima"),
    ("ayesha", "aisha", "ayisha"),
    ("lakshmi", "laxmi", "lakshmy"),
    ("srinivas", "srinivasa", "sreenivas", "shrinivas", "sreenivasa"),
    ("sri", "sree", "shri", "shree"),
    ("satya", "sathya"),
    ("siddharth", "siddhartha", "sidharth"),
    ("aditya", "adithya"),
    ("karthik", "kartik", "karthick"),
    ("jyothi", "jyoti"),
    ("preethi", "preeti", "priti"),
    ("swathi", "swati"),
    ("geetha", "geeta", "gita"),
    ("venkat", "venkata"),
    ("saiteja", "saitej"),
)

# Short forms and pet names that stand for longer names (a short form may stand for several).
SHORT_FORMS: dict[str, tuple[str, ...]] = {
    "abhi": ("abhishek", "abhinav", "abhijit", "abhiram"),
    "sid": ("siddharth",),
    "venky": ("venkat", "venkatesh"),
    "srinu": ("srinivas",),
    "seenu": ("srinivas",),
    "chaitu": ("chaitanya",),
    "krish": ("krishna",),
    "adi": ("aditya",),
    "vicky": ("vikram", "vignesh", "vikas"),
    "nikki": ("nikhil", "nikita"),
    "deepu": ("deepak", "deepika"),
    "teja": ("saiteja",),
}

# Words said around a name that are not part of it ("Rahul ji", "Sarah madam").
HONORIFICS = frozenset(
    {
        "ji",
        "garu",
        "sir",
        "madam",
        "mam",
        "maam",
        "bhai",
        "bhaiya",
        "didi",
        "anna",
        "akka",
        "mr",
        "mrs",
        "ms",
        "miss",
        "master",
        "baby",
    }
)

# Longer queries are not a name (and would make the token alignment slow): answer "unknown".
MAX_QUERY_TOKENS = 4

# Fits, best first (see the module docstring).
EXACT, VARIANT, INITIAL, TYPO = 0, 1, 2, 3


@dataclass(frozen=True)
class RosterEntry:
    student_id: int
    name: str  # "Mohammed Irfan"
    nicknames: tuple[str, ...] = ()  # optional extra aliases ("Irfu")

    def __post_init__(self) -> None:
        object.__setattr__(self, "nicknames", tuple(self.nicknames))  # keep the entry hashable


@dataclass(frozen=True)
class NameMatch:
    query: str  # what the teacher typed, e.g. "Rahul"
    candidates: tuple[RosterEntry, ...]  # best candidates, best first

    @property
    def resolved(self) -> RosterEntry | None:
        """The student, when exactly one fits."""
        return self.candidates[0] if len(self.candidates) == 1 else None

    @property
    def ambiguous(self) -> bool:
        """More than one student fits equally well: ask which."""
        return len(self.candidates) > 1

    @property
    def unknown(self) -> bool:
        """Nobody in this batch fits."""
        return not self.candidates


_CANONICAL: dict[str, str] = {spelling: group[0] for group in NAME_VARIANTS for spelling in group}


def normalise(text: str) -> str:
    """Lower case, no accents, letters and digits only, single spaces: "  Mohd. Írfan " -> "mohd irfan"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = []
    for char in decomposed:
        if unicodedata.combining(char):
            continue  # the accent of an accented letter
        if char in "'’`":
            continue  # "D'Souza" -> "dsouza"
        kept.append(char if char.isalnum() else " ")
    return " ".join("".join(kept).split())


def name_tokens(text: str) -> tuple[str, ...]:
    return tuple(normalise(text).split())


def canonical(token: str) -> str:
    return _CANONICAL.get(token, token)


def typo_budget(length: int) -> int:
    """How many typos a word of `length` letters may carry and still count as that name.

    The threshold, and why it is conservative: a 1-2 letter word must be exact; 3-5 letters may carry ONE edit
    (insertion, deletion, substitution or a swap of neighbours - rapidfuzz's OSA distance); 6+ letters TWO. This
    is Elasticsearch's well-tried "AUTO" fuzziness. It accepts the typing slips teachers make ("jhon" -> john,
    "sara" -> sarah, "ahmad" -> ahmed, "arav"/"aarv" -> aarav) and rejects different names that merely look
    alike ("mary"/"maya" and "sharma"/"verma" are 2 and 3 edits apart; "mary"/"rahul" share almost nothing).
    As rapidfuzz's normalised similarity (1 - edits / longer length) that is 67% for 3 letters, 75-80% for 4-5
    and 67-75% for 6-8: a length-dependent edit budget, because one fixed percentage is either too lax for short
    names (at 50% "mary" would match "maya") or too strict for long ones. The first letter must also agree (`_typos`).
    """
    if length <= 2:
        return 0
    return 1 if length <= 5 else 2


def _typos(typed: str, name_word: str) -> int | None:
    """Edits between the two words, or None when over budget. The first letter must agree: people rarely
    mistype it, and requiring it keeps "sam" from matching "Ram" and "gary" from matching "Mary"."""
    if not typed or not name_word or typed[0] != name_word[0]:
        return None
    budget = typo_budget(min(len(typed), len(name_word)))
    if budget == 0:
        return None
    distance = min(
        OSA.distance(typed, name_word, score_cutoff=budget),
        OSA.distance(canonical(typed), canonical(name_word), score_cutoff=budget),
    )
    return distance if distance <= budget else None


def _fits(typed: str, name_word: str) -> list[tuple[int, int]]:
    """The ways `typed` fits `name_word`, as (fit, typos): its best non-initial fit and, if any, INITIAL."""
    ways: list[tuple[int, int]] = []
    if typed == name_word:
        ways.append((EXACT, 0))
    elif canonical(typed) == canonical(name_word) or canonical(name_word) in SHORT_FORMS.get(typed, ()):
        ways.append((VARIANT, 0))
    else:
        typos = _typos(typed, name_word)
        if typos is not None:
            ways.append((TYPO, typos))
    if len(typed) < len(name_word) and name_word.startswith(typed):
        ways.append((INITIAL, 0))
    return ways


def _merged_forms(tokens: tuple[str, ...]) -> set[tuple[str, ...]]:
    """The words, and the words with one neighbouring pair written together ("sai teja" ~ "saiteja").
    Initials are not glued on: "john n" is John and an "n", not a typo of "johnn"."""
    forms = {tokens}
    for i in range(len(tokens) - 1):
        if len(tokens[i]) < 2 or len(tokens[i + 1]) < 2:
            continue
        forms.add(tokens[:i] + (tokens[i] + tokens[i + 1],) + tokens[i + 2 :])
    return forms


def _rank_alignment(typed: tuple[str, ...], words: tuple[str, ...]) -> tuple[int, int] | None:
    """Best (fit, typos) when each typed word fits a different name word; None when some typed word fits none."""
    best: tuple[int, int] | None = None
    for chosen in itertools.permutations(words, len(typed)):
        options = [_fits(t, w) for t, w in zip(typed, chosen, strict=True)]
        if not all(options):
            continue
        for combination in itertools.product(*options):
            fits = [fit for fit, _ in combination]
            if all(fit == INITIAL for fit in fits):
                continue  # initials alone ("R S") are not a name: something must anchor them
            rank = (max(fits), sum(typos for _, typos in combination))
            if best is None or rank < best:
                best = rank
    return best


@lru_cache(maxsize=4096)
def _rank(typed: tuple[str, ...], entry: RosterEntry) -> tuple[int, int] | None:
    best: tuple[int, int] | None = None
    for alias in (entry.name, *entry.nicknames):
        words = name_tokens(alias)
        if not words:
            continue
        for typed_form in _merged_forms(typed):
            for name_form in _merged_forms(words):
                if len(typed_form) > len(name_form):
                    continue
                rank = _rank_alignment(typed_form, name_form)
                if rank is not None and (best is None or rank < best):
                    best = rank
    return best


def _query_tokens(query: str) -> tuple[str, ...]:
    tokens = name_tokens(query)
    without_honorifics = tuple(t for t in tokens if t not in HONORIFICS)
    return without_honorifics or tokens


def match_name(query: str, roster: Sequence[RosterEntry]) -> NameMatch:
    """The students of `roster` that `query` may mean, best first; ambiguous or unknown rather than a guess."""
    typed = _query_tokens(query)
    if not typed or len(typed) > MAX_QUERY_TOKENS:
        return NameMatch(query, ())
    ranked: list[tuple[tuple[int, int], int, RosterEntry]] = []
    seen: set[int] = set()
    for position, entry in enumerate(roster):
        if entry.student_id in seen:
            continue
        rank = _rank(typed, entry)
        if rank is not None:
            seen.add(entry.student_id)
            ranked.append((rank, position, entry))
    if not ranked:
        return NameMatch(query, ())
    best = min(rank for rank, _, _ in ranked)
    return NameMatch(query, tuple(entry for rank, _, entry in sorted(ranked, key=lambda r: r[:2]) if rank == best))
