"""Evaluate the assistant's understanding: what `make eval` runs. Results go to results/, a summary to the screen.

    .venv/bin/python scripts/eval.py                 # everything (about 15-20 minutes on 2 cores)
    .venv/bin/python scripts/eval.py --skip-cv       # everything but the cross-validation (about 2 minutes)
    .venv/bin/python scripts/eval.py --only regression   # just the regression phrases (seconds)

Steps (each writes its raw output under results/):

1. `rasa data validate --fail-on-warning`                       → results/validate.log
2. `rasa test nlu --cross-validation --folds 5 --runs 1`          → results/nlu-cv/ (intent and DIET reports,
   errors); intent macro-F1 and accuracy, entity F1, the worst confusion pairs
3. held-out messages (tests/nlu/heldout.yml, never trained on) through models/hsm.tar.gz, with the
   FallbackClassifier, as the server would see them            → results/heldout.json
4. `rasa test core` on tests/test_stories.yml                     → results/stories/
5. regression phrases: every message the end-to-end tests and test stories send, checked against
   tests/nlu/regression.yml                                     → results/regression.json
6. every blind set tests/nlu/blind/NAME.yml with its NAME.meta.tsv (never copied into training): intent accuracy,
   macro-F1, per intent, per language slice (en, code-mixed, non-latin script), entity F1 on persons, instruments, dates
   and times (exact spans)                                      → results/blind.json
7. off-topic rejection on tests/nlu/offtopic_heldout.yml (never trained or tuned on), the in-scope held-out
   messages' accuracy beside it                                 → results/offtopic.json

Then results/eval-summary.md, printed. Exit status 1 when a gate fails: CV intent macro-F1 < 0.95, CV entity
F1 < 0.90, a failed test story, `rasa data validate` failing, a held-out message that is also a training
example (case and spacing ignored), a regression phrase that is missing from the table or classified
differently, or a figure of issue #22 below its target (scripts/nlu_scores.py): per blind set intent accuracy
< 0.97, macro-F1 < 0.95, code-mixed slice < 0.93, script slice < 0.90, entity F1 < 0.95; off-topic rejection
< 0.90 or in-domain accuracy < 0.97. Each failed gate is printed by name.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import contextlib
import json
import logging
import os
import re
import subprocess
import sys
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import nlu_scores  # noqa: E402  (scripts/nlu_scores.py)

from hsm.infra.config import child_environment, set_environment  # noqa: E402

RESULTS = ROOT / "results"
MODEL = ROOT / "models" / "hsm.tar.gz"
RASA = ROOT / ".venv" / "bin" / "rasa"
REGRESSION_TABLE = ROOT / "tests" / "nlu" / "regression.yml"
HELDOUT = ROOT / "tests" / "nlu" / "heldout.yml"
BLIND = ROOT / "tests" / "nlu" / "blind"
OFFTOPIC_HELDOUT = ROOT / "tests" / "nlu" / "offtopic_heldout.yml"
GATES = {"intent_macro_f1": 0.95, "entity_f1": 0.90}
FALLBACK_INTENTS = nlu_scores.FALLBACK_INTENTS
QUIET = {"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
ENV = child_environment(**QUIET)


# ---------------------------------------------------------------- running rasa


def run(name: str, args: list[str]) -> tuple[int, str, float]:
    """Run a command, keep its output in results/<name>.log; (exit status, output, seconds)."""
    started = time.monotonic()
    done = subprocess.run(args, cwd=ROOT, env=ENV, capture_output=True, text=True)
    output = done.stdout + done.stderr
    (RESULTS / f"{name}.log").write_text(output)
    return done.returncode, output, time.monotonic() - started


def validate() -> dict:
    code, output, seconds = run("validate", [str(RASA), "data", "validate", "--fail-on-warning"])
    warnings = sorted({m.group(1).strip() for m in re.finditer(r"UserWarning: (.+)", output)})
    return {"exit": code, "warnings": warnings, "seconds": round(seconds, 1)}


ENTITY_EXTRACTORS = ("CRFEntityExtractor", "DIETClassifier")  # whichever config.yml uses


def cross_validate(folds: int, reuse: bool = False) -> dict:
    out = RESULTS / "nlu-cv"
    timing = out / "eval-run.json"  # how long the last cross-validation took, and on how many folds
    if reuse and (out / "intent_report.json").exists():
        code = 0
        last = json.loads(timing.read_text()) if timing.exists() else {}
        seconds, folds = last.get("seconds", 0.0), last.get("folds", folds)
    else:
        code, _, seconds = run(
            "nlu-cv",
            [
                str(RASA),
                "test",
                "nlu",
                "--nlu",
                "data/nlu",
                "--config",
                "config.yml",
                "--cross-validation",
                "--folds",
                str(folds),
                "--runs",
                "1",
                "--out",
                str(out.relative_to(ROOT)),
                "--no-plot",
            ],
        )
        if code == 0:
            timing.write_text(
                json.dumps(
                    {"seconds": round(seconds), "folds": folds, "load_average": [round(x, 2) for x in os.getloadavg()]}
                )
            )
    if code != 0 or not (out / "intent_report.json").exists():
        return {"error": f"rasa test nlu exited {code}; see results/nlu-cv.log", "seconds": round(seconds)}
    intents = json.loads((out / "intent_report.json").read_text())
    extractor = next((name for name in ENTITY_EXTRACTORS if (out / f"{name}_report.json").exists()), None)
    if extractor is None:
        return {"error": "no entity report in results/nlu-cv/", "seconds": round(seconds)}
    entities = json.loads((out / f"{extractor}_report.json").read_text())
    errors = json.loads((out / "intent_errors.json").read_text()) if (out / "intent_errors.json").exists() else []
    pairs = Counter((e["intent"], e["intent_prediction"]["name"]) for e in errors)
    examples: dict[tuple[str, str], str] = {}
    for e in errors:
        examples.setdefault((e["intent"], e["intent_prediction"]["name"]), e["text"])
    per_intent = {
        k: v for k, v in intents.items() if isinstance(v, dict) and k not in ("macro avg", "weighted avg", "micro avg")
    }
    per_entity = {
        k: v
        for k, v in entities.items()
        if isinstance(v, dict) and k not in ("macro avg", "weighted avg", "micro avg", "no_entity")
    }
    entity_avg = entities.get("micro avg") or entities.get("weighted avg")
    return {
        "folds": folds,
        "seconds": round(seconds),
        "entity_extractor": extractor,
        "examples": int(intents["macro avg"]["support"]),
        "intent_accuracy": intents["accuracy"],
        "intent_macro_f1": intents["macro avg"]["f1-score"],
        "intent_weighted_f1": intents["weighted avg"]["f1-score"],
        "entity_f1": entity_avg["f1-score"],
        "entity_precision": entity_avg["precision"],
        "entity_recall": entity_avg["recall"],
        "entity_macro_f1": entities["macro avg"]["f1-score"],
        "per_intent": per_intent,
        "per_entity": per_entity,
        "worst_pairs": [
            {"intent": a, "predicted": b, "count": n, "example": examples[(a, b)]}
            for (a, b), n in pairs.most_common(10)
        ],
        "errors": len(errors),
    }


def stories() -> dict:
    out = RESULTS / "stories"
    code, output, seconds = run(
        "stories",
        [
            str(RASA),
            "test",
            "core",
            "--model",
            str(MODEL.relative_to(ROOT)),
            "--stories",
            "tests/test_stories.yml",
            "--out",
            str(out.relative_to(ROOT)),
            "--no-plot",
        ],
    )
    failed_file = out / "failed_test_stories.yml"
    failed_text = failed_file.read_text() if failed_file.exists() else ""
    failed = re.findall(r"^- story: (.+)$", failed_text, re.MULTILINE)
    total = len(yaml.safe_load((ROOT / "tests" / "test_stories.yml").read_text())["stories"])
    return {
        "exit": code,
        "total": total,
        "failed": failed,
        "seconds": round(seconds, 1),
        "ok": code == 0 and not failed and "None of the test stories failed" in failed_text,
    }


# ---------------------------------------------------------------- regression phrases: where they come from

TEXT_ARG = {"say": 2, "ask": 2, "send_text": 1}  # say(stack, phone, text, ...), ask(stack, phone, text)
METHOD_TEXT_ARG = {"say": 0, "send_text": 1}  # teacher.say(text), stack.send_text(phone, text)


def _literal(node: ast.AST) -> Any:
    """A literal's value; names inside it become None, "x" * 3 is computed; None if it is no literal."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.Tuple, ast.List)):
        return [_literal(element) for element in node.elts]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        left, right = _literal(node.left), _literal(node.right)
        if isinstance(left, str) and isinstance(right, int):
            return left * right
    return None


