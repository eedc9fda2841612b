"""Devanagari and Telugu script written the way people romanise it in chat ("आज क्लास है?" → "aaj class hai?"),
and common SMS spellings of Hinglish evened out ("kb h" → "kab hai"), keeping a map of character offsets so
that entity spans annotated on the original text can be moved onto the new one.

Transliteration is indic-transliteration's (IAST, which marks vowel length and retroflexes), then made casual:
long vowels doubled inside a word and single at its end, retroflex dots dropped, the nasal mark "n" ("m"
before p/b/m and at a Telugu word's end: పంపండి → pampandi), "c" → "ch", candra o (ऑ, ॉ) "o",
"ph" → "f" (फीस → fees, हफ्ते → hafte). Hindi drops a word's final inherent vowel (कल → kal, not kala)
and one between a vowel and a consonant-vowel pair (कितनी → kitni, चाहता → chaahta): the usual
schwa-deletion rule, applied before transliterating. English words that people write in Indian script
(क्लास, ఫీజు) are mapped back by a short list of the school's words."""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from indic_transliteration import sanscript

DEVANAGARI = (0x0900, 0x097F)
TELUGU = (0x0C00, 0x0C7F)
_VIRAMA = {"devanagari": "\u094d", "telugu": "\u0c4d"}
_DEVANAGARI_CONSONANTS = set(map(chr, [*range(0x0915, 0x093A), *range(0x0958, 0x0960)]))
_NUKTA = "\u093c"
# Vowel signs, virama, anusvara, candrabindu, visarga: what may follow a consonant inside its syllable.
_DEVANAGARI_SIGNS = set(map(chr, [*range(0x093E, 0x094E), 0x0901, 0x0902, 0x0903, 0x0962, 0x0963]))
_WORD = re.compile(r"[\u0900-\u097f\u0c00-\u0c7f]+|[A-Za-z]+")
# IAST → casual chat spelling; long vowels are handled apart (doubled inside a word, single at its end).
_CASUAL = str.maketrans(
    {
        "ṭ": "t",
        "ḍ": "d",
        "ṇ": "n",
        "ṃ": "n",
        "ṁ": "n",
        "ṅ": "n",
        "ñ": "n",
        "ḥ": "h",
        "ś": "sh",
        "ṣ": "sh",
        "ṛ": "ri",
        "ḷ": "l",
        "ē": "e",
        "ō": "o",
        "è": "e",
        "ò": "o",
        "ẏ": "y",
    }
)
_LONG = {"ā": "aa", "ī": "ee", "ū": "oo"}
_LONG_AT_END = {"ā": "a", "ī": "i", "ū": "u"}
# The school's English words as they come out of Indian script, and back.
LOANWORDS = {
    "klaas": "class",
    "klaasa": "class",
    "klaases": "classes",
    "klaasej": "classes",
    "fees": "fees",
    "feeju": "fees",
    "feej": "fees",
    "gitaar": "guitar",
    "gitar": "guitar",
    "piyaano": "piano",
    "piyano": "piano",
    "pyaano": "piano",
    "kibord": "keyboard",
    "keebord": "keyboard",
    "vaayalin": "violin",
    "vayalin": "violin",
    "drams": "drums",
    "teechar": "teacher",
    "sar": "sir",
    "maidam": "madam",
    "taiming": "timing",
    "taimings": "timings",
    "taim": "time",
    "baich": "batch",
    "atendens": "attendance",
    "prejent": "present",
    "aibsent": "absent",
    "holide": "holiday",
    "leev": "leave",
    "onalain": "online",
    "pement": "payment",
    "vaaylin": "violin",
    "taaiming": "timing",
    "taaimings": "timings",
    "taaimming": "timing",
    "taaim": "time",
    "shedyul": "schedule",
    "shedyool": "schedule",
    "kainsal": "cancel",
    "kensal": "cancel",
    # The courses, levels and the words around them (indian_languages.yml).
    "vayolin": "violin",
    "vaayolin": "violin",
    "dram": "drum",
    "vokal": "vocal",
    "vokals": "vocals",
    "karnaatik": "carnatic",
    "karnatik": "carnatic",
    "biginar": "beginner",
    "biginars": "beginners",
    "intrameediet": "intermediate",
    "intarmeediyat": "intermediate",
    "intarmeediet": "intermediate",
    "edvaansd": "advanced",
    "advaansd": "advanced",
    "edvaans": "advance",
    "advaans": "advance",
    "floot": "flute",
    "klaasez": "classes",
    "klaasulu": "classes",
    "klaasu": "class",
    "byaach": "batch",
    "ebsent": "absent",
    "aabsent": "absent",
    "edmishan": "admission",
    "admishan": "admission",
    "traayal": "trial",
    "trayal": "trial",
    "rifand": "refund",
    "reefand": "refund",
    "edres": "address",
    "adras": "address",
    "lokeshan": "location",
    "mekaap": "makeup",
    "mekap": "makeup",
    "kors": "course",
    "korsu": "course",
    "haalide": "holiday",
    "tebal": "table",
    "kyaansil": "cancel",
    "kyaansal": "cancel",
    "kainsil": "cancel",
    "paikej": "package",
    "pyaakeji": "package",
    "bailens": "balance",
    "byaalens": "balance",
    "dyu": "due",
    "onlaain": "online",
    "aanlain": "online",
    "yoopeeaai": "upi",
    "yoopeeai": "upi",
    # Messages, reminders, the number and the account.
    "maisej": "message",
    "mesej": "message",
    "maisejes": "messages",
    "mesejlu": "messages",
    "rimaaindar": "reminder",
    "rimaindar": "reminder",
    "rimaaindars": "reminders",
    "rimaindarlu": "reminders",
    "stap": "stop",
    "staap": "stop",
    "staart": "start",
    "ansabsakraaib": "unsubscribe",
    "brodkaast": "broadcast",
    "braadkaast": "broadcast",
    "kod": "code",
    "oteepi": "otp",
    "nanbar": "number",
    "stoodent": "student",
    "pairent": "parent",
    "perent": "parent",
    "ditels": "details",
    "deeteyils": "details",
    "profaail": "profile",
    "apdet": "update",
    # Greetings and thanks as they are typed in Indian script.
    "helo": "hello",
    "halo": "hello",
    "haay": "hi",
    "gud": "good",
    "thaink": "thank",
    "thainks": "thanks",
    "thaankyu": "thankyou",
    "thaanks": "thanks",
    "thyaanks": "thanks",
    "oke": "ok",
    "baay": "bye",
    "bai": "bye",
    "menyu": "menu",
    "maim": "mam",
    "medan": "madam",
    "saar": "sir",
    "ivning": "evening",
    "maarning": "morning",
    "yu": "you",
    "sev": "save",
    "karekt": "correct",
    "pleez": "please",
    "mod": "mode",
    "rol": "role",
    "akaaunt": "account",
    "akaunt": "account",
    "svich": "switch",
    "aaeedi": "id",
    "aidi": "id",
    "enrolment": "enrollment",
    "stoodents": "students",
    "perents": "parents",
    "pairents": "parents",
    "teechars": "teachers",
    "skool": "school",
    "ophis": "office",
    "aaphees": "office",
    "strakchar": "structure",
    "fri": "free",
    "mis": "miss",
    "sher": "share",
    "nekst": "next",
    "rinyu": "renew",
    "renyu": "renew",
    "googul": "google",
    "jaayin": "join",
    "korsulu": "courses",
    "admishanlu": "admissions",
    "baink": "bank",
    "byaank": "bank",
    "kaard": "card",
    "kriket": "cricket",
    "maich": "match",
    "myaach": "match",
    "mobaail": "mobile",
    "richaarj": "recharge",
    "haaspital": "hospital",
    "kol": "call",
    "doktar": "doctor",
    "daaktar": "doctor",
}
# SMS spellings of Hinglish and their usual full form (whole words only, any case).
SMS_SPELLINGS = {
    "h": "hai",
    "hy": "hai",
    "hei": "hai",
    "kb": "kab",
    "ky": "kya",
    "kyaa": "kya",
    "nhi": "nahi",
    "nahin": "nahi",
    "nai": "nahi",
    "kr": "kar",
    "krna": "karna",
    "krdo": "kar do",
    "mjhe": "mujhe",
    "mje": "mujhe",
    "btao": "batao",
    "bta": "bata",
    "pta": "pata",
    "aj": "aaj",
    "kl": "kal",
    "naheen": "nahi",
    "hoo": "hoon",
    "bataao": "batao",
}


