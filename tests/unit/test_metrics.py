"""hsm.infra.metrics: the labels of Graph API results and delivery statuses, transactions timed by outcome, a
forked child's counts in its parent's exposition, and /metrics served on HSM_METRICS_PORT."""

from __future__ import annotations

import os

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from devtools.localstack import free_port
from hsm.infra import metrics
from hsm.infra.db import session_scope


def samples() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.exposition()[0].decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(name: str, **labels: str) -> float:
    return samples().get((name, tuple(sorted(labels.items()))), 0.0)


def test_graph_api_results_keep_meta_error_codes_only_on_4xx():
    before = value("hsm_graph_api_calls_total", endpoint="messages", result="4xx", code="131047")
    metrics.graph_api_call("messages", 400, 131047)
    metrics.graph_api_call("messages", 503, 2)
    metrics.graph_api_call("media", None)
    assert value("hsm_graph_api_calls_total", endpoint="messages", result="4xx", code="131047") == before + 1
    assert value("hsm_graph_api_calls_total", endpoint="messages", result="5xx", code="") >= 1
    assert value("hsm_graph_api_calls_total", endpoint="media", result="error", code="") >= 1


def test_delivery_statuses_outside_the_funnel_are_other():
    class Status:
        def __init__(self, status: str) -> None:
            self.status = status

    before = value("hsm_delivery_statuses_total", status="other")
    metrics.delivery_statuses([Status("delivered"), Status("+919811000101")])
    assert value("hsm_delivery_statuses_total", status="other") == before + 1
    assert ("hsm_delivery_statuses_total", (("status", "+919811000101"),)) not in samples()


def test_transactions_are_timed_by_outcome(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    commits = value("hsm_db_transaction_seconds_count", outcome="commit")
    rollbacks = value("hsm_db_transaction_seconds_count", outcome="rollback")
    with session_scope(url):
        pass
    with pytest.raises(RuntimeError), session_scope(url):
        raise RuntimeError("rolled back")
    assert value("hsm_db_transaction_seconds_count", outcome="commit") == commits + 1
    assert value("hsm_db_transaction_seconds_count", outcome="rollback") == rollbacks + 1


def test_a_forked_child_counts_into_its_parents_exposition():
    before = value("hsm_reminders_total", kind="fee", outcome="sent")
    pid = os.fork()
    if pid == 0:  # an RQ job's work horse does the same
        metrics.REMINDERS.labels("fee", "sent").inc(2)
        os._exit(0)
    os.waitpid(pid, 0)
    assert value("hsm_reminders_total", kind="fee", outcome="sent") == before + 2


def test_serve_marks_the_process_up_and_serves_metrics_on_the_port(monkeypatch):
    port = free_port()
    monkeypatch.setenv("HSM_METRICS_PORT", str(port))
    assert metrics.serve("test-process") == port
    page = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert page.status_code == 200
    assert 'hsm_up{process="test-process"} 1.0' in page.text