def _bindings(func: ast.AST, names: set[str]) -> list[dict]:
    """The values `names` take inside `func`: loops and comprehensions over literals, or over names assigned a
    literal list in the function (`for words in burst`, `for n, text in enumerate(hostile)`)."""
    assigned = {
        node.targets[0].id: _literal(node.value)
        for node in ast.walk(func)
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
    }

    def values_of(it: ast.AST) -> list | None:
        if isinstance(it, ast.Name):
            value = assigned.get(it.id)
            return value if isinstance(value, list) else None
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.args:
            if it.func.id == "range":
                bound = _literal(it.args[0])
                return list(range(bound)) if isinstance(bound, int) else None
            inner = values_of(it.args[0])
            if inner is None:
                return None
            if it.func.id == "enumerate":
                return [[n, v] for n, v in enumerate(inner)]
            if it.func.id == "zip":
                return [[v] + [None] * (len(it.args) - 1) for v in inner]
            return None
        value = _literal(it)
        return value if isinstance(value, list) else None

    def bind(target: ast.AST, value: Any, out: dict) -> None:
        if isinstance(target, ast.Name):
            out[target.id] = value
        elif isinstance(target, ast.Tuple) and isinstance(value, list) and len(value) == len(target.elts):
            for t, v in zip(target.elts, value, strict=True):
                bind(t, v, out)

    for node in ast.walk(func):
        if isinstance(node, ast.For):
            loops = [(node.target, node.iter)]
        elif isinstance(node, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
            loops = [(g.target, g.iter) for g in node.generators]
        else:
            continue
        for target, it in loops:
            if not names & {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}:
                continue
            values = values_of(it)
            if values:
                rows = []
                for value in values:
                    row: dict = {}
                    bind(target, value, row)
                    rows.append(row)
                return rows
    return []


def _texts(node: ast.AST, func: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Name):
        return [row[node.id] for row in _bindings(func, {node.id}) if isinstance(row.get(node.id), str)]
    if isinstance(node, ast.JoinedStr):
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        texts = []
        for row in _bindings(func, names):
            parts = [
                str(v.value) if isinstance(v, ast.Constant) else str(row.get(v.value.id))
                for v in node.values
                if isinstance(v, ast.Constant) or (isinstance(v, ast.FormattedValue) and isinstance(v.value, ast.Name))
            ]
            texts.append("".join(parts))
        return texts
    return []


def e2e_phrases() -> list[tuple[str, str]]:
    """(text, file:line) of every string the end-to-end tests send as a user's message."""
    found = []
    for path in sorted((ROOT / "tests" / "e2e").glob("*.py")):
        tree = ast.parse(path.read_text())
        for func in ast.walk(tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(func):
                if not isinstance(node, ast.Call):
                    continue
                if isinstance(node.func, ast.Name):
                    index = TEXT_ARG.get(node.func.id)
                elif isinstance(node.func, ast.Attribute):
                    index = METHOD_TEXT_ARG.get(node.func.attr)
                else:
                    index = None
                if index is not None and len(node.args) > index:
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    found += [(text, where) for text in _texts(node.args[index], func)]
    return found


def story_phrases() -> list[tuple[str, str]]:
    """(text, story) of every user line of the test stories that is typed, not a button payload."""
    found = []
    for story in yaml.safe_load((ROOT / "tests" / "test_stories.yml").read_text()).get("stories", []):
        for step in story.get("steps", []):
            if "user" in step:
                text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", step["user"]).strip()
                if not text.startswith("/"):
                    found.append((text, f"tests/test_stories.yml: {story['story']}"))
    return found


def phrase_key(text: str) -> str:
    return text if len(text) <= 80 else f"{text[:24]}… ({len(text)} chars)"


def as_channel_sends(text: str) -> str:
    """What Rasa gets from the WhatsApp channel: control characters stripped (connectors/whatsapp.py)."""
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc").strip()


# ---------------------------------------------------------------- checks with the trained model


@dataclass
class Parsed:
    intent: str
    confidence: float
    entities: list[dict] = field(default_factory=list)
    ranking: list[tuple[str, float]] = field(default_factory=list)  # DIET's intents, best first (no fallback)


async def _parse_all(texts: list[str]) -> dict[str, Parsed]:
    import structlog
    from rasa.core.agent import Agent

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))  # no debug per parse

    agent = Agent.load(str(MODEL))
    return {text: as_parsed(await agent.parse_message(text)) for text in texts}


