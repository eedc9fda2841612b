"""The log output settings (a section of `hsm.infra.config`): plain text lines or one JSON object per line."""

from __future__ import annotations

from dataclasses import dataclass

from hsm.infra.settings_values import Section, SettingsError, Variables

LOG_FORMATS = ("text", "json")


@dataclass(frozen=True)
class LogOutput(Section):
    """HSM_LOG_FORMAT: "json" makes every process write one JSON object per line to stderr (hsm.infra.logformat);
    unset or "text": plain lines."""

    VARIABLES = ("HSM_LOG_FORMAT",)
    json: bool = False

    @classmethod
    def read(cls, env: Variables) -> LogOutput:
        raw = env.text("HSM_LOG_FORMAT")
        word = raw.strip().lower() if raw else "text"
        if word not in LOG_FORMATS:
            raise SettingsError(f"HSM_LOG_FORMAT={raw!r} must be 'text' or 'json' (empty: text)")
        return cls(json=word == "json")
