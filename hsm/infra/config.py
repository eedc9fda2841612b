"""Settings read from the environment (DESIGN.md, "Environment"): one place, typed, in sections, no secrets in files."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import Generic
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hsm.infra.settings_classes import Attendance, Makeups
from hsm.infra.settings_logging import LogOutput
from hsm.infra.settings_metrics import Metrics
from hsm.infra.settings_sign_in import SignInLimits
from hsm.infra.settings_values import (
    S,
    Section,
    SettingsError,
    Variables,
    database_password,
    parse_day_list,
    parse_hour_range,
    parse_instant,
    weak_production_setting,
)
from hsm.infra.settings_voice import Voice

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SQLITE_PATH = PROJECT_ROOT / "var" / "hsm.sqlite3"
DEFAULT_GRAPH_API_URL = "https://graph.facebook.com/v21.0"
DEFAULT_ACTION_SERVER_URL = "http://localhost:5055/webhook"
DEFAULT_TIMEZONE = "Asia/Kolkata"
DEFAULT_WHATSAPP_CONCURRENCY = 4
DEFAULT_SWEEP_INTERVAL_S = 30.0
DEFAULT_SWEEP_RECEIVED_AFTER_S = 30.0
DEFAULT_SWEEP_STALE_AFTER_S = 30.0  # a holder this long without a heartbeat is dead (hsm.whatsapp.heartbeat)
DEFAULT_RATE_USER_PER_MIN = 10
DEFAULT_RATE_GLOBAL_PER_MIN = 100
DEFAULT_OFFICE_NOTICE_HOURS = 6.0
DEFAULT_RETENTION_DAYS = 90
DEFAULT_FEE_REMINDER_DAYS = (3,)
DEFAULT_FEE_REMINDER_HOURS = (time(9, 0), time(20, 0))
DEFAULT_CLASS_REMINDER_MINUTES = 30
DEFAULT_BROADCAST_RATE_PER_S = 80.0  # Meta's default throughput
DEFAULT_RAZORPAY_BASE_URL = "https://api.razorpay.com"
DEFAULT_SMTP_PORT = 587
DEFAULT_SMTP_SENDER = "Hyderabad School of Music <no-reply@localhost>"
DEFAULT_ADMIN_TOKEN_MAX_HOURS = 12.0
MAX_ADMIN_TOKEN_MAX_HOURS = 168  # a week: HSM_ADMIN_TOKEN_MAX_HOURS may not allow more


def default_database_url() -> str:
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"


@dataclass(frozen=True)
class Database(Section):
    """The school's database (and Rasa's conversations, unless `rasa.tracker_db_url` says otherwise); the compose
    stack's PostgreSQL password (only checked: production refuses the sample one)."""

    VARIABLES = ("DATABASE_URL", "POSTGRES_PASSWORD")
    url: str = field(default_factory=default_database_url)
    postgres_password: str | None = field(default=None, repr=False)

    @classmethod
    def read(cls, env: Variables) -> Database:
        return cls(
            url=env.text("DATABASE_URL") or default_database_url(), postgres_password=env.text("POSTGRES_PASSWORD")
        )


@dataclass(frozen=True)
class Redis(Section):
    """Redis for locks, rate limits and the job queue; None: in-process stores (one process)."""

    VARIABLES = ("REDIS_URL",)
    url: str | None = None

    @classmethod
    def read(cls, env: Variables) -> Redis:
        return cls(url=(env.text("REDIS_URL") or "").strip() or None)


@dataclass(frozen=True)
class Rasa(Section):
    """The Rasa servers: their conversations' database (None: DATABASE_URL), where the action server is and the
    secret it takes (None: none, development only), and whether hsm.rasa_glue.speedups is installed."""

    VARIABLES = ("HSM_TRACKER_DB_URL", "ACTION_SERVER_URL", "HSM_ACTION_SERVER_TOKEN", "HSM_RASA_SPEEDUPS")
    tracker_db_url: str | None = None
    action_server_url: str = DEFAULT_ACTION_SERVER_URL
    action_server_token: str | None = field(default=None, repr=False)
    speedups: bool = True

    @classmethod
    def read(cls, env: Variables) -> Rasa:
        return cls(
            tracker_db_url=env.text("HSM_TRACKER_DB_URL"),
            action_server_url=env.text_or("ACTION_SERVER_URL", DEFAULT_ACTION_SERVER_URL),
            action_server_token=env.text("HSM_ACTION_SERVER_TOKEN"),
            speedups=env.flag("HSM_RASA_SPEEDUPS", True),
        )


