"""Benchmark: how long the NLU takes per message on the running server (POST /model/parse).

    .venv/bin/python bench/parse_latency.py [--model models/hsm.tar.gz] [--baseline-model OTHER.tar.gz]
                                            [--messages tests/nlu/heldout.yml] [--concurrency 4] [--repeat 1]

Starts `rasa run --enable-api` on the model on a free port (no channels, no tracker store: only the NLU is
measured), waits until it answers, then sends the held-out messages (tests/nlu/heldout.yml: ~300 varied
WhatsApp-style messages, never trained on):

- cold: the first message after the server came up;
- warm, one at a time: every message in turn, as one conversation would (p50/p95/p99, messages/s);
- concurrent: the same messages from `--concurrency` clients at once (throughput, p50/p95);
- in-process: the same messages through `Agent.parse_message` in this process (no HTTP, no server), the floor
  the server adds its overhead to.

With `--baseline-model` the same runs are repeated on that model in the same run (e.g. an older model or a
smaller pipeline), so the figures are comparable on a loaded machine. Results: stdout and
results/bench-parse-latency.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
RASA = ROOT / ".venv" / "bin" / "rasa"
sys.path.insert(0, str(ROOT))

from hsm.infra.config import child_environment, set_environment_defaults  # noqa: E402

START_TIMEOUT_S = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_messages(path: Path) -> list[str]:
    from rasa.shared.nlu.training_data.loading import load_data

    return [m.get("text") for m in load_data(str(path)).intent_examples]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def describe(latencies_ms: list[float], wall_s: float) -> dict:
    return {
        "n": len(latencies_ms),
        "p50_ms": round(percentile(latencies_ms, 50), 1),
        "p95_ms": round(percentile(latencies_ms, 95), 1),
        "p99_ms": round(percentile(latencies_ms, 99), 1),
        "mean_ms": round(statistics.fmean(latencies_ms), 1),
        "max_ms": round(max(latencies_ms), 1),
        "msgs_per_s": round(len(latencies_ms) / wall_s, 1),
    }


class Server:
    """`rasa run --enable-api` on one model, with empty endpoints and credentials: only /model/parse matters."""

    def __init__(self, model: Path, workdir: Path):
        self.model = model
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        endpoints = workdir / "endpoints.yml"
        credentials = workdir / "credentials.yml"
        endpoints.write_text("# none: the benchmark needs no action server or tracker store\n")
        credentials.write_text("rest:\n")
        self.log = open(workdir / f"rasa-{self.port}.log", "w")  # noqa: SIM115 (closed in stop)
        env = child_environment(RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2")
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [
                str(RASA),
                "run",
                "--enable-api",
                "--model",
                str(model),
                "-i",
                "127.0.0.1",
                "-p",
                str(self.port),
                "--endpoints",
                str(endpoints),
                "--credentials",
                str(credentials),
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.startup_s = 0.0

    async def wait_ready(self, session: aiohttp.ClientSession) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rasa run exited with {self.process.returncode}; see {self.log.name}")
            try:
                async with session.get(f"{self.url}/status") as response:
                    if response.status == 200 and (await response.json()).get("model_file"):
                        self.startup_s = time.monotonic() - self.started
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
        raise RuntimeError(f"rasa run did not answer within {START_TIMEOUT_S} s; see {self.log.name}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


async def parse(session: aiohttp.ClientSession, url: str, text: str) -> float:
    started = time.perf_counter()
    async with session.post(f"{url}/model/parse", json={"text": text}) as response:
        response.raise_for_status()
        await response.json()
    return (time.perf_counter() - started) * 1000


async def measure_server(model: Path, messages: list[str], concurrency: int, repeat: int, workdir: Path) -> dict:
    server = Server(model, workdir)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
            await server.wait_ready(session)
            cold_ms = await parse(session, server.url, messages[0])
            sequential: list[float] = []
            started = time.perf_counter()
            for _ in range(repeat):
                for text in messages:
                    sequential.append(await parse(session, server.url, text))
            warm = describe(sequential, time.perf_counter() - started)

            queue = [text for _ in range(repeat) for text in messages]
            concurrent: list[float] = []

            async def client() -> None:
                while queue:
                    concurrent.append(await parse(session, server.url, queue.pop()))

            started = time.perf_counter()
            await asyncio.gather(*(client() for _ in range(concurrency)))
            together = describe(concurrent, time.perf_counter() - started)
    finally:
        server.stop()
    return {
        "model": str(model),
        "startup_s": round(server.startup_s, 1),
        "cold_ms": round(cold_ms, 1),
        "warm_sequential": warm,
        f"concurrent_{concurrency}": together,
    }


async def measure_in_process(model: Path, messages: list[str], repeat: int) -> dict:
    import structlog
    from rasa.core.agent import Agent

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    agent = Agent.load(str(model))
    await agent.parse_message(messages[0])  # warm up
    latencies = []
    started = time.perf_counter()
    for _ in range(repeat):
        for text in messages:
            t0 = time.perf_counter()
            await agent.parse_message(text)
            latencies.append((time.perf_counter() - t0) * 1000)
    return describe(latencies, time.perf_counter() - started)


def print_run(name: str, run: dict, concurrency: int) -> None:
    warm, together, local = run["warm_sequential"], run[f"concurrent_{concurrency}"], run["in_process"]
    print(f"\n{name}: {run['model']}")
    print(f"  server start (model load) {run['startup_s']} s; cold first parse {run['cold_ms']} ms")
    print(
        f"  warm, one at a time   n={warm['n']}  p50 {warm['p50_ms']} ms  p95 {warm['p95_ms']} ms  "
        f"p99 {warm['p99_ms']} ms  max {warm['max_ms']} ms  {warm['msgs_per_s']} msgs/s"
    )
    print(
        f"  {concurrency} clients at once     n={together['n']}  p50 {together['p50_ms']} ms  "
        f"p95 {together['p95_ms']} ms  p99 {together['p99_ms']} ms  {together['msgs_per_s']} msgs/s"
    )
    print(
        f"  in-process (no HTTP)  n={local['n']}  p50 {local['p50_ms']} ms  p95 {local['p95_ms']} ms  "
        f"p99 {local['p99_ms']} ms  {local['msgs_per_s']} msgs/s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="NLU parse latency against the running server.")
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "hsm.tar.gz")
    parser.add_argument("--baseline-model", type=Path, help="the same runs on this model, for comparison")
    parser.add_argument("--messages", type=Path, default=ROOT / "tests" / "nlu" / "heldout.yml")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=1, help="send the messages this many times")
    args = parser.parse_args(argv)
    set_environment_defaults(RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2")
    logging.basicConfig(level=logging.ERROR)

    messages = load_messages(args.messages)
    load = os.getloadavg()
    source = args.messages.relative_to(ROOT) if args.messages.is_relative_to(ROOT) else args.messages
    print(
        f"{len(messages)} messages from {source}; {os.cpu_count()} CPUs, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    report: dict = {
        "messages": len(messages),
        "cpus": os.cpu_count(),
        "load_before": [round(x, 2) for x in load],
        "runs": {},
    }
    models = [("model", args.model)] + ([("baseline", args.baseline_model)] if args.baseline_model else [])
    with tempfile.TemporaryDirectory(prefix="hsm-parse-bench-") as tmp:
        for name, model in models:
            run = asyncio.run(measure_server(model.resolve(), messages, args.concurrency, args.repeat, Path(tmp)))
            run["in_process"] = asyncio.run(measure_in_process(model.resolve(), messages, args.repeat))
            report["runs"][name] = run
            print_run(name, run, args.concurrency)
    report["load_after"] = [round(x, 2) for x in os.getloadavg()]
    out = ROOT / "results" / "bench-parse-latency.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f"\nload average after {report['load_after']}; written {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
