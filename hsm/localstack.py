"""The local stack as real processes (Meta sandbox, action server, Rasa with the WhatsApp channel) for end-to-end
tests and benchmarks, with helpers that post signed webhooks and read what the sandbox received."""

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

from hsm.chat import button_reply_message, list_reply_message, text_message, webhook_body
from hsm.config import PROJECT_ROOT
from hsm.whatsapp.signature import sign

BIN = Path(sys.executable).parent
MODEL = PROJECT_ROOT / "models" / "hsm.tar.gz"
APP_SECRET = "e2e-app-secret"
VERIFY_TOKEN = "e2e-verify-token"
ACCESS_TOKEN = "e2e-access-token"
PHONE_NUMBER_ID = "100000000000042"


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

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}/webhooks/whatsapp/webhook"

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    @classmethod
    def environment(cls, workdir: Path, database_url: str, hsm_now: str | None, **ports: int) -> dict[str, str]:
        env = {**os.environ,
               "DATABASE_URL": database_url, "RASA_TELEMETRY_ENABLED": "false",
               "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN, "WHATSAPP_APP_SECRET": APP_SECRET,
               "WHATSAPP_ACCESS_TOKEN": ACCESS_TOKEN, "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
               "WHATSAPP_API_URL": f"http://127.0.0.1:{ports['sandbox_port']}/v21.0",
               "ACTION_SERVER_URL": f"http://127.0.0.1:{ports['action_port']}/webhook",
               "HSM_SANDBOX_WEBHOOK_URL": f"http://127.0.0.1:{ports['rasa_port']}/webhooks/whatsapp/webhook",
               "PYTHONUNBUFFERED": "1"}
        if hsm_now:
            env["HSM_NOW"] = hsm_now
        else:
            env.pop("HSM_NOW", None)
        return env

    @classmethod
    def start(cls, workdir: Path, database_url: str, hsm_now: str | None) -> Stack:
        if not MODEL.exists():
            raise RuntimeError(f"{MODEL} is missing: run `make train` first")
        ports = {"rasa_port": free_port(), "action_port": free_port(), "sandbox_port": free_port()}
        stack = cls(workdir, database_url, cls.environment(workdir, database_url, hsm_now, **ports), **ports)
        stack.start_process("sandbox", [str(BIN / "hsm"), "sandbox", "--port", str(stack.sandbox_port)])
        stack.start_process("actions", [str(BIN / "rasa"), "run", "actions", "--port", str(stack.action_port)])
        stack.start_rasa()
        stack.wait("sandbox", f"{stack.sandbox_url}/healthz")
        stack.wait("actions", f"http://127.0.0.1:{stack.action_port}/health")
        stack.wait("rasa", f"http://127.0.0.1:{stack.rasa_port}/webhooks/whatsapp/")
        return stack

    def start_process(self, name: str, command: list[str]) -> None:
        log = (self.workdir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(command, cwd=PROJECT_ROOT, env=self.env, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)

    def start_rasa(self) -> None:
        self.start_process("rasa", [
            str(BIN / "rasa"), "run", "--model", str(MODEL), "-i", "127.0.0.1", "--port", str(self.rasa_port),
            "--credentials", "credentials.yml", "--endpoints", "endpoints.yml", "--enable-api"])

    def wait(self, name: str, url: str) -> None:
        wait_until_up(url, self.processes[name], self.workdir / f"{name}.log")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes.pop(name)
        os.killpg(process.pid, sig)
        process.wait(timeout=30)

    def stop(self) -> None:
        for name in list(self.processes):
            self.kill(name, signal.SIGTERM)

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")

    # -------------------------------------------------------------------------------------------- talking

    def post(self, body: dict | bytes, signature: str | None = "sign", **headers: str) -> requests.Response:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent_headers = {"Content-Type": "application/json", **headers}
        if signature == "sign":
            sent_headers["X-Hub-Signature-256"] = sign(raw, APP_SECRET)
        elif signature is not None:
            sent_headers["X-Hub-Signature-256"] = signature
        return requests.post(self.webhook_url, data=raw, headers=sent_headers, timeout=10)

    def send_text(self, phone: str, text: str, wamid: str | None = None) -> str:
        message = text_message(text, wamid)
        assert self.post(webhook_body(phone, message, phone_number_id=PHONE_NUMBER_ID)).status_code == 200
        return message["id"]

    def tap_button(self, phone: str, reply_id: str, title: str) -> None:
        body = webhook_body(phone, button_reply_message(reply_id, title), phone_number_id=PHONE_NUMBER_ID)
        assert self.post(body).status_code == 200

    def pick_row(self, phone: str, reply_id: str, title: str) -> None:
        body = webhook_body(phone, list_reply_message(reply_id, title), phone_number_id=PHONE_NUMBER_ID)
        assert self.post(body).status_code == 200

    def sent(self, phone: str | None = None, after: int = 0, wait_s: float = 0) -> list[dict]:
        params = {"after": after, "wait": wait_s}
        if phone:
            params["to"] = phone
        answer = requests.get(f"{self.sandbox_url}/_sandbox/messages", params=params, timeout=wait_s + 10)
        return answer.json()["messages"]

    def last_seq(self) -> int:
        return max((m["seq"] for m in self.sent()), default=0)

    def replies(self, phone: str, after: int, count: int = 1, timeout_s: float = 30, settle_s: float = 0.5
                ) -> list[dict]:
        """Wait until at least `count` messages reached `phone` after seq `after`, then a little more."""
        deadline = time.monotonic() + timeout_s
        got: list[dict] = []
        while time.monotonic() < deadline:
            got = self.sent(phone, after)
            if len(got) >= count:
                time.sleep(settle_s)
                return self.sent(phone, after)
            self.sent(phone, max([after] + [m["seq"] for m in got]), wait_s=min(2.0, deadline - time.monotonic()))
        return got
