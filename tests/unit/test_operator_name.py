"""The operator's name a command's --by gives the audit trail: spaces collapsed; refused when empty, too long or
holding control characters, by every command that takes it (argparse's usage error, status 2, before any work)."""

from __future__ import annotations

import argparse

import pytest

from hsm.cli import build_parser
from hsm.records.changes import OPERATOR_MAX_CHARS, operator_name


def commands_with_by(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command words, its --by action) for every command under `parser` that takes --by."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands_with_by(sub, (*path, name))
        elif "--by" in action.option_strings:
            yield path, action


def test_a_name_is_kept_with_its_spaces_collapsed():
    assert operator_name("meera") == "meera"
    assert operator_name("  Meera \t Rao ") == "Meera Rao"
    assert operator_name("x" * OPERATOR_MAX_CHARS) == "x" * OPERATOR_MAX_CHARS


@pytest.mark.parametrize("bad", ["", "   ", "x" * (OPERATOR_MAX_CHARS + 1), "meera\x1b[31m", "a\x00b"])
def test_empty_long_or_control_characters_are_refused(bad):
    with pytest.raises(argparse.ArgumentTypeError, match="give a name of 1 to 40"):
        operator_name(bad)


def test_every_command_that_takes_by_checks_it():
    found = dict(commands_with_by(build_parser()))
    assert {("import-school",), ("payments", "record"), ("closures", "add"), ("leads", "move")} <= set(found)
    assert all(action.type is operator_name and action.metavar == "NAME" for action in found.values())


def test_a_bad_name_is_a_usage_error_before_anything_runs(capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["closures", "add", "--from", "2026-12-18", "--reason", "x", "--by", "x" * 70])
    assert exit_.value.code == 2
    assert "argument --by: give a name of 1 to 40" in capsys.readouterr().err
