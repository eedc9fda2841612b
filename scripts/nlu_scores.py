"""Scores and gates for the blind sets and off-topic rejection (issue #22): plain arithmetic on labelled answers."""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

FALLBACK_INTENTS = {"nlu_fallback", "out_of_scope"}  # both end in action_fallback: the caller's menu
SCORED_ENTITIES = ("person", "instrument", "date", "time")  # the entity figure
BLIND_TARGETS = {
    "intent accuracy": 0.97,
    "intent macro-F1": 0.95,
    "code-mixed slice": 0.93,
    "script slice": 0.90,
    "entity F1": 0.95,
}
SLICE_OF_TARGET = {"code-mixed slice": "code-mixed", "script slice": "non-latin"}  # meta.tsv language names
OFFTOPIC_TARGETS = {"off-topic rejection": 0.90, "in-domain accuracy": 0.97}

Span = tuple[str, int, int]  # entity type, start, end


@dataclass(frozen=True)
class Answer:
    """One labelled message and what the model made of it."""

    intent: str
    predicted: str
    language: str = "en"
    gold_entities: frozenset[Span] = field(default_factory=frozenset)
    found_entities: frozenset[Span] = field(default_factory=frozenset)

    @property
    def right(self) -> bool:
        """Right intent; for an off-topic message, any answer that ends in the fallback."""
        if self.intent == "out_of_scope":
            return self.predicted in FALLBACK_INTENTS
        return self.predicted == self.intent

    @property
    def counted_as(self) -> str:
        return self.intent if self.right else self.predicted


@dataclass(frozen=True)
class Gate:
    name: str
    value: float
    target: float

    @property
    def ok(self) -> bool:
        return self.value >= self.target


def f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def intent_figures(answers: list[Answer]) -> dict:
    """Accuracy, macro-F1 over the labelled intents, and precision/recall/F1/support per intent."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for answer in answers:
        if answer.right:
            tp[answer.intent] += 1
        else:
            fn[answer.intent] += 1
            fp[answer.counted_as] += 1
    labels = sorted({a.intent for a in answers})
    per_intent = {
        name: {
            "precision": tp[name] / (tp[name] + fp[name]) if tp[name] + fp[name] else 0.0,
            "recall": tp[name] / (tp[name] + fn[name]) if tp[name] + fn[name] else 0.0,
            "f1": f1(tp[name], fp[name], fn[name]),
            "support": tp[name] + fn[name],
        }
        for name in labels
    }
    return {
        "examples": len(answers),
        "accuracy": sum(tp.values()) / len(answers) if answers else 0.0,
        "macro_f1": sum(m["f1"] for m in per_intent.values()) / len(labels) if labels else 0.0,
        "per_intent": per_intent,
        "worst_pairs": Counter((a.intent, a.predicted) for a in answers if not a.right).most_common(8),
    }


def slice_accuracy(answers: list[Answer]) -> dict[str, dict]:
    """Right/total and accuracy per language slice of the meta file (en, code-mixed, non-latin)."""
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for answer in answers:
        total[answer.language] += 1
        right[answer.language] += answer.right
    return {k: {"right": right[k], "total": total[k], "accuracy": right[k] / total[k]} for k in sorted(total)}


def entity_figures(answers: list[Answer], types: tuple[str, ...] = SCORED_ENTITIES) -> dict:
    """Micro precision/recall/F1 on exact spans of the given entity types, and F1 per type."""
    counts = {t: Counter() for t in types}
    for answer in answers:
        gold = {s for s in answer.gold_entities if s[0] in types}
        found = {s for s in answer.found_entities if s[0] in types}
        for span in gold & found:
            counts[span[0]]["tp"] += 1
        for span in found - gold:
            counts[span[0]]["fp"] += 1
        for span in gold - found:
            counts[span[0]]["fn"] += 1
    tp, fp, fn = (sum(c[k] for c in counts.values()) for k in ("tp", "fp", "fn"))
    return {
        "f1": f1(tp, fp, fn),
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "support": tp + fn,
        "per_type": {t: {"f1": f1(c["tp"], c["fp"], c["fn"]), "support": c["tp"] + c["fn"]} for t, c in counts.items()},
    }


def blind_gates(intents: dict, slices: dict[str, dict], entities: dict) -> list[Gate]:
    """The issue's targets for one blind set; a slice the set does not have, or no entities, has no gate."""
    gates = [
        Gate("intent accuracy", intents["accuracy"], BLIND_TARGETS["intent accuracy"]),
        Gate("intent macro-F1", intents["macro_f1"], BLIND_TARGETS["intent macro-F1"]),
    ]
    for name, language in SLICE_OF_TARGET.items():
        if language in slices:
            gates.append(Gate(name, slices[language]["accuracy"], BLIND_TARGETS[name]))
    if entities["support"]:
        gates.append(Gate("entity F1", entities["f1"], BLIND_TARGETS["entity F1"]))
    return gates


def offtopic_gates(rejected: int, offtopic: int, in_domain_right: int, in_domain: int) -> list[Gate]:
    return [
        Gate("off-topic rejection", rejected / offtopic, OFFTOPIC_TARGETS["off-topic rejection"]),
        Gate("in-domain accuracy", in_domain_right / in_domain, OFFTOPIC_TARGETS["in-domain accuracy"]),
    ]


# ---------------------------------------------------------------- the blind sets' files

ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def plain_text(example: str) -> str:
    """A YAML example without its entity annotations: "see you on [thursday](date)" → "see you on thursday"."""
    return ANNOTATION.sub(r"\1", example).strip()


def blind_sets(folder: Path) -> list[tuple[Path, Path]]:
    """Every blind set in the folder (NAME.yml) with its NAME.meta.tsv; a set without one is an error."""
    sets = []
    for path in sorted(folder.glob("*.yml")):
        meta = path.with_suffix(".meta.tsv")
        if not meta.exists():
            raise FileNotFoundError(f"{path} has no {meta.name} (persona and language per message)")
        sets.append((path, meta))
    return sets


def languages(meta: Path, texts: list[str]) -> list[str]:
    """The language slice of each message, in the order of the set's YAML; the meta rows must be the same messages
    in the same order (annotations aside)."""
    with meta.open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    if len(rows) != len(texts):
        raise ValueError(f"{meta.name}: {len(rows)} rows for {len(texts)} messages")
    for n, (row, text) in enumerate(zip(rows, texts, strict=True), start=2):
        if " ".join(plain_text(row["example"]).split()) != " ".join(text.split()):
            raise ValueError(f"{meta.name} line {n} is not the set's message number {n - 1}")
    return [row["language"] for row in rows]
