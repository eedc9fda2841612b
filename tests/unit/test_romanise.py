"""Indian scripts romanised as people type them, SMS spellings of Hinglish evened out, and entity spans moved
with the text (hsm.language.romanise and the NLU pipeline's RomaniseIndianScripts)."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from hsm.language.romanise import has_indian_script, romanise, romanise_word
from hsm.rasa_glue.romanise_component import restore, rewrite


@pytest.mark.parametrize(
    ("text", "romanised"),
    [
        ("आज क्लास है?", "aaj class hai?"),
        ("ఈరోజు క్లాస్ ఉందా?", "eeroju class unda?"),
        ("मेरी फीस कितनी है", "meri fees kitni hai"),
        ("कल गिटार क्लास कब है", "kal guitar class kab hai"),
        ("నా ఫీజు ఎంత", "na fees enta"),
        ("पियानो की फीस", "piano ki fees"),
        ("सारा नहीं आई", "saara nahi aai"),
        ("मैं कल छुट्टी पर हूँ", "main kal chhutti par hoon"),
        ("guitar class kb h", "guitar class kab hai"),
        ("Sarah अनुपस्थित", "Sarah anupasthit"),
        ("ऑनलाइन पेमेंट का लिंक", "online payment ka link"),  # candra o, and a loanword
        ("अगले हफ्ते छुट्टी", "agle hafte chhutti"),  # "ph" is typed "f" inside a word too
        ("వయొలిన్ బిగినర్ బ్యాచ్", "violin beginner batch"),
        ("స్కూల్ అడ్రస్ పంపండి", "school address pampandi"),
    ],
)
def test_messages_come_out_as_people_romanise_them(text, romanised):
    assert romanise(text).text == romanised


@pytest.mark.parametrize(
    ("word", "romanised"),
    [
        ("कल", "kal"),  # the final inherent vowel is not spoken
        ("कमरा", "kamra"),  # nor one between a vowel and a consonant-vowel pair
        ("समझ", "samajh"),  # but never two in a row
        ("चाहता", "chaahta"),
        ("कैंसल", "cancel"),
        ("ఈ", "ee"),  # a lone long vowel stays long
        ("टीचर", "teacher"),
    ],
)
def test_words(word, romanised):
    assert romanise_word(word) == romanised


def test_english_is_left_alone_except_sms_spellings():
    text = "Hi, is there a guitar class at 5pm today? Kya fees h?"
    assert romanise(text).text == "Hi, is there a guitar class at 5pm today? Kya fees hai?"
    assert not has_indian_script(text) and has_indian_script("क्लास")
    assert romanise("HSM-24-002 👍 6:15").text == "HSM-24-002 👍 6:15"


def test_offsets_move_a_span_onto_the_new_text():
    text = "कल गिटार क्लास h"
    new = romanise(text)
    start = text.index("गिटार")
    assert new.text[slice(*new.span(start, start + len("गिटार")))] == "guitar"
    assert new.span(len(text) - 1, len(text)) == (len(new.text) - 3, len(new.text))


def test_a_training_example_keeps_its_entities_on_the_romanised_words():
    text = "कल गिटार क्लास कब h"
    message = Message(
        data={
            "text": text,
            "intent": "ask_schedule",
            "entities": [
                {"start": 0, "end": 2, "value": "tomorrow", "entity": "date"},  # a synonym: the value stays
                {"start": 3, "end": 8, "value": "गिटार", "entity": "instrument"},
            ],
        }
    )
    rewrite(message)
    assert message.get("text") == "kal guitar class kab hai"
    date, instrument = message.get("entities")
    assert (date["start"], date["end"], date["value"]) == (0, 3, "tomorrow")
    assert (instrument["start"], instrument["end"], instrument["value"]) == (4, 10, "guitar")


def test_a_message_with_nothing_to_change_is_not_touched():
    message = Message(data={"text": "all present except Sarah"})
    rewrite(message)
    assert message.get("text") == "all present except Sarah"


def test_a_parsed_message_gets_its_typed_words_back_with_the_entities_on_them():
    typed = "कल गिटार क्लास कब h"
    message = Message(data={"text": typed})
    rewrite(message, keep_typed=True)
    assert message.get("text") == "kal guitar class kab hai"
    # what the extractors found on the romanised text
    message.set("entities", [{"start": 4, "end": 10, "value": "guitar", "entity": "instrument"}])
    restore(message)
    assert message.get("text") == typed and message.get("hsm_original_text") is None
    (instrument,) = message.get("entities")
    assert (typed[instrument["start"] : instrument["end"]], instrument["value"]) == ("गिटार", "guitar")