@dataclass(frozen=True)
class WhatsApp(Section):
    """The Meta app and business number, and how the channel shares out its work."""

    VARIABLES = (
        "WHATSAPP_VERIFY_TOKEN",
        "WHATSAPP_APP_SECRET",
        "WHATSAPP_ACCESS_TOKEN",
        "WHATSAPP_PHONE_NUMBER_ID",
        "WHATSAPP_API_URL",
        "HSM_WHATSAPP_CONCURRENCY",
        "HSM_WHATSAPP_WORKERS",
    )
    verify_token: str | None = field(default=None, repr=False)
    app_secret: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
    phone_number_id: str | None = None
    api_url: str = DEFAULT_GRAPH_API_URL  # no trailing slash
    concurrency: int = DEFAULT_WHATSAPP_CONCURRENCY  # messages inside Rasa at once, per process
    workers: int = 0  # worker processes for the channel's Rasa work; 0: a thread of the server

    @classmethod
    def read(cls, env: Variables) -> WhatsApp:
        return cls(
            verify_token=env.text("WHATSAPP_VERIFY_TOKEN"),
            app_secret=env.text("WHATSAPP_APP_SECRET"),
            access_token=env.text("WHATSAPP_ACCESS_TOKEN"),
            phone_number_id=env.text("WHATSAPP_PHONE_NUMBER_ID"),
            api_url=env.text_or("WHATSAPP_API_URL", DEFAULT_GRAPH_API_URL).rstrip("/"),
            concurrency=env.number("HSM_WHATSAPP_CONCURRENCY", DEFAULT_WHATSAPP_CONCURRENCY, minimum=1),
            workers=env.number("HSM_WHATSAPP_WORKERS", 0, minimum=0),
        )


@dataclass(frozen=True)
class Sweep(Section):
    """The sweep for messages a dead replica left behind (hsm.whatsapp.sweeper): every `interval_s` (0: off)."""

    VARIABLES = ("HSM_SWEEP_INTERVAL_S", "HSM_SWEEP_RECEIVED_AFTER_S", "HSM_SWEEP_STALE_AFTER_S")
    interval_s: float = DEFAULT_SWEEP_INTERVAL_S
    received_after_s: float = DEFAULT_SWEEP_RECEIVED_AFTER_S
    stale_after_s: float = DEFAULT_SWEEP_STALE_AFTER_S

    @classmethod
    def read(cls, env: Variables) -> Sweep:
        def seconds(name: str, default: float, minimum: float = 0) -> float:
            return env.number(name, default, float, what="a number of seconds", minimum=minimum)

        return cls(
            interval_s=seconds("HSM_SWEEP_INTERVAL_S", DEFAULT_SWEEP_INTERVAL_S),
            received_after_s=seconds("HSM_SWEEP_RECEIVED_AFTER_S", DEFAULT_SWEEP_RECEIVED_AFTER_S),
            # 0 would take every message over from its live holder at once
            stale_after_s=seconds("HSM_SWEEP_STALE_AFTER_S", DEFAULT_SWEEP_STALE_AFTER_S, minimum=0.1),
        )


@dataclass(frozen=True)
class Clock(Section):
    """What "now" is: `now` frozen by HSM_NOW (None: the real clock), in the school's time zone."""

    VARIABLES = ("HSM_NOW", "HSM_TIMEZONE")
    now: datetime | None = None
    timezone: ZoneInfo = ZoneInfo(DEFAULT_TIMEZONE)

    @classmethod
    def read(cls, env: Variables) -> Clock:
        frozen, zone = env.text("HSM_NOW"), env.text_or("HSM_TIMEZONE", DEFAULT_TIMEZONE)
        try:
            timezone = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"HSM_TIMEZONE={zone!r} is not a time zone, e.g. Asia/Kolkata") from None
        return cls(now=parse_instant(frozen) if frozen else None, timezone=timezone)


