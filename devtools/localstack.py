"""The local stack as real processes (Meta sandbox, action server, Rasa with the WhatsApp channel) for end-to-end
tests and benchmarks, with helpers that post signed webhooks and read what the sandbox received.

`Stack.start(..., rasa_replicas=2, action_servers=2)` runs several Rasa servers (and action servers) on the same
database, as replicas behind a load balancer would: Rasa replica i talks to action server i mod n. The first of
each keeps the names "rasa" and "actions"; the others are "rasa-2", "actions-2", ... Pass `env` (e.g. REDIS_URL)
to give every process more of the environment. Each process serves its metrics on a port of its own
(`metrics_url(name)`)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from sqlalchemy import select

from devtools.chat import button_reply_message, list_reply_message, text_message, webhook_body
from hsm.infra import models as m
from hsm.infra.config import PROJECT_ROOT, child_environment
from hsm.infra.db import session_scope
from hsm.whatsapp.signature import sign
from hsm.whatsapp.store import FAILED, HELD, PROCESSED, SKIPPED

BIN = Path(sys.executable).parent
MODEL = PROJECT_ROOT / "models" / "hsm.tar.gz"
APP_SECRET = "e2e-app-secret"
VERIFY_TOKEN = "e2e-verify-token"
ACCESS_TOKEN = "e2e-access-token"
PHONE_NUMBER_ID = "100000000000042"
TURN_OVER = (PROCESSED, SKIPPED, FAILED, HELD)  # an inbound message's states once the channel is done with it
# The stand-in payment provider and its webhook secret: development settings, given to the stack explicitly (the
# application has no default for either).
PAYMENT_PROVIDER = "local"
PAYMENT_WEBHOOK_SECRET = "e2e-payment-webhook-secret-development-only"
# Rasa's secret for the action server (endpoints.yml's token), and the development channels (REST, for the
# benchmarks' baseline) next to the production ones.
ACTION_SERVER_TOKEN = "e2e-action-server-token-development-only"
ADMIN_JWT_SECRET = "e2e-admin-jwt-secret-development-only-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not come up in {timeout_s}s:\n{log.read_text()[-3000:]}")


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass  # the whole group has ended


@dataclass
class Stack:
    """Processes started for one test session; `env` is what they were given."""

    workdir: Path
    database_url: str
    env: dict[str, str]
    rasa_port: int = 0
    action_port: int = 0
    sandbox_port: int = 0
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    rasa_ports: list[int] = field(default_factory=list)  # one per Rasa replica; rasa_ports[0] == rasa_port
    action_ports: list[int] = field(default_factory=list)
    credentials: str = "credentials.dev.yml"
    api_port: int = 0  # the admin API and office console, once start_api() has run
    metrics_ports: dict[str, int] = field(default_factory=dict)  # HSM_METRICS_PORT of each process, by name
    rasa_http_api: bool = True  # `--enable-api` (the tests' /model/parse); production's command has none
    turns: dict[str, str] = field(default_factory=dict)  # each sender's last message in: `replies` waits for its turn

    def __post_init__(self) -> None:
        self.rasa_ports = self.rasa_ports or [self.rasa_port]
        self.action_ports = self.action_ports or [self.action_port]

    @property
    def webhook_url(self) -> str:
        return self.webhook_url_of(0)

    def webhook_url_of(self, replica: int) -> str:
        return f"http://127.0.0.1:{self.rasa_ports[replica]}/webhooks/whatsapp/webhook"

    @staticmethod
    def rasa_name(replica: int) -> str:
        return "rasa" if replica == 0 else f"rasa-{replica + 1}"

    @staticmethod
    def actions_name(index: int) -> str:
        return "actions" if index == 0 else f"actions-{index + 1}"

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    @classmethod
    def environment(cls, workdir: Path, database_url: str, hsm_now: str | None, **ports: int) -> dict[str, str]:
        return child_environment(
            DATABASE_URL=database_url,
            RASA_TELEMETRY_ENABLED="false",
            WHATSAPP_VERIFY_TOKEN=VERIFY_TOKEN,
            WHATSAPP_APP_SECRET=APP_SECRET,
            WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN,
            WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
            WHATSAPP_API_URL=f"http://127.0.0.1:{ports['sandbox_port']}/v21.0",
            ACTION_SERVER_URL=f"http://127.0.0.1:{ports['action_port']}/webhook",
            HSM_SANDBOX_WEBHOOK_URL=f"http://127.0.0.1:{ports['rasa_port']}/webhooks/whatsapp/webhook",
            HSM_ENV="development",
            HSM_PAYMENT_PROVIDER=PAYMENT_PROVIDER,
            HSM_PAYMENT_WEBHOOK_SECRET=PAYMENT_WEBHOOK_SECRET,
            HSM_ACTION_SERVER_TOKEN=ACTION_SERVER_TOKEN,
            RAZORPAY_KEY_ID=None,
            ADMIN_JWT_SECRET=ADMIN_JWT_SECRET,
            PYTHONUNBUFFERED="1",
            HSM_NOW=hsm_now or None,
            PROMETHEUS_MULTIPROC_DIR=None,  # each process its own (hsm.infra.metrics), not this one's
        )

    @classmethod
    def start(
        cls,
        workdir: Path,
        database_url: str,
        hsm_now: str | None,
        *,
        rasa_replicas: int = 1,
        action_servers: int = 1,
        env: dict[str, str] | None = None,
        credentials: str = "credentials.dev.yml",
        rasa_http_api: bool = True,
    ) -> Stack:
        if not MODEL.exists():
            raise RuntimeError(f"{MODEL} is missing: run `make train` first")
        rasa_ports = [free_port() for _ in range(rasa_replicas)]
        action_ports = [free_port() for _ in range(action_servers)]
        ports = {"rasa_port": rasa_ports[0], "action_port": action_ports[0], "sandbox_port": free_port()}
        environment = {**cls.environment(workdir, database_url, hsm_now, **ports), **(env or {})}
        stack = cls(
            workdir,
            database_url,
            environment,
            rasa_port=ports["rasa_port"],
            action_port=ports["action_port"],
            sandbox_port=ports["sandbox_port"],
            rasa_ports=rasa_ports,
            action_ports=action_ports,
            credentials=credentials,
            rasa_http_api=rasa_http_api,
        )
        if rasa_replicas > 1:
            from hsm.rasa_glue.stores import create_tracker_tables

            create_tracker_tables(database_url)  # else the replicas race to create Rasa's table (and log errors)
        stack.start_process("sandbox", [str(BIN / "hsm"), "sandbox", "--port", str(stack.sandbox_port)])
        for index in range(action_servers):
            stack.start_actions(index)
        for replica in range(rasa_replicas):
            stack.start_rasa(replica)
        stack.wait("sandbox", f"{stack.sandbox_url}/healthz")
        for index in range(action_servers):
            stack.wait_actions(index)
        for replica in range(rasa_replicas):
            stack.wait_rasa(replica)
        return stack

    def start_process(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        log = (self.workdir / f"{name}.log").open("ab")
        metrics_port = str(self.metrics_ports.setdefault(name, free_port()))
        self.processes[name] = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env={**self.env, "HSM_METRICS_PORT": metrics_port, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_actions(self, index: int = 0) -> None:
        """Start (or restart, on the same port) action server `index`."""
        self.start_process(
            self.actions_name(index),
            [
                str(BIN / "rasa"),
                "run",
                "actions",
                "--port",
                str(self.action_ports[index]),
                "--logging-config-file",
                "logging.yml",
            ],
        )

    def wait_actions(self, index: int = 0) -> None:
        self.wait(self.actions_name(index), f"http://127.0.0.1:{self.action_ports[index]}/health")

    def start_rasa(self, replica: int = 0) -> None:
        """Start (or restart, on the same port) Rasa replica `replica`."""
        action_port = self.action_ports[replica % len(self.action_ports)]
        self.start_process(
            self.rasa_name(replica),
            [
                str(BIN / "rasa"),
                "run",
                "--model",
                str(MODEL),
                "-i",
                "127.0.0.1",
                "--port",
                str(self.rasa_ports[replica]),
                "--credentials",
                self.credentials,
                "--endpoints",
                "endpoints.yml",
                *(["--enable-api"] if self.rasa_http_api else []),
                "--logging-config-file",
                "logging.yml",
            ],
            env={"ACTION_SERVER_URL": f"http://127.0.0.1:{action_port}/webhook"},
        )

    def wait_rasa(self, replica: int = 0) -> None:
        self.wait(self.rasa_name(replica), f"http://127.0.0.1:{self.rasa_ports[replica]}/webhooks/whatsapp/")

    def start_api(self) -> str:
        """Start the admin API with the office console (`hsm api`) on the stack's database; returns its address."""
        self.api_port = self.api_port or free_port()
        self.start_process("api", [str(BIN / "hsm"), "api", "--port", str(self.api_port)])
        self.wait("api", f"{self.api_url}/healthz")
        return self.api_url

    def metrics_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.metrics_ports[name]}/metrics"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def wait(self, name: str, url: str) -> None:
        wait_until_up(url, self.processes[name], self.workdir / f"{name}.log")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal `name`'s process group and wait for it; one that has not ended 30 s after SIGTERM is killed."""
        process = self.processes.pop(name)
        _signal_group(process.pid, sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            if sig == signal.SIGKILL:
                raise
        _signal_group(process.pid, signal.SIGKILL)  # one that ignored SIGTERM, and its group's leftovers
        process.wait(timeout=30)

    def stop(self) -> None:
        """Stop every process, each whatever happens to the others (a process left running outlives the run)."""
        failures = []
        for name in list(self.processes):
            try:
                self.kill(name, signal.SIGTERM)
            except Exception as error:  # noqa: BLE001 - the others are stopped first; then it is raised
                failures.append(f"{name}: {error!r}")
        if failures:
            raise RuntimeError("processes that did not stop: " + "; ".join(failures))

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")

    # -------------------------------------------------------------------------------------------- talking

    def post(
        self, body: dict | bytes, signature: str | None = "sign", replica: int = 0, **headers: str
    ) -> requests.Response:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent_headers = {"Content-Type": "application/json", **headers}
        if signature == "sign":
            sent_headers["X-Hub-Signature-256"] = sign(raw, APP_SECRET)
        elif signature is not None:
            sent_headers["X-Hub-Signature-256"] = signature
        return requests.post(self.webhook_url_of(replica), data=raw, headers=sent_headers, timeout=10)

    def send_text(self, phone: str, text: str, wamid: str | None = None, replica: int = 0) -> str:
        message = text_message(text, wamid)
        body = webhook_body(phone, message, phone_number_id=PHONE_NUMBER_ID)
        assert self.post(body, replica=replica).status_code == 200
        self.turns[phone] = message["id"]
        return message["id"]

    def tap_button(self, phone: str, reply_id: str, title: str) -> None:
        message = button_reply_message(reply_id, title)
        assert self.post(webhook_body(phone, message, phone_number_id=PHONE_NUMBER_ID)).status_code == 200
        self.turns[phone] = message["id"]

    def pick_row(self, phone: str, reply_id: str, title: str) -> None:
        message = list_reply_message(reply_id, title)
        assert self.post(webhook_body(phone, message, phone_number_id=PHONE_NUMBER_ID)).status_code == 200
        self.turns[phone] = message["id"]

    def send_voice(self, phone: str, audio: bytes) -> str:
        """A voice note from `phone` (an OGG/Opus file's bytes), delivered by the sandbox as Meta delivers one; its
        message id."""
        answer = requests.post(
            f"{self.sandbox_url}/_sandbox/voice-notes", params={"from": phone}, data=audio, timeout=30
        )
        answer.raise_for_status()
        assert answer.json()["delivered"], "the webhook did not take the voice note"
        self.turns[phone] = answer.json()["wamid"]
        return answer.json()["wamid"]

    def sent(self, phone: str | None = None, after: int = 0, wait_s: float = 0) -> list[dict]:
        params: dict[str, float | str] = {"after": after, "wait": wait_s}
        if phone:
            params["to"] = phone
        answer = requests.get(f"{self.sandbox_url}/_sandbox/messages", params=params, timeout=wait_s + 10)
        return answer.json()["messages"]

    def sandbox_media(self, media_id: str) -> bytes:
        """The bytes of a file uploaded to the sandbox (a document message's or a template header's media id)."""
        answer = requests.get(f"{self.sandbox_url}/_sandbox/media/{media_id}", timeout=10)
        answer.raise_for_status()
        return answer.content

    def hsm(self, *argv: str, timeout_s: float = 120) -> subprocess.CompletedProcess:
        """Run `hsm ARGV...` with the stack's environment (its database, the sandbox as Meta, its frozen "now")."""
        return subprocess.run(
            [str(BIN / "hsm"), *argv], cwd=PROJECT_ROOT, env=self.env, capture_output=True, text=True, timeout=timeout_s
        )

    def last_seq(self) -> int:
        return max((m["seq"] for m in self.sent()), default=0)

    def turn_done(self, wamid: str, timeout_s: float = 30) -> bool:
        """Wait until the channel has finished with inbound message `wamid` (processed, skipped, failed or held for
        the office): every reply of its turn has been sent by then. False at once when it was never stored."""
        deadline = time.monotonic() + timeout_s
        while True:
            with session_scope(self.database_url) as session:
                status = session.execute(
                    select(m.WhatsAppMessage.status).where(m.WhatsAppMessage.whatsapp_message_id == wamid)
                ).scalar_one_or_none()
            if status is None or status in TURN_OVER or time.monotonic() > deadline:
                return status in TURN_OVER
            time.sleep(0.1)

    def replies(
        self, phone: str, after: int, count: int = 1, timeout_s: float = 30, settle_s: float = 0.5
    ) -> list[dict]:
        """Wait until the turn of `phone`'s last message is over (a turn of several actions can space its messages
        out on a loaded machine) and at least `count` messages reached `phone` after seq `after`, then a little
        more (for what is sent after a turn, such as another person's notice)."""
        deadline = time.monotonic() + timeout_s
        if phone in self.turns:
            self.turn_done(self.turns.pop(phone), timeout_s)
        while True:
            got = self.sent(phone, after)
            if len(got) >= count:
                time.sleep(settle_s)
                return self.sent(phone, after)
            if time.monotonic() >= deadline:
                return got
            self.sent(phone, max([after] + [m["seq"] for m in got]), wait_s=min(2.0, deadline - time.monotonic()))
