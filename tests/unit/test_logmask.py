"""Phone numbers, WhatsApp message ids and e-mail addresses are masked in every log record: our own, Rasa's
(structlog JSON included), and through `logging.yml` as `rasa run` / `rasa run actions` load it."""

from __future__ import annotations

import ast
import base64
import io
import json
import logging
import os
import re
import subprocess
import sys
import textwrap

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hsm.infra.config import PROJECT_ROOT
from hsm.infra.logmask import MaskPersonalData, mask_text, mask_value, wamid_ref


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("from +919876543210", "from +91******3210"),
        ("from +91 98765 43210.", "from +91******3210."),
        ("from +91-98765-43210", "from +91******3210"),
        ("wa_id=919876543210", "wa_id=91******3210"),
        ("call 9876543210 now", "call ******3210 now"),
        ("call 98765 43210", "call ******3210"),
        ("call 098765 43210", "call *******3210"),
        ("sender %2B919876543210", "sender %2B91******3210"),
        ("mail john.doe@email.com!", "mail j***@email.com!"),
        ("x <susan.thomas+hsm@mail.example.co.in>", "x <s***@mail.example.co.in>"),
        ("US +1 415 555 0100", "US +1******0100"),
        ('{"sender_id": "919845000007", "text": "hi"}', '{"sender_id": "91******0007", "text": "hi"}'),
        # Any run of 8 or more digits: a number of any country without its plus, ids, epochs.
        ("wa_id=14155550100", "wa_id=*******0100"),
        ("call 4155550100", "call ******0100"),
        ("to=447700900123&x", "to=********0123&x"),
        ("epoch 1733050200.123 and 1733050200123", "epoch ******0200.123 and *********0123"),
        ("phone_number_id 106540352242922", "phone_number_id ***********2922"),
        ("id 12345678", "id ****5678"),
        ("ref abc14155550100xyz", "ref abc*******0100xyz"),
    ],
)
def test_masks_numbers_and_addresses(raw, masked):
    assert mask_text(raw) == masked


@pytest.mark.parametrize(
    "text",
    [
        "at 2026-12-01T16:30:00+05:30",
        "enrollment HSM-24-002, fee ₹2000 for 12 classes",
        "seven digits 1234567, 123-4567, 12 3456 7890",
        "confidence 0.9999998807907104, 3.14159265358979",  # decimals: not a number anyone dials
        "wamid#12345678 and wamid#3fa2c1d0",  # references to message ids, as `wamid_ref` writes them
        "batch GTR-BEG-TT17 at 17:00, room 3",
        "",
    ],
)
def test_leaves_other_text_alone(text):
    assert mask_text(text) == text


def meta_like_wamid(digits: str, tail: bytes = b"3EB0C4F1A2B3C4D5E6F7") -> str:
    """Meta's message ids are base64 of a record that starts with the sender's number."""
    record = b"\x1c\x18" + bytes([len(digits)]) + digits.encode() + b"\x15\x02\x00\x12\x18\x14" + tail + b"\x00"
    return "wamid." + base64.b64encode(record).decode()


