"""Helpers for the dashboard's real-browser tests: the system Chromium, a live server
in a background thread, signing in, chart states, screenshots and the API's own numbers.

A module of its own (not conftest): every test folder has a conftest, so
``from conftest import`` would find the wrong one.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import ConsoleMessage, Page

from servers import REQUIRE_SERVICES

CHROMIUM = Path(os.environ.get("CUSTINTEL_CHROMIUM", "/usr/bin/chromium"))
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"
SCREENSHOTS = OUTPUT / "screenshots"
TIMINGS = OUTPUT / "browser" / "timings.json"
WIDTHS = (375, 1280)
DEMO_CUSTOMERS = 3000  # the demo shop the tests build
FINAL_STATES = ("ready", "empty", "error")
# how long a chart may take to reach a final state; the 1 s budget is asserted apart
CHART_TIMEOUT_MS = 15_000

# Every page of the dashboard: a name for ids and screenshots, and its path.
PAGES: dict[str, str] = {
    "overview": "/",
    "segments": "/segments",
    "forecast": "/forecast",
    "customers": "/customers",
    "customer": "/customer",
    "models": "/models",
    "retailers": "/retailers",
}


def need_chromium() -> Path:
    """Debian's Chromium (``apt-get install chromium chromium-driver``): skip with the
    reason without it, or fail when CUSTINTEL_REQUIRE_SERVICES=1 (as in CI)."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    message = f"no Chromium at {CHROMIUM}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} and CUSTINTEL_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(f"{message} (apt-get install -y --no-install-recommends chromium chromium-driver)")


@contextmanager
def serve_in_thread(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free local port in a background thread; yields
    its base URL and stops the server on exit."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", ws="none", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="browser-test-server", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start (see the log above)")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@dataclass
class Live:
    """The running dashboard: its address, an admin key and an API client holding it."""

    base_url: str
    key: str
    client: httpx2.Client

    def url(self, path: str, *, token: bool = True) -> str:
        """The address of ``path``, signed in through ``?token=`` when ``token``."""
        if not token:
            return self.base_url + path
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}{path}{sep}token={self.key}"

    def api(self, path: str, **params: Any) -> Any:
        """The JSON the dashboard's numbers come from, fetched with the same key."""
        response = self.client.get(path, params={k: v for k, v in params.items() if v})
        assert response.status_code == 200, f"GET {path} {params}: {response.text[:500]}"
        return response.json()


@dataclass
class Console:
    """Errors a page wrote to its console, and uncaught exceptions."""

    errors: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))

    def assert_clean(self) -> None:
        """Fail, listing them, when the page logged errors."""
        if self.errors:
            listed = "\n  ".join(self.errors)
            raise AssertionError(f"{len(self.errors)} console error(s):\n  {listed}")

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location.get("url", "")
            self.errors.append(f"{message.text} ({where})")


def sign_in(page: Page, live: Live, path: str) -> None:
    """Open ``path`` with ``?token=<key>`` and wait until the page has removed it."""
    page.goto(live.url(path))
    page.wait_for_url(lambda url: "token=" not in url, timeout=10_000)


def wait_for_charts(page: Page, *names: str, timeout: int = CHART_TIMEOUT_MS) -> None:
    """Wait until the named charts (or, with none named, at least one chart and then
    every ``.chart`` on the page) carry a final ``data-state``."""
    page.wait_for_function(
        """([names, finals]) => {
            const charts = names.length
                ? names.map((n) => document.getElementById("chart-" + n))
                : Array.from(document.querySelectorAll(".chart"));
            return charts.length > 0 && charts.every(
                (c) => c !== null && finals.includes(c.dataset.state));
        }""",
        arg=[list(names), list(FINAL_STATES)],
        timeout=timeout,
    )


def chart(page: Page, name: str) -> dict[str, Any]:
    """A chart's contract attributes: state, series and points (None when absent)."""
    element = page.locator(f"#chart-{name}")
    series = element.get_attribute("data-series")
    points = element.get_attribute("data-points")
    return {
        "state": element.get_attribute("data-state"),
        "series": int(series) if series is not None else None,
        "points": int(points) if points is not None else None,
    }


def ready_chart(page: Page, name: str) -> dict[str, Any]:
    """The chart once rendered, which must have rendered with data."""
    wait_for_charts(page, name)
    found = chart(page, name)
    assert found["state"] == "ready", f"chart-{name} is {found['state']}, not ready"
    return found


def all_charts(page: Page) -> dict[str, dict[str, Any]]:
    """Every chart on the page by name (the id without ``chart-``)."""
    ids = page.eval_on_selector_all(".chart", "(els) => els.map((e) => e.id)")
    return {i.removeprefix("chart-"): chart(page, i.removeprefix("chart-")) for i in ids}


def first_chart_ms(page: Page) -> float | None:
    """``window.custintel.firstChartMs``: ms from navigation to the first drawn chart."""
    value = page.evaluate("() => (window.custintel || {}).firstChartMs ?? null")
    return float(value) if value is not None else None


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the viewport (0 when it fits)."""
    return int(page.evaluate("() => document.scrollingElement.scrollWidth - window.innerWidth"))


def screenshot(page: Page, name: str, width: int) -> Path:
    """A full-page PNG in test-output/screenshots/ for people to review."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}-{width}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    return path


def record_timing(name: str, figures: dict[str, Any]) -> None:
    """Merge ``figures`` under ``name`` into test-output/browser/timings.json."""
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = json.loads(TIMINGS.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        data = {}
    data[name] = figures
    TIMINGS.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def text(page: Page, selector: str) -> str:
    """The visible text of ``selector``, whitespace collapsed."""
    return re.sub(r"\s+", " ", page.locator(selector).inner_text()).strip()


def has_label(page: Page, selector: str) -> bool:
    """Whether a form control has an accessible name from a label or ARIA."""
    return bool(
        page.eval_on_selector(
            selector,
            """(el) => (el.labels && Array.from(el.labels).some((l) => l.innerText.trim()))
                || !!(el.getAttribute("aria-label") || "").trim()
                || !!(el.getAttribute("aria-labelledby")
                      && document.getElementById(el.getAttribute("aria-labelledby")))""",
        )
    )
