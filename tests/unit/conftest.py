"""Fixtures shared by the unit tests of the settings (tests/unit/test_*settings.py)."""

from __future__ import annotations

import pytest

from hsm.infra import config


@pytest.fixture
def clean_env(monkeypatch):
    """No variable the settings read is set."""
    for name in config.VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def set_environment(env, values: dict[str, str | None]) -> None:
    """Set each variable (None: unset) through pytest's monkeypatch `env`."""
    for name, value in values.items():
        if value is None:
            env.delenv(name, raising=False)
        else:
            env.setenv(name, value)
