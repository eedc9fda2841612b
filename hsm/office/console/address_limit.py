"""Sign-in attempts per client address, whatever logins it names: HSM_SIGN_IN_CODES_PER_ADDRESS code requests and
HSM_SIGN_IN_FAILURES_PER_ADDRESS failed sign-ins (codes and passwords) in 15 minutes (hsm.infra.attempt_limits).
Over it: 429 with Retry-After, decided before any account is looked up (the same page for every login). The
address is the peer's, or what X-Forwarded-For says when the peer is one of HSM_TRUSTED_PROXIES."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

from aiohttp import web

from hsm.infra.attempt_limits import Attempt, AttemptLimiter
from hsm.infra.config import get_settings
from hsm.infra.settings_sign_in import Network
from hsm.office.admin_api.state import SIGN_IN_LIMITER

log = logging.getLogger("hsm.office.console")

WINDOW_S = 15 * 60.0
CODES = "sign-in-codes"  # requests for a one-time code
FAILURES = "sign-in-failures"  # sign-ins (code or password) that did not work; one that works is given back
IPV6_PREFIX = 64  # one subscriber's IPv6 addresses are one client: counted by their /64
TOO_MANY = "Too many sign-in attempts from your network. Wait {minutes} and try again, or ask an admin."

Address = IPv4Address | IPv6Address


def _parse(text: str | None) -> Address | None:
    try:
        address = ip_address((text or "").strip())
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, proxies: Sequence[Network]) -> bool:
    return any(address in network for network in proxies)


def client_address(peer: str | None, forwarded_for: str | None, proxies: Sequence[Network]) -> str:
    """Who a request comes from: the peer, unless the peer is a trusted proxy; then X-Forwarded-For read from the
    right (each hop appends the address it got the request from), skipping trusted proxies: the first one left
    is the client. A client's own X-Forwarded-For is only ever to the left of that, so it cannot choose."""
    address = _parse(peer)
    if address is None:
        return (peer or "unknown")[:64]
    if not forwarded_for or not _trusted(address, proxies):
        return str(address)
    for hop in reversed(forwarded_for.split(",")):
        hop_address = _parse(hop)
        if hop_address is None:  # garbled: the trusted hop nearest to it is the best we know
            break
        address = hop_address
        if not _trusted(address, proxies):
            break
    return str(address)


def limit_key(address: str) -> str:
    """What is counted: an IPv4 address, or the /64 of an IPv6 one."""
    parsed = _parse(address)
    if isinstance(parsed, IPv6Address):
        return str(ip_network(f"{parsed}/{IPV6_PREFIX}", strict=False))
    return address


def mask_address(address: str) -> str:
    """For the log: 203.0.113.x, 2001:db8:85a3::/48."""
    parsed = _parse(address)
    if isinstance(parsed, IPv4Address):
        return ".".join(str(parsed).split(".")[:3]) + ".x"
    if isinstance(parsed, IPv6Address):
        return str(ip_network(f"{parsed}/48", strict=False))
    return "unknown"


@dataclass(frozen=True)
class Turn:
    """One attempt of a client address: allowed (counted), or refused with how long to wait."""

    limiter: AttemptLimiter
    bucket: str
    key: str
    attempt: Attempt

    @property
    def allowed(self) -> bool:
        return self.attempt.allowed

    @property
    def retry_after_s(self) -> int:
        return max(1, math.ceil(self.attempt.retry_after_s))

    @property
    def message(self) -> str:
        minutes = math.ceil(self.retry_after_s / 60)
        return TOO_MANY.format(minutes="a minute" if minutes == 1 else f"{minutes} minutes")

    def refuse(self, response: web.Response) -> web.Response:
        """The 429 page (`response`, with `message` on it) with its Retry-After."""
        response.headers["Retry-After"] = str(self.retry_after_s)
        return response

    async def give_back(self) -> None:
        """Uncount this attempt (a sign-in that worked)."""
        if self.attempt.allowed:
            await self.limiter.agive_back(self.bucket, self.key, self.attempt.token)


async def take_turn(request: web.Request, bucket: str) -> Turn:
    """Count one attempt (CODES or FAILURES) of the request's client address; refused over its limit (one log
    line with the address masked: never the login or the code)."""
    settings = get_settings().sign_in
    limit = settings.codes_per_address if bucket == CODES else settings.failures_per_address
    address = client_address(request.remote, request.headers.get("X-Forwarded-For"), settings.trusted_proxies)
    limiter = request.app[SIGN_IN_LIMITER]
    key = limit_key(address)
    turn = Turn(limiter, bucket, key, await limiter.atake(bucket, key, limit, WINDOW_S))
    if not turn.allowed:
        log.warning(
            "refused a sign-in step from %s: %s over %d in 15 minutes (429, retry after %d s)",
            mask_address(address),
            bucket,
            limit,
            turn.retry_after_s,
        )
    return turn
