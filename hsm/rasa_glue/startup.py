"""The one start-up hook of a Rasa process of ours (the Rasa server with the WhatsApp channel, or one of its worker
processes): what we change in Rasa itself is done here, explicitly, never as a side effect of an import.

- `prepare_rasa_process()` before the model is loaded: installs the action-response check that builds its validator
  once (`speedups.install`).
- `prepare_rasa_process(role_check)` also gives the tracker store the check of who a number is now, so that a
  conversation whose number lost its role (a teacher who left) starts a new session in the role it has now.
- `after_model_loaded()`: exempts the loaded model from later garbage collections (`speedups.freeze_loaded_objects`).

Both apply to the whole process, so to every channel its server runs, Rasa's REST channel included (they change
how fast Rasa works, not what it answers). `HSM_RASA_SPEEDUPS=0` turns both off.
"""

from __future__ import annotations

import logging

from hsm.infra.config import get_settings
from hsm.rasa_glue import speedups, stores

log = logging.getLogger(__name__)


def prepare_rasa_process(role_check: stores.RoleCheck | None = None) -> None:
    """`role_check` (the WhatsApp channel passes one built on hsm.people.identity): conversations whose number lost
    the role their session holds start a new session in the current role (`SchoolTrackerStore`)."""
    stores.check_roles_with(role_check)
    if not get_settings().rasa.action_server_token:  # production refuses to start without it
        log.warning(
            "HSM_ACTION_SERVER_TOKEN is not set: Rasa calls the action server without a token (development only)"
        )
    if get_settings().rasa.speedups:
        speedups.install()
    else:
        log.info("HSM_RASA_SPEEDUPS is off: Rasa runs unpatched")


def after_model_loaded() -> None:
    if get_settings().rasa.speedups:
        speedups.freeze_loaded_objects()
