"""Compare NLU pipelines on the same folds and blind sets: accuracy, entity F1, training time, parse latency.

    .venv/bin/python scripts/compare_pipelines.py config.yml scripts/pipelines/logistic_regression.yml --folds 3
    .venv/bin/python scripts/compare_pipelines.py --table      # print the table of the last runs again

For each config: the intent examples of data/nlu/ are split into the same stratified folds (scikit-learn,
`--seed`; lookups, regexes and synonyms go to every fold's training part), one NLU model is trained per fold with
`rasa train nlu` and scored on the fold's held-out part; then one model on all of data/nlu/ is trained (its
wall-clock time, Rasa's start-up of about 10 s included, is the training figure), scored on every blind set of
tests/nlu/blind/, and timed on each blind message parsed in-process one at a time (p50/p95; the HTTP server adds
its own few ms: bench/parse_latency.py). Scores are what the server answers (FallbackClassifier on; a fallback is
right only for an out_of_scope message); "top" is DIET's or the regression's first intent, fallback off. Rasa's
training cache is off, so every model is trained from scratch. One JSON per config in results/pipelines/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

import eval as nlu_eval  # noqa: E402  (scripts/eval.py)
import nlu_scores  # noqa: E402

OUT = ROOT / "results" / "pipelines"


def folds(data, n: int, seed: int) -> list[tuple[object, list[dict]]]:
    """(training data, held-out examples) per fold: stratified on the intent, the same for every config."""
    from rasa.shared.nlu.training_data.training_data import TrainingData
    from sklearn.model_selection import StratifiedKFold

    messages = data.intent_examples
    split = StratifiedKFold(n_splits=n, shuffle=True, random_state=seed)
    out = []
    for train_index, test_index in split.split(messages, [m.get_full_intent() for m in messages]):
        train = TrainingData(
            training_examples=[messages[i] for i in train_index],
            entity_synonyms=data.entity_synonyms,
            regex_features=data.regex_features,
            lookup_tables=data.lookup_tables,
            responses=data.responses,
        )
        held_out = TrainingData(training_examples=[messages[i] for i in test_index])
        out.append((train, nlu_eval.labelled_examples(held_out)))
    return out


def train(config: Path, nlu: Path, out: Path, name: str) -> tuple[Path, float]:
    """`rasa train nlu` from scratch (cache off); the model's path and the wall-clock seconds."""
    import subprocess

    env = {**nlu_eval.ENV, "RASA_MAX_CACHE_SIZE": "0"}
    args = [str(nlu_eval.RASA), "train", "nlu", "--config", str(config), "--nlu", str(nlu)]
    args += ["--out", str(out), "--fixed-model-name", name]
    started = time.monotonic()
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    model = out / f"{name}.tar.gz"
    if done.returncode != 0 or not model.exists():
        tail = (done.stdout + done.stderr)[-2000:]
        raise RuntimeError(f"rasa train nlu --config {config} failed ({done.returncode}):\n{tail}")
    return model, seconds


async def parse_timed(model: Path, texts: list[str]) -> tuple[dict[str, nlu_eval.Parsed], list[float]]:
    """Each text parsed once by the model, and the milliseconds each parse took."""
    import structlog
    from rasa.core.agent import Agent

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))  # no debug per parse
    agent = Agent.load(str(model))
    await agent.parse_message("warm up")
    parsed, millis = {}, []
    for text in texts:
        started = time.perf_counter()
        result = await agent.parse_message(text)
        millis.append(1000 * (time.perf_counter() - started))
        parsed[text] = nlu_eval.as_parsed(result)
    del agent
    gc.collect()
    return parsed, millis


def figures(scored: list[nlu_scores.Answer]) -> dict:
    intents = nlu_scores.intent_figures(scored)
    return {
        "accuracy": intents["accuracy"],
        "macro_f1": intents["macro_f1"],
        "entity_f1": nlu_scores.entity_figures(scored)["f1"],
        "slices": nlu_scores.slice_accuracy(scored),
    }


