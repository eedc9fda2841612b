"""How log lines look: plain text (the default) or, with HSM_LOG_FORMAT=json, one JSON object per line on stderr
with the time (ISO 8601, UTC), level, logger, message, the process's role, the correlation id when there is one
(hsm.infra.correlation) and any `extra=` fields, every value masked like the rest of the log (hsm.infra.logmask).

Each process gets there its own way, and all of them end in `configure(role)`:
- `logging.yml` builds its console formatter with `console_formatter()` (`rasa run actions`, Rasa's worker
  processes), and its `KeepJsonLines` filter formats the handler coloredlogs puts in its place in `rasa run`;
- Sanic adds its own handlers when Rasa's app is made: the WhatsApp channel calls `configure("rasa")` when it is
  created and again before the server starts;
- `hsm` commands call `configure(command)` (`hsm api`, `hsm worker`, `hsm scheduler`, ...).
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from hsm.infra import correlation
from hsm.infra.config import get_settings
from hsm.infra.logmask import mask_text, mask_value
from hsm.infra.settings_values import SettingsError

PLAIN_FORMAT = "%(asctime)s %(levelname)-8s %(name)s - %(message)s"
SMALLEST_MASKED_NUMBER = 10_000_000  # an `extra=` number of 8 digits or more is masked like a run of digits in text
_MASKED_MARK = "_hsm_masked"  # hsm.infra.logmask marks a record it has masked: not a field of the line


def _role_from_command(argv: list[str]) -> str:
    """'actions' for `rasa run actions`, 'rasa' for other `rasa` commands, the sub-command for `hsm X`, else the
    program's name."""
    program = Path(argv[0]).name if argv else "python"
    if program == "rasa":
        return "actions" if argv[1:3] == ["run", "actions"] else "rasa"
    if program == "hsm" and len(argv) > 1:
        return argv[1]
    return program


_role = _role_from_command(sys.argv)


def role() -> str:
    """This process's role in the stack, written on every JSON line."""
    return _role


def json_wanted() -> bool:
    """HSM_LOG_FORMAT=json; a bad value counts as text here (the process's settings check refuses it at start)."""
    try:
        return get_settings().log_output.json
    except SettingsError:
        return False


def _masked(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= SMALLEST_MASKED_NUMBER:
        return mask_text(str(value))
    return mask_value(value)


class JsonLineFormatter(JsonFormatter):
    """One JSON object per record: time, level, logger, process, message, correlation_id (when bound, or given as
    `extra={"correlation_id": ...}` for a line about another message), then the record's other fields, masked."""

    def __init__(self) -> None:
        super().__init__(reserved_attrs=[*RESERVED_ATTRS, _MASKED_MARK], json_ensure_ascii=False)

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        extras: dict[str, Any] = {}
        super().add_fields(extras, record, message_dict)  # a dict message's items, exc_info, extra= fields
        correlation_id = extras.pop(correlation.LOG_FIELD, None) or correlation.current()
        message = record.message if getattr(record, _MASKED_MARK, False) else mask_text(record.message)
        log_data["time"] = datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds")
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["process"] = _role
        log_data["message"] = message
        if correlation_id:
            log_data[correlation.LOG_FIELD] = mask_text(str(correlation_id))
        for key, value in extras.items():
            log_data[key] = _masked(value)


class KeepJsonLines(logging.Filter):
    """logging.yml's console handler filter for HSM_LOG_FORMAT=json: `rasa run` replaces that handler with
    coloredlogs' own right after reading the file, and hands the new handler the old one's filters; this one then
    gives the new handler the JSON formatter before it writes its first line. It also sends Python's warnings
    through logging. It never drops a record; with plain text it does nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.active = json_wanted()
        if self.active:
            logging.captureWarnings(True)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.active:
            for handler in logging.getLogger().handlers:
                if self in handler.filters and not isinstance(handler.formatter, JsonLineFormatter):
                    handler.setFormatter(JsonLineFormatter())
        return True


def console_formatter() -> logging.Formatter:
    """The console formatter logging.yml asks for: JSON lines with HSM_LOG_FORMAT=json, else plain text."""
    return JsonLineFormatter() if json_wanted() else logging.Formatter(PLAIN_FORMAT)


def _console_handlers() -> list[logging.StreamHandler]:
    loggers = [logging.getLogger()] + [
        logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    return [handler for logger in loggers for handler in logger.handlers if isinstance(handler, logging.StreamHandler)]


def configure(process_role: str | None = None) -> None:
    """Name this process's role (else it is guessed from the command line); with HSM_LOG_FORMAT=json, make every
    console handler there is now write JSON lines to stderr (filters, such as the masking, stay on), and Python's
    warnings go through logging. Safe to call again after a library has added handlers."""
    global _role
    if process_role:
        _role = process_role
    if not json_wanted():
        return
    logging.captureWarnings(True)  # a library's warning becomes a JSON line too, not a bare one on stderr
    for handler in _console_handlers():
        if handler.stream is sys.stdout:
            handler.setStream(sys.stderr)
        if not isinstance(handler.formatter, JsonLineFormatter):
            handler.setFormatter(JsonLineFormatter())
