"""`hsm leads list|show|move|convert` and `hsm students add` against the demo school (SQLite and PostgreSQL): what
they print, --dry-run saving nothing, refusals on stderr with exit status 2 (invalid) or 1 (not allowed now)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hsm.cli import main as hsm_main
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.outreach import enrollment

PROSPECT = "+919700000901"


@pytest.fixture
def lead_id(school_db) -> int:
    with session_scope() as session:
        lead, _ = enrollment.create_lead(session, PROSPECT, "Anita", "PIANO", 8, "beginner", "weekends")
        enrollment.create_lead(session, "+919700000902", "Ravi Kumar", "DRUMS", 30, None, None)
        return lead.id


def hsm(capsys, *argv: str) -> tuple[int, str, str]:
    status = hsm_main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def lead_row(lead_id: int) -> tuple:
    with session_scope() as session:
        lead = session.get(m.Lead, lead_id)
        return lead.status, lead.trial_batch_id, lead.student_id, len(lead.events)


def students() -> int:
    with session_scope() as session:
        return session.execute(select(func.count()).select_from(m.Student)).scalar_one()


def test_list_filters_and_pages(lead_id, capsys):
    status, out, _ = hsm(capsys, "leads", "list")
    lines = out.splitlines()
    assert status == 0 and lines[0] == "2 lead(s), showing 1-2"
    assert "Ravi Kumar" in lines[2] and "Anita" in lines[3] and PROSPECT in lines[3] and "Piano" in lines[3]
    status, out, _ = hsm(capsys, "leads", "list", "--course", "piano", "--status", "new,contacted")
    assert out.splitlines()[0] == "1 lead(s), showing 1-1" and "Anita" in out
    status, out, _ = hsm(capsys, "leads", "list", "--search", "ravi", "--since", "2026-12-01")
    assert "Ravi Kumar" in out and "Anita" not in out
    status, out, _ = hsm(capsys, "leads", "list", "--limit", "1", "--offset", "1")
    assert out.splitlines()[0] == "2 lead(s), showing 2-2" and "Anita" in out
    status, out, _ = hsm(capsys, "leads", "list", "--status", "lost")
    assert (status, out) == (0, "0 lead(s), showing none\n")
    status, _, err = hsm(capsys, "leads", "list", "--status", "closed")
    assert status == 2 and "refused: status: unknown status 'closed'" in err


def test_move_show_and_dry_run(lead_id, capsys):
    before = lead_row(lead_id)
    status, out, _ = hsm(capsys, "leads", "move", str(lead_id), "contacted", "--note", "called", "--dry-run")
    assert status == 0 and out.startswith(f"dry run, nothing saved: lead {lead_id} moved to contacted")
    assert lead_row(lead_id) == before
    status, out, _ = hsm(
        capsys, "leads", "move", str(lead_id), "trial_booked", "--trial-at", "2026-12-04 17:00",
        "--batch", "PNO-BEG-WF17", "--by", "meera", "--note", "Friday works",
    )  # fmt: skip
    assert status == 0 and "trial: Fri 04 Dec 2026 17:00 in PNO-BEG-WF17" in out
    status, out, _ = hsm(capsys, "leads", "show", str(lead_id))
    assert status == 0
    assert f"lead {lead_id}: Anita, {PROSPECT}, trial_booked (next: trial_booked, contacted, enrolled, lost)" in out
    assert "created (new)  by whatsapp:prospect" in out
    assert "new -> trial_booked  by cli:meera [trial_at 2026-12-04T17:00:00+05:30" in out and "Friday works" in out


def test_refusals_say_why_and_exit_non_zero(lead_id, capsys):
    cases = [
        (("leads", "move", str(lead_id), "lost"), 2, "refused: reason: a lost lead needs a reason"),
        (("leads", "move", str(lead_id), "trial_booked", "--trial-at", "tomorrow"), 2, "has no time"),
        (("leads", "move", str(lead_id), "new"), 1, f"refused: status: lead {lead_id} is new already"),
        (("leads", "move", "999", "contacted"), 1, "refused: lead_id: there is no lead 999"),
        (("leads", "show", "999"), 1, "there is no lead 999"),
    ]
    for argv, code, message in cases:
        status, _, err = hsm(capsys, *argv)
        assert status == code and message in err, (argv, status, err)
    with pytest.raises(SystemExit):  # argparse: not a status
        hsm_main(["leads", "move", str(lead_id), "closed"])
    capsys.readouterr()


def test_the_cli_reopens_a_lost_lead(lead_id, capsys):
    """`hsm leads move` is run by the school's operators: an admin's reopening (the API's staff may not)."""
    assert hsm(capsys, "leads", "move", str(lead_id), "lost", "--reason", "too far")[0] == 0
    status, out, err = hsm(capsys, "leads", "move", str(lead_id), "contacted", "--note", "moved nearer")
    assert status == 0 and f"lead {lead_id} moved to contacted" in out, err
    assert lead_row(lead_id)[0] == "contacted"


def test_convert_and_students_add(lead_id, capsys):
    count = students()
    argv = ("leads", "convert", str(lead_id), "--batch", "PNO-BEG-WF17", "--plan", "monthly")
    status, _, err = hsm(capsys, *argv)
    assert status == 2 and "student_name: a parent's enquiry: give the student's name" in err
    status, out, _ = hsm(capsys, *argv, "--student-name", "Arjun Kumar", "--relation", "mother", "--dry-run")
    assert status == 0 and "dry run, nothing saved: lead" in out and students() == count
    status, out, _ = hsm(capsys, *argv, "--student-name", "Arjun Kumar", "--relation", "mother", "--by", "meera")
    assert status == 0
    assert out == (
        f"lead {lead_id} enrolled: HSM-26-001 Arjun Kumar in PNO-BEG-WF17 (monthly, ₹2500, 8 classes, next due "
        "2027-01-01); guardian Anita (new, mother)\n"
    )
    assert lead_row(lead_id)[0] == "enrolled" and students() == count + 1

    add = ("students", "add", "--name", "Nisha Rao", "--batch", "KEY-BEG-MWF18", "--plan", "quarterly")
    status, _, err = hsm(capsys, *add)
    assert status == 2 and "a student needs a phone or a guardian" in err
    status, _, err = hsm(capsys, *add, "--phone", "+919876543210")
    assert status == 1 and "already the phone of student HSM-24-001 John Doe" in err
    status, out, _ = hsm(capsys, *add, "--guardian-name", "Kavitha Reddy", "--guardian-phone", "9845000007")
    assert status == 0
    assert out == (
        "admitted HSM-26-002 Nisha Rao in KEY-BEG-MWF18 (quarterly, ₹5500, 24 classes, next due 2027-03-01); "
        "guardian Kavitha Reddy (existing, guardian)\n"
    )
    with session_scope() as session:
        audit = session.execute(select(m.AuditLog).where(m.AuditLog.action == "student.admitted")).scalars().all()
        assert [row.actor for row in audit] == ["cli:meera", "cli:operator"]
