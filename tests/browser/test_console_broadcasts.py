"""Broadcasts and analytics in Chromium: meera composes a broadcast to the Tabla batch, checks the preview's count
(Nandini Rao's family opted out), sends it, and watches the progress page (it refreshes itself) until the sandbox
has reported every message delivered; then the Analytics page. Without REDIS_URL, `hsm api` runs the broadcast in
a background thread (hsm.outreach.broadcast.queue), so the stack needs no separate worker here."""

from __future__ import annotations

import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browser.conftest import click_and_load, shot, sign_in, wait_for

pytestmark = pytest.mark.slow

TABLA = "TBL-BEG-SA16"  # Omar Sheikh and Siddharth Bose's mother Rina; Nandini Rao's family opted out


def stage(driver: WebDriver, key: str) -> int:
    return int(driver.find_element(By.CSS_SELECTOR, f"#stage-{key} .num").text)


def on_a_phone(driver: WebDriver, name: str) -> None:
    """Screenshot the page at 390 px wide, checking it does not scroll sideways."""
    driver.set_window_size(390, 844)
    try:
        wait_for(driver, "h1")
        shot(driver, name)
        width = driver.execute_script("return document.documentElement.scrollWidth")
        wide = driver.execute_script(
            "return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 390)"
            ".map(e => e.tagName + '.' + e.className + '#' + e.id).slice(0, 8)"
        )
        assert width <= 390, f"{name} scrolls sideways on a phone ({width}px): {wide}"
    finally:
        driver.set_window_size(1280, 900)


def test_a_broadcast_to_a_batch_is_delivered_to_everyone(browser, console):
    sign_in(browser, console, "meera")
    click_and_load(browser, browser.find_element(By.LINK_TEXT, "Broadcasts"))
    click_and_load(browser, wait_for(browser, "a.button.primary"))
    wait_for(browser, "#compose")
    browser.find_element(By.CSS_SELECTOR, "input[name=audience][value=batch]").click()
    Select(browser.find_element(By.ID, "batch")).select_by_value(TABLA)
    browser.find_element(By.ID, "text").send_keys("No tabla class this Saturday: the hall is being painted.")
    shot(browser, "broadcast-compose")
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "#compose button[type=submit]"))

    assert wait_for(browser, "#recipient-count strong").text == "2"
    assert browser.find_element(By.ID, "opted-out-count").text.startswith("1 opted out")
    # Nobody in the batch wrote in the last 24 hours: the approved "announcement" template carries the text.
    assert Select(browser.find_element(By.ID, "template")).first_selected_option.text == "announcement"
    shot(browser, "broadcast-preview")
    on_a_phone(browser, "broadcast-preview-phone")
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "#send button.primary"))

    wait_for(browser, "#stage-delivered")
    assert "/office/broadcasts/" in browser.current_url
    WebDriverWait(browser, 90, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(
        lambda d: stage(d, "delivered") == 2 and "refreshes" not in d.find_element(By.ID, "state").text
    )
    assert stage(browser, "failed") == 0 and stage(browser, "pending") == 0
    rows = browser.find_elements(By.CSS_SELECTOR, "#recipients .row")
    statuses = {
        row.text.split("\n")[0].removesuffix(row.find_element(By.CSS_SELECTOR, ".tag").text).strip(): row.get_attribute(
            "data-status"
        )
        for row in rows
    }
    assert statuses.keys() == {"Omar Sheikh", "Rina Bose", "Nandini Rao"}
    assert statuses["Nandini Rao"] == "skipped"
    assert {statuses["Omar Sheikh"], statuses["Rina Bose"]} <= {"delivered", "read"}
    shot(browser, "broadcast-progress")
    on_a_phone(browser, "broadcast-progress-phone")

    click_and_load(browser, browser.find_element(By.LINK_TEXT, "← Broadcasts"))
    assert "No tabla class this Saturday" in wait_for(browser, ".rows").text


def test_analytics_shows_each_chart_beside_its_table(browser, console):
    sign_in(browser, console, "meera")
    click_and_load(browser, browser.find_element(By.LINK_TEXT, "Analytics"))
    wait_for(browser, "#summary")
    assert browser.find_elements(By.CSS_SELECTOR, "#messages-h ~ .figure svg")
    assert browser.find_elements(By.ID, "messages-table")
    shot(browser, "analytics")
    on_a_phone(browser, "analytics-phone")
