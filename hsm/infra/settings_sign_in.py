"""The sign-in limits per client address (a section of `hsm.infra.config`): code requests and failed sign-ins one
address may make in 15 minutes, and the proxies whose X-Forwarded-For names that address (hsm.office.console)."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_network

from hsm.infra.settings_values import Section, SettingsError, Variables

DEFAULT_CODES_PER_ADDRESS = 10
DEFAULT_FAILURES_PER_ADDRESS = 20
MAX_PER_ADDRESS = 100_000

Network = IPv4Network | IPv6Network


def parse_networks(raw: str | None, name: str) -> tuple[Network, ...]:
    """'172.18.0.0/16, 10.0.0.5' (addresses or networks, commas or spaces between); () when unset or blank."""
    networks = []
    for part in (raw or "").replace(",", " ").split():
        try:
            networks.append(ip_network(part, strict=False))
        except ValueError:
            wrong = f"{name}={raw!r}: {part!r} is not an IP address or network such as 172.18.0.0/16"
            raise SettingsError(wrong) from None
    return tuple(networks)


@dataclass(frozen=True)
class SignInLimits(Section):
    """`codes_per_address`: requests for a one-time code, and `failures_per_address`: failed sign-ins (a wrong
    code or password), one client address may make in 15 minutes, whatever logins it names. `trusted_proxies`:
    peers whose X-Forwarded-For says who the client is (the compose network's Caddy); from anyone else the header
    is ignored and the peer's own address counts."""

    VARIABLES = ("HSM_SIGN_IN_CODES_PER_ADDRESS", "HSM_SIGN_IN_FAILURES_PER_ADDRESS", "HSM_TRUSTED_PROXIES")
    codes_per_address: int = DEFAULT_CODES_PER_ADDRESS
    failures_per_address: int = DEFAULT_FAILURES_PER_ADDRESS
    trusted_proxies: tuple[Network, ...] = ()

    @classmethod
    def read(cls, env: Variables) -> SignInLimits:
        return cls(
            codes_per_address=env.number(
                "HSM_SIGN_IN_CODES_PER_ADDRESS", DEFAULT_CODES_PER_ADDRESS, minimum=1, maximum=MAX_PER_ADDRESS
            ),
            failures_per_address=env.number(
                "HSM_SIGN_IN_FAILURES_PER_ADDRESS", DEFAULT_FAILURES_PER_ADDRESS, minimum=1, maximum=MAX_PER_ADDRESS
            ),
            trusted_proxies=parse_networks(env.raw("HSM_TRUSTED_PROXIES"), "HSM_TRUSTED_PROXIES"),
        )
