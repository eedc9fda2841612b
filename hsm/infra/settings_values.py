"""How a setting's text becomes a value: the one number parser, the one yes/no parser, instants, and the base of
the settings' sections (`hsm.infra.config`). Errors are one line naming the variable and the value."""

from __future__ import annotations

from datetime import datetime, time
from typing import ClassVar, TypeVar

_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"0", "false", "no", "off"})

N = TypeVar("N", int, float)
S = TypeVar("S", bound="Section")


class SettingsError(ValueError):
    """A variable holds a value the assistant cannot use. The message is one line naming the variable and the value."""


class ClockError(SettingsError):
    """HSM_NOW is set but is not an ISO-8601 instant with an offset."""


def parse_number(
    text: str,
    name: str,
    kind: type[N] = int,
    *,
    what: str | None = None,
    minimum: N | None = None,
    maximum: N | None = None,
    positive: bool = False,
) -> N:
    """`text` as a whole number (`kind=int`: what `int()` reads) or a number (`kind=float`: what `float()` reads, NaN
    excepted) within the limits (inclusive; `positive`: above 0). `name` is the variable (or option) the text came
    from. Else SettingsError: "NAME='text' is not a whole number" (`what` says more, e.g. "a number of seconds")."""
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or value != value:  # NaN is no number of anything
        raise SettingsError(f"{name}={text!r} is not {what or ('a whole number' if kind is int else 'a number')}")
    if positive and not value > 0:
        raise SettingsError(f"{name}={text!r} must be positive")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        if minimum is not None and maximum is not None:
            limit = f"be between {minimum} and {maximum}"
        elif minimum is not None:
            limit = "not be negative" if minimum == 0 else f"be at least {minimum}"
        else:
            limit = f"be at most {maximum}"
        raise SettingsError(f"{name}={text!r} must {limit}")
    return value


def parse_flag(text: str, name: str, *, otherwise: bool | None = None) -> bool:
    """`text` as yes or no: 1/0, true/false, yes/no, on/off (any case, spaces around ignored). Another word is
    `otherwise` when given, else SettingsError."""
    word = text.strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    if otherwise is not None:
        return otherwise
    raise SettingsError(f"{name}={text!r} is not one of 1/0, true/false, yes/no, on/off")


def parse_instant(text: str) -> datetime:
    """Parse an ISO-8601 instant that carries its offset ("2026-12-01T16:30:00+05:30", "...Z")."""
    try:
        instant = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ClockError(f"HSM_NOW={text!r} is not an ISO-8601 instant") from None
    if instant.tzinfo is None:
        raise ClockError(f"HSM_NOW={text!r} needs an offset, e.g. 2026-12-01T16:30:00+05:30")
    return instant


class Variables:
    """The values a section's variables had when it was read. Asking for a variable the section does not list in
    VARIABLES is a KeyError: the list is what decides when the section is read again."""

    def __init__(self, names: tuple[str, ...], values: tuple[str | None, ...]) -> None:
        self._values = dict(zip(names, values, strict=True))

    def raw(self, name: str) -> str | None:
        """The value as set (empty included); None when unset."""
        return self._values[name]

    def text(self, name: str) -> str | None:
        """The value; None when unset or empty."""
        return self._values[name] or None

    def text_or(self, name: str, default: str) -> str:
        """The value; `default` when unset or empty."""
        return self._values[name] or default

    def number(
        self,
        name: str,
        default: N,
        kind: type[N] = int,
        *,
        what: str | None = None,
        minimum: N | None = None,
        maximum: N | None = None,
        positive: bool = False,
    ) -> N:
        """`parse_number` of the value; `default` when unset, empty or only spaces."""
        raw = self._values[name]
        if raw is None or not raw.strip():
            return default
        return parse_number(raw.strip(), name, kind, what=what, minimum=minimum, maximum=maximum, positive=positive)

    def flag(self, name: str, default: bool, otherwise: bool | None = None) -> bool:
        """`parse_flag` of the value; `default` when unset, empty or only spaces."""
        raw = self._values[name]
        if raw is None or not raw.strip():
            return default
        return parse_flag(raw, name, otherwise=otherwise)


