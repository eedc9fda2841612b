"""A teacher's voice-note vocabulary: their own batches' roster, instruments, levels and times; a parent's is empty."""

from __future__ import annotations

from hsm.voice.vocabulary import vocabulary_for

RAHUL_MENON = "919811000101"  # WhatsApp's wa_id: Guitar Beginner, Guitar Intermediate, Piano Advanced
PRIYA_IYER = "+919811000102"  # keyboard and piano batches
SUSAN_THOMAS = "919845000002"  # Mary Thomas's mother


def test_a_teacher_gets_the_names_instruments_levels_and_times_of_their_batches(school_db):
    words = vocabulary_for(school_db, RAHUL_MENON)
    assert {"Sarah", "Sarah Wilson", "Rahul Sharma", "Rahul Verma", "Sai Teja Goud"} <= set(words)
    assert {"guitar", "piano", "beginner", "intermediate", "advanced", "5 pm", "6:15 pm", "7 pm"} <= set(words)
    assert {"present", "absent", "except", "all", "everyone", "five", "tuesday"} <= set(words)
    assert "Anika" not in words and "keyboard" not in words  # another teacher's batch


def test_each_teacher_gets_their_own_roster(school_db):
    words = vocabulary_for(school_db, PRIYA_IYER)
    assert {"Anika", "Anika Reddy", "keyboard"} <= set(words)
    assert "Sarah Wilson" not in words


def test_a_parent_or_a_stranger_gets_the_general_model(school_db):
    assert vocabulary_for(school_db, SUSAN_THOMAS) == []
    assert vocabulary_for(school_db, "919999999999") == []
