"""The trained model (models/hsm.tar.gz, from `make train`) still understands what the end-to-end tests and the
test stories send: every phrase gets the intent and entities tests/nlu/regression.yml expects."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "hsm.tar.gz"


def _load_eval():
    spec = importlib.util.spec_from_file_location("hsm_nlu_eval", ROOT / "scripts" / "eval.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


nlu_eval = _load_eval()
PHRASES = list(
    dict(
        (nlu_eval.phrase_key(text), (text, where)) for text, where in nlu_eval.e2e_phrases() + nlu_eval.story_phrases()
    ).values()
)
TABLE = (yaml.safe_load(nlu_eval.REGRESSION_TABLE.read_text()) or {}).get("phrases", {})


@pytest.fixture(scope="module")
def parsed() -> dict:
    if not MODEL.exists():
        pytest.skip(f"{MODEL.relative_to(ROOT)} does not exist: `make train` builds it (`make test` does first)")
    texts = sorted({nlu_eval.as_channel_sends(text) for text, _ in PHRASES} - {""})
    return asyncio.run(nlu_eval._parse_all(texts))


def test_every_phrase_the_tests_send_is_in_the_table():
    missing = [nlu_eval.phrase_key(text) for text, _ in PHRASES if nlu_eval.phrase_key(text) not in TABLE]
    assert not missing, f"add these to tests/nlu/regression.yml: {missing}"


@pytest.mark.parametrize("text, where", PHRASES, ids=[nlu_eval.phrase_key(t)[:40] for t, _ in PHRASES])
def test_phrase_is_understood(parsed, text, where):
    key = nlu_eval.phrase_key(text)
    if key not in TABLE:
        pytest.fail(f"{key!r} ({where}) is not in tests/nlu/regression.yml")
    sent = nlu_eval.as_channel_sends(text)
    if not sent:
        pytest.skip("empty after the channel's clean-up: never reaches Rasa")
    got = parsed[sent]
    problems = nlu_eval.regression_problems(TABLE[key], got)
    assert not problems, f"{key!r} ({where}): {'; '.join(problems)}; entities {got.entities}"
