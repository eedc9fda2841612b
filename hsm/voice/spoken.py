"""Times between spoken and written form: "5 pm" is said "five pm", and "six fifteen pm" is written "6:15 pm"
(the form the attendance and schedule readers understand)."""

from __future__ import annotations

import re

NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty"
).split()
_MINUTE_WORDS = {"fifteen": 15, "thirty": 30, "forty five": 45, "forty": 40, "fifty": 50}
_HOURS = "|".join(NUMBER_WORDS[1:13])
_SPOKEN_TIME = re.compile(
    rf"\b(?P<hour>{_HOURS})(?: (?P<minute>fifteen|thirty|forty five|forty|fifty))?"
    r"(?: (?P<half>am|pm))?\b"
)


def _minutes_in_words(minute: int) -> list[str]:
    if minute == 0:
        return []
    if minute <= 20:
        return ["oh", NUMBER_WORDS[minute]] if minute < 10 else [NUMBER_WORDS[minute]]
    tens, ones = divmod(minute, 10)
    word = {3: "thirty", 4: "forty", 5: "fifty"}.get(tens, "twenty")
    return [word, NUMBER_WORDS[ones]] if ones else [word]


def say(text: str) -> list[str]:
    """The words one says for `text`: "6:15 pm" -> six fifteen pm, "17:00" -> five pm, "5" -> five."""
    words: list[str] = []
    for token in text.lower().replace(".", "").split():
        clock = re.fullmatch(r"(\d{1,2})(?::(\d{2}))?(am|pm)?", token)
        if clock is None:
            words.append(token)
            continue
        hour, minute, half = int(clock.group(1)), int(clock.group(2) or 0), clock.group(3)
        if hour > 12:
            hour, half = hour - 12, half or "pm"
        words += [NUMBER_WORDS[hour] if hour <= 20 else token, *_minutes_in_words(minute)]
        words += [half] if half else []
    return words


def write_times(text: str) -> str:
    """Spoken times as digits where they are clearly times (a minute word or am/pm follows the hour):
    "guitar five pm all present" -> "guitar 5 pm all present"; a lone "five" stays a word."""

    def written(match: re.Match[str]) -> str:
        minute, half = match.group("minute"), match.group("half")
        if minute is None and half is None:
            return match.group(0)
        hour = NUMBER_WORDS.index(match.group("hour"))
        clock = f"{hour}:{_MINUTE_WORDS[minute]:02d}" if minute else str(hour)
        return f"{clock} {half}" if half else clock

    return _SPOKEN_TIME.sub(written, text)
