"""The typed settings (hsm/infra/config.py): every section's defaults, the formats each variable accepts, one-line
errors naming the variable and its value, a changed variable seen on the next use, the CLI refusing a bad setting
at start (status 2, one line on stderr), and no module outside config reading the environment itself."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from datetime import datetime, time, timezone

import pytest

from hsm.infra import config, settings_values
from hsm.infra.config import PROJECT_ROOT, SettingsError, check_settings, check_settings_or_exit, get_settings

HSM = PROJECT_ROOT / ".venv" / "bin" / "hsm"


def test_every_section_has_its_defaults(clean_env):
    settings = check_settings()
    for name, section in config.SECTIONS.items():
        assert getattr(settings, name) == section(), name
    assert settings.database.url == f"sqlite:///{PROJECT_ROOT / 'var' / 'hsm.sqlite3'}" == config.database_url()
    assert settings.redis.url is None
    assert (settings.rasa.tracker_db_url, settings.rasa.action_server_url, settings.rasa.speedups) == (
        None,
        "http://localhost:5055/webhook",
        True,
    )
    whatsapp = settings.whatsapp
    assert (whatsapp.verify_token, whatsapp.app_secret, whatsapp.access_token, whatsapp.phone_number_id) == (
        None,
        None,
        None,
        None,
    )
    assert (whatsapp.api_url, whatsapp.concurrency, whatsapp.workers) == ("https://graph.facebook.com/v21.0", 4, 0)
    assert (settings.sweep.interval_s, settings.sweep.received_after_s, settings.sweep.stale_after_s) == (
        30.0,
        30.0,
        30.0,
    )
    assert (settings.clock.now, settings.clock.timezone.key) == (None, "Asia/Kolkata")
    assert (settings.rate_limits.user_per_min, settings.rate_limits.global_per_min) == (10, 100)
    assert settings.retention.days == 90
    assert (settings.reminders.fee_days, settings.reminders.fee_hours, settings.reminders.class_minutes) == (
        (3,),
        (time(9, 0), time(20, 0)),
        30,
    )
    assert settings.attendance.teacher_correction_days == 7
    assert settings.broadcast.rate_per_s == 80.0
    payments = settings.payments
    assert (payments.razorpay_key_id, payments.razorpay_key_secret, payments.razorpay_webhook_secret) == (
        None,
        None,
        None,
    )
    assert (payments.razorpay_base_url, payments.local_base_url, payments.local_webhook_secret) == (
        "https://api.razorpay.com",
        None,
        None,  # no webhook secret is written in the code
    )
    assert (payments.provider, settings.deployment.production) == (None, False)
    assert settings.linking.secret is None
    smtp = settings.smtp
    assert (smtp.host, smtp.port, smtp.user, smtp.password, smtp.sender, smtp.starttls) == (
        None,
        587,
        None,
        None,
        "Hyderabad School of Music <no-reply@localhost>",
        True,
    )
    assert (settings.admin_api.jwt_secret, settings.admin_api.token_max_hours) == (None, 12.0)
    assert (settings.chat.webhook_url, settings.chat.sandbox_url) == (None, None)
    assert (settings.sandbox.webhook_url, settings.sandbox.latency_ms) == (None, 0.0)
    assert (settings.test_servers.postgres_url, settings.test_servers.redis_url) == (None, None)


def test_the_modules_defaults_are_the_settings_defaults():
    from hsm.infra.ratelimit import RateLimits
    from hsm.outreach.broadcast import DEFAULT_RATE_PER_S
    from hsm.people.linking import SmtpSettings
    from hsm.whatsapp.sweeper import SweepSettings

    assert dataclasses.astuple(SweepSettings()) == dataclasses.astuple(config.Sweep())
    assert (RateLimits().user_per_window, RateLimits().global_per_window) == (10, 100)
    assert DEFAULT_RATE_PER_S == config.Broadcast().rate_per_s
    assert (SmtpSettings(host=None).port, SmtpSettings(host=None).sender) == (config.Smtp().port, config.Smtp().sender)


def test_every_variable_is_read_by_exactly_one_section():
    assert len(config.VARIABLES) == len(set(config.VARIABLES))
    assert len(config.VARIABLES) >= 29


@pytest.mark.parametrize(
    ("name", "value", "section", "attribute", "expected"),
    [
        ("HSM_WHATSAPP_WORKERS", " 3 ", "whatsapp", "workers", 3),
        ("HSM_WHATSAPP_WORKERS", "", "whatsapp", "workers", 0),
        ("HSM_WHATSAPP_WORKERS", "   ", "whatsapp", "workers", 0),
        ("HSM_WHATSAPP_CONCURRENCY", "8", "whatsapp", "concurrency", 8),
        ("WHATSAPP_API_URL", "http://127.0.0.1:8090/v21.0/", "whatsapp", "api_url", "http://127.0.0.1:8090/v21.0"),
        ("WHATSAPP_ACCESS_TOKEN", "", "whatsapp", "access_token", None),
        ("REDIS_URL", " redis://r:6379/0 ", "redis", "url", "redis://r:6379/0"),
        ("REDIS_URL", "  ", "redis", "url", None),
        ("HSM_SWEEP_INTERVAL_S", "0", "sweep", "interval_s", 0.0),
        ("HSM_SWEEP_STALE_AFTER_S", "1.5", "sweep", "stale_after_s", 1.5),
        ("HSM_RATE_USER_PER_MIN", "+3", "rate_limits", "user_per_min", 3),
        ("HSM_RETENTION_DAYS", "30", "retention", "days", 30),
        ("HSM_FEE_REMINDER_DAYS", "3, 7,3,", "reminders", "fee_days", (7, 3)),
        ("HSM_FEE_REMINDER_DAYS", "0", "reminders", "fee_days", (0,)),
        ("HSM_FEE_REMINDER_HOURS", "08:30 - 19:00", "reminders", "fee_hours", (time(8, 30), time(19, 0))),
        ("HSM_CLASS_REMINDER_MINUTES", " 45 ", "reminders", "class_minutes", 45),
        ("HSM_TEACHER_CORRECTION_DAYS", "-1", "attendance", "teacher_correction_days", -1),
        ("HSM_BROADCAST_RATE", "0.5", "broadcast", "rate_per_s", 0.5),
        ("HSM_BROADCAST_RATE", " ", "broadcast", "rate_per_s", 80.0),
        ("RAZORPAY_BASE_URL", "", "payments", "razorpay_base_url", "https://api.razorpay.com"),
        ("HSM_SMTP_PORT", "2525", "smtp", "port", 2525),
        ("HSM_SMTP_STARTTLS", " Off ", "smtp", "starttls", False),
        ("HSM_SMTP_STARTTLS", "no", "smtp", "starttls", False),
        ("HSM_SMTP_STARTTLS", "whatever", "smtp", "starttls", True),  # only an explicit no turns it off
        ("HSM_RASA_SPEEDUPS", "0", "rasa", "speedups", False),
        ("HSM_RASA_SPEEDUPS", "FALSE", "rasa", "speedups", False),
        ("HSM_RASA_SPEEDUPS", "off", "rasa", "speedups", False),
        ("HSM_RASA_SPEEDUPS", "no", "rasa", "speedups", False),
        ("HSM_RASA_SPEEDUPS", "yes", "rasa", "speedups", True),
        ("HSM_RASA_SPEEDUPS", "", "rasa", "speedups", True),
        ("HSM_SANDBOX_WEBHOOK_URL", "", "sandbox", "webhook_url", ""),  # set but empty: no status callbacks
        ("HSM_SANDBOX_LATENCY_MS", "60000", "sandbox", "latency_ms", 60000.0),
        ("HSM_ADMIN_TOKEN_MAX_HOURS", "0.5", "admin_api", "token_max_hours", 0.5),
        ("HSM_ADMIN_TOKEN_MAX_HOURS", " 168 ", "admin_api", "token_max_hours", 168.0),
        ("HSM_ADMIN_TOKEN_MAX_HOURS", "", "admin_api", "token_max_hours", 12.0),
        ("HSM_TEST_POSTGRES_URL", "postgresql://x@h/db", "test_servers", "postgres_url", "postgresql://x@h/db"),
    ],
)
def test_accepted_formats(clean_env, name, value, section, attribute, expected):
    clean_env.setenv(name, value)
    assert getattr(getattr(get_settings(), section), attribute) == expected


def test_hsm_now_and_the_time_zone(clean_env):
    clean_env.setenv("HSM_NOW", "2026-12-01T11:00:00Z")
    clean_env.setenv("HSM_TIMEZONE", "Europe/London")
    clock = get_settings().clock
    assert clock.now == datetime(2026, 12, 1, 11, 0, tzinfo=timezone.utc)
    assert clock.timezone.key == "Europe/London"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("HSM_WHATSAPP_WORKERS", "x", "HSM_WHATSAPP_WORKERS='x' is not a whole number"),
        ("HSM_WHATSAPP_WORKERS", "-1", "HSM_WHATSAPP_WORKERS='-1' must not be negative"),
        ("HSM_WHATSAPP_CONCURRENCY", "four", "HSM_WHATSAPP_CONCURRENCY='four' is not a whole number"),
        ("HSM_WHATSAPP_CONCURRENCY", "0", "HSM_WHATSAPP_CONCURRENCY='0' must be at least 1"),
        ("HSM_SWEEP_STALE_AFTER_S", "soon", "HSM_SWEEP_STALE_AFTER_S='soon' is not a number of seconds"),
        ("HSM_SWEEP_INTERVAL_S", "-1", "HSM_SWEEP_INTERVAL_S='-1' must not be negative"),
        ("HSM_SWEEP_INTERVAL_S", "nan", "HSM_SWEEP_INTERVAL_S='nan' is not a number of seconds"),
        ("HSM_RATE_USER_PER_MIN", "1.5", "HSM_RATE_USER_PER_MIN='1.5' is not a whole number"),
        ("HSM_RATE_GLOBAL_PER_MIN", "0", "HSM_RATE_GLOBAL_PER_MIN='0' must be at least 1"),
        ("HSM_RETENTION_DAYS", "abc", "HSM_RETENTION_DAYS='abc' is not a whole number of days"),
        ("HSM_RETENTION_DAYS", "0", "HSM_RETENTION_DAYS='0' must be at least 1"),
        ("HSM_FEE_REMINDER_DAYS", "three", "HSM_FEE_REMINDER_DAYS='three': expected days such as '3' or '7,3'"),
        ("HSM_FEE_REMINDER_DAYS", "7,-3", "HSM_FEE_REMINDER_DAYS='7,-3': expected days such as '3' or '7,3'"),
        ("HSM_FEE_REMINDER_DAYS", ",", "HSM_FEE_REMINDER_DAYS=',': expected days such as '3' or '7,3'"),
        ("HSM_FEE_REMINDER_HOURS", "9-5-7", "HSM_FEE_REMINDER_HOURS='9-5-7': expected a range such as '09:00-20:00'"),
        ("HSM_CLASS_REMINDER_MINUTES", "0", "HSM_CLASS_REMINDER_MINUTES='0' must be at least 1"),
        ("HSM_TEACHER_CORRECTION_DAYS", "a week", "HSM_TEACHER_CORRECTION_DAYS='a week' is not a whole number"),
        ("HSM_BROADCAST_RATE", "fast", "HSM_BROADCAST_RATE='fast' is not a number"),
        ("HSM_BROADCAST_RATE", "0", "HSM_BROADCAST_RATE='0' must be positive"),
        ("HSM_SMTP_PORT", "smtp", "HSM_SMTP_PORT='smtp' is not a port number"),
        ("HSM_RASA_SPEEDUPS", "maybe", "HSM_RASA_SPEEDUPS='maybe' is not one of 1/0, true/false, yes/no, on/off"),
        ("HSM_SANDBOX_LATENCY_MS", "90000", "HSM_SANDBOX_LATENCY_MS='90000' must be between 0 and 60000"),
        ("HSM_ADMIN_TOKEN_MAX_HOURS", "forever", "HSM_ADMIN_TOKEN_MAX_HOURS='forever' is not a number of hours"),
        ("HSM_ADMIN_TOKEN_MAX_HOURS", "0", "HSM_ADMIN_TOKEN_MAX_HOURS='0' must be positive"),
        ("HSM_ADMIN_TOKEN_MAX_HOURS", "169", "HSM_ADMIN_TOKEN_MAX_HOURS='169' must be at most 168"),
        ("HSM_NOW", "tomorrow", "HSM_NOW='tomorrow' is not an ISO-8601 instant"),
        (
            "HSM_NOW",
            "2026-12-01T16:30:00",
            "HSM_NOW='2026-12-01T16:30:00' needs an offset, e.g. 2026-12-01T16:30:00+05:30",
        ),
        ("HSM_TIMEZONE", "Mars/Base", "HSM_TIMEZONE='Mars/Base' is not a time zone, e.g. Asia/Kolkata"),
        ("HSM_LOG_FORMAT", "xml", "HSM_LOG_FORMAT='xml' must be 'text' or 'json' (empty: text)"),
    ],
)
def test_a_bad_value_is_a_one_line_error_naming_the_variable_and_the_value(clean_env, capsys, name, value, message):
    clean_env.setenv(name, value)
    with pytest.raises(SettingsError) as refused:
        check_settings()
    assert str(refused.value) == message
    assert isinstance(refused.value, ValueError)  # what the modules raised before, and what their callers catch
    with pytest.raises(SystemExit) as stopped:
        check_settings_or_exit()
    assert stopped.value.code == 2
    assert capsys.readouterr().err == f"hsm: bad setting: {message}\n"


def test_a_bad_value_only_breaks_its_own_section(clean_env):
    clean_env.setenv("HSM_RETENTION_DAYS", "ninety")
    assert get_settings().whatsapp.workers == 0  # read as before: each module met its own variables' errors
    with pytest.raises(SettingsError, match="HSM_RETENTION_DAYS"):
        get_settings().retention  # noqa: B018


def test_a_changed_variable_is_seen_on_the_next_use(clean_env):
    settings = get_settings()
    assert settings is get_settings()
    clean_env.setenv("HSM_WHATSAPP_WORKERS", "2")
    first = settings.whatsapp
    assert first.workers == 2
    assert settings.whatsapp is first  # nothing changed: the same snapshot
    clean_env.setenv("HSM_WHATSAPP_WORKERS", "3")
    assert get_settings().whatsapp.workers == 3
    clean_env.setenv("DATABASE_URL", "sqlite:////tmp/other.sqlite3")
    assert config.database_url() == "sqlite:////tmp/other.sqlite3"
    clean_env.delenv("HSM_WHATSAPP_WORKERS")
    clean_env.delenv("DATABASE_URL")
    assert get_settings().whatsapp.workers == 0
    assert config.database_url() == config.default_database_url()
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.workers = 5  # type: ignore[misc]


def test_secrets_stay_out_of_reprs(clean_env):
    for name in (
        "WHATSAPP_APP_SECRET",
        "WHATSAPP_ACCESS_TOKEN",
        "WHATSAPP_VERIFY_TOKEN",
        "ADMIN_JWT_SECRET",
        "RAZORPAY_KEY_SECRET",
        "RAZORPAY_WEBHOOK_SECRET",
        "HSM_PAYMENT_WEBHOOK_SECRET",
        "HSM_LINK_SECRET",
        "HSM_SMTP_PASSWORD",
    ):
        clean_env.setenv(name, "s3cr3t-value")
    settings = get_settings()
    assert not [name for name in config.SECTIONS if "s3cr3t-value" in repr(getattr(settings, name))]


def test_parse_number_is_the_one_number_parser():
    assert settings_values.parse_number("42", "X") == 42
    assert settings_values.parse_number("2.5", "X", float) == 2.5
    assert settings_values.parse_number("7", "X", minimum=0, maximum=10) == 7
    with pytest.raises(SettingsError, match=r"^--latency-ms='fast' is not a number of milliseconds$"):
        settings_values.parse_number("fast", "--latency-ms", float, what="a number of milliseconds")
    with pytest.raises(SettingsError, match=r"^X='11' must be between 0 and 10$"):
        settings_values.parse_number("11", "X", minimum=0, maximum=10)
    with pytest.raises(SettingsError, match=r"^X='11' must be at most 10$"):
        settings_values.parse_number("11", "X", maximum=10)
    assert settings_values.parse_flag(" On ", "X") is True
    with pytest.raises(SettingsError, match=r"^X='2' is not one of"):
        settings_values.parse_flag("2", "X")


def test_environment_helpers(monkeypatch):
    monkeypatch.setenv("HSM_NOW", "2026-12-01T16:30:00+05:30")
    monkeypatch.setenv("HSM_TIMEZONE", "Asia/Kolkata")
    monkeypatch.delenv("HSM_RETENTION_DAYS", raising=False)
    child = config.child_environment(HSM_NOW=None, HSM_RETENTION_DAYS="30")
    assert "HSM_NOW" not in child and child["HSM_RETENTION_DAYS"] == "30" and child["HSM_TIMEZONE"] == "Asia/Kolkata"
    assert config.child_environment({"A": "1"}, B="2") == {"A": "1", "B": "2"}
    config.set_environment(HSM_RETENTION_DAYS="45", HSM_NOW=None)
    assert (get_settings().retention.days, get_settings().clock.now) == (45, None)
    config.set_environment_defaults(HSM_RETENTION_DAYS="60", HSM_TIMEZONE="Europe/London")
    assert (get_settings().retention.days, get_settings().clock.timezone.key) == (45, "Asia/Kolkata")
    config.unset_environment("HSM_RETENTION_DAYS", "HSM_NOT_SET_ANYWHERE")
    assert get_settings().retention.days == 90


def test_the_cli_refuses_a_bad_setting_at_start_with_one_line_and_status_2(tmp_path):
    database = tmp_path / "never-made.sqlite3"
    env = config.child_environment(HSM_RETENTION_DAYS="abc", DATABASE_URL=f"sqlite:///{database}", HSM_NOW=None)
    done = subprocess.run([str(HSM), "whois", "+919811000101"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr == "hsm: bad setting: HSM_RETENTION_DAYS='abc' is not a whole number of days\n"
    assert done.stdout == ""
    assert not database.exists()  # refused before anything ran


# Reading the environment: os.environ / os.getenv / os.putenv, `from os import environ`.
ENVIRONMENT_READ = re.compile(r"\bos\.(environ|getenv|putenv|unsetenv)\b|\bfrom os import\b[^\n]*\b(environ|getenv)\b")


def test_only_the_config_module_reads_the_environment():
    readers = []
    for folder in ("hsm", "actions", "connectors", "devtools", "bench", "scripts", "migrations"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            if path == PROJECT_ROOT / "hsm" / "infra" / "config.py":
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if ENVIRONMENT_READ.search(line):
                    readers.append(f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}")
    assert not readers, "read settings through hsm.infra.config:\n" + "\n".join(readers)
