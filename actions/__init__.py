"""Rasa custom actions, one module per area; thin wrappers over `hsm` services."""

from actions.session import ActionSessionStart

__all__ = ["ActionSessionStart"]
