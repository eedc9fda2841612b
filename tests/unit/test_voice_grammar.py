"""A teacher's attendance grammar holds the attendance sentences over their own words and nothing else, and its
reading is taken only when the language model's reading of the same note agrees with it on names and marks."""

from __future__ import annotations

import pytest
from pocketsphinx import Decoder

from hsm.voice.grammar import MIN_AGREEMENT, Reading, agreement, attendance_grammar, choose, spoken_words
from hsm.voice.sentences import sort_vocabulary

RAHUL_MENONS_WORDS = ["Sarah", "Sarah Wilson", "Sai", "Sai Teja Goud", "John", "John Doe", "D'Souza"]
RAHUL_MENONS_WORDS += ["guitar", "beginner", "5 pm", "6:15 pm", "present", "absent", "except", "five", "tuesday"]
NAMES = frozenset({"sarah", "wilson", "sai", "teja", "goud", "john", "doe"})


@pytest.fixture(scope="module")
def grammar():
    return Decoder(loglevel="FATAL").parse_jsgf(attendance_grammar(sort_vocabulary(RAHUL_MENONS_WORDS)))


@pytest.mark.parametrize(
    "sentence",
    [
        "guitar five pm all present except sarah",
        "all present except sarah wilson and john",
        "everyone present",
        "guitar beginner six fifteen pm batch all present except sai teja goud",
        "sarah and john doe absent rest all present",
        "john was absent everyone else present",
        "absent sarah",
        "only sai and john present",
        "mark attendance for guitar five pm all present today",
    ],
)
def test_the_attendance_sentences_over_the_teachers_words_are_in_it(grammar, sentence):
    assert grammar.accept(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "i am on leave tomorrow",
        "what are my classes today",
        "all present except anika",  # another teacher's student
        "piano seven pm all present",  # another teacher's instrument and time
        "all present except",
        "sarah",
    ],
)
def test_other_sentences_and_other_teachers_words_are_not(grammar, sentence):
    assert not grammar.accept(sentence)


def test_names_a_jsgf_token_cannot_hold_are_left_out():
    assert "d'souza" in attendance_grammar(sort_vocabulary(["D'Souza"]))
    assert "<name> = student;" in attendance_grammar(sort_vocabulary(["Zoë"]))


def test_the_grammar_reading_is_taken_when_the_language_model_heard_its_names_and_marks():
    ngram = Reading("guitar five pm all present except sara", 0.3)
    assert agreement("guitar five pm all present except sarah", ngram.text, NAMES) == pytest.approx(2 / 3)
    heard = Reading("guitar five pm all present except sarah the", 0.3)
    chosen = choose("guitar five pm all present except sarah", heard, NAMES)
    assert chosen.text == "guitar five pm all present except sarah" and chosen.confidence == 1.0


def test_else_the_language_models_reading_with_its_own_confidence():
    ngram = Reading("i am on leave tomorrow", 0.45)
    assert choose("john absent", ngram, NAMES) == ngram  # no name or mark in common
    assert choose("", ngram, NAMES) == ngram  # nothing in the grammar
    noise = Reading("five i have on", 0.01)
    assert choose("five pm sarah and john did not come", noise, NAMES) == noise


def test_the_bar_is_a_share_of_the_key_words():
    grammar, ngram = "sarah and john absent", Reading("sarah and absent", 0.2)
    assert agreement(grammar, ngram.text, NAMES) == pytest.approx(2 / 3)
    assert 2 / 3 >= MIN_AGREEMENT
    assert choose(grammar, ngram, NAMES).confidence == pytest.approx(2 / 3)
    assert choose(grammar, ngram, NAMES, bar=0.75) == ngram
    assert choose(grammar, Reading("sarah and", 0.2), NAMES) == Reading("sarah and", 0.2)  # one of three


def test_a_grammar_reading_naming_someone_twice_is_not_taken():
    ngram = Reading("when on and sarah all only and be late and sarah and all present", 0.38)
    assert agreement("only sarah sarah and sarah present", ngram.text, NAMES) == 1.0
    assert choose("only sarah sarah and sarah present", ngram, NAMES) == ngram


def test_the_roster_names_are_the_entries_written_with_a_capital():
    words = sort_vocabulary(["Sarah", "Sai Teja Goud", "guitar", "beginner", "6:15 pm", "present"])
    assert words.names == ("sarah", "sai teja goud")
    assert words.terms == ("sarah", "sai teja goud", "guitar", "beginner") and words.times == ("six fifteen pm",)


def test_the_words_a_grammar_can_hear_are_its_sentences_words_only():
    words = spoken_words(attendance_grammar(sort_vocabulary(RAHUL_MENONS_WORDS)))
    assert {"sarah", "wilson", "teja", "guitar", "beginner", "fifteen", "absent", "except", "today"} <= words
    assert not words & {"grammar", "public", "note", "marks", "name", "jsgf", "v"}