def as_parsed(result: dict) -> Parsed:
    """Rasa's parse result as a Parsed."""
    return Parsed(
        result["intent"]["name"],
        float(result["intent"]["confidence"]),
        [
            {"entity": e["entity"], "value": str(e["value"]), "start": e.get("start"), "end": e.get("end")}
            for e in result.get("entities", [])
        ],
        [(i["name"], float(i["confidence"])) for i in result.get("intent_ranking", []) if i["name"] != "nlu_fallback"],
    )


def _expected(spec: Any) -> tuple[str, dict]:
    if isinstance(spec, dict):
        spec = dict(spec)
        return str(spec.pop("intent")), spec
    return str(spec), {}


def regression_problems(spec: Any, got: Parsed) -> list[str]:
    """What is wrong with `got` for a regression.yml entry (`intent`, `fallback`, `any` or {intent, entity: value})."""
    want, want_entities = _expected(spec)
    problems = []
    if want == "any":
        pass
    elif want == "fallback":
        if got.intent not in FALLBACK_INTENTS:
            problems.append(f"expected a fallback (nlu_fallback/out_of_scope), got {got.intent}")
    elif got.intent != want:
        problems.append(f"expected {want}, got {got.intent}")
    for entity, value in want_entities.items():
        values = [e["value"].lower() for e in got.entities if e["entity"] == entity]
        if value is None and values:
            problems.append(f"expected no {entity}, got {values}")
        elif value is not None and str(value).lower() not in values:
            problems.append(f"expected {entity}={value}, got {values or 'none'}")
    return problems


