"""Rasa custom actions, one module per area (the action server imports every module of this package);
thin wrappers over `hsm` services."""

from hsm.infra.config import check_settings_or_exit

# `rasa run actions` imports this package first: a bad setting stops the action server here, in one line.
check_settings_or_exit()
