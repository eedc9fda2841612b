"""The metrics settings (a section of `hsm.infra.config`): the port a process serves /metrics on, and
prometheus_client's multiprocess directory."""

from __future__ import annotations

from dataclasses import dataclass

from hsm.infra.settings_values import Section, Variables


@dataclass(frozen=True)
class Metrics(Section):
    """`port`: where the channel (Rasa's process), the action server, `hsm worker` and `hsm scheduler` serve
    Prometheus' /metrics (None: nowhere; `hsm api` serves /metrics on its own port). `multiprocess_dir`: the
    directory where the processes of one process tree write their metrics (hsm.infra.metrics makes a private one
    when it is unset)."""

    VARIABLES = ("HSM_METRICS_PORT", "PROMETHEUS_MULTIPROC_DIR")
    port: int | None = None
    multiprocess_dir: str | None = None

    @classmethod
    def read(cls, env: Variables) -> Metrics:
        port = env.number("HSM_METRICS_PORT", 0, what="a TCP port", minimum=0, maximum=65535)
        return cls(port=port or None, multiprocess_dir=env.text("PROMETHEUS_MULTIPROC_DIR"))