def compare(config: Path, n_folds: int, seed: int, work: Path) -> dict:
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(ROOT / "data" / "nlu"))
    report: dict = {"config": str(config), "folds": n_folds, "seed": seed, "fold_results": []}
    cv_answers, cv_top = [], []
    for k, (training, held_out) in enumerate(folds(data, n_folds, seed), start=1):
        print(f"  fold {k}/{n_folds}: training on {len(training.intent_examples)} ...", flush=True)
        nlu_file = work / f"fold{k}.yml"
        RasaYAMLWriter().dump(nlu_file, training)
        model, seconds = train(config, nlu_file, work, f"fold{k}")
        parsed, _ = asyncio.run(parse_timed(model, sorted({e["text"] for e in held_out})))
        answers = [nlu_eval.answer_of(e, parsed[e["text"]]) for e in held_out]
        cv_answers += answers
        cv_top += [nlu_eval.answer_of(e, parsed[e["text"]], top=True) for e in held_out]
        report["fold_results"].append({"seconds": round(seconds, 1), **figures(answers)})
        model.unlink()
    report["cv"] = figures(cv_answers)
    report["cv_top_accuracy"] = nlu_scores.intent_figures(cv_top)["accuracy"]

    print("  training on all of data/nlu/ ...", flush=True)
    model, seconds = train(config, ROOT / "data" / "nlu", work, "full")
    report["train_seconds"] = round(seconds, 1)
    report["load_average_after_training"] = [round(x, 2) for x in os.getloadavg()]
    sets = nlu_eval.blind_sets()
    parsed, millis = asyncio.run(parse_timed(model, [e["text"] for examples in sets.values() for e in examples]))
    report["blind"] = {
        name: {
            **figures([nlu_eval.answer_of(e, parsed[e["text"]]) for e in examples]),
            "top_accuracy": nlu_scores.intent_figures(
                [nlu_eval.answer_of(e, parsed[e["text"]], top=True) for e in examples]
            )["accuracy"],
        }
        for name, examples in sets.items()
    }
    cuts = statistics.quantiles(millis, n=20)
    report["parse_ms"] = {"p50": round(statistics.median(millis), 1), "p95": round(cuts[18], 1), "n": len(millis)}
    return report


def table(reports: list[dict]) -> str:
    """One markdown row per config: folds, blind sets (all / code-mixed / script), entity F1, time."""
    sets = sorted({name for r in reports for name in r["blind"]})
    head = ["pipeline", "CV acc / macro-F1 / ent F1 (top acc)"]
    head += [f"{s}: acc / macro-F1 / mixed / script / ent F1 (top acc)" for s in sets]
    head += ["NLU train s", "parse p50 / p95 ms"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in reports:
        cv = r["cv"]
        cells = [
            Path(r["config"]).stem,
            f"{cv['accuracy']:.3f} / {cv['macro_f1']:.3f} / {cv['entity_f1']:.3f} ({r['cv_top_accuracy']:.3f})",
        ]
        for s in sets:
            b = r["blind"].get(s)
            if b is None:
                cells.append("–")
                continue
            sl = b["slices"]
            mixed = f"{sl['code-mixed']['accuracy']:.3f}" if "code-mixed" in sl else "–"
            script = f"{sl['non-latin']['accuracy']:.3f}" if "non-latin" in sl else "–"
            cells.append(
                f"{b['accuracy']:.3f} / {b['macro_f1']:.3f} / {mixed} / {script} / {b['entity_f1']:.3f} "
                f"({b['top_accuracy']:.3f})"
            )
        cells += [f"{r['train_seconds']}", f"{r['parse_ms']['p50']} / {r['parse_ms']['p95']}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", type=Path, help="NLU config files (default: config.yml)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--table", action="store_true", help="only print the table of results/pipelines/*.json")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    if not args.table:
        logging.basicConfig(level=logging.ERROR)
        nlu_eval.set_environment(**nlu_eval.QUIET)
        for config in args.configs or [Path("config.yml")]:
            print(f"{config}: {args.folds} folds (seed {args.seed}), then all data and the blind sets", flush=True)
            with tempfile.TemporaryDirectory(prefix="hsm-compare-") as work:
                with open(OUT / f"{config.stem}.log", "w") as log, contextlib.redirect_stderr(log):
                    report = compare(config, args.folds, args.seed, Path(work))
            report["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            (OUT / f"{config.stem}.json").write_text(json.dumps(report, indent=1))
    reports = [json.loads(p.read_text()) for p in sorted(OUT.glob("*.json"))]
    print(table(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
