"""The transcriber's word helpers: times between spoken and written form, and pronunciations by spelling rules."""

from __future__ import annotations

import pytest

from hsm.voice.pronounce import letters_to_phones
from hsm.voice.spoken import say, write_times


@pytest.mark.parametrize(
    ("written", "spoken"),
    [("5 pm", "five pm"), ("6:15 pm", "six fifteen pm"), ("17:00", "five pm"), ("10 am", "ten am"), ("Sarah", "sarah")],
)
def test_times_are_said_in_words(written, spoken):
    assert " ".join(say(written)) == spoken


@pytest.mark.parametrize(
    ("heard", "written"),
    [
        ("guitar five pm all present except sarah", "guitar 5 pm all present except sarah"),
        ("six fifteen pm batch", "6:15 pm batch"),
        ("seven thirty", "7:30"),
        ("five absent", "five absent"),  # no minute or am/pm: not clearly a time
    ],
)
def test_spoken_times_are_written_as_the_readers_expect(heard, written):
    assert write_times(heard) == written


@pytest.mark.parametrize(
    ("name", "phones"),
    [("aarav", "AA R AH V"), ("lakshmi", "L AH K SH M IY"), ("goud", "G AW D"), ("ananya", "AH N AH N Y AA")],
)
def test_names_missing_from_the_dictionary_are_pronounced_by_spelling(name, phones):
    assert letters_to_phones(name) == phones


def test_a_word_without_letters_has_no_pronunciation():
    assert letters_to_phones("123") == ""
