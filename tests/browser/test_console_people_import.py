"""People and import in Chromium: find a guardian by phone and open their page (and a teacher's), upload a CSV with
one student's name changed, read the dry run's diff, apply it and see the new name on the card; screenshots on a
desktop and on a 390 px phone."""

from __future__ import annotations

import csv
import io

import pytest
from selenium.webdriver.common.by import By

from devtools.localstack import Stack
from hsm.infra.db import session_scope
from hsm.records.sheets.export import export_sheet
from tests.browser.conftest import click_and_load, fits_the_phone, shot, sign_in, wait_for

pytestmark = pytest.mark.slow
STUDENT = "HSM-24-009"  # Mohammed Irfan


def renamed_csv(stack: Stack, directory, new_name: str):
    """The export's students CSV cut to the student's rows, their name changed."""
    exported = directory / "export.csv"
    with session_scope(stack.database_url) as session:
        export_sheet(session, exported, ["students"])
    headers, *rows = list(csv.reader(io.StringIO(exported.read_text(encoding="utf-8-sig"))))
    mine = [row for row in rows if STUDENT in row]
    for row in mine:
        row[headers.index("Student Name")] = new_name
    path = directory / "irfan.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([headers, *mine])
    return path


def test_finding_a_guardian_by_phone_and_opening_their_page(browser, console):
    sign_in(browser, console, "meera")
    browser.get(console + "people")
    wait_for(browser, "#q").send_keys("98450 00002")
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "form.search button"))
    link = wait_for(browser, "a[href^='/office/guardians/']")
    assert link.text == "Susan Thomas"
    shot(browser, "people-search-kinds")
    click_and_load(browser, link)
    assert wait_for(browser, "h1").text.startswith("Susan Thomas")
    assert "Mary Thomas" in wait_for(browser, "a[href='/office/students/HSM-24-002']").text
    shot(browser, "guardian")
    browser.get(console + "teachers/T-101")
    wait_for(browser, "a[href='/office/register/GTR-BEG-TT17']")
    shot(browser, "teacher")


def test_people_pages_on_a_phone(phone, console):
    sign_in(phone, console, "meera")
    phone.get(console + "people?q=thomas")
    wait_for(phone, "nav.kinds")
    fits_the_phone(phone)
    shot(phone, "people-search-kinds-phone")
    click_and_load(phone, phone.find_element(By.CSS_SELECTOR, "a[href^='/office/guardians/']"))
    wait_for(phone, "#edit-name")
    fits_the_phone(phone)
    shot(phone, "guardian-phone")


def test_importing_a_changed_name_shows_the_diff_then_applies_it(browser, console, stack, tmp_path):
    sign_in(browser, console, "meera")
    browser.get(console + "people")
    click_and_load(browser, wait_for(browser, "a[href='/office/import']"))
    wait_for(browser, "#import-file").send_keys(str(renamed_csv(stack, tmp_path, "Mohammed Irfan Khan")))
    shot(browser, "import")
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "main form[enctype] button[type=submit]"))
    assert wait_for(browser, "ins").text == "Mohammed Irfan Khan"
    assert browser.find_element(By.CSS_SELECTOR, "del").text == "Mohammed Irfan"
    shot(browser, "import-diff")
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "form[action$='/apply'] button"))
    assert wait_for(browser, "h1").text.startswith("Imported")
    shot(browser, "import-applied")
    browser.get(console + f"students/{STUDENT}")
    assert wait_for(browser, "h1").text.startswith("Mohammed Irfan Khan")
