"""Off-topic rejection: the share of off-topic messages that models/hsm.tar.gz turns away (predicted out_of_scope
or nlu_fallback: both end in action_fallback, the caller's menu), what the others become, and what each
FallbackClassifier threshold would trade against the in-domain held-out messages (tests/nlu/heldout.yml).

    .venv/bin/python scripts/offtopic_eval.py tests/nlu/offtopic_tune.yml      # tune here
    .venv/bin/python scripts/offtopic_eval.py tests/nlu/offtopic_heldout.yml   # measure once, never tune here

The sweep re-applies the threshold to DIET's ranking (ambiguity 0.1, as config.yml); the first lines are what the
model with config.yml's own threshold answers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

import eval as nlu_eval  # noqa: E402  (scripts/eval.py)


def _examples(path: Path) -> list[tuple[str, str]]:
    from rasa.shared.nlu.training_data.loading import load_data

    return [(m.get("text"), m.get("intent")) for m in load_data(str(path)).intent_examples]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("offtopic", nargs="+", type=Path, help="NLU YAML files of off-topic messages")
    parser.add_argument("--ambiguity", type=float, default=0.1)
    parser.add_argument("--show", action="store_true", help="list the off-topic messages let through")
    parser.add_argument("--model", type=Path, default=nlu_eval.MODEL, help="default: models/hsm.tar.gz")
    args = parser.parse_args(argv)
    nlu_eval.MODEL = args.model
    logging.basicConfig(level=logging.ERROR)
    nlu_eval.set_environment(**nlu_eval.QUIET)
    off = [text for path in args.offtopic for text, _ in _examples(path)]
    inscope = [(t, i) for t, i in _examples(nlu_eval.HELDOUT) if i != "out_of_scope"]
    with open("/dev/null", "w") as sink, contextlib.redirect_stderr(sink):
        parsed = asyncio.run(nlu_eval._parse_all(sorted(set(off) | {t for t, _ in inscope})))

    rejected = [t for t in off if parsed[t].intent in nlu_eval.FALLBACK_INTENTS]
    through = Counter(parsed[t].intent for t in off if parsed[t].intent not in nlu_eval.FALLBACK_INTENTS)
    right = sum(parsed[t].intent == i for t, i in inscope)
    print(
        f"off-topic: {len(rejected)}/{len(off)} rejected ({100 * len(rejected) / len(off):.1f}%); "
        f"let through: {dict(through)}"
    )
    print(f"in-domain held-out (in-scope only): {right}/{len(inscope)} right ({100 * right / len(inscope):.1f}%)")
    if args.show:
        for t in off:
            if parsed[t].intent not in nlu_eval.FALLBACK_INTENTS:
                print(f"   {parsed[t].intent:20} {parsed[t].confidence:.2f}  {t}")

    def falls(p: nlu_eval.Parsed, threshold: float) -> bool:
        if not p.ranking:
            return True
        gap = p.ranking[0][1] - (p.ranking[1][1] if len(p.ranking) > 1 else 0.0)
        return p.ranking[0][1] < threshold or gap < args.ambiguity

    print("\n| threshold | off-topic rejected | in-domain right | in-domain sent to fallback |")
    print("|---|---|---|---|")
    for threshold in (0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8):
        rej = sum(falls(parsed[t], threshold) or parsed[t].ranking[0][0] == "out_of_scope" for t in off)
        ok = sum(not falls(parsed[t], threshold) and parsed[t].ranking[0][0] == i for t, i in inscope)
        lost = sum(falls(parsed[t], threshold) for t, _ in inscope)
        print(
            f"| {threshold} | {rej}/{len(off)} ({100 * rej / len(off):.1f}%) | {ok}/{len(inscope)} "
            f"({100 * ok / len(inscope):.1f}%) | {lost} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