@dataclass(frozen=True)
class Romanised:
    """The new text, and for each character offset of the old text (and its end) the offset in the new one."""

    text: str
    offsets: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Where the old text's [start, end) lies in the new text."""
        return self.offsets[start], self.offsets[end]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Where the new text's [start, end) came from in the old text (whole words)."""
        return bisect.bisect_left(self.offsets, start), bisect.bisect_left(self.offsets, end)


def _script(word: str) -> str | None:
    code = ord(word[0])
    if DEVANAGARI[0] <= code <= DEVANAGARI[1]:
        return "devanagari"
    if TELUGU[0] <= code <= TELUGU[1]:
        return "telugu"
    return None


def has_indian_script(text: str) -> bool:
    return any(DEVANAGARI[0] <= ord(c) <= DEVANAGARI[1] or TELUGU[0] <= ord(c) <= TELUGU[1] for c in text)


@lru_cache(maxsize=4096)
def romanise_word(word: str) -> str:
    """One word of Devanagari or Telugu in casual Latin letters; other words unchanged except SMS spellings."""
    script = _script(word)
    if script is None:
        return SMS_SPELLINGS.get(word.lower(), word)
    if script == "devanagari":
        # The "candra o" of English loanwords (ऑनलाइन, ब्रॉडकास्ट, डॉक्टर) is typed "o"; IAST has no letter for it.
        word = _drop_schwas(word.replace("\u0911", "\u0913").replace("\u0949", "\u094b"))
    scheme = sanscript.DEVANAGARI if script == "devanagari" else sanscript.TELUGU
    iast = unicodedata.normalize("NFC", sanscript.transliterate(word, scheme, sanscript.IAST))
    # The nasal mark is typed "m" before p, b, m (పంపండి → pampandi) and at the end of a Telugu word (సోమవారం).
    iast = re.sub("[ṃṁ](?=[pbm])", "m", iast)
    if script == "telugu":
        iast = re.sub("[ṃṁ]$", "m", iast)
    casual = "".join(
        (_LONG_AT_END if i == len(iast) - 1 else _LONG).get(c, c) for i, c in enumerate(iast.translate(_CASUAL))
    )
    casual = re.sub(r"[^a-z]", "", unicodedata.normalize("NFKD", casual).lower())
    casual = casual.replace("ph", "f").replace("c", "ch")
    if len(iast) == 1 and casual in ("a", "i", "u"):  # a lone long vowel: ఈ is "ee"
        casual = _LONG.get(iast, casual)
    casual = LOANWORDS.get(casual, casual)
    return SMS_SPELLINGS.get(casual, casual)