@dataclass(frozen=True)
class RateLimits(Section):
    """Messages a minute the channel takes from one user and from everyone (hsm.infra.ratelimit); hours between two
    "needs help" notices to the office about one number (hsm.outreach.notices)."""

    VARIABLES = ("HSM_RATE_USER_PER_MIN", "HSM_RATE_GLOBAL_PER_MIN", "HSM_OFFICE_NOTICE_HOURS")
    user_per_min: int = DEFAULT_RATE_USER_PER_MIN
    global_per_min: int = DEFAULT_RATE_GLOBAL_PER_MIN
    office_notice_hours: float = DEFAULT_OFFICE_NOTICE_HOURS

    @classmethod
    def read(cls, env: Variables) -> RateLimits:
        return cls(
            user_per_min=env.number("HSM_RATE_USER_PER_MIN", DEFAULT_RATE_USER_PER_MIN, minimum=1),
            global_per_min=env.number("HSM_RATE_GLOBAL_PER_MIN", DEFAULT_RATE_GLOBAL_PER_MIN, minimum=1),
            office_notice_hours=env.number(
                "HSM_OFFICE_NOTICE_HOURS",
                DEFAULT_OFFICE_NOTICE_HOURS,
                float,
                what="a number of hours",
                minimum=0.0,
                maximum=8760.0,
            ),
        )


@dataclass(frozen=True)
class Retention(Section):
    """Days personal data is kept: messages, conversations, leads ... (hsm.records.retention)."""

    VARIABLES = ("HSM_RETENTION_DAYS",)
    days: int = DEFAULT_RETENTION_DAYS

    @classmethod
    def read(cls, env: Variables) -> Retention:
        return cls(
            days=env.number("HSM_RETENTION_DAYS", DEFAULT_RETENTION_DAYS, what="a whole number of days", minimum=1)
        )


@dataclass(frozen=True)
class Reminders(Section):
    """Fee reminders `fee_days` before the due date (largest first; 0: on the day), sent only between the
    `fee_hours`; class reminders `class_minutes` before the class (hsm.outreach.reminders)."""

    VARIABLES = ("HSM_FEE_REMINDER_DAYS", "HSM_FEE_REMINDER_HOURS", "HSM_CLASS_REMINDER_MINUTES")
    fee_days: tuple[int, ...] = DEFAULT_FEE_REMINDER_DAYS
    fee_hours: tuple[time, time] = DEFAULT_FEE_REMINDER_HOURS
    class_minutes: int = DEFAULT_CLASS_REMINDER_MINUTES

    @classmethod
    def read(cls, env: Variables) -> Reminders:
        return cls(
            fee_days=parse_day_list(
                env.raw("HSM_FEE_REMINDER_DAYS"), "HSM_FEE_REMINDER_DAYS", DEFAULT_FEE_REMINDER_DAYS
            ),
            fee_hours=parse_hour_range(
                env.raw("HSM_FEE_REMINDER_HOURS"), "HSM_FEE_REMINDER_HOURS", DEFAULT_FEE_REMINDER_HOURS
            ),
            class_minutes=env.number(
                "HSM_CLASS_REMINDER_MINUTES",
                DEFAULT_CLASS_REMINDER_MINUTES,
                what="a whole number of minutes",
                minimum=1,
            ),
        )


@dataclass(frozen=True)
class Broadcast(Section):
    """Broadcast send rate, messages a second (hsm.outreach.broadcast)."""

    VARIABLES = ("HSM_BROADCAST_RATE",)
    rate_per_s: float = DEFAULT_BROADCAST_RATE_PER_S

    @classmethod
    def read(cls, env: Variables) -> Broadcast:
        return cls(rate_per_s=env.number("HSM_BROADCAST_RATE", DEFAULT_BROADCAST_RATE_PER_S, float, positive=True))


