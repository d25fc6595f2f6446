"""Dashboard load time in a real browser: time to the first chart of each page.

    python -m bench.dashboard all [--customers 100000]

Builds the demo shop at ``--customers`` (reused when present), serves it with
``custintel serve``, and opens each page in Debian's headless Chromium (Playwright,
the system browser: nothing downloaded), signed in with a read key, in a fresh browser
profile (no cache). The figure is the page's own ``window.custintel.firstChartMs``:
milliseconds from navigation start until its first chart has drawn (or shown its empty
state). Each page is opened three times; the median is reported. Target (issue 7):
under 1 s on the demo shop with 100,000 customers.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from bench.measure import ROOT

DATA = ROOT / "bench" / "results" / "dashboard"
PORT = 8796
PAGES = {
    "overview": "/",
    "segments": "/segments",
    "forecast": "/forecast",
    "customers": "/customers",
    "retailers": "/retailers",
}  # the pages with charts (models & jobs has tables only)
RUNS = 3


def prepare(customers: int) -> Path:
    """The demo shop at ``customers`` in a data directory of its own."""
    from custintel.config import Settings
    from custintel.services import build_demo

    home = DATA / f"home-{customers}"
    if not (home / "built").exists():
        started = time.perf_counter()
        build_demo(Settings(home=home), customers=customers)
        (home / "built").write_text("yes\n")
        print(f"demo built in {time.perf_counter() - started:.0f} s", flush=True)
    return home


def _key(home: Path) -> str:
    from custintel.appdb.keys import create_key
    from custintel.config import Settings
    from custintel.services import app_database

    with app_database(Settings(home=home)).session() as session:
        key, _ = create_key(session, "read", name="bench")
    return key


def _first_chart_ms(page: Any, timeout: float = 30.0) -> float:
    """The page's own first-chart figure, once it has one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = page.evaluate("() => (window.custintel || {}).firstChartMs ?? null")
        if value is not None:
            return float(value)
        time.sleep(0.05)
    raise SystemExit(f"{page.url}: no chart drew within {timeout:.0f} s")


def measure(home: Path, key: str) -> dict[str, list[float]]:
    import httpx2
    from playwright.sync_api import sync_playwright

    env = {**os.environ, "CUSTINTEL_HOME": str(home), "CUSTINTEL_IN_PROCESS_WORKER": "false"}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "custintel"), "serve", "--port", str(PORT)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{PORT}"
    try:
        for _ in range(120):
            try:
                if httpx2.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx2.TransportError:
                time.sleep(0.5)
        out: dict[str, list[float]] = {name: [] for name in PAGES}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium")
            for _ in range(RUNS):
                for name, path in PAGES.items():
                    context = browser.new_context(viewport={"width": 1280, "height": 900})
                    page = context.new_page()
                    page.goto(f"{base}{path}?token={key}")
                    out[name].append(_first_chart_ms(page))
                    context.close()
            browser.close()
        return out
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


def markdown(customers: int, timings: dict[str, list[float]]) -> str:
    lines = [
        f"Measured {date.today()} on {os.cpu_count()} cores: the demo shop with "
        f"{customers:,} customers, one `custintel serve` process, Debian's headless "
        f"Chromium on the same machine, a fresh profile per page; median of {RUNS}. "
        f"Reproduce: `python -m bench.dashboard all --customers {customers}`.",
        "",
        "| page | first chart (median) | slowest of the runs |",
        "|---|---:|---:|",
    ]
    for name, values in timings.items():
        lines.append(f"| {name} | {statistics.median(values):,.0f} ms | {max(values):,.0f} ms |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("step", choices=["all", "prepare"])
    parser.add_argument("--customers", type=int, default=100_000)
    options = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    home = prepare(options.customers)
    if options.step == "prepare":
        return
    timings = measure(home, _key(home))
    print(markdown(options.customers, timings))


if __name__ == "__main__":
    main()
