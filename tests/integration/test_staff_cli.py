"""`hsm staff` through `hsm.cli.main`: accounts (the local stack's bootstrap from the demo school, idempotent),
passwords read without ever being an argument or printed, tokens issued once, listed and revoked; --dry-run
changes nothing."""

from __future__ import annotations

import io
import json
import re
import sys

import jwt
import pytest
from sqlalchemy import select

from hsm.cli import main as hsm
from hsm.infra import models as m
from hsm.infra.config import PROJECT_ROOT
from hsm.infra.db import session_scope
from hsm.office import passwords

SECRET = "test-admin-secret-" + "0123456789abcdef" * 4
PASSWORD = "correct horse battery"


@pytest.fixture
def school(school_db, monkeypatch):
    monkeypatch.setenv("ADMIN_JWT_SECRET", SECRET)
    monkeypatch.setattr(passwords, "COST", passwords.ScryptCost(n=2**10, r=8, p=1))
    return school_db


def accounts() -> dict[str, m.StaffAccount]:
    with session_scope() as session:
        return {row.login: row for row in session.execute(select(m.StaffAccount)).scalars()}


def audit_text() -> str:
    with session_scope() as session:
        rows = session.execute(select(m.AuditLog)).scalars().all()
    return json.dumps([[row.actor, row.action, row.entity_id, row.before, row.after] for row in rows])


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = hsm(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_the_local_stack_makes_the_demo_school_s_accounts_once(school, capsys):
    assert "hsm staff add --from-school" in (PROJECT_ROOT / "Makefile").read_text()  # `make db`, so `make run`
    status, out, _ = run(capsys, "staff", "add", "--from-school", "--dry-run")
    assert status == 0 and "8 would add" in out and accounts() == {}
    status, out, _ = run(capsys, "staff", "add", "--from-school", "--by", "make-db")
    assert status == 0 and "added meera (admin, Meera Krishnan)" in out and "8 added" in out
    status, out, _ = run(capsys, "staff", "add", "--from-school", "--by", "make-db")
    assert status == 0 and "0 added, 8 already had an account" in out
    assert len(accounts()) == 8 and "cli:make-db" in audit_text()
    status, out, _ = run(capsys, "staff", "add", "--from-teacher", "T-101")
    assert status == 0 and "T-101 already has an account: rahul (teacher)" in out


def test_accounts_are_added_listed_shown_and_changed(school, capsys):
    assert run(capsys, "staff", "add", "--from-admin", "ADM-1")[0] == 0
    status, out, _ = run(capsys, "staff", "add", "--from-teacher", "T-102", "--login", "priya.i")
    assert status == 0 and "added priya.i (teacher, Priya Iyer)" in out
    status, out, _ = run(
        capsys, "staff", "add", "desk", "--name", "Front Desk", "--role", "staff", "--phone", "98450 00099"
    )
    assert status == 0 and "added desk" in out
    status, _, err = run(capsys, "staff", "add", "desk2", "--name", "X", "--role", "teacher")
    assert status == 2 and "needs its teacher" in err
    status, _, err = run(capsys, "staff", "add", "desk", "--name", "X", "--role", "staff")
    assert status == 2 and "already has this login" in err
    assert run(capsys, "staff", "add", "--name", "X")[0] == 2
    status, out, _ = run(capsys, "staff", "list")
    assert [line.split()[0] for line in out.splitlines()[1:-1]] == ["desk", "meera", "priya.i"]
    assert "+91******0099" in out and "3 account(s)" in out  # phones masked in the listing
    status, out, _ = run(capsys, "staff", "show", "desk")
    assert "phone:        +919845000099" in out and "password:     none" in out
    assert run(capsys, "staff", "show", "nobody")[0] == 2

    status, out, _ = run(capsys, "staff", "update", "desk", "--phone", "", "--email", "desk@hsm.example", "--dry-run")
    assert status == 0 and "would update desk: email, phone" in out
    assert accounts()["desk"].phone == "+919845000099"
    assert run(capsys, "staff", "update", "desk", "--phone", "", "--email", "desk@hsm.example")[0] == 0
    assert (accounts()["desk"].phone, accounts()["desk"].email) == (None, "desk@hsm.example")
    assert run(capsys, "staff", "update", "desk")[0] == 2  # nothing to change

    status, _, err = run(capsys, "staff", "deactivate", "meera")
    assert status == 2 and "last active admin" in err
    assert run(capsys, "staff", "deactivate", "desk", "--dry-run")[0] == 0 and accounts()["desk"].active
    assert run(capsys, "staff", "deactivate", "desk")[0] == 0 and not accounts()["desk"].active
    status, out, _ = run(capsys, "staff", "list", "--all", "--role", "staff")
    assert "inactive" in out and "1 account(s)" in out
    assert run(capsys, "staff", "reactivate", "desk")[0] == 0 and accounts()["desk"].active


def test_passwords_are_read_never_given_and_never_shown(school, capsys, monkeypatch):
    run(capsys, "staff", "add", "--from-admin", "ADM-1")
    with pytest.raises(SystemExit):
        hsm(["staff", "set-password", "meera", "--password", PASSWORD])
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", io.StringIO("too short\n"))
    status, _, err = run(capsys, "staff", "set-password", "meera", "--password-stdin")
    assert status == 2 and "at least 12" in err and "too short" not in err
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    status, out, err = run(capsys, "staff", "set-password", "meera", "--password-stdin", "--dry-run")
    assert status == 0 and "would set" in out and accounts()["meera"].password_hash is None
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    status, out, err = run(capsys, "staff", "set-password", "meera", "--password-stdin")
    assert status == 0 and PASSWORD not in out + err
    assert passwords.verify(PASSWORD, accounts()["meera"].password_hash)
    # No terminal and no --password-stdin: refused rather than read from a pipe by surprise.
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert run(capsys, "staff", "set-password", "meera")[0] == 2
    # On a terminal: asked twice with getpass.
    monkeypatch.setattr(sys, "stdin", type("Tty", (io.StringIO,), {"isatty": lambda self: True})())
    answers = iter([PASSWORD + "!", PASSWORD + "?"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    status, _, err = run(capsys, "staff", "set-password", "meera")
    assert status == 2 and "differ" in err
    answers = iter([PASSWORD + "!", PASSWORD + "!"])
    assert run(capsys, "staff", "set-password", "meera")[0] == 0
    assert passwords.verify(PASSWORD + "!", accounts()["meera"].password_hash)
    text = audit_text()
    assert PASSWORD not in text and "scrypt" not in text


def test_tokens_are_issued_listed_and_revoked(school, capsys):
    run(capsys, "staff", "add", "--from-school")
    status, out, err = run(
        capsys, "staff", "tokens", "issue", "--staff", "meera", "--role", "admin", "--label", "laptop"
    )
    assert status == 0 and out.count("\n") == 1  # the token alone on stdout
    value = out.strip()
    claims = jwt.decode(value, SECRET, algorithms=["HS256"], audience="hsm-admin-api")
    assert (claims["sub"], claims["role"]) == ("meera", "admin") and claims["jti"][:12] in err
    status, out, _ = run(capsys, "staff", "tokens", "issue", "--staff", "meera", "--role", "staff", "--dry-run")
    assert status == 0 and out.startswith("would issue a staff token for 'meera'") and "eyJ" not in out
    status, _, err = run(capsys, "staff", "tokens", "issue", "--staff", "rahul", "--role", "staff")
    assert status == 2 and "may hold no tokens" in err
    status, out, _ = run(capsys, "staff", "tokens", "list")
    assert claims["jti"][:12] in out and "laptop" in out and claims["jti"] not in out and "1 active token(s)" in out
    with session_scope() as session:
        assert session.execute(select(m.AdminToken.jti)).scalars().all() == [claims["jti"]]  # the dry run left none

    prefix = claims["jti"][:8]
    assert run(capsys, "staff", "tokens", "revoke", prefix, "--dry-run")[0] == 0
    status, out, _ = run(capsys, "staff", "tokens", "revoke", prefix, "--by", "ravi")
    assert status == 0 and f"revoked the admin token {claims['jti'][:12]} of 'meera'" in out
    status, _, err = run(capsys, "staff", "tokens", "revoke", claims["jti"])
    assert status == 2 and "already revoked" in err
    assert run(capsys, "staff", "tokens", "revoke", "0000000")[0] == 2  # too short a prefix: not found
    assert run(capsys, "staff", "tokens", "revoke")[0] == 2
    assert run(capsys, "staff", "tokens", "revoke", prefix, "--subject", "meera")[0] == 2
    status, out, _ = run(capsys, "staff", "tokens", "list", "--all")
    assert re.search(r"revoked\s+laptop", out)
    assert "0 active token(s)" in run(capsys, "staff", "tokens", "list")[1]
    assert value not in audit_text() and "cli:ravi" in audit_text()
