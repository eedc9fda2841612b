"""Payment settings and production mode: no payment webhook secret is written in the code, the local stand-in
provider runs only when asked for by name and never with HSM_ENV=production, and production refuses to start
(one line, status 2) with the stand-in or with Razorpay but no webhook secret."""

from __future__ import annotations

import subprocess

import pytest

from hsm.infra import config
from hsm.infra.config import PROJECT_ROOT, SettingsError, check_settings, check_settings_or_exit, get_settings
from tests.unit.conftest import set_environment

HSM = PROJECT_ROOT / ".venv" / "bin" / "hsm"
OLD_CONSTANT = "local-payment-webhook-secret"
PRODUCTION_SECRETS = {  # the other settings production needs (tests/unit/test_production_settings.py)
    "HSM_ENV": "production",
    "HSM_LINK_SECRET": "l" * 64,
    "ADMIN_JWT_SECRET": "j" * 64,
    "HSM_ACTION_SERVER_TOKEN": "t" * 48,
}
RAZORPAY = {"RAZORPAY_KEY_ID": "rzp_live_x", "RAZORPAY_KEY_SECRET": "key-secret-0123456789"}


def set_all(env, **values: str) -> None:
    set_environment(env, values)


def test_no_payment_webhook_secret_is_written_in_the_code():
    assert not hasattr(config, "DEFAULT_LOCAL_PAYMENT_WEBHOOK_SECRET")
    holders = []
    for folder in ("hsm", "connectors", "actions"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            if OLD_CONSTANT in path.read_text():
                holders.append(str(path.relative_to(PROJECT_ROOT)))
    assert not holders, f"a payment webhook secret is written in the code: {holders}"
    assert config.Payments().local_webhook_secret is None


def test_no_provider_unless_one_is_configured(clean_env):
    payments = get_settings().payments
    assert (payments.provider, payments.local_webhook_secret, payments.razorpay_webhook_secret) == (None, None, None)
    assert get_settings().deployment.production is False
    set_all(clean_env, **RAZORPAY)
    assert get_settings().payments.provider == "razorpay"
    clean_env.setenv("HSM_PAYMENT_PROVIDER", " Local ")
    assert get_settings().payments.provider == "local"  # asked for by name, even with Razorpay keys set
    clean_env.setenv("HSM_PAYMENT_PROVIDER", "razorpay")
    assert get_settings().payments.provider == "razorpay"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"HSM_ENV": "prod"}, "HSM_ENV='prod' must be 'production' or 'development' (empty: development)"),
        (
            {"HSM_PAYMENT_PROVIDER": "paypal"},
            "HSM_PAYMENT_PROVIDER='paypal' must be 'razorpay' or 'local' (empty: Razorpay when RAZORPAY_KEY_ID is set)",
        ),
        (
            {"HSM_PAYMENT_PROVIDER": "razorpay"},
            "HSM_PAYMENT_PROVIDER=razorpay needs RAZORPAY_KEY_ID and RAZORPAY_KEY_SECRET",
        ),
        (
            {"HSM_ENV": "production", "HSM_PAYMENT_PROVIDER": "local", "HSM_PAYMENT_WEBHOOK_SECRET": "x" * 40},
            "HSM_PAYMENT_PROVIDER=local is the development stand-in payment provider: "
            "HSM_ENV=production takes Razorpay (RAZORPAY_KEY_ID) or no online payments",
        ),
        (
            {"HSM_ENV": "production", **RAZORPAY},
            "HSM_ENV=production needs RAZORPAY_WEBHOOK_SECRET (16 characters or more): "
            "without it every payment webhook is refused",
        ),
        (
            {"HSM_ENV": "production", "RAZORPAY_WEBHOOK_SECRET": "short", **RAZORPAY},
            "HSM_ENV=production needs RAZORPAY_WEBHOOK_SECRET (16 characters or more): "
            "without it every payment webhook is refused",
        ),
    ],
)
def test_weak_payment_settings_are_refused_in_one_line(clean_env, capsys, values, message):
    set_all(clean_env, **values)
    with pytest.raises(SettingsError) as refused:
        check_settings()
    assert str(refused.value) == message
    with pytest.raises(SystemExit) as stopped:
        check_settings_or_exit()
    assert stopped.value.code == 2
    assert capsys.readouterr().err == f"hsm: bad setting: {message}\n"


def test_development_keeps_the_stand_in_when_asked_for(clean_env):
    set_all(clean_env, HSM_ENV="development", HSM_PAYMENT_PROVIDER="local")
    settings = check_settings()
    assert (settings.deployment.production, settings.payments.provider) == (False, "local")
    clean_env.delenv("HSM_ENV")
    assert check_settings().payments.provider == "local"


def test_production_starts_with_razorpay_and_its_webhook_secret_or_without_online_payments(clean_env):
    set_all(clean_env, **PRODUCTION_SECRETS)
    assert check_settings().payments.provider is None  # no online payments: nothing to refuse
    set_all(clean_env, RAZORPAY_WEBHOOK_SECRET="w" * 32, **RAZORPAY)
    settings = check_settings()
    assert (settings.deployment.production, settings.payments.provider) == (True, "razorpay")


def test_the_cli_refuses_the_stand_in_in_production_at_start(tmp_path):
    database = tmp_path / "never-made.sqlite3"
    env = config.child_environment(
        HSM_ENV="production",
        HSM_PAYMENT_PROVIDER="local",
        HSM_PAYMENT_WEBHOOK_SECRET="a-development-secret-long-enough",
        RAZORPAY_KEY_ID=None,
        DATABASE_URL=f"sqlite:///{database}",
        HSM_NOW=None,
    )
    done = subprocess.run([str(HSM), "whois", "+919811000101"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr == (
        "hsm: bad setting: HSM_PAYMENT_PROVIDER=local is the development stand-in payment provider: "
        "HSM_ENV=production takes Razorpay (RAZORPAY_KEY_ID) or no online payments\n"
    )
    assert done.stdout == "" and not database.exists()
