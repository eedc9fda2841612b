"""Mask phone numbers, WhatsApp message ids and e-mail addresses in log records, whoever logs them (hsm, Rasa,
rasa-sdk, Sanic).

`MaskPersonalData` is a `logging.Filter` that rewrites a record's message (after %-formatting its args), its
exception text and stack, so "+919876543210" becomes "+91******3210", the wa_id "919876543210" becomes
"91******3210", a bare mobile "9876543210" becomes "******3210", any other run of 8 or more digits keeps only its
last four ("14155550100" -> "*******0100"; decimal fractions such as a confidence 0.9876543210 are left alone),
a message id "wamid.HBgLMTQxNTU1NTAxMDAV..." (Meta's ids are base64 of data that holds the sender's number)
becomes its reference "wamid#3fa2c1d0" (`wamid_ref`), and "john.doe@email.com" becomes "j***@email.com". Rasa's
structlog lines are plain strings (JSON or console) by the time they reach `logging`, so they are masked the same
way; a structlog event dict left in `record.msg` is masked value by value.

Code that logs a message id logs `wamid_ref(wamid)` itself: the filter is the second line of defence (Rasa's and
the libraries' records), not the first. People's names are not recognised: never log one.

Use it either way:
- `install()` in code, which adds the filter to the handlers of the root logger and of Rasa's, Sanic's and
  hsm's loggers, and also masks every record as it is created, so handlers added later (Rasa replaces the
  root's console handler with coloredlogs' after reading `--logging-config-file`) get masked records too;
- `logging.yml` at the repository root: `rasa run --logging-config-file logging.yml` and
  `rasa run actions --logging-config-file logging.yml`.
"""

from __future__ import annotations

import hashlib
import logging
import re
import traceback
from collections.abc import Iterable
from typing import Any

# Each kind of number, written to start after its first character [+\d] has been consumed: a pattern that starts
# with a character set lets `re` skip every other character in C, instead of trying the alternatives (and their
# look-behinds) at every position. "(?<![\d+].)" after that first character: no digit or plus before the number.
#
# "+91 98765 43210", "+1-415-555-0100": a plus, then 8 to 15 digits with single spaces, dots or hyphens between.
_PLUS_NUMBER = r"(?<=\+)(?<![\d+].)\d(?:[ .-]?\d){7,14}(?!\d)"
# WhatsApp's wa_id for an Indian number: 91 + a ten-digit mobile, no plus.
_WA_ID = r"(?<=9)(?<![\d+].)1[6-9]\d{9}(?!\d)"
# A ten-digit Indian mobile, optionally with a leading 0 and one space or hyphen after the first five digits.
_MOBILE = r"(?<=[06-9])(?<![\d+].)(?:(?<=0)[6-9])?(?<=[6-9])\d{4}[ -]?\d{5}(?!\d)"
# Any other run of 8 or more digits: a wa_id or number of any country, or an id. Not a decimal fraction ("0.98765432"),
# nor the 8 hex digits of a message id's reference that happen to be all digits ("wamid#12345678").
_DIGIT_RUN = r"(?<=\d)(?<!\d.)(?<!\d\.\d)(?<!wamid#\d)\d{7,}"
PHONE_PATTERN = re.compile(rf"[+\d](?:{_PLUS_NUMBER}|{_WA_ID}|{_MOBILE}|{_DIGIT_RUN})")
EMAIL_PATTERN = re.compile(
    r"(?<![\w.%+-])([A-Za-z0-9][A-Za-z0-9._%+-]{0,63})@((?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24})"
)
# A WhatsApp message id: "wamid." and base64 (standard or URL-safe, padded or not).
WAMID_PATTERN = re.compile(r"wamid\.[A-Za-z0-9+/=_-]+")
WAMID_REF_PREFIX = "wamid#"

DEFAULT_LOGGERS = ("", "rasa", "rasa_sdk", "sanic", "hsm")
_STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "_hsm_masked",
}
MAX_MESSAGE_CHARS = 100_000  # longer messages are cut before masking, never left unmasked


def wamid_ref(wamid: str | None) -> str:
    """A short stable reference to a WhatsApp message id for logs: 'wamid#3fa2c1d0' (the first 4 bytes of its
    BLAKE2b hash, the same in every process). The id itself encodes the sender's number; the reference only lets
    one message's log lines be found together (compute it from a stored id to find them)."""
    if not wamid:
        return WAMID_REF_PREFIX + "none"
    return WAMID_REF_PREFIX + hashlib.blake2b(wamid.encode(), digest_size=4).hexdigest()


def mask_phone_text(number: str) -> str:
    """'+91 98765 43210' -> '+91******3210'; '919876543210' -> '91******3210'; '9876543210' -> '******3210';
    '14155550100' -> '*******0100'."""
    digits = "".join(ch for ch in number if ch.isdigit())
    if number.startswith("+"):
        country = 2 if digits.startswith("91") else 1 if digits[:1] in ("1", "7") else 2
        return "+" + digits[:country] + "*" * (len(digits) - country - 4) + digits[-4:]
    if len(digits) == 12 and digits.startswith("91"):
        return "91" + "*" * 6 + digits[-4:]
    return "*" * (len(digits) - 4) + digits[-4:]


def mask_email(match: re.Match[str]) -> str:
    return f"{match.group(1)[0]}***@{match.group(2)}"


def _mask_phone_match(match: re.Match[str]) -> str:
    return mask_phone_text(match.group(0))


def _wamid_match_ref(match: re.Match[str]) -> str:
    return wamid_ref(match.group(0))


def mask_text(text: str) -> str:
    """`text` with every phone number, long run of digits, message id and e-mail address masked.

    Runs on every log record, so: patterns compiled once; the message id and e-mail patterns only when "wamid." or
    "@" is in the text (a substring test costs next to nothing); `PHONE_PATTERN` starts with a character set.
    `bench/logmask_bench.py` (timeit of `MaskPersonalData.filter`, best of 5 x 20 000, five typical records, record
    creation subtracted; 2-core VM, 6 Dec 2026, three runs): 10.5 µs a record (9.9-10.8) before message ids and
    digit runs were masked, 5.6 µs (5.2-6.2) after; the same patterns simply added to the old ones: 15 µs."""
    if not text:
        return text
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS] + " …[truncated]"
    if "wamid." in text:  # first: else digits inside an id's base64 would be masked and the rest of it left
        text = WAMID_PATTERN.sub(_wamid_match_ref, text)
    if "@" in text:
        text = EMAIL_PATTERN.sub(mask_email, text)
    return PHONE_PATTERN.sub(_mask_phone_match, text)


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
    """A logging filter that masks phone numbers (and any run of 8 or more digits), WhatsApp message ids and e-mail
    addresses; it never drops a record."""

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
