"""The dashboard as an operator uses it, in a real headless Chromium while readings are
replayed and a watcher scores them: the page shows the assets, an alert appears within
seconds of the faulty readings, and an acknowledgement click lands in the store."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from components.live.store import Store
from components.live.watcher import Watcher, run_watcher
from tests.dashboard.browser import chromium, dashboard_server
from tests.live.helpers import START, insert, interleave, loaded, readings, wait_until


def _wait(condition, timeout_s: float, what: str):
    return wait_until(condition, timeout_s, what, tolerate=(Exception,), interval_s=0.2)  # an element between two renders


def _tile_alarm(driver, asset: str) -> str | None:
    tiles = driver.find_elements(By.CSS_SELECTOR, f'div.af-tile[data-asset="{asset}"]')
    return tiles[0].get_attribute("data-alarm") if tiles else None


@pytest.fixture
def live(tmp_path):
    """A store a watcher thread scores (polling every 0.2 s) until the test ends."""
    url = f"sqlite:///{tmp_path}/live.db"
    with Store(url) as store:
        store.init()
    watcher = Watcher(Store(url), loaded())
    stop = threading.Event()
    thread = threading.Thread(target=run_watcher, args=(watcher,), kwargs={"once": False, "poll_s": 0.2, "stop": stop})
    thread.start()
    yield url
    stop.set()
    thread.join(30)


def test_an_operator_sees_the_alert_within_seconds_and_acknowledges_it(live, tmp_path):
    frames = interleave(readings(200, asset="pump-1"), readings(200, asset="pump-2", seed=4, faults=()))
    before_fault = frames[frames["timestamp"] < START + pd.Timedelta(minutes=149)]  # pump-1's fault starts at minute 150
    with Store(live) as writer, dashboard_server(live) as base, chromium() as driver:
        insert(writer, before_fault)
        driver.get(base)
        _wait(lambda: _tile_alarm(driver, "pump-1") == "normal" and _tile_alarm(driver, "pump-2") == "normal", 60, "both pumps normal")
        driver.execute_script("window.loadedOnce = true")  # gone if the page reloads
        driver.save_screenshot(str(tmp_path / "fleet_before.png"))
        insert(writer, frames.iloc[len(before_fault) : len(before_fault) + 2 * 12])  # 12 faulty minutes of pump-1
        faulty_at = time.monotonic()
        alarm = _wait(lambda: _tile_alarm(driver, "pump-1") in ("warning", "critical") and _tile_alarm(driver, "pump-1"), 15, "pump-1 alarmed")
        seen_after_s = time.monotonic() - faulty_at
        print(f"alarm shown {seen_after_s:.2f} s after the faulty readings were inserted")
        assert seen_after_s < 5, f"the alarm took {seen_after_s:.1f} s to show"
        assert alarm in ("warning", "critical") and _tile_alarm(driver, "pump-2") == "normal"
        assert driver.execute_script("return window.loadedOnce === true"), "the page reloaded instead of refreshing in place"
        with Store(live) as store:
            (alert,) = store.alerts(open_only=True)
        driver.find_element(By.XPATH, "//label[.//p[text()='Alerts']]").click()
        name = _wait(lambda: driver.find_element(By.CSS_SELECTOR, 'input[aria-label="your name"]'), 20, "the acknowledge form")
        name.send_keys("ana", Keys.ENTER)
        time.sleep(1.0)
        _wait(lambda: driver.find_element(By.XPATH, "//button[.//p[text()='confirmed']]").click() or True, 10, "the confirm button")
        _wait(lambda: writer.alert(alert["id"])["ack"] == "confirmed", 15, "the acknowledgement in the store")
        _wait(lambda: f"alert #{alert['id']} acknowledged as confirmed by ana" in driver.page_source, 10, "the confirmation on the page")
    with Store(live) as store:
        assert store.alert(alert["id"])["ack_by"] == "ana"
