"""Meta's X-Hub-Signature-256 check for webhook POSTs: HMAC-SHA256 of the raw body with the app secret."""

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
