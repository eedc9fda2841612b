"""deploy/prometheus: the alert rules pass `promtool check rules`, their unit tests (alerts_test.yml) pass `promtool
test rules`, and prometheus.yml passes `promtool check config`. promtool comes with Debian's `prometheus` package
(.ci/run installs it)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hsm.infra.config import PROJECT_ROOT

PROMTOOL = Path("/usr/bin/promtool")
RULES = PROJECT_ROOT / "deploy" / "prometheus"


def promtool(*args: str) -> str:
    if not PROMTOOL.exists():
        pytest.fail(f"{PROMTOOL} is missing: install Debian's `prometheus` package (apt-get install -y prometheus)")
    run = subprocess.run([str(PROMTOOL), *args], cwd=RULES, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout + run.stderr


def test_the_rules_are_valid():
    assert "SUCCESS: 8 rules found" in promtool("check", "rules", "alerts.yml")


def test_the_rules_fire_on_their_series_and_not_before():
    assert "SUCCESS" in promtool("test", "rules", "alerts_test.yml")


def test_the_prometheus_config_is_valid():
    assert "SUCCESS" in promtool("check", "config", "prometheus.yml")
