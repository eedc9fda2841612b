"""Page speed of the office console: p50/p95 of its main pages (Today, people search, student card, register,
leads) served by `hsm api` on SQLite, with the demo school and with the demo school plus the 400-student
spreadsheet (scripts/make_school_sheet.py imported with `hsm import-sheet --skip-bad`).

    .venv/bin/python bench/console_bench.py [--requests 60]

Each page is asked for sequentially by one signed-in admin (a session cookie, as a browser sends it) after two
warm-up requests; the target is a p95 under 200 ms."""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.localstack import free_port, wait_until_up  # noqa: E402
from hsm.infra.config import child_environment, set_environment  # noqa: E402
from hsm.infra.db import session_scope, upgrade_to_head  # noqa: E402
from hsm.office import staff  # noqa: E402
from hsm.outreach.enrollment import create_lead  # noqa: E402
from hsm.records.school_import import import_school_file  # noqa: E402
from tests.conftest import DEMO_NOW, SCHOOL_FILE  # noqa: E402

BIN = ROOT / ".venv" / "bin"
PASSWORD = "console bench password"
SECRET = "console-bench-secret-" + "0123456789abcdef" * 4
LEADS = 60
PAGES = {
    "Today": "/office/",
    "People search": "/office/people?q=reddy",
    "Student card": "/office/students/HSM-24-009",
    "Register": "/office/register/GTR-BEG-TT17?month=2026-11",
    "Leads": "/office/leads",
}
CSRF = re.compile(r'name="csrf" value="([^"]*)"')


def school(workdir: Path, with_sheet: bool) -> str:
    url = f"sqlite:///{workdir / 'hsm.sqlite3'}"
    upgrade_to_head(url)
    import_school_file(SCHOOL_FILE, url)
    env = child_environment(DATABASE_URL=url, HSM_NOW=DEMO_NOW)
    if with_sheet:
        sheet = workdir / "school-400.xlsx"
        run = {"env": env, "check": True, "capture_output": True}
        subprocess.run([str(BIN / "python"), "scripts/make_school_sheet.py", str(sheet), "--students", "400"], **run)
        subprocess.run([str(BIN / "hsm"), "import-sheet", str(sheet), "--skip-bad"], **run)
    set_environment(HSM_NOW=DEMO_NOW)
    with session_scope(url) as session:
        staff.add_from_school(session, "bench")
        staff.set_password(session, "bench", "meera", PASSWORD)
        for number in range(LEADS if with_sheet else LEADS // 6):
            create_lead(session, f"+9198110{number:05d}", f"Lead {number}", "GUITAR", 20, None, None)
    return url


def measure(url: str, count: int) -> dict[str, tuple[float, float]]:
    port = free_port()
    env = child_environment(DATABASE_URL=url, HSM_NOW=DEMO_NOW, ADMIN_JWT_SECRET=SECRET)
    log = open(Path(url.removeprefix("sqlite:///")).with_name("api.log"), "w")  # noqa: SIM115 - kept for the process
    process = subprocess.Popen(
        [str(BIN / "hsm"), "api", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/healthz", process, Path(log.name))
        browser = requests.Session()
        form = browser.get(f"{base}/office/sign-in")
        token = CSRF.search(form.text).group(1)
        signed_in = browser.post(
            f"{base}/office/sign-in", data={"login": "meera", "password": PASSWORD, "csrf": token, "next": "/office/"}
        )
        assert "Today" in signed_in.text, "the bench could not sign in"
        figures = {}
        for name, path in PAGES.items():
            times = []
            for number in range(count + 2):
                started = time.perf_counter()
                response = browser.get(base + path)
                elapsed = (time.perf_counter() - started) * 1000
                assert response.status_code == 200, (path, response.status_code)
                if number >= 2:
                    times.append(elapsed)
            times.sort()
            figures[name] = (statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)])
        return figures
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=60, help="timed requests per page (after 2 warm-ups)")
    args = parser.parse_args()
    results = {}
    for label, with_sheet in (("demo school", False), ("demo + 400 students", True)):
        with tempfile.TemporaryDirectory() as folder:
            results[label] = measure(school(Path(folder), with_sheet), args.requests)
    labels = list(results)
    print("| page | " + " | ".join(f"{label} p50 / p95 (ms)" for label in labels) + " |")
    print("|---|" + "---|" * len(labels))
    for name in PAGES:
        cells = " | ".join(f"{results[label][name][0]:.0f} / {results[label][name][1]:.0f}" for label in labels)
        print(f"| {name} | {cells} |")
    slowest = max(p95 for figures in results.values() for _, p95 in figures.values())
    print(f"\nslowest p95: {slowest:.0f} ms (target < 200 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
