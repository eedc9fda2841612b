"""Benchmark: what the log masking filter costs a record (it runs on every record of every process).

    .venv/bin/python bench/logmask_bench.py [OTHER_LOGMASK.py ...]

Times `MaskPersonalData.filter` with timeit (best of 5 x 20 000) on typical records: ours with a message id and a
masked number, a Rasa DEBUG structlog line, short Rasa lines; the cost of creating the records is subtracted.
Give the paths of other versions of `hsm/infra/logmask.py` (e.g. `git show HEAD~1:hsm/infra/logmask.py >
/tmp/before.py`) to time them in the same run, back to back.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import timeit
from pathlib import Path
from types import ModuleType

from hsm.infra import logmask

TYPICAL: list[tuple[str, tuple[object, ...]]] = [
    ("duplicate delivery of %s ignored", ("wamid.HBgLMTQxNTU1NTAxMDAVAgASGBQzQUJDRDEyMzQ1Njc4OTBBQkNERUYA",)),
    ("rate limit (%s) for %s: message %s skipped", ("user", "+1******0100", "wamid#3fa2c1d0")),
    (
        "%s",
        (
            '{"parse_data_text": "guitar 5pm all present except Sarah", "parse_data_intent": {"name": '
            '"mark_attendance", "confidence": 0.9739689826965332}, "parse_data_entities": [{"entity": "time", '
            '"value": "5pm"}], "event": "processor.message.parse", "level": "debug"}',
        ),
    ),
    ("Predicted next action '%s' with confidence %.2f.", ("action_listen", 1.0)),
    ("Tracker with sender_id '%s' stored to database", ("+919876543210",)),
]
NUMBER, REPEAT = 20_000, 5


def load(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"logmask_{Path(path).stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def microseconds_a_record(module: ModuleType) -> float:
    mask = module.MaskPersonalData()

    def records() -> list[logging.LogRecord]:
        return [logging.LogRecord("rasa.core.processor", logging.INFO, __file__, 1, m, a, None) for m, a in TYPICAL]

    def filtered() -> None:
        for record in records():
            mask.filter(record)

    total = min(timeit.repeat(filtered, number=NUMBER, repeat=REPEAT))
    creating = min(timeit.repeat(records, number=NUMBER, repeat=REPEAT))
    return (total - creating) / NUMBER / len(TYPICAL) * 1e6


def main(paths: list[str]) -> None:
    for name, module in [("hsm/infra/logmask.py", logmask), *((path, load(path)) for path in paths)]:
        print(f"{name}: {microseconds_a_record(module):.2f} µs a record")


if __name__ == "__main__":
    main(sys.argv[1:])
