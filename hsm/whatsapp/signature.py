"""Meta's webhook checks: X-Hub-Signature-256 on POSTs (HMAC-SHA256 of the raw body with the app secret) and the
verify token of the GET handshake, both compared in constant time."""

from __future__ import annotations

import hashlib
import hmac

_PREFIX = "sha256="


def sign(raw_body: bytes, app_secret: str) -> str:
    """The X-Hub-Signature-256 header value Meta would send for this body: "sha256=<hex>"."""
    digest = hmac.new(app_secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def verify_signature(raw_body: bytes, header: str | None, app_secret: str | None) -> bool:
    """True only when the header is Meta's signature of exactly these bytes.

    There is no "skip" mode: a missing secret fails closed, so a misconfigured deployment refuses
    every POST instead of silently trusting anyone.
    """
    if not app_secret or not isinstance(header, str):
        return False
    header = header.strip()
    if not header.isascii() or header[: len(_PREFIX)].lower() != _PREFIX:
        return False
    received = header[len(_PREFIX) :].lower()
    expected = sign(raw_body, app_secret)[len(_PREFIX) :]
    return hmac.compare_digest(received.encode("ascii"), expected.encode("ascii"))


def verify_token_matches(given: object, expected: str | None) -> bool:
    """True only when Meta's `hub.verify_token` is exactly our verify token, compared in constant time (as bytes:
    `hmac.compare_digest` refuses str that is not ASCII). A missing or empty token, or none configured, fails."""
    if not expected or not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
