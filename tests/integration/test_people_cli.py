"""`hsm people` (SQLite and PostgreSQL): deactivate with --dry-run and for real, reactivate, edit, list, show; errors
are one line on stderr and exit status 2."""

from __future__ import annotations

from sqlalchemy import select

from hsm.cli import main as hsm_main
from hsm.infra import models as m
from hsm.infra.db import session_scope


def teacher_row(employee_id: str) -> m.Teacher:
    with session_scope() as s:
        row = s.execute(select(m.Teacher).filter_by(employee_id=employee_id)).scalar_one()
        s.expunge(row)
        return row


def audits(action: str) -> list[tuple[str, str | None, dict | None]]:
    with session_scope() as s:
        rows = s.execute(select(m.AuditLog).where(m.AuditLog.action == action).order_by(m.AuditLog.id)).scalars()
        return [(row.actor, row.entity_id, row.after) for row in rows]


def test_deactivate_dry_run_then_for_real_then_reactivate(school_db, capsys):
    argv = ["people", "deactivate", "teacher", "t-101", "--reason", "moved to Bangalore", "--by", "meera"]
    assert hsm_main([*argv, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("would deactivate teacher: T-101") and "dry run: nothing was changed" in out
    assert 'batches now showing "no teacher": GTR-BEG-TT17, GTR-INT-TH18, PNO-ADV-TU19' in out
    assert teacher_row("T-101").active is True and audits("teacher.deactivated") == []

    assert hsm_main(argv) == 0
    assert capsys.readouterr().out.startswith("deactivated teacher: T-101        Rahul Menon")
    assert teacher_row("T-101").active is False
    (row,) = audits("teacher.deactivated")
    assert row[:2] == ("cli:meera", "T-101") and row[2]["reason"] == "moved to Bangalore"

    assert hsm_main(argv) == 2
    assert capsys.readouterr().err.strip() == "hsm people: teacher T-101 is already inactive"

    assert hsm_main(["people", "list", "--kind", "teacher", "--inactive"]) == 0
    listed = capsys.readouterr().out
    assert "teachers who left: 1" in listed and "T-101" in listed and "T-102" not in listed
    assert hsm_main(["whois", "+919811000101"]) == 0
    assert "prospect" in capsys.readouterr().out

    assert hsm_main(["people", "reactivate", "teacher", "T-101", "--by", "meera"]) == 0
    assert capsys.readouterr().out.startswith("reactivated teacher: T-101")
    assert teacher_row("T-101").active is True and len(audits("teacher.reactivated")) == 1


def test_edit_list_and_show(school_db, capsys):
    assert hsm_main(["people", "edit", "guardian", "98450 00007", "--email", "kavitha@example.com", "--dry-run"]) == 0
    assert "would change email: None -> 'kavitha@example.com'" in capsys.readouterr().out
    assert audits("guardian.updated") == []
    assert hsm_main(["people", "edit", "teacher", "T-102", "--phone", "+919811000101"]) == 2
    assert "already belongs to teacher T-101 (Rahul Menon)" in capsys.readouterr().err
    assert hsm_main(["people", "edit", "student", "HSM-24-002", "--title", "Ms."]) == 2
    assert "title cannot be edited" in capsys.readouterr().err
    assert hsm_main(["people", "edit", "student", "HSM-24-001", "--email", "-"]) == 0
    assert "changed email: 'john.doe@email.com' -> None" in capsys.readouterr().out

    assert hsm_main(["people", "list", "--kind", "student", "--search", "rahul"]) == 0
    out = capsys.readouterr().out
    assert "students active: 2" in out and "Rahul Sharma" in out and "Rahul Verma" in out
    assert hsm_main(["people", "show", "student", "HSM-24-001"]) == 0
    card = capsys.readouterr().out
    assert "name: John Doe" in card and "teacher_status=assigned" in card and "balance:" in card
    assert hsm_main(["people", "show", "admin", "ADM-7"]) == 2
    assert capsys.readouterr().err.strip() == "hsm people: no admin with admin code ADM-7"