def test_wamid_ref_is_short_stable_and_keeps_nothing_of_the_id():
    wamid = meta_like_wamid("14155550100")
    assert wamid.startswith("wamid.HBgLMTQxNTU1NTAxMDAV")
    ref = wamid_ref(wamid)
    assert re.fullmatch(r"wamid#[0-9a-f]{8}", ref) and ref == wamid_ref(wamid)
    assert wamid_ref(meta_like_wamid("14155550100", b"another message")) != ref
    assert wamid_ref(None) == wamid_ref("") == "wamid#none"
    # The same reference in every process, whatever PYTHONHASHSEED: log lines of two processes can be matched.
    other = subprocess.run(
        [sys.executable, "-c", f"from hsm.infra.logmask import wamid_ref; print(wamid_ref({wamid!r}))"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )
    assert other.stdout.strip() == ref, other.stderr


@pytest.mark.parametrize(
    "wamid",
    [
        meta_like_wamid("14155550100"),
        meta_like_wamid("919876543210") + "==",
        "wamid.HBgMOTE5ODc2NTQzMjEwFQIAEhgUM0EwRTA3",
        "wamid.ID",
        "wamid.HSMSBX000042A1B2C3D4E5F6A7B8C9D0E1F2",
        "wamid.abc+def/ghi_jkl-mno=",
    ],
)
def test_message_ids_become_their_reference(wamid):
    assert mask_text(f"duplicate delivery of {wamid} ignored") == f"duplicate delivery of {wamid_ref(wamid)} ignored"
    assert mask_text(f"{{'message_id': '{wamid}'}}") == f"{{'message_id': '{wamid_ref(wamid)}'}}"
    assert wamid_ref(wamid) in mask_text(f"id={wamid}, from +14155550100")


def test_filter_masks_message_ids_in_args_and_exceptions():
    wamid = meta_like_wamid("14155550100")
    try:
        raise RuntimeError(f"UNIQUE constraint failed: ('{wamid}', '14155550100')")
    except RuntimeError:
        record = _record("processing %s failed", wamid, exc_info=sys.exc_info())
    MaskPersonalData().filter(record)
    formatted = logging.Formatter("%(message)s").format(record)
    assert "wamid." not in formatted and "14155550100" not in formatted and "4155550100" not in formatted
    assert f"processing {wamid_ref(wamid)} failed" in formatted and "*******0100" in formatted


@settings(max_examples=200, deadline=None)
@given(
    prefix=st.text(max_size=40),
    digits=st.from_regex(r"[0-9]{8,15}", fullmatch=True),
    suffix=st.text(max_size=40),
    plus=st.booleans(),
)
def test_no_run_of_eight_digits_survives(prefix, digits, suffix, plus):
    masked = mask_text(f"{prefix} {'+' if plus else ''}{digits} {suffix}")
    assert digits not in masked or digits in prefix + suffix
    assert masked.count("*") >= len(digits) - 6  # at most a country code (two digits) and the last four stay


@settings(max_examples=200, deadline=None)
@given(prefix=st.text(max_size=40), tail=st.binary(max_size=40), suffix=st.text(max_size=40))
def test_no_message_id_survives(prefix, tail, suffix):
    wamid = meta_like_wamid("14155550100", tail)
    masked = mask_text(f"{prefix} {wamid} {suffix}")
    assert wamid not in masked and wamid.removeprefix("wamid.") not in masked


def _record(msg, *args, exc_info=None, name="rasa.core.processor") -> logging.LogRecord:
    return logging.LogRecord(name, logging.INFO, __file__, 1, msg, args or None, exc_info)


def test_filter_masks_message_args_and_never_drops_a_record():
    mask = MaskPersonalData()
    record = _record("user %s wrote from %s", "john.doe@email.com", "+919876543210")
    assert mask.filter(record) is True
    assert (record.getMessage(), record.args) == ("user j***@email.com wrote from +91******3210", ())
    assert mask.filter(record) is True and record.getMessage() == "user j***@email.com wrote from +91******3210"

    mapping = logging.LogRecord("hsm", logging.INFO, __file__, 1, "%(phone)s said hi", ({"phone": "9845000002"},), None)
    mask.filter(mapping)
    assert mapping.getMessage() == "******0002 said hi"

    broken = _record("%d messages from %s", "not a number")  # bad args must not break the caller
    assert mask.filter(broken) is True
    assert "9876543210" not in broken.getMessage()

    event = _record({"event": "processor.message", "sender_id": "+919876543210", "nested": ["a@b.org"]})
    mask.filter(event)
    assert event.msg == {"event": "processor.message", "sender_id": "+91******3210", "nested": ["a***@b.org"]}


def test_extra_fields_are_masked():
    record = _record("")
    record.request = "GET /api/whatsapp/messages/919876543210"
    record.status = 200
    MaskPersonalData().filter(record)
    assert (record.request, record.status) == ("GET /api/whatsapp/messages/91******3210", 200)


def test_exceptions_and_stacks_are_masked():
    try:
        raise ValueError("duplicate key phone_number=+919845000002 email=susan@mail.example")
    except ValueError:
        record = _record("insert failed for %s", "+919845000002", exc_info=sys.exc_info())
    record.stack_info = "Stack (most recent call last):\n  send(to='919845000002')"
    MaskPersonalData().filter(record)
    formatted = logging.Formatter("%(message)s").format(record)
    assert "9845000002" not in formatted and "susan@" not in formatted
    assert "+91******0002" in formatted and "s***@mail.example" in formatted and "ValueError" in formatted


def test_structlog_json_lines_stay_valid_json():
    line = json.dumps(
        {
            "event": "rasa.core.processor.message",
            "sender_id": "+919876543210",
            "user_message": "my email is john.doe@email.com",
        }
    )
    masked = mask_text(line)
    assert json.loads(masked)["sender_id"] == "+91******3210"
    assert json.loads(masked)["user_message"] == "my email is j***@email.com"


def test_mask_value_walks_containers():
    assert mask_value(("+919876543210", {"k": ["9876543210"]}, 5)) == ("+91******3210", {"k": ["******3210"]}, 5)


def test_handler_filter_masks_what_a_handler_writes():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskPersonalData())
    logger = logging.getLogger("hsm.test_logmask.handler")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("reply to %s failed", "919876543210")
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == "reply to 91******3210 failed\n"


@settings(max_examples=200, deadline=None)
@given(
    prefix=st.text(max_size=40),
    digits=st.from_regex(r"[6-9][0-9]{9}", fullmatch=True),
    suffix=st.text(max_size=40),
    style=st.sampled_from(["{d}", "+91{d}", "91{d}", "+91 {a} {b}", "0{d}"]),
)
def test_no_mobile_number_survives(prefix, digits, suffix, style):
    number = style.format(d=digits, a=digits[:5], b=digits[5:])
    text = f"{prefix} {number} {suffix}"
    masked = mask_text(text)
    assert digits not in masked.replace(" ", "") or digits in (prefix + suffix).replace(" ", "")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=500))
