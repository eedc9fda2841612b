"""The errors a broadcast request can fail with: a BroadcastError names the argument at fault."""

from __future__ import annotations


class BroadcastError(ValueError):
    """A broadcast that cannot be made as asked; `field` names the argument at fault."""

    def __init__(self, field: str, message: str, code: str = "invalid", details: dict | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.code = code
        self.details = details or {}


class AudienceError(BroadcastError):
    """The audience is malformed, names an unknown batch or course, holds invalid numbers, or reaches no one."""