@dataclass(frozen=True)
class Payments(Section):
    """Who makes payment links (`provider`): "razorpay" (Razorpay Payment Links; the default when RAZORPAY_KEY_ID is
    set), "local" (the development stand-in, only when HSM_PAYMENT_PROVIDER=local says so: its pages at
    `local_base_url`, None: the school's payment_link_base; its webhook signed with `local_webhook_secret`) or None
    (no online payments). No webhook secret has a default: without one, that provider's webhooks are refused."""

    VARIABLES = (
        "HSM_PAYMENT_PROVIDER",
        "RAZORPAY_KEY_ID",
        "RAZORPAY_KEY_SECRET",
        "RAZORPAY_WEBHOOK_SECRET",
        "RAZORPAY_BASE_URL",
        "HSM_PAYMENT_BASE_URL",
        "HSM_PAYMENT_WEBHOOK_SECRET",
    )
    provider: str | None = None
    razorpay_key_id: str | None = None
    razorpay_key_secret: str | None = field(default=None, repr=False)
    razorpay_webhook_secret: str | None = field(default=None, repr=False)
    razorpay_base_url: str = DEFAULT_RAZORPAY_BASE_URL
    local_base_url: str | None = None
    local_webhook_secret: str | None = field(default=None, repr=False)

    @classmethod
    def read(cls, env: Variables) -> Payments:
        key_id, key_secret = env.text("RAZORPAY_KEY_ID"), env.text("RAZORPAY_KEY_SECRET")
        raw = env.text("HSM_PAYMENT_PROVIDER")
        provider = raw.strip().lower() if raw else ("razorpay" if key_id else None)
        if provider not in (None, "razorpay", "local"):
            raise SettingsError(
                f"HSM_PAYMENT_PROVIDER={raw!r} must be 'razorpay' or 'local' (empty: Razorpay when RAZORPAY_KEY_ID is"
                " set)"
            )
        if provider == "razorpay" and not (key_id and key_secret) and raw:
            raise SettingsError("HSM_PAYMENT_PROVIDER=razorpay needs RAZORPAY_KEY_ID and RAZORPAY_KEY_SECRET")
        return cls(
            provider=provider,
            razorpay_key_id=key_id,
            razorpay_key_secret=key_secret,
            razorpay_webhook_secret=env.text("RAZORPAY_WEBHOOK_SECRET"),
            razorpay_base_url=env.text_or("RAZORPAY_BASE_URL", DEFAULT_RAZORPAY_BASE_URL),
            local_base_url=env.text("HSM_PAYMENT_BASE_URL"),
            local_webhook_secret=env.text("HSM_PAYMENT_WEBHOOK_SECRET"),
        )


@dataclass(frozen=True)
class Linking(Section):
    """The secret identity-link codes are hashed with (None: each process makes its own, hsm.people.linking)."""

    VARIABLES = ("HSM_LINK_SECRET",)
    secret: str | None = field(default=None, repr=False)

    @classmethod
    def read(cls, env: Variables) -> Linking:
        return cls(secret=env.text("HSM_LINK_SECRET"))


@dataclass(frozen=True)
class Smtp(Section):
    """The SMTP server link codes are mailed through (host None: no mail)."""

    VARIABLES = (
        "HSM_SMTP_HOST",
        "HSM_SMTP_PORT",
        "HSM_SMTP_USER",
        "HSM_SMTP_PASSWORD",
        "HSM_SMTP_FROM",
        "HSM_SMTP_STARTTLS",
    )
    host: str | None = None
    port: int = DEFAULT_SMTP_PORT
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = DEFAULT_SMTP_SENDER
    starttls: bool = True

    @classmethod
    def read(cls, env: Variables) -> Smtp:
        return cls(
            host=env.text("HSM_SMTP_HOST"),
            port=env.number("HSM_SMTP_PORT", DEFAULT_SMTP_PORT, what="a port number"),
            user=env.text("HSM_SMTP_USER"),
            password=env.text("HSM_SMTP_PASSWORD"),
            sender=env.text_or("HSM_SMTP_FROM", DEFAULT_SMTP_SENDER),
            # Only an explicit no turns STARTTLS off (as it always has): a typo keeps the mail encrypted.
            starttls=env.flag("HSM_SMTP_STARTTLS", True, otherwise=True),
        )


@dataclass(frozen=True)
class AdminApi(Section):
    """The admin API (`hsm api`): its tokens' HS256 secret and longest life (hours); the console's URL for links."""

    VARIABLES = ("ADMIN_JWT_SECRET", "HSM_ADMIN_TOKEN_MAX_HOURS", "HSM_CONSOLE_URL")
    jwt_secret: str | None = field(default=None, repr=False)
    token_max_hours: float = DEFAULT_ADMIN_TOKEN_MAX_HOURS
    console_url: str = "http://127.0.0.1:8095/office/"  # `hsm api`'s default port

    @classmethod
    def read(cls, env: Variables) -> AdminApi:
        return cls(
            jwt_secret=env.text("ADMIN_JWT_SECRET"),
            token_max_hours=env.number(
                "HSM_ADMIN_TOKEN_MAX_HOURS",
                DEFAULT_ADMIN_TOKEN_MAX_HOURS,
                float,
                what="a number of hours",
                positive=True,
                maximum=MAX_ADMIN_TOKEN_MAX_HOURS,
            ),
            console_url=env.text_or("HSM_CONSOLE_URL", cls.console_url),
        )


