"""What the smoke test (devtools/smoke.py) reads from the processes' /metrics each second, and `promtool test rules`
on deploy/prometheus/alerts.yml with the `up` series it saw."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from hsm.infra.config import PROJECT_ROOT

SCRAPE_EVERY_S = 1.0
ALERT_RULES = PROJECT_ROOT / "deploy" / "prometheus" / "alerts.yml"


# ------------------------------------------------------------------------------------------------ metrics


@dataclass
class Scrape:
    """One scrape of one process's /metrics: whether it answered, and the sums of the metric families we watch."""

    at: float
    name: str
    up: bool
    values: dict[str, float]


WANTED = {
    "hsm_messages_in": "in",
    "hsm_messages_out": "out",
    "hsm_graph_api_retries": "retries",
    "hsm_whatsapp_worker_restarts": "worker restarts",
    "hsm_queue_depth": "queue depth",
    "hsm_reminders": "reminders",
    "hsm_broadcast_messages": "broadcast",
    "hsm_attendance_saved": "attendance",
    "hsm_up": "up",
}


def scrape(url: str) -> dict[str, float] | None:
    try:
        answer = requests.get(url, timeout=2)
    except requests.RequestException:
        return None
    if answer.status_code != 200:
        return None
    sums: dict[str, float] = {}
    for family in text_string_to_metric_families(answer.text):
        if family.name in WANTED:
            kept = [s.value for s in family.samples if not s.name.endswith("_created")]
            sums[WANTED[family.name]] = sum(kept)
    return sums


class Scraper:
    """Every process's /metrics once a second, each on a thread of its own (a slow answer delays no other), as
    Prometheus would scrape them (more often, to see a short outage)."""

    def __init__(self, urls: dict[str, str]) -> None:
        self.urls = urls
        self.scrapes: list[Scrape] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._watch, args=(name,), daemon=True) for name in urls]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def _watch(self, name: str) -> None:
        while not self.stopping.is_set():
            started = time.time()
            found = scrape(self.urls[name])
            # A failed scrape is stamped when it failed: one that began just before a kill and died with the process
            # says "down" from then on, not from before the kill.
            at = started if found is not None else time.time()
            self.scrapes.append(Scrape(at, name, found is not None, found or {}))  # list.append: thread-safe
            self.stopping.wait(max(0.0, SCRAPE_EVERY_S - (time.time() - started)))

    def of(self, name: str) -> list[Scrape]:
        return sorted((sample for sample in self.scrapes if sample.name == name), key=lambda sample: sample.at)

    def last_value(self, name: str, key: str, before: float) -> float | None:
        answered = [sample for sample in self.of(name) if sample.at < before and sample.up]
        return answered[-1].values.get(key, 0.0) if answered else None

    def up_each_second(self, name: str, seconds: range) -> list[int]:
        """1 or 0 for each second: what the last scrape at or before it found."""
        samples, states, index, state = self.of(name), [], 0, 1
        for second in seconds:
            while index < len(samples) and samples[index].at <= second:
                state = int(samples[index].up)
                index += 1
            states.append(state)
        return states


def up_but_for_lone_misses(states: list[bool], last_must_be_up: bool = True) -> bool:
    """Up, but for a lone scrape that timed out under load: two misses in a row is an outage, and so is a missed
    last scrape unless `last_must_be_up` is False (the last one before a kill may time out as the kill begins)."""
    lone = all(a or b for a, b in zip(states, states[1:], strict=False))
    return any(states) and lone and (states[-1] or not last_must_be_up)


# ------------------------------------------------------------------------------------------------ alert rules


def longest_down(states: list[int]) -> tuple[int, int]:
    """The first and last second of the longest run of 0s in `states` (the kill's outage, not a scrape that timed
    out once under load)."""
    best, start = (0, -1), None
    for at, state in enumerate([*states, 1]):
        if state == 0 and start is None:
            start = at
        elif state != 0 and start is not None:
            best = max(best, (start, at - 1), key=lambda run: run[1] - run[0])
            start = None
    return best


def evaluate_alert_rules(scraper: Scraper, workdir: Path) -> tuple[bool, str]:
    """`promtool test rules` on deploy/prometheus/alerts.yml with what the scrapes saw as `up` series, each second
    of the run one minute of the rules' time: ProcessDown fires for the worker and the killed replica once they were
    down 2 minutes, WorkerMissing after 5, and neither fires before the kill or at the end."""
    first = min(sample.at for sample in scraper.scrapes)
    last = max(sample.at for sample in scraper.scrapes)
    seconds = range(int(first) + 1, int(last) + 1)
    series = {name: scraper.up_each_second(name, seconds) for name in ("worker", "rasa", "rasa-2")}
    worker = series["worker"]
    if 0 not in worker:
        return False, "no scrape saw the worker down"
    first_down, last_down = longest_down(worker)
    if last_down - first_down < 5:
        return False, f"the worker was down for {last_down - first_down + 1} s only: too short to see"
    summaries = {
        rule["alert"]: rule["annotations"]
        for group in yaml.safe_load(ALERT_RULES.read_text())["groups"]
        for rule in group["rules"]
    }
    labels = {
        "worker": {"job": "hsm-worker", "instance": "worker:9100"},
        "rasa": {"job": "hsm-rasa", "instance": "rasa-1:9100"},
        "rasa-2": {"job": "hsm-rasa", "instance": "rasa-2:9100"},
    }

    def down_for(name: str, at: int, minutes: int) -> bool:
        return at >= minutes and all(v == 0 for v in series[name][at - minutes : at + 1])

    def expected(at: int) -> list[dict]:
        tests = [
            {
                "eval_time": f"{at}m",
                "alertname": "ProcessDown",
                "exp_alerts": [
                    {"exp_labels": {"severity": "page", **labels[name]}, "exp_annotations": summaries["ProcessDown"]}
                    for name in series
                    if down_for(name, at, 2)
                ],
            },
            {
                "eval_time": f"{at}m",
                "alertname": "WorkerMissing",
                "exp_alerts": [{"exp_labels": {"severity": "page"}, "exp_annotations": summaries["WorkerMissing"]}]
                if down_for("worker", at, 5)
                else [],
            },
        ]
        return tests

    final = len(worker) - 1
    points = sorted({max(0, first_down - 1), last_down, final})
    document = {
        "rule_files": [str(ALERT_RULES)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": "up{" + ", ".join(f'{k}="{v}"' for k, v in labels[name].items()) + "}",
                        "values": " ".join(str(v) for v in values),
                    }
                    for name, values in series.items()
                ],
                "alert_rule_test": [test for at in points for test in expected(at)],
            }
        ],
    }
    path = workdir / "alerts_smoke_test.yml"
    path.write_text(json.dumps(document, indent=2))  # JSON is YAML
    run = subprocess.run(["promtool", "test", "rules", str(path)], capture_output=True, text=True)
    firing_at_last_down = [t for t in expected(last_down) if t["exp_alerts"]]
    summary = f"evaluated at {points} m; firing at {last_down} m: {[t['alertname'] for t in firing_at_last_down]}"
    if run.returncode != 0:
        return False, f"{summary}\n{run.stdout}{run.stderr}"
    return len(firing_at_last_down) == 2, summary


# ------------------------------------------------------------------------------------------------ main
