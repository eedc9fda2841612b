"""Phone numbers in E.164 (`+919876543210`), and masked for logs (`+91******3210`)."""

from __future__ import annotations

import functools

import phonenumbers

DEFAULT_REGION = "IN"


class InvalidPhoneNumber(ValueError):
    pass


@functools.lru_cache(maxsize=4096)  # a pure function, called for every message; parsing costs ~0.1 ms
def normalise_phone(raw: str | int, region: str = DEFAULT_REGION) -> str:
    """Return `raw` in E.164. Accepts "+91 98765-43210", "098765 43210", "919876543210" (WhatsApp's wa_id)."""
    text = str(raw).strip()
    if not text:
        raise InvalidPhoneNumber("empty phone number")
    digits_only = "".join(ch for ch in text if ch.isdigit())
    candidates = [text]
    if not text.startswith("+") and len(digits_only) > 10:
        candidates.insert(0, "+" + digits_only)  # WhatsApp ids carry the country code without "+"
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(number) and phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    raise InvalidPhoneNumber(f"not a valid phone number: {text!r}")


def mask_phone(phone: str | None) -> str:
    """Keep the country code and the last four digits: `+91******3210`."""
    if not phone:
        return "<none>"
    text = str(phone)
    if len(text) <= 7:
        return "*" * len(text)
    head = 3 if text.startswith("+") else 2
    return text[:head] + "*" * (len(text) - head - 4) + text[-4:]