def check_regression(parsed: dict[str, Parsed], phrases: list[tuple[str, str]]) -> dict:
    table = (yaml.safe_load(REGRESSION_TABLE.read_text()) or {}).get("phrases", {})
    rows, seen = [], set()
    for text, where in phrases:
        key = phrase_key(text)
        if key in seen:
            continue
        seen.add(key)
        got = parsed[as_channel_sends(text)] if as_channel_sends(text) else Parsed("(empty: not sent to Rasa)", 1.0)
        row = {
            "phrase": key,
            "where": where,
            "intent": got.intent,
            "confidence": round(got.confidence, 3),
            "entities": {e["entity"]: e["value"] for e in got.entities},
        }
        if key not in table:
            row.update(ok=False, problem="not in tests/nlu/regression.yml")
            rows.append(row)
            continue
        row["expected"] = table[key]
        problems = regression_problems(table[key], got)
        row.update(ok=not problems, problem="; ".join(problems))
        rows.append(row)
    unused = sorted(set(table) - seen)
    return {"total": len(rows), "passed": sum(r["ok"] for r in rows), "rows": rows, "unused": unused}


def _heldout_examples() -> list[dict]:
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(HELDOUT))
    return [
        {
            "text": m.get("text"),
            "intent": m.get("intent"),
            "entities": [(e["entity"], e["start"], e["end"]) for e in (m.get("entities") or [])],
        }
        for m in data.intent_examples
    ]


def _training_texts() -> set[str]:
    from rasa.shared.nlu.training_data.loading import load_data

    return {_same_text(m.get("text")) for m in load_data(str(ROOT / "data" / "nlu")).intent_examples}


def _same_text(text: str) -> str:
    """A message as far as overlap goes: case, spacing and end punctuation ignored ("Fees entha?" = "fees entha")."""
    return " ".join(text.lower().split()).rstrip("?!. ")


def check_heldout(parsed: dict[str, Parsed], examples: list[dict]) -> dict:
    """Intent accuracy and macro-F1 as the server answers (FallbackClassifier on: a fallback is a miss, except
    for an out_of_scope message, where both end in the same helpful fallback); entity F1 on exact spans."""
    labels = sorted({e["intent"] for e in examples})
    right, misses, rows = 0, 0, []
    tp_i, fp_i, fn_i = Counter(), Counter(), Counter()
    tp_e = fp_e = fn_e = 0
    for example in examples:
        got = parsed[example["text"]]
        predicted = got.intent
        if example["intent"] == "out_of_scope" and predicted in FALLBACK_INTENTS:
            predicted = "out_of_scope"
        ok = predicted == example["intent"]
        right += ok
        misses += got.intent == "nlu_fallback" and example["intent"] != "out_of_scope"
        if ok:
            tp_i[predicted] += 1
        else:
            fn_i[example["intent"]] += 1
            fp_i[predicted] += 1
            rows.append(
                {
                    "text": example["text"],
                    "intent": example["intent"],
                    "predicted": got.intent,
                    "confidence": round(got.confidence, 3),
                }
            )
        gold = set(example["entities"])
        found = {(e["entity"], e["start"], e["end"]) for e in got.entities}
        tp_e += len(gold & found)
        fp_e += len(found - gold)
        fn_e += len(gold - found)

    def f1(tp: int, fp: int, fn: int) -> float:
        return 2 * tp / (2 * tp + fp + fn) if tp else 0.0

    training = _training_texts()
    trained_on = sorted(e["text"] for e in examples if _same_text(e["text"]) in training)
    return {
        "examples": len(examples),
        "intent_accuracy": right / len(examples),
        "also_in_training": trained_on,
        "intent_macro_f1": sum(f1(tp_i[x], fp_i[x], fn_i[x]) for x in labels) / len(labels),
        "fell_to_fallback": misses,
        "entity_f1": f1(tp_e, fp_e, fn_e),
        "entity_precision": tp_e / (tp_e + fp_e) if tp_e + fp_e else 0.0,
        "entity_recall": tp_e / (tp_e + fn_e) if tp_e + fn_e else 0.0,
        "errors": rows,
    }