@dataclass(frozen=True)
class Chat(Section):
    """`hsm chat` (a development tool): where it posts webhooks and reads the sandbox's sends. As set, empty
    included; None: unset, the tool's own default."""

    VARIABLES = ("HSM_WEBHOOK_URL", "HSM_SANDBOX_URL")
    webhook_url: str | None = None
    sandbox_url: str | None = None

    @classmethod
    def read(cls, env: Variables) -> Chat:
        return cls(webhook_url=env.raw("HSM_WEBHOOK_URL"), sandbox_url=env.raw("HSM_SANDBOX_URL"))


@dataclass(frozen=True)
class Sandbox(Section):
    """The local Meta sandbox (a development tool): where it posts status callbacks, as set (empty: none; None:
    unset, its default), and how late it answers each Graph API call."""

    VARIABLES = ("HSM_SANDBOX_WEBHOOK_URL", "HSM_SANDBOX_LATENCY_MS")
    webhook_url: str | None = None
    latency_ms: float = 0.0

    @classmethod
    def read(cls, env: Variables) -> Sandbox:
        return cls(
            webhook_url=env.raw("HSM_SANDBOX_WEBHOOK_URL"),
            latency_ms=env.number(
                "HSM_SANDBOX_LATENCY_MS", 0.0, float, what="a number of milliseconds", minimum=0, maximum=60_000
            ),
        )


@dataclass(frozen=True)
class TestServers(Section):
    """The PostgreSQL and Redis servers the tests and benchmarks make their throw-away databases on, as set (None:
    unset, the tool's own default)."""

    __test__ = False  # not a pytest test class
    VARIABLES = ("HSM_TEST_POSTGRES_URL", "HSM_TEST_REDIS_URL")
    postgres_url: str | None = None
    redis_url: str | None = None

    @classmethod
    def read(cls, env: Variables) -> TestServers:
        return cls(postgres_url=env.raw("HSM_TEST_POSTGRES_URL"), redis_url=env.raw("HSM_TEST_REDIS_URL"))


@dataclass(frozen=True)
class Deployment(Section):
    """HSM_ENV: "production" makes check_settings() refuse development settings (production_refusal); unset or
    "development": development behaviour."""

    VARIABLES = ("HSM_ENV",)
    production: bool = False

    @classmethod
    def read(cls, env: Variables) -> Deployment:
        raw = env.text("HSM_ENV")
        word = raw.strip().lower() if raw else "development"
        if word not in ("production", "development"):
            raise SettingsError(f"HSM_ENV={raw!r} must be 'production' or 'development' (empty: development)")
        return cls(production=word == "production")


def production_refusal(settings: Settings) -> str | None:
    """Why HSM_ENV=production refuses these settings (one line, settings_values.weak_production_setting), or None."""
    if not settings.deployment.production:
        return None
    payments, database = settings.payments, settings.database
    return weak_production_setting(
        payment_provider=payments.provider,
        razorpay_webhook_secret=payments.razorpay_webhook_secret,
        link_secret=settings.linking.secret,
        jwt_secret=settings.admin_api.jwt_secret,
        action_server_token=settings.rasa.action_server_token,
        frozen_now=settings.clock.now is not None,
        postgres_passwords=(database.postgres_password, database_password(database.url)),
    )


# ------------------------------------------------------------------------------------------------ the settings

_environ_get = os.environ.get


class _Current(Generic[S]):
    """A section as an attribute of Settings: the section read from the environment when first asked for, and read
    again when one of its VARIABLES has changed since. The check looks up the section's own variables afresh
    (timeit on the 2-core dev machine: ~1.2 µs for one variable, ~2 µs for two, ~6 µs for seven; a key of all 45
    variables would cost ~36 µs on every use), so a hot path pays only for what it reads. A bad value raises when
    its section is asked for, as each module's own reading did; check_settings() asks for all of them."""

    def __init__(self, section: type[S]) -> None:
        self.section = section
        self.variables = section.VARIABLES
        self._last: tuple[tuple[str | None, ...], S] | None = None

    def __get__(self, settings: object, owner: type | None = None) -> S:
        values = tuple(map(_environ_get, self.variables))
        last = self._last
        if last is not None and last[0] == values:
            return last[1]
        section = self.section.read(Variables(self.variables, values))
        self._last = (values, section)  # one assignment: threads see the old pair or the new one
        return section


