"""Staff passwords: the rules a new one must meet, and the salted scrypt hash that is all we keep of it.

The hash string carries its own parameters (`scrypt$n=32768,r=8,p=3$<salt>$<hash>`, base64), so the cost can be
raised later: `needs_rehash` tells a successful sign-in to store a fresh hash. Comparisons are constant-time. The
default cost is OWASP's (N=2^15, r=8, p=3: 32 MiB, about 0.3 s here); a sign-in for an unknown login spends the
same time on a dummy hash, so the answer's timing does not say whether a login exists.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 256  # scrypt reads it all: a bound against huge inputs
SALT_BYTES = 16
KEY_BYTES = 32
_HASH = re.compile(r"scrypt\$n=(\d{1,8}),r=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/=]{1,64})\$([A-Za-z0-9+/=]{1,128})")


@dataclass(frozen=True)
class ScryptCost:
    n: int  # CPU/memory cost, a power of 2
    r: int  # block size
    p: int  # parallelism

    @property
    def maxmem(self) -> int:
        return 128 * self.n * self.r * (self.p + 1) + 1024 * 1024


COST = ScryptCost(n=2**15, r=8, p=3)
MAX_COST = ScryptCost(n=2**20, r=16, p=16)  # a stored hash asking for more is refused, not computed


class PasswordRejected(ValueError):
    """A new password that breaks the rules (the message says which; it never repeats the password)."""


def check_rules(password: str, login: str) -> None:
    """PasswordRejected unless `password` is 12 to 256 characters, not one character repeated, and not the login."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_CHARS:
        raise PasswordRejected(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise PasswordRejected(f"a password may have at most {MAX_PASSWORD_CHARS} characters")
    if len(set(password)) == 1:
        raise PasswordRejected("a password may not be one character repeated")
    if password.strip().casefold() == login.strip().casefold():
        raise PasswordRejected("a password may not be the login")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _derive(password: str, salt: bytes, cost: ScryptCost) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=cost.n, r=cost.r, p=cost.p, maxmem=cost.maxmem, dklen=KEY_BYTES
    )


def hash_password(password: str, cost: ScryptCost | None = None) -> str:
    """The string to store: scheme, parameters, a random salt and the derived key."""
    cost = cost or COST
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, cost)
    return f"scrypt$n={cost.n},r={cost.r},p={cost.p}${_b64(salt)}${_b64(key)}"


def _parse(stored: str) -> tuple[ScryptCost, bytes, bytes] | None:
    match = _HASH.fullmatch(stored or "")
    if match is None:
        return None
    n, r, p = (int(group) for group in match.group(1, 2, 3))
    cost = ScryptCost(n, r, p)
    if not (1 < n <= MAX_COST.n and n & (n - 1) == 0 and 1 <= r <= MAX_COST.r and 1 <= p <= MAX_COST.p):
        return None
    try:
        return cost, base64.b64decode(match.group(4), validate=True), base64.b64decode(match.group(5), validate=True)
    except ValueError:
        return None


def verify(password: str, stored: str | None) -> bool:
    """Whether `password` is the one `stored` was made from (constant-time). With no usable hash (none set, or an
    unreadable one), a dummy hash is computed anyway and the answer is False."""
    parsed = _parse(stored) if stored else None
    if parsed is None or not isinstance(password, str) or len(password) > MAX_PASSWORD_CHARS:
        _derive("not the password", b"\0" * SALT_BYTES, COST)  # the same time as a real check
        return False
    cost, salt, key = parsed
    return hmac.compare_digest(_derive(password, salt, cost), key)


def needs_rehash(stored: str | None) -> bool:
    """Whether a hash was made with a lower cost than today's (store a new one at the next successful sign-in)."""
    parsed = _parse(stored) if stored else None
    if parsed is None:
        return True
    cost = parsed[0]
    return cost.n * cost.r * cost.p < COST.n * COST.r * COST.p
