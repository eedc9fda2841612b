"""Rasa custom actions, one module per area; thin wrappers over `hsm` services."""

from actions.faq import ActionAnswerFaq, ActionShowMenu
from actions.session import ActionSessionStart

__all__ = ["ActionAnswerFaq", "ActionSessionStart", "ActionShowMenu"]