class Settings:
    """Every setting, by section: `get_settings().whatsapp.access_token`, `.clock.now`, `.retention.days` ...

    Each section is a frozen snapshot of its variables, and each use of the attribute gives the current one: tests
    (`monkeypatch.setenv`) and the CLI change the environment at run time. Keep the section object where values
    must agree with each other."""

    deployment = _Current(Deployment)
    database = _Current(Database)
    redis = _Current(Redis)
    rasa = _Current(Rasa)
    whatsapp = _Current(WhatsApp)
    sweep = _Current(Sweep)
    clock = _Current(Clock)
    rate_limits = _Current(RateLimits)
    retention = _Current(Retention)
    reminders = _Current(Reminders)
    attendance = _Current(Attendance)
    makeups = _Current(Makeups)
    broadcast = _Current(Broadcast)
    payments = _Current(Payments)
    linking = _Current(Linking)
    smtp = _Current(Smtp)
    admin_api = _Current(AdminApi)
    chat = _Current(Chat)
    sandbox = _Current(Sandbox)
    test_servers = _Current(TestServers)
    metrics = _Current(Metrics)
    log_output = _Current(LogOutput)
    voice = _Current(Voice)
    sign_in = _Current(SignInLimits)

    def __repr__(self) -> str:
        return "Settings(...)"


# The sections by attribute name, and every variable the code reads (tests/unit/test_deploy_files.py: all of them
# are documented in .env.example).
SECTIONS: dict[str, type[Section]] = {
    name: value.section for name, value in vars(Settings).items() if isinstance(value, _Current)
}
VARIABLES: tuple[str, ...] = tuple(name for section in SECTIONS.values() for name in section.VARIABLES)

_SETTINGS = Settings()


def get_settings() -> Settings:
    """The settings (one object; its sections follow the environment, see Settings)."""
    return _SETTINGS


def database_url() -> str:
    """`DATABASE_URL` (or the SQLite default), for every transaction: ~1.3 µs (timeit; the bare `os.environ.get`
    it replaced: ~1.2 µs)."""
    return _SETTINGS.database.url


def check_settings() -> Settings:
    """Read every section now: raises SettingsError on the first bad value, or on a development setting with
    HSM_ENV=production (DESIGN.md: refuse to start on one)."""
    for name in SECTIONS:
        getattr(_SETTINGS, name)
    refusal = production_refusal(_SETTINGS)
    if refusal:
        raise SettingsError(refusal)
    return _SETTINGS


def check_settings_or_exit() -> Settings:
    """`check_settings()` for a process's start: on a bad value, print one line to stderr
    (`hsm: bad setting: HSM_WHATSAPP_WORKERS='x' is not a whole number`) and exit with status 2."""
    try:
        return check_settings()
    except SettingsError as error:
        print(f"hsm: bad setting: {error}", file=sys.stderr)
        raise SystemExit(2) from None


# ------------------------------------------------------------------------------------------------ changing it
# For tools that run code in-process with other settings (benchmarks, scripts) or start processes with them (the
# local stack). A value of None unsets the variable. The sections see the change on their next use.


def set_environment(**values: str | None) -> None:
    """Set these variables in this process (None: unset it), e.g. `set_environment(DATABASE_URL=url, HSM_NOW=None)`."""
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def set_environment_defaults(**values: str) -> None:
    """Set each of these variables that is not set yet in this process."""
    for name, value in values.items():
        os.environ.setdefault(name, value)


def unset_environment(*names: str) -> None:
    """Unset these variables in this process (those not set are fine)."""
    for name in names:
        os.environ.pop(name, None)


def child_environment(base: Mapping[str, str] | None = None, **overrides: str | None) -> dict[str, str]:
    """The environment for a child process: this process's (or `base`) with `overrides` (None: left out)."""
    environment = dict(os.environ if base is None else base)
    for name, value in overrides.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    return environment