def fallback_sweep(
    parsed: dict[str, Parsed], heldout: list[dict], phrases: list[tuple[str, str]], ambiguity: float = 0.1
) -> list[dict]:
    """What the FallbackClassifier threshold trades: held-out in-scope messages sent to the fallback (lost)
    against off-topic, nonsense and hostile messages let through to an intent other than out_of_scope."""
    table = (yaml.safe_load(REGRESSION_TABLE.read_text()) or {}).get("phrases", {})
    should_fall = [as_channel_sends(t) for t, _ in phrases if table.get(phrase_key(t)) in ("fallback", "out_of_scope")]
    should_fall += [e["text"] for e in heldout if e["intent"] == "out_of_scope"]
    in_scope = [e for e in heldout if e["intent"] != "out_of_scope"]

    def falls(p: Parsed, threshold: float) -> bool:
        if not p.ranking:
            return True
        gap = p.ranking[0][1] - (p.ranking[1][1] if len(p.ranking) > 1 else 0.0)
        return p.ranking[0][1] < threshold or gap < ambiguity

    rows = []
    for threshold in (0.3, 0.4, 0.5, 0.55, 0.6, 0.7, 0.8):
        lost = sum(falls(parsed[e["text"]], threshold) for e in in_scope)
        right = sum(
            not falls(parsed[e["text"]], threshold) and parsed[e["text"]].ranking[0][0] == e["intent"] for e in in_scope
        )
        through = [
            t
            for t in set(should_fall)
            if t and not falls(parsed[t], threshold) and parsed[t].ranking[0][0] != "out_of_scope"
        ]
        rows.append(
            {
                "threshold": threshold,
                "in_scope": len(in_scope),
                "in_scope_right": right,
                "in_scope_to_fallback": lost,
                "off_topic": len(set(should_fall)),
                "off_topic_let_through": len(through),
            }
        )
    return rows


# ---------------------------------------------------------------- blind sets and off-topic rejection


def labelled_examples(data: Any) -> list[dict]:
    """Text, intent and entity spans of each intent example of Rasa training data."""
    return [
        {
            "text": m.get("text"),
            "intent": m.get("intent"),
            "entities": frozenset((e["entity"], e["start"], e["end"]) for e in (m.get("entities") or [])),
        }
        for m in data.intent_examples
    ]


def _labelled(path: Path) -> list[dict]:
    from rasa.shared.nlu.training_data.loading import load_data

    return labelled_examples(load_data(str(path)))


def blind_sets() -> dict[str, list[dict]]:
    """Every blind set's examples, each with its language slice from the set's meta.tsv."""
    sets = {}
    for path, meta in nlu_scores.blind_sets(BLIND):
        examples = _labelled(path)
        for example, language in zip(examples, nlu_scores.languages(meta, [e["text"] for e in examples]), strict=True):
            example["language"] = language
        sets[path.stem] = examples
    return sets


def answer_of(example: dict, got: Parsed, top: bool = False) -> nlu_scores.Answer:
    """What the server answered (or, top, the classifier's first intent: fallback off) to a labelled example."""
    return nlu_scores.Answer(
        example["intent"],
        got.ranking[0][0] if top and got.ranking else got.intent,
        example.get("language", "en"),
        example["entities"],
        frozenset((e["entity"], e["start"], e["end"]) for e in got.entities),
    )


def check_blind(parsed: dict[str, Parsed], sets: dict[str, list[dict]]) -> dict:
    """Per blind set: intent figures, language slices, entity figures and the issue's gates."""
    report = {}
    for name, examples in sets.items():
        answers = [answer_of(e, parsed[e["text"]]) for e in examples]
        intents = nlu_scores.intent_figures(answers)
        slices = nlu_scores.slice_accuracy(answers)
        entities = nlu_scores.entity_figures(answers)
        report[name] = {
            "intents": intents,
            "slices": slices,
            "entities": entities,
            "gates": _gate_rows(nlu_scores.blind_gates(intents, slices, entities)),
        }
    return report


