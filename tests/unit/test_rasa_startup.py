"""The Rasa speed patches are installed by the one start-up hook, never by importing the channel, and
HSM_RASA_SPEEDUPS=0 leaves Rasa as it is."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest
from rasa.core.actions.action import RemoteAction

from hsm.infra.config import PROJECT_ROOT
from hsm.rasa_glue import speedups, startup


@pytest.fixture
def rasas_own_check():
    original = RemoteAction._validate_action_result
    yield original
    RemoteAction._validate_action_result = original


def test_importing_the_channel_patches_nothing():
    probe = (
        "import rasa.core.actions.action as a; before = a.RemoteAction._validate_action_result; "
        "import connectors.whatsapp; assert a.RemoteAction._validate_action_result is before; print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ok")


def test_the_start_up_hook_installs_the_patches(rasas_own_check, monkeypatch):
    monkeypatch.setenv("HSM_RASA_SPEEDUPS", "1")
    startup.prepare_rasa_process()
    assert RemoteAction._validate_action_result is speedups._validate_action_result
    try:
        startup.after_model_loaded()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_the_setting_turns_them_off(rasas_own_check, monkeypatch):
    monkeypatch.setenv("HSM_RASA_SPEEDUPS", "0")
    startup.prepare_rasa_process()
    assert RemoteAction._validate_action_result is rasas_own_check
    gc.unfreeze()
    startup.after_model_loaded()
    assert gc.get_freeze_count() == 0
