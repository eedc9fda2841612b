"""Intent accuracy of a trained model on a blind set, per language slice (en, code-mixed, non-latin) of its
meta file: parses each message with the model and prints only the figures, never the messages.

    .venv/bin/python scripts/blind_slices.py tests/nlu/blind/blind_2026_12.meta.tsv --model models/hsm.tar.gz
"""

from __future__ import annotations

import argparse
import asyncio
import csv
from collections import Counter
from pathlib import Path

REJECTED = {"nlu_fallback", "out_of_scope"}


async def predictions(model: Path, texts: list[str]) -> list[str]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    return [(await agent.parse_message(text))["intent"]["name"] for text in texts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("meta", type=Path, help="the blind set's .meta.tsv (intent, persona, language, example)")
    parser.add_argument("--model", type=Path, default=Path("models/hsm.tar.gz"))
    args = parser.parse_args()
    with args.meta.open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    got = asyncio.run(predictions(args.model, [row["example"] for row in rows]))
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for row, intent in zip(rows, got, strict=True):
        wanted = row["intent"]
        ok = intent == wanted or (wanted == "out_of_scope" and intent in REJECTED)
        for key in (row["language"], "all"):
            total[key] += 1
            right[key] += ok
    for key in sorted(total, key=lambda k: (k == "all", k)):
        print(f"{key:12} {right[key]:4}/{total[key]:<4} intent accuracy {right[key] / total[key]:.3f}")


if __name__ == "__main__":
    main()
