"""The deployment files hold together without Docker: docker-compose.yml has every service with a health check and
a restart policy, runs migrations first, and uses only variables that .env.example documents; .env.example documents
every variable the code reads; the Dockerfile and the Caddyfile are what compose expects.
(`docker compose config -q` checks the file against Docker's own parser; see docs/deploy.md.)"""

from __future__ import annotations

import re

import pytest
import yaml

from hsm.infra import config
from hsm.infra.config import PROJECT_ROOT

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
APP_SERVICES = {"migrate", "rasa", "actions", "api", "worker", "scheduler"}
LONG_RUNNING = {"postgres", "redis", "rasa", "actions", "api", "worker", "scheduler", "proxy"}
MONITORING = {"prometheus", "grafana"}  # profile "monitoring" only
METRICS_PORT = "9100"
# Rasa reads these with int(): an empty value crashes it.
NEVER_EMPTY = {"TICKET_LOCK_LIFETIME", "SQL_POOL_SIZE", "SQL_MAX_OVERFLOW", "HSM_WHATSAPP_CONCURRENCY"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def documented() -> dict[str, str]:
    """NAME -> value of every `NAME=value` line in .env.example, checking each has a comment in its paragraph."""
    names: dict[str, str] = {}
    paragraph_has_comment = False
    for line in ENV_EXAMPLE.read_text().splitlines():
        stripped = line.strip()
        if not stripped:
            paragraph_has_comment = False
            continue
        if stripped.startswith("#"):
            paragraph_has_comment = True
            continue
        name, _, value = stripped.partition("=")
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", name), f".env.example: not NAME=value: {line!r}"
        assert name not in names, f".env.example names {name} twice"
        assert paragraph_has_comment, f".env.example: {name} has no comment saying what it is"
        names[name] = value
    return names


def command_text(service: dict) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else command


def test_every_service_is_there(services):
    assert set(services) == APP_SERVICES | LONG_RUNNING | MONITORING


def test_long_running_services_have_health_checks_and_restart(services):
    for name in LONG_RUNNING | MONITORING:
        service = services[name]
        assert service.get("restart") in ("unless-stopped", "always"), name
        check = service.get("healthcheck") or {}
        assert check.get("test") and check.get("interval") and check.get("retries"), name
    assert services["migrate"]["restart"] == "no"  # one-shot


def test_migrations_run_first_and_everything_waits_for_them(services):
    migrate = command_text(services["migrate"])
    assert "hsm db upgrade" in migrate and "hsm import-templates" in migrate and "hsm.rasa_glue.stores" in migrate
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in APP_SERVICES - {"migrate"}:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name


def test_application_services_share_one_image_and_the_stack_addresses(services):
    images = {services[name]["image"] for name in APP_SERVICES}
    assert len(images) == 1
    for name in APP_SERVICES:
        service = services[name]
        assert service["env_file"] == ".env" and service["build"] == "."
        env = service["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["ACTION_SERVER_URL"] == "http://actions:5055/webhook"


def test_each_service_runs_its_own_command(services):
    rasa = command_text(services["rasa"])
    assert rasa.startswith("rasa run ") and "--credentials credentials.yml" in rasa
    assert "--endpoints endpoints.yml" in rasa and "--model models/hsm.tar.gz" in rasa
    assert "--enable-api" not in rasa  # Rasa's HTTP API would expose every conversation
    assert "--logging-config-file logging.yml" in rasa  # phone numbers masked in the logs
    assert "./models:/app/models:ro" in services["rasa"]["volumes"]
    assert command_text(services["actions"]) == "rasa run actions --port 5055 --logging-config-file logging.yml"
    assert command_text(services["api"]) == "hsm api --host 0.0.0.0 --port 8095"
    assert command_text(services["worker"]) == "hsm worker"
    assert command_text(services["scheduler"]) == "hsm scheduler"
    assert services["scheduler"]["deploy"]["replicas"] == 1
    assert "replicas" in services["rasa"]["deploy"] and "replicas" in services["actions"]["deploy"]


def test_data_lives_in_volumes(compose, services):
    assert {"pgdata", "redisdata", "caddy_data", "caddy_config"} <= set(compose["volumes"])
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "redisdata:/data" in services["redis"]["volumes"]
    assert "--appendonly" in services["redis"]["command"]


def test_only_the_proxy_is_published_and_it_terminates_https(services):
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"proxy", "grafana"}
    assert services["grafana"]["ports"] == ["127.0.0.1:3000:3000"]  # the host's loopback only (an SSH tunnel)
    assert {"80:80", "443:443"} <= set(services["proxy"]["ports"])
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in services["proxy"]["volumes"]
    caddyfile = (PROJECT_ROOT / "deploy" / "Caddyfile").read_text()
    assert "{$HSM_DOMAIN}" in caddyfile and "/webhooks/whatsapp/*" in caddyfile and "dynamic a rasa 5005" in caddyfile
    assert "reverse_proxy api:8095" in caddyfile and "@api path /api/* /office /office/*" in caddyfile  # console too
    assert "/webhooks/rest" not in caddyfile.split("# Rasa's REST channel")[0]  # REST channel never routed
    assert "metrics" not in caddyfile and "9100" not in caddyfile  # /metrics is for the stack's Prometheus only


def test_every_variable_the_compose_file_uses_is_documented():
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", COMPOSE.read_text()))
    assert used, "no ${VAR} found: the regex is wrong"
    missing = used - set(documented())
    assert not missing, f"docker-compose.yml uses variables .env.example does not document: {sorted(missing)}"


def test_every_variable_the_code_reads_is_documented():
    # The code reads the environment only through hsm.infra.config (tests/unit/test_settings.py checks that).
    read = set(config.VARIABLES)
    assert {"DATABASE_URL", "REDIS_URL", "WHATSAPP_APP_SECRET", "HSM_NOW", "HSM_RASA_SPEEDUPS"} <= read
    missing = read - set(documented())
    assert not missing, f"the code reads variables .env.example does not document: {sorted(missing)}"


def test_env_example_holds_no_real_secrets_and_no_empty_numbers():
    names = documented()
    for name in NEVER_EMPTY:
        assert names.get(name, "").isdigit(), f"{name} must have a number in .env.example"
    assert names["HSM_NOW"] == ""  # production runs on the real clock
    for name in (
        "WHATSAPP_APP_SECRET",
        "WHATSAPP_ACCESS_TOKEN",
        "ADMIN_JWT_SECRET",
        "RAZORPAY_KEY_SECRET",
        "RAZORPAY_WEBHOOK_SECRET",
        "HSM_PAYMENT_WEBHOOK_SECRET",
        "HSM_PAYMENT_PROVIDER",  # never the development stand-in
    ):
        assert names[name] == "", f"{name} must be empty in the example"


def test_production_mode_is_on_in_the_example_and_the_compose_file(services):
    assert documented()["HSM_ENV"] == "production"
    for name in APP_SERVICES:
        assert services[name]["environment"]["HSM_ENV"] == "${HSM_ENV:-production}", name


def test_dockerfile_builds_the_pinned_environment():
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert "python:3.10" in dockerfile
    assert "-c /src/requirements/constraints.txt -r /src/requirements/base.txt" in dockerfile
    assert "pip check" in dockerfile and "USER hsm" in dockerfile
    ignored = (PROJECT_ROOT / ".dockerignore").read_text().split()
    assert {".venv", "models", "var", ".env"} <= set(ignored)


def test_production_credentials_open_no_development_channel():
    """credentials.yml is production's: WhatsApp and payment webhooks only. Rasa's REST channel trusts any `sender`
    (anyone reaching it could write as the admin), so it lives in credentials.dev.yml, which only the local stack,
    the benchmarks and the tests use."""
    production = yaml.safe_load((PROJECT_ROOT / "credentials.yml").read_text())
    assert set(production) == {"connectors.whatsapp.WhatsAppInput", "connectors.payments.PaymentWebhookInput"}
    development = yaml.safe_load((PROJECT_ROOT / "credentials.dev.yml").read_text())
    assert set(development) == set(production) | {"rest"}
    assert all(development[name] == production[name] for name in production)
    assert "--credentials credentials.dev.yml" in (PROJECT_ROOT / "scripts" / "run-local.sh").read_text()
    from devtools.localstack import Stack

    assert Stack.credentials == "credentials.dev.yml"
    assert "credentials.dev.yml" not in COMPOSE.read_text() + (PROJECT_ROOT / "Dockerfile").read_text()


def test_rasa_calls_the_action_server_with_its_token():
    endpoints = yaml.safe_load((PROJECT_ROOT / "endpoints.yml").read_text())
    assert endpoints["action_endpoint"] == {"url": "${ACTION_SERVER_URL}", "token": "${HSM_ACTION_SERVER_TOKEN}"}


def test_the_deployment_guide_never_publishes_rasa_or_the_action_server():
    guide = (PROJECT_ROOT / "docs" / "deploy.md").read_text()
    assert "publish it" not in guide
    for line in guide.splitlines():
        if "5005" in line or "5055" in line:
            assert "publish" not in line.lower() or "never" in line.lower(), line


def test_monitoring_is_an_optional_profile_that_scrapes_every_process(services):
    for name in MONITORING:
        assert services[name]["profiles"] == ["monitoring"], name
    for name in APP_SERVICES | LONG_RUNNING - MONITORING:
        assert "profiles" not in services[name], name  # `docker compose up` starts them without the profile
    for name in APP_SERVICES:
        assert services[name]["environment"]["HSM_METRICS_PORT"] == METRICS_PORT, name
    assert "./deploy/prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in services["prometheus"]["command"]
    grafana = services["grafana"]["volumes"]
    assert {
        "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro",
        "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro",
    } <= set(grafana)
    prometheus = yaml.safe_load((PROJECT_ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    assert prometheus["rule_files"] == ["alerts.yml"]
    targets = {
        job["job_name"]: [f"{name}:{sd['port']}" for sd in job.get("dns_sd_configs", []) for name in sd["names"]]
        + [target for static in job.get("static_configs", []) for target in static["targets"]]
        for job in prometheus["scrape_configs"]
    }
    assert targets == {
        "hsm-rasa": [f"rasa:{METRICS_PORT}"],
        "hsm-actions": [f"actions:{METRICS_PORT}"],
        "hsm-worker": [f"worker:{METRICS_PORT}"],
        "hsm-scheduler": [f"scheduler:{METRICS_PORT}"],
        "hsm-api": ["api:8095"],
        "prometheus": ["localhost:9090"],
    }
    provisioning = PROJECT_ROOT / "deploy" / "grafana" / "provisioning"
    source = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"][0]
    assert source["url"] == "http://prometheus:9090" and source["uid"] == "prometheus"
    provider = yaml.safe_load((provisioning / "dashboards" / "hsm.yml").read_text())["providers"][0]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


def metric_names() -> set[str]:
    """Every series name the stack exposes: hsm.infra.metrics' metrics (with their sample suffixes), the ones
    sampled on a scrape (hsm.outreach.broadcast.queue_metrics), and Prometheus' own `up`."""
    from prometheus_client.metrics import MetricWrapperBase

    from hsm.infra import metrics

    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    names = {"up"}
    for metric in vars(metrics).values():
        if isinstance(metric, MetricWrapperBase):
            names |= {metric._name + suffix for suffix in suffixes[metric._type]}
    sampled = (PROJECT_ROOT / "hsm" / "outreach" / "broadcast" / "queue_metrics.py").read_text()
    return names | set(re.findall(r'"(hsm_[a-z_]+)"', sampled))


def test_the_dashboard_and_the_alerts_query_only_metrics_that_exist():
    import json

    names = metric_names()
    assert {"hsm_messages_in_total", "hsm_reply_seconds_bucket", "hsm_queue_depth"} <= names
    dashboard = json.loads((PROJECT_ROOT / "deploy" / "grafana" / "dashboards" / "hsm.json").read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    alerts = yaml.safe_load((PROJECT_ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    queries += [rule["expr"] for group in alerts["groups"] for rule in group["rules"]]
    used = {name for query in queries for name in re.findall(r"\b(hsm_[a-z_]+|up)\b(?=[{\[)\s])", query)}
    assert used, "no metric found in the queries: the pattern is wrong"
    assert used - names == set()
    assert names - {"up"} - used <= {"hsm_up", "hsm_reply_seconds_sum", "hsm_reply_seconds_count"} | {
        name for name in names if name.endswith(("_sum", "_count"))
    }, "a metric the dashboard does not show"
