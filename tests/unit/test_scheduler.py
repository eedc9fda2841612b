"""`hsm scheduler`: its jobs and their times in the school's time zone, and bad settings refused at start."""

from __future__ import annotations

import argparse
from datetime import datetime

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from hsm.infra import clock
from hsm.office.admin_cli import add_admin_commands
from hsm.office.scheduler import build_scheduler


def test_reminders_every_minute_and_the_retention_purge_every_night_at_half_past_three():
    jobs = {job.id: job for job in build_scheduler(BackgroundScheduler).get_jobs()}
    assert set(jobs) == {"reminders", "retention"}
    school = clock.school_timezone()
    noon = datetime(2026, 11, 29, 12, 0, 30, tzinfo=school)
    assert jobs["reminders"].trigger.get_next_fire_time(None, noon) == datetime(2026, 11, 29, 12, 1, tzinfo=school)
    assert jobs["retention"].trigger.get_next_fire_time(None, noon) == datetime(2026, 11, 30, 3, 30, tzinfo=school)


@pytest.mark.parametrize(("variable", "value"), [("HSM_RETENTION_DAYS", "soon"), ("HSM_FEE_REMINDER_DAYS", "x")])
def test_a_bad_setting_is_refused_at_start_with_a_message(monkeypatch, capsys, variable, value):
    monkeypatch.setenv(variable, value)
    parser = argparse.ArgumentParser(prog="hsm")
    add_admin_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["scheduler"])
    assert args.handler(args) == 2
    assert capsys.readouterr().err.startswith(f"scheduler: {variable}=")