def check_offtopic(parsed: dict[str, Parsed], offtopic: list[str], heldout: list[dict]) -> dict:
    """Share of off-topic messages sent to the fallback, what the others became, and the in-scope held-out
    messages' accuracy with the same model (the cost of rejecting)."""
    rejected = [t for t in offtopic if parsed[t].intent in FALLBACK_INTENTS]
    through = Counter(parsed[t].intent for t in offtopic if parsed[t].intent not in FALLBACK_INTENTS)
    in_scope = [e for e in heldout if e["intent"] != "out_of_scope"]
    right = sum(parsed[e["text"]].intent == e["intent"] for e in in_scope)
    gates = nlu_scores.offtopic_gates(len(rejected), len(offtopic), right, len(in_scope))
    return {
        "offtopic": len(offtopic),
        "rejected": len(rejected),
        "let_through": dict(through.most_common()),
        "in_domain": len(in_scope),
        "in_domain_right": right,
        "gates": _gate_rows(gates),
    }


def _gate_rows(gates: list[nlu_scores.Gate]) -> list[dict]:
    return [{"name": g.name, "value": g.value, "target": g.target, "ok": g.ok} for g in gates]


# ---------------------------------------------------------------- the summary


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _blind_lines(blind: dict) -> list[str]:
    lines = []
    for name, b in blind.items():
        it, en = b["intents"], b["entities"]
        slices = ", ".join(f"{k} {v['accuracy']:.3f} ({v['right']}/{v['total']})" for k, v in b["slices"].items())
        per_type = ", ".join(f"{k} {v['f1']:.3f} ({v['support']})" for k, v in en["per_type"].items())
        lines += [
            f"## Blind set {name} ({it['examples']} messages, none copied into training; whether its errors guided "
            "the data: tests/nlu/blind/README.md)",
            "",
            f"intent accuracy {it['accuracy']:.3f}, macro-F1 {it['macro_f1']:.3f} (FallbackClassifier on; a fallback "
            f"is right only for an out_of_scope message); by language: {slices}",
            "",
            f"entity F1 {en['f1']:.3f} (P {en['precision']:.3f}, R {en['recall']:.3f}; exact spans of "
            f"{', '.join(nlu_scores.SCORED_ENTITIES)}): {per_type}",
            "",
            "| intent | precision | recall | F1 | support |",
            "|---|---|---|---|---|",
        ]
        for intent, m in sorted(it["per_intent"].items(), key=lambda kv: kv[1]["f1"]):
            lines.append(f"| {intent} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |")
        lines += ["", "Worst confusions: " + ", ".join(f"{a} → {p} ({n})" for (a, p), n in it["worst_pairs"]), ""]
    return lines


def _offtopic_lines(off: dict | None) -> list[str]:
    if not off:
        return []
    return [
        "## Off-topic rejection (tests/nlu/offtopic_heldout.yml, never trained or tuned on)",
        "",
        f"{off['rejected']}/{off['offtopic']} rejected ({_pct(off['rejected'] / off['offtopic'])}); let through: "
        + (", ".join(f"{k} {n}" for k, n in off["let_through"].items()) or "none")
        + f"; in-domain (in-scope held-out messages, same model): {off['in_domain_right']}/{off['in_domain']} right "
        f"({_pct(off['in_domain_right'] / off['in_domain'])})",
        "",
    ]


