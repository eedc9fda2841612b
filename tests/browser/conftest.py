"""The office console in a real browser: headless Debian Chromium driven by Selenium through its chromedriver,
against the running stack (sandbox, action server, Rasa) plus the admin API and console (`hsm api`), with the
demo school's staff accounts. Screenshots go to results/console/ for review."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from devtools.localstack import Stack
from hsm.infra.config import PROJECT_ROOT
from hsm.infra.db import session_scope
from hsm.office import staff
from tests.e2e import conftest as e2e

# The same module-scoped stack as the end-to-end tests (sandbox, action server, Rasa), with a frozen "now".
stack, stack_env, stack_now = e2e.stack, e2e.stack_env, e2e.stack_now
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = PROJECT_ROOT / "results" / "console"
PASSWORD = "correct horse battery staple"
# Without the background-networking flags Chromium keeps dialling Google's hosts, which this closed network refuses.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
)


@pytest.fixture(scope="module")
def console(stack: Stack) -> str:
    """The console's address on the module's stack; meera (admin), rahul and priya (teachers) have PASSWORD."""
    with session_scope(stack.database_url) as session:
        staff.add_from_school(session, "browser-tests")
        for login in ("meera", "rahul", "priya", "farhan"):
            staff.set_password(session, "browser-tests", login, PASSWORD)
    return stack.start_api() + "/office/"


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[WebDriver]:
    """One headless Chromium for the module, with a fresh profile."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: install Debian's chromium and chromium-driver (.ci/run does)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium')}")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def phone(browser: WebDriver) -> Iterator[WebDriver]:
    """The module's browser at a phone's size (390 × 844), back to the desktop size afterwards."""
    browser.set_window_size(390, 844)
    try:
        yield browser
    finally:
        browser.set_window_size(1280, 900)


def fits_the_phone(driver: WebDriver) -> None:
    """The page does not scroll sideways on a 390 px screen."""
    width = driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"


def shot(driver: WebDriver, name: str) -> Path:
    """Save a full-width screenshot of the current page as results/console/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def wait_for(driver: WebDriver, css: str, timeout_s: float = 30):
    """The first element matching `css`, once it is visible."""
    visible = expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, css))
    return WebDriverWait(driver, timeout_s).until(visible)


def click_and_load(driver: WebDriver, element: WebElement, timeout_s: float = 30) -> None:
    """Click a link or button that loads a new page, and wait until the old page is gone: without the wait, a
    `wait_for` right after it can find its element on the old page (the search results' links are on the page
    that sent the search too) and then click a stale element. While the page unloads, Chromium may answer "Node
    with given id does not belong to the document" for the old page's element: that is retried, not a failure."""
    old_page = driver.find_element(By.TAG_NAME, "html")
    element.click()
    unloading = (WebDriverException,)
    WebDriverWait(driver, timeout_s, ignored_exceptions=unloading).until(expected_conditions.staleness_of(old_page))


def sign_in(driver: WebDriver, console: str, login: str, password: str = PASSWORD) -> None:
    """Sign in through the form, as a person would, and wait for the page behind it."""
    driver.delete_all_cookies()
    driver.get(console + "sign-in")
    wait_for(driver, "#login").send_keys(login)
    driver.find_element(By.ID, "password").send_keys(password)
    click_and_load(driver, driver.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    WebDriverWait(driver, 30).until(lambda d: "/sign-in" not in d.current_url)
