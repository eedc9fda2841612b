"""The admin API's request readers: one yes/no reader for queries (with a default), one for JSON bodies, one date
reader, all in hsm.office.admin_api.inputs; no route module keeps its own."""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

import pytest
from aiohttp.test_utils import make_mocked_request

from hsm.office.admin_api import inputs
from hsm.office.admin_api.errors import ApiError

ADMIN_API = Path(inputs.__file__).parent


def request(query: str = ""):
    return make_mocked_request("GET", f"/x?{query}" if query else "/x")


@pytest.mark.parametrize(
    ("query", "default", "expected"),
    [
        ("", None, None),
        ("", False, False),
        ("", True, True),
        ("all=", False, False),
        ("all=%20", True, True),
        ("all=TRUE", None, True),
        ("all=1", False, True),
        ("all=yes", False, True),
        ("all=false", True, False),
        ("all=0", None, False),
        ("all=No", True, False),
    ],
)
def test_query_flag_reads_yes_and_no_and_falls_back_on_its_default(query, default, expected):
    assert inputs.query_flag(request(query), "all", default) is expected


def test_query_flag_refuses_other_words():
    with pytest.raises(ApiError) as refused:
        inputs.query_flag(request("all=maybe"), "all", False)
    assert (refused.value.status, refused.value.field) == (400, "all")
    assert "must be true or false" in refused.value.message


def test_body_flag_takes_json_booleans_only():
    assert inputs.body_flag({}, "notify", True) is True
    assert inputs.body_flag({"notify": None}, "notify", False) is False
    assert inputs.body_flag({"notify": False}, "notify", True) is False
    for bad in ("true", 1, 0, []):
        with pytest.raises(ApiError) as refused:
            inputs.body_flag({"notify": bad}, "notify", True)
        assert (refused.value.status, refused.value.field) == (400, "notify")


def test_date_value_reads_iso_dates_and_says_what_is_wrong():
    assert inputs.date_value(" 2026-12-05 ", "from") == date(2026, 12, 5)
    assert inputs.date_value(None, "from") is None and inputs.date_value("", "from") is None
    with pytest.raises(ApiError) as refused:
        inputs.date_value(None, "start_date", required=True)
    assert (refused.value.code, refused.value.field) == ("missing_field", "start_date")
    for bad in ("05/12/2026", "2026-02-30", 20261205):
        with pytest.raises(ApiError) as refused:
            inputs.date_value(bad, "dob")
        assert (refused.value.status, refused.value.code, refused.value.field) == (400, "invalid_field", "dob")
        assert "YYYY-MM-DD" in refused.value.message


def test_no_route_module_keeps_its_own_flag_or_date_reader():
    """Every flag and date is read by inputs.query_flag, inputs.body_flag or inputs.date_value."""
    for path in sorted(ADMIN_API.glob("*.py")):
        if path.name == "inputs.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                words = node.name.strip("_").split("_")
                assert not ({"flag", "bool", "date"} & set(words)), f"{path.name}: {node.name}"
    names = {node.name for node in ast.walk(ast.parse((ADMIN_API / "inputs.py").read_text())) if hasattr(node, "name")}
    assert "flag_query" not in names  # one query flag reader: query_flag(request, key, default)
