"""HSM_LOG_FORMAT=json (hsm/infra/logformat.py): one masked JSON object per record, with the process's role and the
correlation id (hsm/infra/correlation.py), in the order Rasa and rasa_sdk set their logging up."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import textwrap
from datetime import datetime

from hsm.infra import correlation, logformat
from hsm.infra.config import PROJECT_ROOT, child_environment
from hsm.infra.logmask import MaskPersonalData


def _formatted(record: logging.LogRecord) -> dict:
    MaskPersonalData().filter(record)  # as the handler's filter does, before the formatter
    line = logformat.JsonLineFormatter().format(record)
    assert "\n" not in line
    return json.loads(line)


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("hsm.whatsapp.client", logging.INFO, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return record


def test_a_record_is_one_json_object_with_the_fixed_fields_first():
    entry = _formatted(_record("sent %s message to %s", "text", "+919876543210"))
    assert list(entry)[:5] == ["time", "level", "logger", "process", "message"]
    assert entry["message"] == "sent text message to +91******3210"
    assert (entry["level"], entry["logger"]) == ("INFO", "hsm.whatsapp.client")
    assert datetime.fromisoformat(entry["time"]).utcoffset().total_seconds() == 0
    assert "correlation_id" not in entry  # none bound


def test_extra_fields_are_masked_whatever_their_type():
    entry = _formatted(
        _record("status", phone="+919876543210", wa_id=919876543210, recipients={"to": ["9876543210"]}, count=3)
    )
    assert (entry["phone"], entry["wa_id"], entry["recipients"], entry["count"]) == (
        "+91******3210",
        "91******3210",
        {"to": ["******3210"]},
        3,
    )
    assert "9876543210" not in json.dumps(entry)


def test_the_bound_correlation_id_is_on_the_line_and_an_explicit_one_wins():
    with correlation.bound("dkqmrwzbtyae"):
        assert _formatted(_record("turn"))["correlation_id"] == "dkqmrwzbtyae"
        about_another = _record("status read", correlation_id="hgfnqpxwoeil")
        assert _formatted(about_another)["correlation_id"] == "hgfnqpxwoeil"
    assert "correlation_id" not in _formatted(_record("after"))


def test_tasks_started_while_an_id_is_bound_keep_it_and_the_binding_ends_with_the_block():
    async def turn() -> list[str | None]:
        with correlation.bound("vbnmcxzlkjhg"):
            inside = asyncio.create_task(asyncio.sleep(0, correlation.current()))
        outside = asyncio.create_task(asyncio.sleep(0, correlation.current()))
        return [await inside, await outside]

    assert asyncio.run(turn()) == ["vbnmcxzlkjhg", None]


def test_new_ids_are_random_letters_that_the_masking_leaves_alone():
    ids = {correlation.new_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(len(i) == 12 and i.isalpha() and i.islower() for i in ids)
    assert all(_formatted(_record("x", correlation_id=i))["correlation_id"] == i for i in ids)


def test_the_action_server_reads_the_id_from_the_call():
    def call(action: str, latest: dict, slots: dict | None = None) -> dict:
        return {"next_action": action, "tracker": {"latest_message": latest, "slots": slots or {}}}

    with_id = {"metadata": {"correlation_id": "hgfnqpxwoeil"}}
    assert correlation.from_action_call(call("action_show_schedule", with_id)) == "hgfnqpxwoeil"
    # the session starts before the new message is in the tracker: Rasa passes its metadata in a slot
    session = call(
        "action_session_start",
        {"metadata": {"correlation_id": "old"}},
        {"session_started_metadata": with_id["metadata"]},
    )
    assert correlation.from_action_call(session) == "hgfnqpxwoeil"
    for bad in (None, [], {"tracker": None}, call("action_x", {"metadata": "x"}), call("action_x", {})):
        assert correlation.from_action_call(bad) is None


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=PROJECT_ROOT,
        env=child_environment(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


RASA_RUN = """
    import logging, logging.config, coloredlogs, yaml
    config = yaml.safe_load(open("logging.yml"))
    logging.config.dictConfig(config)  # rasa run --logging-config-file logging.yml
    coloredlogs.install(level="INFO")  # then Rasa swaps the console handler for coloredlogs'
    logging.getLogger("h5py").warning("loaded while Rasa starts, before our channel is made")
    from hsm.infra import logformat
    logformat.configure("rasa")  # what the WhatsApp channel does when Rasa creates it
    logging.getLogger("rasa.core.processor").info("message from %s", "+919876543210", extra={"sender": "919876543210"})
    logging.getLogger("hsm.whatsapp.client").warning("to %s", 919845000002)
"""


def test_rasa_run_writes_json_lines_to_stderr_masked():
    result = _run(RASA_RUN, HSM_LOG_FORMAT="json")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert [(line["logger"], line["message"]) for line in lines] == [
        ("h5py", "loaded while Rasa starts, before our channel is made"),
        ("rasa.core.processor", "message from +91******3210"),
        ("hsm.whatsapp.client", "to 91******0002"),
    ]
    assert [line["process"] for line in lines[1:]] == ["rasa", "rasa"]
    assert lines[1]["sender"] == "91******3210"


def test_plain_text_stays_the_default():
    result = _run(RASA_RUN, HSM_LOG_FORMAT="")
    assert result.returncode == 0, result.stderr
    assert "message from +91******3210" in result.stderr and not result.stderr.lstrip().startswith("{")


def test_the_role_is_guessed_from_the_command_line():
    assert logformat._role_from_command(["/app/.venv/bin/rasa", "run", "actions", "--port", "5055"]) == "actions"
    assert logformat._role_from_command(["/app/.venv/bin/rasa", "run", "--model", "m.tar.gz"]) == "rasa"
    assert logformat._role_from_command(["/usr/bin/hsm", "worker"]) == "worker"
