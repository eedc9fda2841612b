"""No application module grows past 600 lines (migrations aside): a module that long holds more than one concern."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 600


def test_no_application_module_over_600_lines():
    too_long = {
        str(path.relative_to(ROOT)): lines
        for package in ("hsm", "connectors", "actions", "devtools")
        for path in (ROOT / package).rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert too_long == {}