def test_masking_never_raises(text):
    assert isinstance(mask_text(text), str)
    record = _record(text)
    assert MaskPersonalData().filter(record) is True


# ------------------------------------------------------------------------------------------------ installed


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )


def test_install_masks_root_and_later_handlers():
    result = _run("""
        import logging, sys
        logging.basicConfig(stream=sys.stdout, format="%(name)s %(message)s", level=logging.INFO)
        access = logging.getLogger("sanic.access")  # as Sanic sets it up: its own handler, no propagation
        access.propagate = False
        own = logging.StreamHandler(sys.stdout)
        own.setFormatter(logging.Formatter("access %(request)s %(status)d"))
        access.addHandler(own)
        from hsm.infra import logmask
        logmask.install()
        logmask.install()  # twice is harmless
        logging.getLogger("rasa.core.processor").info("message from %s", "+919876543210")
        late = logging.StreamHandler(sys.stdout)  # e.g. coloredlogs replacing the console handler
        late.setFormatter(logging.Formatter("late %(message)s"))
        logging.getLogger("sanic.access").addHandler(late)
        access.info("", extra={"request": "GET /api/whatsapp/sessions/+919845000002", "status": 200})
        logging.getLogger("sanic.access").info("GET /webhook from 919845000002 mail a.b@c.org")
        root_filters = [type(f).__name__ for h in logging.getLogger().handlers for f in h.filters]
        print(root_filters)
    """)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "rasa.core.processor message from +91******3210" in out
    assert "late GET /webhook from 91******0002 mail a***@c.org" in out
    assert "access GET /api/whatsapp/sessions/+91******0002 200" in out
    assert "['MaskPersonalData']" in out
    assert "9876543210" not in out and "9845000002" not in out


def test_logging_yml_is_a_dict_config_using_the_filter():
    config = yaml.safe_load((PROJECT_ROOT / "logging.yml").read_text())
    assert config["version"] == 1 and config["disable_existing_loggers"] is False
    assert config["filters"]["mask_personal_data"]["()"] == "hsm.infra.logmask.MaskPersonalData"
    assert "mask_personal_data" in config["handlers"]["console"]["filters"]


@pytest.mark.parametrize("runner", ["rasa run", "rasa run actions"])
def test_logging_yml_masks_as_rasa_loads_it(runner):
    # `rasa run`: dictConfig(logging.yml), then coloredlogs replaces the root's console handler.
    # `rasa run actions` (rasa_sdk): coloredlogs first, then dictConfig(logging.yml).
    steps = {
        "rasa run": "logging.config.dictConfig(config); coloredlogs.install(level='INFO')",
        "rasa run actions": "coloredlogs.install(level='INFO'); logging.config.dictConfig(config)",
    }[runner]
    result = _run(f"""
        import logging, logging.config, coloredlogs, yaml
        logging.getLogger("rasa.core.processor")  # exists before the file is read, as in Rasa
        config = yaml.safe_load(open("logging.yml"))
        {steps}
        logging.getLogger("rasa.core.processor").info("Received message from '%s'", "919876543210")
        logging.getLogger("rasa_sdk.executor").warning('{{"sender_id": "+919845000002", "e": "x.y@z.com"}}')
    """)
    assert result.returncode == 0, result.stderr
    err = result.stderr
    assert "Received message from '91******3210'" in err
    assert '"sender_id": "+91******0002"' in err and "x***@z.com" in err
    assert "9876543210" not in err and "9845000002" not in err


# ------------------------------------------------------------------------------------------------ call sites

LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log"}
WAMID_NAMES = re.compile(r"wamid|message_id", re.IGNORECASE)


def _raw_message_ids(expression: ast.AST) -> list[str]:
    """Names and attributes in `expression` that hold a message id and are not passed through `wamid_ref` (or
    `len`)."""
    if isinstance(expression, ast.Call) and getattr(expression.func, "id", None) in ("wamid_ref", "len"):
        return []
    if isinstance(expression, ast.Name) and WAMID_NAMES.search(expression.id):
        return [expression.id]
    if isinstance(expression, ast.Attribute) and WAMID_NAMES.search(expression.attr):
        return [ast.unparse(expression)]
    return [found for child in ast.iter_child_nodes(expression) for found in _raw_message_ids(child)]


def test_log_calls_give_message_ids_as_references():
    """Every log call in the application that prints a WhatsApp message id prints `wamid_ref(...)` of it."""
    offenders = []
    for path in sorted(PROJECT_ROOT.glob("*/**/*.py")):
        relative = path.relative_to(PROJECT_ROOT)
        if relative.parts[0] not in ("hsm", "connectors", "actions", "devtools"):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr not in LOG_METHODS or not isinstance(node.func.value, ast.Name):
                continue
            if node.func.value.id not in ("log", "logger", "logging"):
                continue
            for argument in [*node.args[1:], *(keyword.value for keyword in node.keywords)]:
                offenders += [f"{relative}:{node.lineno}: {name}" for name in _raw_message_ids(argument)]
    assert not offenders, "log calls printing a raw message id:\n" + "\n".join(offenders)
