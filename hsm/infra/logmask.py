"""Mask phone numbers and e-mail addresses in log records, whoever logs them (hsm, Rasa, rasa-sdk, Sanic).

`MaskPersonalData` is a `logging.Filter` that rewrites a record's message (after %-formatting its args), its
exception text and stack, so "+919876543210" becomes "+91******3210", the wa_id "919876543210" becomes
"91******3210", a bare mobile "9876543210" becomes "******3210" and "john.doe@email.com" becomes
"j***@email.com". Rasa's structlog lines are plain strings (JSON or console) by the time they reach `logging`,
so they are masked the same way; a structlog event dict left in `record.msg` is masked value by value.

Use it either way:
- `install()` in code, which adds the filter to the handlers of the root logger and of Rasa's, Sanic's and
  hsm's loggers, and also masks every record as it is created, so handlers added later (Rasa replaces the
  root's console handler with coloredlogs' after reading `--logging-config-file`) get masked records too;
- `logging.yml` at the repository root: `rasa run --logging-config-file logging.yml` and
  `rasa run actions --logging-config-file logging.yml`.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable
from typing import Any

# "+91 98765 43210", "+1-415-555-0100": a plus, then 8 to 15 digits with single spaces, dots or hyphens between.
_PLUS_NUMBER = r"\+\d(?:[ .-]?\d){7,14}"
# WhatsApp's wa_id for an Indian number: 91 + a ten-digit mobile, no plus.
_WA_ID = r"91[6-9]\d{9}"
# A ten-digit Indian mobile, optionally with a leading 0 and one space or hyphen after the first five digits.
_MOBILE = r"0?[6-9]\d{4}[ -]?\d{5}"
PHONE_PATTERN = re.compile(rf"(?<![\d+])(?:{_PLUS_NUMBER}|{_WA_ID}|{_MOBILE})(?!\d)")
EMAIL_PATTERN = re.compile(
    r"(?<![\w.%+-])([A-Za-z0-9][A-Za-z0-9._%+-]{0,63})@((?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24})"
)

DEFAULT_LOGGERS = ("", "rasa", "rasa_sdk", "sanic", "hsm")
_STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "_hsm_masked",
}
MAX_MESSAGE_CHARS = 100_000  # longer messages are cut before masking, never left unmasked


def mask_phone_text(number: str) -> str:
    """'+91 98765 43210' -> '+91******3210'; '919876543210' -> '91******3210'; '9876543210' -> '******3210'."""
    digits = "".join(ch for ch in number if ch.isdigit())
    if number.startswith("+"):
        country = 2 if digits.startswith("91") else 1 if digits[:1] in ("1", "7") else 2
        return "+" + digits[:country] + "*" * (len(digits) - country - 4) + digits[-4:]
    if len(digits) == 12 and digits.startswith("91"):
        return "91" + "*" * 6 + digits[-4:]
    return "*" * (len(digits) - 4) + digits[-4:]


def mask_email(match: re.Match) -> str:
    return f"{match.group(1)[0]}***@{match.group(2)}"


def mask_text(text: str) -> str:
    """`text` with every phone number and e-mail address masked."""
    if not text:
        return text
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS] + " …[truncated]"
    text = EMAIL_PATTERN.sub(mask_email, text)
    return PHONE_PATTERN.sub(lambda match: mask_phone_text(match.group(0)), text)


def mask_value(value: Any, _depth: int = 0) -> Any:
    """Strings masked; dicts, lists and tuples masked item by item (a structlog event dict, say)."""
    if isinstance(value, str):
        return mask_text(value)
    if _depth > 20:
        return value
    if isinstance(value, dict):
        return {key: mask_value(item, _depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(mask_value(item, _depth + 1) for item in value)
    return value


class MaskPersonalData(logging.Filter):
    """A logging filter that masks phone numbers and e-mail addresses; it never drops a record."""

    def __init__(self, name: str = "", everywhere: bool = False) -> None:
        """`everywhere`: also mask each record as it is created (see `install_record_factory`)."""
        super().__init__(name)
        if everywhere:
            install_record_factory()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            if getattr(record, "_hsm_masked", False):
                mask_extras(record)  # masked when created, but `extra=` fields arrive after that
            else:
                mask_record(record)
        except Exception:  # noqa: BLE001 - a filter must never break the caller's logging call
            record.msg, record.args = "<log message withheld: it could not be masked>", ()
        record._hsm_masked = True
        return True


def mask_record(record: logging.LogRecord) -> None:
    """Rewrite the record in place: message with its args applied, exception and stack text, all masked."""
    if isinstance(record.msg, dict) and not record.args:
        record.msg = mask_value(record.msg)
    else:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - bad args: keep what can be kept, masked
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = mask_text(message), ()
    mask_extras(record)
    if record.exc_info and not record.exc_text:
        record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
    if record.exc_text:
        record.exc_text = mask_text(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_text(record.stack_info)


def mask_extras(record: logging.LogRecord) -> None:
    """Mask the record's `extra=` string fields, e.g. Sanic's access-log "request" line."""
    for key, value in list(record.__dict__.items()):
        if key not in _STANDARD_ATTRIBUTES and isinstance(value, str):
            record.__dict__[key] = mask_text(value)


_previous_factory = None


def install_record_factory() -> None:
    """Mask every record as it is created, before any handler sees it (idempotent)."""
    global _previous_factory
    if _previous_factory is not None:
        return
    previous = logging.getLogRecordFactory()
    masker = MaskPersonalData()

    def masked_record(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        masker.filter(record)
        return record

    logging.setLogRecordFactory(masked_record)
    _previous_factory = previous


def uninstall_record_factory() -> None:
    """Undo `install_record_factory` (tests)."""
    global _previous_factory
    if _previous_factory is not None:
        logging.setLogRecordFactory(_previous_factory)
        _previous_factory = None


def install(logger_names: Iterable[str] = DEFAULT_LOGGERS, record_factory: bool = True) -> MaskPersonalData:
    """Add the filter to the handlers of these loggers ("" is the root) and of their existing descendants
    ("sanic" covers "sanic.access"), and to the loggers themselves; with `record_factory`, also mask records at
    creation so handlers added later are covered too. Safe to call twice."""
    mask = next((f for f in logging.getLogger().filters if isinstance(f, MaskPersonalData)), None)
    mask = mask or MaskPersonalData()
    names = set(logger_names)
    existing = list(logging.Logger.manager.loggerDict)
    names |= {child for child in existing for name in names if name and child.startswith(name + ".")}
    for name in sorted(names):
        logger = logging.getLogger(name)
        if not any(isinstance(f, MaskPersonalData) for f in logger.filters):
            logger.addFilter(mask)
        for handler in logger.handlers:
            if not any(isinstance(f, MaskPersonalData) for f in handler.filters):
                handler.addFilter(mask)
    if record_factory:
        install_record_factory()
    return mask