class Section:
    """A section of the settings: the variables it reads (`VARIABLES`: a change to one of them makes it read again)
    and how it reads them."""

    VARIABLES: ClassVar[tuple[str, ...]]

    @classmethod
    def read(cls: type[S], env: Variables) -> S:
        raise NotImplementedError


def parse_day_list(raw: str | None, name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    """'3' or '7,3' (spaces ignored): whole days, none negative, largest first; `default` when unset or blank."""
    if raw is None or not raw.strip():
        return default
    wrong = SettingsError(f"{name}={raw!r}: expected days such as '3' or '7,3'")
    try:
        days = {parse_number(part, name, minimum=0) for part in raw.replace(" ", "").split(",") if part}
    except SettingsError:
        raise wrong from None
    if not days:
        raise wrong
    return tuple(sorted(days, reverse=True))


def parse_hour_range(raw: str | None, name: str, default: tuple[time, time]) -> tuple[time, time]:
    """'09:00-20:00'; `default` when unset or blank."""
    if raw is None or not raw.strip():
        return default
    try:
        start, end = (time.fromisoformat(part.strip()) for part in raw.split("-"))
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: expected a range such as '09:00-20:00'") from None
    return start, end


# ------------------------------------------------------------------------------------------------ production
SAMPLE_POSTGRES_PASSWORD = "change-me-to-a-long-random-hex-string"  # .env.example's (tests/unit checks)
MIN_PRODUCTION_SECRET_LENGTH = 16  # RAZORPAY_WEBHOOK_SECRET
MIN_PRODUCTION_LINK_SECRET = 32
MIN_PRODUCTION_JWT_BYTES = 32  # hsm.office.admin_api.auth.MIN_SECRET_BYTES


def database_password(url: str) -> str | None:
    """The password in a database URL, or None."""
    from urllib.parse import unquote, urlsplit

    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


def weak_production_setting(
    *,
    payment_provider: str | None,
    razorpay_webhook_secret: str | None,
    link_secret: str | None,
    jwt_secret: str | None,
    action_server_token: str | None,
    frozen_now: bool,
    postgres_passwords: tuple[str | None, ...],
) -> str | None:
    """Why these values are development or too weak ones for HSM_ENV=production (one line), or None."""
    if payment_provider == "local":
        return (
            "HSM_PAYMENT_PROVIDER=local is the development stand-in payment provider: HSM_ENV=production takes "
            "Razorpay (RAZORPAY_KEY_ID) or no online payments"
        )
    if payment_provider == "razorpay" and len(razorpay_webhook_secret or "") < MIN_PRODUCTION_SECRET_LENGTH:
        return (
            f"HSM_ENV=production needs RAZORPAY_WEBHOOK_SECRET ({MIN_PRODUCTION_SECRET_LENGTH} characters or more): "
            "without it every payment webhook is refused"
        )
    if len(link_secret or "") < MIN_PRODUCTION_LINK_SECRET:
        return (
            f"HSM_ENV=production needs HSM_LINK_SECRET ({MIN_PRODUCTION_LINK_SECRET} characters or more): without it"
            " each process makes its own and a link code made by one replica fails on another"
        )
    if len((jwt_secret or "").encode()) < MIN_PRODUCTION_JWT_BYTES:
        return (
            f"HSM_ENV=production needs ADMIN_JWT_SECRET of {MIN_PRODUCTION_JWT_BYTES} bytes or more: admin tokens"
            " signed with a short secret can be guessed"
        )
    if len(action_server_token or "") < MIN_PRODUCTION_LINK_SECRET:
        return (
            f"HSM_ENV=production needs HSM_ACTION_SERVER_TOKEN ({MIN_PRODUCTION_LINK_SECRET} characters or more):"
            " without it anyone who reaches the action server can run any action as anyone"
        )
    if frozen_now:
        return "HSM_NOW freezes the clock (demos and tests): leave it empty with HSM_ENV=production"
    if SAMPLE_POSTGRES_PASSWORD in postgres_passwords:
        return "POSTGRES_PASSWORD is the sample value of .env.example: set a long random one (openssl rand -hex 24)"
    return None
