"""The arithmetic and gates behind `make eval`'s blind-set and off-topic figures (scripts/nlu_scores.py), on tiny
hand-made answers: no model involved."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import eval as nlu_eval  # noqa: E402  (scripts/eval.py)
import nlu_scores  # noqa: E402
from nlu_scores import Answer  # noqa: E402

ANSWERS = [
    Answer("check_schedule", "check_schedule", "en"),
    Answer("check_schedule", "payment_status", "code-mixed"),
    Answer("payment_status", "payment_status", "code-mixed"),
    Answer("out_of_scope", "nlu_fallback", "non-latin"),
    Answer("out_of_scope", "help", "en"),
]


def test_a_fallback_is_right_only_for_an_off_topic_message():
    assert Answer("out_of_scope", "nlu_fallback").right
    assert Answer("out_of_scope", "out_of_scope").right
    assert not Answer("greet", "nlu_fallback").right
    assert not Answer("greet", "out_of_scope").right


def test_intent_figures_count_precision_recall_and_macro_f1():
    figures = nlu_scores.intent_figures(ANSWERS)
    assert figures["accuracy"] == pytest.approx(3 / 5)
    schedule, payment, offtopic = (
        figures["per_intent"][k] for k in ("check_schedule", "payment_status", "out_of_scope")
    )
    assert (schedule["precision"], schedule["recall"], schedule["support"]) == (1.0, 0.5, 2)
    assert (payment["precision"], payment["recall"]) == (0.5, 1.0)
    assert (offtopic["precision"], offtopic["recall"]) == (1.0, 0.5)
    assert schedule["f1"] == pytest.approx(2 / 3)
    assert figures["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 2 / 3) / 3)
    assert "help" not in figures["per_intent"]  # a wrong answer's intent is no label of the set
    assert figures["worst_pairs"][0][1] == 1


def test_slices_split_by_the_meta_files_language():
    slices = nlu_scores.slice_accuracy(ANSWERS)
    assert slices["en"] == {"right": 1, "total": 2, "accuracy": 0.5}
    assert slices["code-mixed"] == {"right": 1, "total": 2, "accuracy": 0.5}
    assert slices["non-latin"] == {"right": 1, "total": 1, "accuracy": 1.0}


def test_entity_f1_counts_exact_spans_of_the_scored_types_only():
    answers = [
        Answer(
            "report_leave",
            "report_leave",
            gold_entities=frozenset({("person", 0, 5), ("date", 10, 18), ("level", 20, 28)}),
            found_entities=frozenset({("person", 0, 5), ("date", 10, 17), ("level", 30, 34)}),
        ),
        Answer("check_schedule", "check_schedule", found_entities=frozenset({("time", 0, 3)})),
    ]
    figures = nlu_scores.entity_figures(answers)
    assert (figures["precision"], figures["recall"], figures["support"]) == (1 / 3, 1 / 2, 2)
    assert figures["f1"] == pytest.approx(2 * 1 / (2 * 1 + 2 + 1))
    assert figures["per_type"]["person"]["f1"] == 1.0
    assert figures["per_type"]["date"] == {"f1": 0.0, "support": 1}
    assert "level" not in figures["per_type"]


def test_blind_gates_name_each_target_and_fail_below_it():
    intents = {"accuracy": 0.97, "macro_f1": 0.949}
    slices = {"en": {"accuracy": 1.0}, "code-mixed": {"accuracy": 0.93}, "non-latin": {"accuracy": 0.89}}
    entities = {"f1": 0.95, "support": 10}
    gates = {g.name: g.ok for g in nlu_scores.blind_gates(intents, slices, entities)}
    assert gates == {
        "intent accuracy": True,
        "intent macro-F1": False,
        "code-mixed slice": True,
        "script slice": False,
        "entity F1": True,
    }


def test_a_set_without_script_messages_or_entities_has_no_gate_for_them():
    gates = nlu_scores.blind_gates({"accuracy": 1.0, "macro_f1": 1.0}, {"en": {"accuracy": 1.0}}, {"support": 0})
    assert [g.name for g in gates] == ["intent accuracy", "intent macro-F1"]


def test_offtopic_gates_need_both_rejection_and_in_domain_accuracy():
    assert [g.ok for g in nlu_scores.offtopic_gates(45, 50, 97, 100)] == [True, True]
    assert [g.ok for g in nlu_scores.offtopic_gates(44, 50, 97, 100)] == [False, True]
    assert [g.ok for g in nlu_scores.offtopic_gates(50, 50, 96, 100)] == [True, False]


def test_the_summary_fails_and_names_the_gate_below_target():
    answers = [Answer("greet", "greet", "en")] * 96 + [Answer("greet", "thank", "en")] * 4
    intents = nlu_scores.intent_figures(answers)
    report = {
        "blind": {
            "set_a": {
                "intents": intents,
                "slices": nlu_scores.slice_accuracy(answers),
                "entities": nlu_scores.entity_figures(answers),
                "gates": nlu_eval._gate_rows(nlu_scores.blind_gates(intents, {}, {"support": 0})),
            }
        },
        "offtopic": nlu_eval.check_offtopic(
            {"where is the dipstick": nlu_eval.Parsed("nlu_fallback", 0.6), "hi": nlu_eval.Parsed("greet", 0.99)},
            ["where is the dipstick"],
            [{"text": "hi", "intent": "greet"}],
        ),
    }
    text, ok = nlu_eval.summary(report)
    assert not ok
    assert "set_a: intent accuracy ≥ 0.97 | 0.960 | FAIL" in text
    assert "off-topic held out: off-topic rejection ≥ 0.9 | 1.000 | PASS" in text
    assert "1 gate(s) failed:** set_a: intent accuracy ≥ 0.97 (0.960)" in text


def test_meta_rows_must_be_the_sets_messages_in_order(tmp_path: Path):
    (tmp_path / "set.yml").write_text("nlu: []\n")
    meta = tmp_path / "set.meta.tsv"
    meta.write_text("intent\tpersona\tlanguage\texample\ngoodbye\tstudent\ten\tsee you on [thursday](date)\n")
    assert nlu_scores.blind_sets(tmp_path) == [(tmp_path / "set.yml", meta)]
    assert nlu_scores.languages(meta, ["see you on thursday"]) == ["en"]
    with pytest.raises(ValueError, match="line 2"):
        nlu_scores.languages(meta, ["see you on friday"])
    with pytest.raises(ValueError, match="1 rows for 2 messages"):
        nlu_scores.languages(meta, ["a", "b"])
    (tmp_path / "other.yml").write_text("nlu: []\n")
    with pytest.raises(FileNotFoundError, match="other.meta.tsv"):
        nlu_scores.blind_sets(tmp_path)