def summary(report: dict) -> tuple[str, bool]:
    lines = [
        "# NLU evaluation",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M')}, model `models/hsm.tar.gz`, data `data/nlu/` "
        f"({report.get('training_examples', '?')} examples), command `make eval`",
        "",
    ]
    gates: list[tuple[str, bool, str]] = []
    cv = report.get("cv")
    if cv and "error" not in cv:
        gates.append(
            (
                "CV intent macro-F1 ≥ 0.95",
                cv["intent_macro_f1"] >= GATES["intent_macro_f1"],
                f"{cv['intent_macro_f1']:.3f}",
            )
        )
        gates.append(("CV entity F1 ≥ 0.90", cv["entity_f1"] >= GATES["entity_f1"], f"{cv['entity_f1']:.3f}"))
    elif cv:
        gates.append(("cross-validation ran", False, cv["error"]))
    if "stories" in report:
        st = report["stories"]
        gates.append(("every test story passes", st["ok"], f"{st['total'] - len(st['failed'])}/{st['total']}"))
    if "validate" in report:
        va = report["validate"]
        gates.append(
            (
                "rasa data validate --fail-on-warning",
                va["exit"] == 0,
                f"exit {va['exit']}, {len(va['warnings'])} warnings",
            )
        )
    if "heldout" in report:
        overlap = report["heldout"]["also_in_training"]
        gates.append(("held-out messages not in data/nlu/", not overlap, f"{len(overlap)} also in training"))
    if "regression" in report:
        rg = report["regression"]
        gates.append(("regression phrases", rg["passed"] == rg["total"], f"{rg['passed']}/{rg['total']}"))
    for name, blind in report.get("blind", {}).items():
        gates += [(f"{name}: {g['name']} ≥ {g['target']}", g["ok"], f"{g['value']:.3f}") for g in blind["gates"]]
    if "offtopic" in report:
        gates += [
            (f"off-topic held out: {g['name']} ≥ {g['target']}", g["ok"], f"{g['value']:.3f}")
            for g in report["offtopic"]["gates"]
        ]
    lines += ["| gate | result | |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {'PASS' if ok else 'FAIL'} |" for name, ok, value in gates]
    lines.append("")
    failed = [f"{name} ({value})" for name, ok, value in gates if not ok]
    if failed:
        lines += [f"**{len(failed)} gate(s) failed:** " + "; ".join(failed), ""]

    if cv and "error" not in cv:
        lines += [
            f"## {cv['folds']}-fold cross-validation ({cv['examples']} examples, {cv['seconds']} s)",
            "",
            f"intent accuracy {_pct(cv['intent_accuracy'])}, macro-F1 {cv['intent_macro_f1']:.3f}, "
            f"weighted F1 {cv['intent_weighted_f1']:.3f}; entity F1 ({cv['entity_extractor']}, micro) "
            f"{cv['entity_f1']:.3f} "
            f"(P {cv['entity_precision']:.3f}, R {cv['entity_recall']:.3f}; macro {cv['entity_macro_f1']:.3f})",
            "",
            "| intent | precision | recall | F1 | support |",
            "|---|---|---|---|---|",
        ]
        for name, m in sorted(cv["per_intent"].items(), key=lambda kv: kv[1]["f1-score"]):
            lines.append(
                f"| {name} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1-score']:.3f} | {m['support']} |"
            )
        lines += ["", "| entity | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        for name, m in sorted(cv["per_entity"].items(), key=lambda kv: kv[1]["f1-score"]):
            lines.append(
                f"| {name} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1-score']:.3f} | {m['support']} |"
            )
        lines += [
            "",
            f"Worst confusions ({cv['errors']} misclassified in all):",
            "",
            "| true intent | predicted | n | e.g. |",
            "|---|---|---|---|",
        ]
        lines += [f"| {p['intent']} | {p['predicted']} | {p['count']} | {p['example']} |" for p in cv["worst_pairs"]]
        lines.append("")
    ho = report.get("heldout")
    if ho:
        lines += [
            f"## Held-out messages (tests/nlu/heldout.yml, {ho['examples']}, never trained on)",
            "",
            f"intent accuracy {_pct(ho['intent_accuracy'])}, macro-F1 {ho['intent_macro_f1']:.3f} with the "
            f"FallbackClassifier on ({ho['fell_to_fallback']} in-scope messages fell to the fallback); "
            f"entity F1 {ho['entity_f1']:.3f} (exact spans)",
            "",
        ]
        lines += [
            "FallbackClassifier threshold (ambiguity 0.1) on these messages and the regression phrases that must "
            "end in the fallback:",
            "",
            "| threshold | in-scope right | in-scope sent to fallback | off-topic/nonsense let through |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {r['threshold']} | {r['in_scope_right']}/{r['in_scope']} | {r['in_scope_to_fallback']} | "
            f"{r['off_topic_let_through']}/{r['off_topic']} |"
            for r in ho["fallback_sweep"]
        ]
        lines.append("")
        if ho["also_in_training"]:
            lines += [
                "**Not held out any more** (also in data/nlu/; take them out of one or the other): "
                + ", ".join(repr(t) for t in ho["also_in_training"]),
                "",
            ]
        if ho["errors"]:
            lines += ["| message | intent | predicted | confidence |", "|---|---|---|---|"]
            lines += [f"| {e['text']} | {e['intent']} | {e['predicted']} | {e['confidence']} |" for e in ho["errors"]]
            lines.append("")
    lines += _blind_lines(report.get("blind", {})) + _offtopic_lines(report.get("offtopic"))
    rg = report.get("regression")
    if rg:
        lines += [f"## Regression phrases: {rg['passed']}/{rg['total']} as expected", ""]
        bad = [r for r in rg["rows"] if not r["ok"]]
        if bad:
            lines += ["| phrase | where | got | problem |", "|---|---|---|---|"]
            lines += [
                f"| {r['phrase']} | {r['where']} | {r['intent']} {r['confidence']} | {r['problem']} |" for r in bad
            ]
            lines.append("")
        if rg["unused"]:
            lines += [
                "Entries of tests/nlu/regression.yml no test sends any more: "
                + ", ".join(repr(u) for u in rg["unused"]),
                "",
            ]
    st = report.get("stories")
    if st:
        lines += [
            f"## Test stories: {st['total'] - len(st['failed'])}/{st['total']} pass "
            f"(results/stories/)" + ("" if not st["failed"] else "; failed: " + ", ".join(st["failed"])),
            "",
        ]
    va = report.get("validate")
    if va:
        lines += [f"## rasa data validate --fail-on-warning: exit {va['exit']}, {len(va['warnings'])} warnings", ""]
        lines += [f"- {w}" for w in va["warnings"]]
        lines.append("")
    return "\n".join(lines), all(ok for _, ok, _ in gates)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Evaluate the NLU and dialogue model; see the module docstring.")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--skip-cv", action="store_true", help="skip the cross-validation (the slow part)")
    parser.add_argument(
        "--reuse-cv",
        action="store_true",
        help="summarise results/nlu-cv/ from the last run instead of cross-validating again",
    )
    parser.add_argument("--only", choices=["regression", "heldout", "blind", "offtopic", "cv", "stories", "validate"])
    args = parser.parse_args(argv)
    RESULTS.mkdir(exist_ok=True)
    logging.basicConfig(level=logging.ERROR)
    set_environment(**QUIET)
    wanted = (
        {args.only}
        if args.only
        else {"validate", "cv", "heldout", "blind", "offtopic", "stories", "regression"}
        - ({"cv"} if args.skip_cv else set())
    )

    report: dict = {}
    from rasa.shared.nlu.training_data.loading import load_data

    report["training_examples"] = len(load_data(str(ROOT / "data" / "nlu")).intent_examples)
    if "validate" in wanted:
        print("rasa data validate ...", flush=True)
        report["validate"] = validate()
    if "cv" in wanted:
        print(
            "cross-validation: reusing results/nlu-cv/ ..."
            if args.reuse_cv
            else f"{args.folds}-fold cross-validation (trains {args.folds} NLU models) ...",
            flush=True,
        )
        report["cv"] = cross_validate(args.folds, reuse=args.reuse_cv)
    if wanted & {"heldout", "regression", "blind", "offtopic"}:
        if not MODEL.exists():
            print(f"{MODEL.relative_to(ROOT)} is missing: run make train first", file=sys.stderr)
            return 2
        print("parsing the held-out, blind and off-topic messages and the regression phrases ...", flush=True)
        phrases = e2e_phrases() + story_phrases() if "regression" in wanted or "heldout" in wanted else []
        heldout = _heldout_examples() if wanted & {"heldout", "offtopic"} else []
        blind = blind_sets() if "blind" in wanted else {}
        offtopic = [e["text"] for e in _labelled(OFFTOPIC_HELDOUT)] if "offtopic" in wanted else []
        texts = {as_channel_sends(t) for t, _ in phrases if as_channel_sends(t)} | {e["text"] for e in heldout}
        texts |= {e["text"] for examples in blind.values() for e in examples} | set(offtopic)
        with open(RESULTS / "parse.log", "w") as log, contextlib.redirect_stderr(log):  # import and load warnings
            parsed = asyncio.run(_parse_all(sorted(texts)))
        if "heldout" in wanted:
            report["heldout"] = check_heldout(parsed, heldout)
            report["heldout"]["fallback_sweep"] = fallback_sweep(parsed, heldout, phrases)
            (RESULTS / "heldout.json").write_text(json.dumps(report["heldout"], indent=1, ensure_ascii=False))
        if "regression" in wanted:
            report["regression"] = check_regression(parsed, phrases)
            (RESULTS / "regression.json").write_text(json.dumps(report["regression"], indent=1, ensure_ascii=False))
        if "blind" in wanted:
            report["blind"] = check_blind(parsed, blind)
            (RESULTS / "blind.json").write_text(json.dumps(report["blind"], indent=1, default=str))
        if "offtopic" in wanted:
            report["offtopic"] = check_offtopic(parsed, offtopic, heldout)
            (RESULTS / "offtopic.json").write_text(json.dumps(report["offtopic"], indent=1))
    if "stories" in wanted:
        print("rasa test core on tests/test_stories.yml ...", flush=True)
        report["stories"] = stories()

    text, ok = summary(report)
    (RESULTS / "eval-summary.md").write_text(text + "\n")
    (RESULTS / "eval.json").write_text(json.dumps(report, indent=1, ensure_ascii=False, default=str))
    print("\n" + text)
    print(
        "written: results/eval-summary.md (and eval.json, nlu-cv/, stories/, heldout.json, regression.json, "
        "blind.json, offtopic.json)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
