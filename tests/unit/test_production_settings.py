"""Production refuses weak settings: no HSM_LINK_SECRET, a short ADMIN_JWT_SECRET, a frozen clock (HSM_NOW) and the
sample POSTGRES_PASSWORD of .env.example each stop every process at start (one line, status 2); a production
setting that is fine starts. The image's own command logs through the masking logging config."""

from __future__ import annotations

import re

import pytest

from hsm.infra import settings_values
from hsm.infra.config import PROJECT_ROOT, SettingsError, check_settings, check_settings_or_exit
from tests.unit.conftest import set_environment

SAMPLE_PASSWORD = "change-me-to-a-long-random-hex-string"
GOOD = {
    "HSM_ENV": "production",
    "HSM_LINK_SECRET": "l" * 64,
    "ADMIN_JWT_SECRET": "j" * 64,
    "POSTGRES_PASSWORD": "0123456789abcdef0123456789abcdef",
    "DATABASE_URL": "postgresql://hsm:0123456789abcdef0123456789abcdef@postgres:5432/hsm",
    "HSM_ACTION_SERVER_TOKEN": "t" * 48,
}


def start_with(env, values: dict[str, str | None]) -> None:
    set_environment(env, values)


def test_a_production_setting_that_is_fine_starts(clean_env):
    start_with(clean_env, GOOD)
    settings = check_settings()
    assert settings.deployment.production is True


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"HSM_LINK_SECRET": None},
            "HSM_ENV=production needs HSM_LINK_SECRET (32 characters or more): without it each process makes its own"
            " and a link code made by one replica fails on another",
        ),
        (
            {"HSM_LINK_SECRET": "short"},
            "HSM_ENV=production needs HSM_LINK_SECRET (32 characters or more): without it each process makes its own"
            " and a link code made by one replica fails on another",
        ),
        (
            {"ADMIN_JWT_SECRET": None},
            "HSM_ENV=production needs ADMIN_JWT_SECRET of 32 bytes or more: admin tokens signed with a short secret"
            " can be guessed",
        ),
        (
            {"ADMIN_JWT_SECRET": "j" * 31},
            "HSM_ENV=production needs ADMIN_JWT_SECRET of 32 bytes or more: admin tokens signed with a short secret"
            " can be guessed",
        ),
        (
            {"HSM_NOW": "2026-01-05T10:00:00+05:30"},
            "HSM_NOW freezes the clock (demos and tests): leave it empty with HSM_ENV=production",
        ),
        (
            {"POSTGRES_PASSWORD": SAMPLE_PASSWORD},
            "POSTGRES_PASSWORD is the sample value of .env.example: set a long random one (openssl rand -hex 24)",
        ),
        (
            {"POSTGRES_PASSWORD": None, "DATABASE_URL": f"postgresql://hsm:{SAMPLE_PASSWORD}@postgres:5432/hsm"},
            "POSTGRES_PASSWORD is the sample value of .env.example: set a long random one (openssl rand -hex 24)",
        ),
    ],
)
def test_each_weak_production_setting_is_refused_in_one_line(clean_env, capsys, change, message):
    start_with(clean_env, {**GOOD, **change})
    with pytest.raises(SettingsError) as refused:
        check_settings()
    assert str(refused.value) == message
    with pytest.raises(SystemExit) as stopped:
        check_settings_or_exit()
    assert stopped.value.code == 2
    assert capsys.readouterr().err == f"hsm: bad setting: {message}\n"


def test_development_only_warns_about_the_same_settings(clean_env):
    start_with(clean_env, {"HSM_NOW": "2026-01-05T10:00:00+05:30", "POSTGRES_PASSWORD": SAMPLE_PASSWORD})
    assert check_settings().deployment.production is False


def test_the_sample_password_is_the_one_in_env_example():
    example = (PROJECT_ROOT / ".env.example").read_text()
    assert f"POSTGRES_PASSWORD={SAMPLE_PASSWORD}\n" in example
    assert settings_values.SAMPLE_POSTGRES_PASSWORD == SAMPLE_PASSWORD


def test_the_images_default_command_masks_its_logs():
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    command = re.search(r"^CMD (\[.*?\])$", dockerfile, re.MULTILINE | re.DOTALL)
    assert command, "the Dockerfile has no CMD"
    words = re.findall(r'"([^"]*)"', command.group(1))
    assert words[:2] == ["rasa", "run"]
    assert "--logging-config-file" in words and words[words.index("--logging-config-file") + 1] == "logging.yml"


@pytest.mark.parametrize("token", [None, "short"])
def test_production_needs_the_action_server_token(clean_env, token):
    start_with(clean_env, {**GOOD, "HSM_ACTION_SERVER_TOKEN": token})
    with pytest.raises(SettingsError) as refused:
        check_settings()
    assert str(refused.value) == (
        "HSM_ENV=production needs HSM_ACTION_SERVER_TOKEN (32 characters or more): without it anyone who reaches"
        " the action server can run any action as anyone"
    )
