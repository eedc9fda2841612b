"""Pronunciations for words the recogniser's dictionary lacks (Indian names, "tabla"): letter-to-sound rules
that read a name the way it is spelt in romanised Indian languages, in the acoustic model's ARPAbet phones."""

from __future__ import annotations

import re

# Longest spelling first; each maps to ARPAbet phones. Vowels follow romanised Indian spelling ("aa" is long,
# "a" short), consonant pairs with "h" are the aspirated or retroflex sounds English speakers say plainly.
_LETTERS: dict[str, str] = {
    "aa": "AA", "ee": "IY", "ii": "IY", "oo": "UW", "uu": "UW", "ou": "AW", "au": "AW", "ai": "AY", "ei": "EY",
    "ay": "EY", "ey": "EY", "ie": "IY", "ea": "IY", "sh": "SH", "ch": "CH", "th": "T", "ph": "F", "kh": "K",
    "gh": "G", "bh": "B", "dh": "D", "jh": "JH", "ck": "K", "ng": "NG", "qu": "K W", "a": "AH", "b": "B", "c": "K",
    "d": "D", "e": "EH", "f": "F", "g": "G", "h": "HH", "i": "IH", "j": "JH", "k": "K", "l": "L", "m": "M", "n": "N",
    "o": "OW", "p": "P", "q": "K", "r": "R", "s": "S", "t": "T", "u": "UH", "v": "V", "w": "W", "x": "K S",
    "y": "Y", "z": "Z",
}  # fmt: skip
_FINAL_VOWELS = {"a": "AA", "e": "IY", "i": "IY", "u": "UW", "y": "IY"}  # "priya", "lakshmi", "guru", "divy"
_SOFT_C = re.compile(r"c(?=[eiy])")
_LONGEST = max(len(spelling) for spelling in _LETTERS)


def letters_to_phones(word: str) -> str:
    """ARPAbet phones for a lower-case word by spelling rules ("aarav" -> "AA R AH V"); "" for no letters."""
    spelt = _SOFT_C.sub("s", "".join(ch for ch in word.lower() if "a" <= ch <= "z"))
    phones: list[str] = []
    i = 0
    while i < len(spelt):
        if i == len(spelt) - 1 and spelt[i] in _FINAL_VOWELS and i > 0:
            phones.append(_FINAL_VOWELS[spelt[i]])
            break
        for size in range(min(_LONGEST, len(spelt) - i), 0, -1):
            piece = spelt[i : i + size]
            if piece in _LETTERS:
                phones.append(_LETTERS[piece])
                i += size
                break
    merged: list[str] = []
    for phone in " ".join(phones).split():
        if not merged or merged[-1] != phone:  # "aditya" -> one T, "anna" -> one N
            merged.append(phone)
    return " ".join(merged)
