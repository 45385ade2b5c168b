"""The console in a real browser (issue 14): Debian's headless Chromium, driven by Selenium,
against the app served on a live port. A budget unit signs in and answers its warning (Art.
27(三)); finance signs in, records a verification step (Art. 11(二)1), confirms the violation
into a case (Art. 11(三), 21(一)) and issues a rectification order from the case's page
(Art. 21(三)); another unit opening the case's address gets the not-found page.

Locally the tests are skipped when no Chromium is installed; under CI (``CI=true``) a missing
browser is a failure: ``.ci/run`` installs ``chromium`` and ``chromium-driver``. A failing test
leaves a screenshot of the page in its temporary folder."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from werkzeug.serving import make_server

from tests.console_support import raise_warning

CHROMIUM = Path(os.environ.get("FUNDWATCH_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("FUNDWATCH_TEST_CHROMEDRIVER", "/usr/bin/chromedriver"))


def _browser_or_skip():
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    message = f"the browser tests need {CHROMIUM} and {CHROMEDRIVER} (Debian: chromium, chromium-driver)"
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; under CI a missing browser is a failure, not a skip")
    pytest.skip(message)


@pytest.fixture
def live_url(app):
    """The app served on a free local port from a thread, for as long as the test runs."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


@pytest.fixture
def browser(request, tmp_path):
    _browser_or_skip()
    failures_before = request.session.testsfailed
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900", "--lang=zh-CN"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(5)
    try:
        yield driver
        if request.session.testsfailed > failures_before:  # this test's call failed: keep what it saw
            driver.save_screenshot(str(tmp_path / "failure.png"))
    finally:
        driver.quit()


def sign_in(driver, base: str, login: dict) -> None:
    driver.get(f"{base}/login")
    driver.find_element(By.ID, "email").send_keys(login["email"])
    driver.find_element(By.ID, "password").send_keys(login["password"])
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    assert "待办事项" in driver.find_element(By.TAG_NAME, "h1").text


def sign_out(driver) -> None:
    driver.find_element(By.CSS_SELECTOR, "form[action='/logout'] button").click()


def open_form(driver, form_id: str):
    """Open the action's form (its ``<details>``) and return the form."""
    driver.find_element(By.XPATH, f"//form[@id='{form_id}']/parent::details/summary").click()
    return driver.find_element(By.ID, form_id)


def test_the_unit_signs_in_and_answers_its_warning(browser, live_url, demo, as_finance):
    warning = raise_warning(as_finance)
    sign_in(browser, live_url, demo.logins["unit"])
    browser.find_element(By.LINK_TEXT, f"预警 {warning['id']}").click()
    assert f"预警 {warning['id']}" in browser.find_element(By.TAG_NAME, "h1").text
    browser.find_element(By.ID, "respond-text").send_keys("该笔支出系年度会议费，会议通知及签到表已备查")
    browser.find_element(By.ID, "respond-ref").send_keys("HY-2021-07")
    browser.find_element(By.CSS_SELECTOR, "#respond button[type=submit]").click()
    assert "答复已提交" in browser.find_element(By.CSS_SELECTOR, ".flash").text
    assert "该笔支出系年度会议费" in browser.page_source
    answers = as_finance.get(f"/api/v1/warnings/{warning['id']}").get_json()["responses"]
    assert [a["org_kind"] for a in answers] == ["unit"]


def test_finance_verifies_confirms_and_orders_rectification(browser, live_url, demo, as_finance):
    warning = raise_warning(as_finance, level="block")
    sign_in(browser, live_url, demo.logins["finance"])
    browser.find_element(By.LINK_TEXT, f"预警 {warning['id']}").click()

    step = open_form(browser, "step-phone")
    step.find_element(By.NAME, "summary").send_keys("电话联系单位财务科，称系年度会议费，补充会议通知")
    step.find_element(By.NAME, "contact").send_keys("王会计")
    step.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert "已记录核实步骤：电话核实" in browser.find_element(By.CSS_SELECTOR, ".flash").text
    assert "核实中" in browser.find_element(By.TAG_NAME, "h1").text

    confirm = open_form(browser, "confirm-warning")
    confirm.find_element(By.NAME, "summary").send_keys("虚列会议费支出")
    confirm.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert "已确认违规并立案" in browser.find_element(By.CSS_SELECTOR, ".flash").text
    assert "/cases/" in browser.current_url
    case_url = browser.current_url
    assert browser.find_element(By.CSS_SELECTOR, ".diagram g.current")  # the diagram marks the case's state

    order = open_form(browser, "action-issue_order")
    Select(order.find_element(By.NAME, "grounds")).select_by_value("not_rectified_as_required")
    order.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert "已办理" in browser.find_element(By.CSS_SELECTOR, ".flash").text
    case_id = int(case_url.rstrip("/").rsplit("/", 1)[1])
    assert as_finance.get(f"/api/v1/cases/{case_id}").get_json()["state"] == "order"
    assert "责令整改" in browser.page_source

    sign_out(browser)
    sign_in(browser, live_url, demo.logins["other_unit"])
    browser.get(case_url)
    assert "未找到" in browser.find_element(By.TAG_NAME, "h1").text
