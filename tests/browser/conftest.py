"""Browser test fixtures: the demo shop (3,000 customers, built once per session), the
API and dashboard served by uvicorn in a background thread with the job worker running,
an admin key, and Debian's headless Chromium driven by Playwright.

Playwright never downloads a browser here: it launches /usr/bin/chromium (Debian's
``chromium`` package; ``.ci/run`` installs it). Without it the tests skip with the
reason, and fail when CUSTINTEL_REQUIRE_SERVICES=1.

``CUSTINTEL_BROWSER_HOME`` names a data directory to build the demo in and reuse on the
next run (the demo is rebuilt when the directory holds no demo yet); by default the
session builds it in a temporary folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from browser_helpers import DEMO_CUSTOMERS, Console, Live, need_chromium, serve_in_thread
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from custintel.api import create_app
from custintel.appdb.keys import create_key
from custintel.config import Settings
from custintel.jobs.queue import start_in_process_worker
from custintel.services import DEMO_MARKER, build_demo


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    return need_chromium()


@pytest.fixture(scope="session")
def demo_settings(chromium_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings over the demo shop; the rate limit is raised because the tests open
    pages far faster than a person does."""
    reuse = os.environ.get("CUSTINTEL_BROWSER_HOME")
    home = Path(reuse) if reuse else tmp_path_factory.mktemp("browser") / "home"
    settings = Settings(home=home, rate_limit_per_minute=100_000, job_heartbeat_seconds=0.5)
    if not (reuse and (home / DEMO_MARKER).exists() and settings.store_path.exists()):
        build_demo(settings, customers=DEMO_CUSTOMERS)
    return settings


@pytest.fixture(scope="session")
def live(demo_settings: Settings) -> Iterator[Live]:
    """The app served on a free port with the in-process job worker, and an admin key."""
    app = create_app(demo_settings)
    with app.state.custintel.db.session() as session:
        key, _ = create_key(session, "admin", name="browser tests")
    worker = start_in_process_worker(demo_settings)
    app.state.custintel.extras["jobs"] = worker.queue
    try:
        with (
            serve_in_thread(app) as base_url,
            httpx2.Client(
                base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
            ) as client,
        ):
            yield Live(base_url=base_url, key=key, client=client)
    finally:
        worker.stop()
        app.state.custintel.db.dispose()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright, chromium_path: Path) -> Iterator[Browser]:
    """Debian's Chromium, headless (no sandbox: CI runs as root)."""
    launched = playwright.chromium.launch(
        executable_path=str(chromium_path), headless=True, chromium_sandbox=False
    )
    yield launched
    launched.close()


@pytest.fixture()
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile (no session storage, no cache) at laptop width."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture()
def console() -> Console:
    return Console()


@pytest.fixture()
def page(context: BrowserContext, console: Console) -> Page:
    """A page whose console errors and uncaught exceptions are collected in ``console``."""
    opened = context.new_page()
    console.attach(opened)
    return opened
