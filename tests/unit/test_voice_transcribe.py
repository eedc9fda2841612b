"""Voice notes are transcribed offline: a teacher's note with their roster's names right, noise with a confidence
low enough that the person is asked to type, and broken or too-long audio refused with AudioError."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile

from hsm.classes.attendance_text import parse_attendance
from hsm.voice.transcribe import AudioError, transcribe
from hsm.voice.vocabulary import vocabulary_for

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "voice"  # made by bench/voice_corpus.py
RAHUL_MENON = "919811000101"  # teaches Guitar Beginner (Sarah Wilson's batch)
ASK_TO_TYPE_BELOW = 0.6  # the threshold bench/voice_bench.py recommends


def note(name: str) -> bytes:
    return (FIXTURES / f"{name}.ogg").read_bytes()


@pytest.fixture(scope="module")
def guitar_teacher_words(tmp_path_factory) -> list[str]:
    """Rahul Menon's vocabulary from a migrated demo-school database (SQLite: the words do not depend on it)."""
    from hsm.infra.db import upgrade_to_head
    from hsm.records.school_import import import_school_file
    from tests.conftest import SCHOOL_FILE

    url = f"sqlite:///{tmp_path_factory.mktemp('voice') / 'school.sqlite3'}"
    upgrade_to_head(url)
    import_school_file(SCHOOL_FILE, url)
    return vocabulary_for(url, RAHUL_MENON)


def test_the_teachers_note_is_heard_with_the_roster_name_right(guitar_teacher_words):
    heard = transcribe(note("all_present_except_sarah"), vocabulary=guitar_teacher_words)
    assert heard.text == "guitar 5 pm all present except sarah"
    assert heard.confidence >= ASK_TO_TYPE_BELOW
    assert 4.0 < heard.seconds < 7.0
    statement = parse_attendance(heard.text, known_names=guitar_teacher_words)
    assert statement.everyone == "present" and statement.absent == ("sarah",)


def test_a_teachers_searches_live_in_a_decoder_of_teachers_words_only(guitar_teacher_words):
    """Making a search walks the decoder's whole dictionary: the teachers' holds their words, not all English."""
    from hsm.voice.transcribe import _recogniser

    transcribe(note("all_present_except_sarah"), vocabulary=guitar_teacher_words)
    teachers = _recogniser().teachers
    assert teachers.lookup_word("sarah") and teachers.lookup_word("guitar") and teachers.lookup_word("except")
    assert teachers.lookup_word("zebra") is None and _recogniser().decoder.lookup_word("zebra")


def test_a_note_reads_the_same_whatever_was_decoded_before_it(guitar_teacher_words):
    """The decoder does not carry one note's noise estimate into the next (another teacher's, or noise)."""
    from hsm.voice.transcribe import hear

    def readings() -> tuple:
        heard, _ = hear(note("mary_and_ahmed_absent_babble"), vocabulary=guitar_teacher_words)
        return heard.ngram, heard.grammar

    first = readings()
    for before in ("noise_only", "all_present_except_sarah", "when_is_my_daughters_piano_class"):
        transcribe(
            note(before), vocabulary=guitar_teacher_words if before != "when_is_my_daughters_piano_class" else ()
        )
        assert readings() == first, before


def test_noise_only_gets_a_low_confidence(guitar_teacher_words):
    for vocabulary in (guitar_teacher_words, ()):
        heard = transcribe(note("noise_only"), vocabulary=vocabulary)
        assert heard.confidence < ASK_TO_TYPE_BELOW, heard


def test_a_parents_note_goes_to_the_general_model():
    heard = transcribe(note("when_is_my_daughters_piano_class"))
    assert heard.text == heard.text.lower() and heard.text.endswith("class")
    assert 0.0 <= heard.confidence <= 1.0


def test_a_note_longer_than_allowed_is_refused():
    with pytest.raises(AudioError, match="at most 3 s"):
        transcribe(note("all_present_except_sarah"), max_seconds=3.0)


@pytest.mark.parametrize(
    "audio",
    [b"", b"OggS" + bytes(200), note("all_present_except_sarah")[:300], b"not audio at all" * 50],
    ids=["empty", "ogg-header-only", "truncated", "text"],
)
def test_broken_audio_is_refused(audio):
    with pytest.raises(AudioError):
        transcribe(audio)


def test_a_wav_at_another_rate_is_accepted():
    """WAV is accepted too, at any rate (resampled to 16 kHz): 2 s of silence is nothing heard."""
    out = io.BytesIO()
    soundfile.write(out, np.zeros(44_100 * 2, dtype="float32"), 44_100, format="WAV")
    heard = transcribe(out.getvalue())
    assert heard.seconds == 2.0 and heard.confidence < ASK_TO_TYPE_BELOW


def test_only_the_speech_is_decoded():
    """The voice activity detector keeps the spoken stretch and a quarter second either side; silence is nothing."""
    from hsm.voice.audio import SAMPLE_RATE, SPEECH_MARGIN_S, decode, speech_only

    pcm = decode(note("all_present_except_sarah"), 60.0)
    speech = speech_only(pcm.samples)
    assert 2 * SPEECH_MARGIN_S < len(speech) / (2 * SAMPLE_RATE) < pcm.seconds - 0.3
    assert pcm.samples.find(speech) >= 0 and len(pcm.samples) % 2 == len(speech) % 2 == 0
    assert speech_only(bytes(2 * SAMPLE_RATE * 2)) == b""
