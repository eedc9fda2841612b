"""Rasa custom actions, one module per area (the action server imports every module of this package);
thin wrappers over `hsm` services."""