def _syllables(word: str) -> list[str]:
    """A Devanagari word cut after each consonant-with-its-signs or independent vowel."""
    units: list[str] = []
    for char in word:
        if units and (char in _DEVANAGARI_SIGNS or char == _NUKTA):
            units[-1] += char
        else:
            units.append(char)
    return units


def _bare(unit: str) -> bool:
    """A consonant that keeps its inherent vowel (no vowel sign, virama or nasal mark)."""
    return unit[0] in _DEVANAGARI_CONSONANTS and all(c == _NUKTA for c in unit[1:])


def _drop_schwas(word: str) -> str:
    """Hindi's schwa deletion: the inherent vowel of a word's last consonant is not spoken, nor that of a consonant
    between a vowel and a consonant with its own vowel (left to right, so two in a row are never dropped)."""
    units = _syllables(word)
    virama = _VIRAMA["devanagari"]
    if len(units) > 1 and _bare(units[-1]):
        units[-1] += virama
    for i in range(1, len(units) - 1):
        voiced_before = not units[i - 1].endswith(virama)
        consonant_vowel_after = units[i + 1][0] in _DEVANAGARI_CONSONANTS and not units[i + 1].endswith(virama)
        if _bare(units[i]) and voiced_before and consonant_vowel_after:
            units[i] += virama
    return "".join(units)


def romanise(text: str) -> Romanised:
    """The message with every Indian-script word romanised and SMS spellings evened out, and the offset map."""
    pieces: list[str] = []
    offsets: list[int] = []
    position = 0
    length = 0
    for match in _WORD.finditer(text):
        between = text[position : match.start()]
        pieces.append(between)
        offsets.extend(range(length, length + len(between)))
        length += len(between)
        old = match.group()
        new = romanise_word(old)
        pieces.append(new)
        # Every character of the old word maps to the new word's start; its end maps to the new word's end.
        offsets.extend([length] * len(old))
        length += len(new)
        position = match.end()
    tail = text[position:]
    pieces.append(tail)
    offsets.extend(range(length, length + len(tail)))
    length += len(tail)
    offsets.append(length)
    return Romanised("".join(pieces), tuple(offsets))
