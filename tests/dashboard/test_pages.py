"""The dashboard's pages: served without a key, only local scripts and styles, the DOM
contract's ids present, and the vendored ApexCharts with its version and license."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from custintel.api import create_app
from custintel.config import Settings
from custintel.dashboard import PAGES, STATIC
from custintel.dashboard.pages import Page as PageDef

VENDOR = STATIC / "vendor" / "apexcharts"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "dashboard.md"

# The DOM contract the browser tests rely on: page path -> ids that must be there.
CONTRACT: dict[str, list[str]] = {
    "/": [
        "chart-revenue",
        "kpi-customers",
        "kpi-active",
        "kpi-revenue-30",
        "kpi-revenue-90",
        "kpi-revenue-365",
        "kpi-forecast-30",
    ],
    "/segments": [
        "chart-segments",
        "chart-rfm-grid",
        "chart-segment-performance",
        "chart-projection",
        "migration-table",
        "cluster-profiles",
    ],
    "/forecast": [
        "chart-forecast",
        "timeframe",
        "horizon",
        "by",
        "series",
        "forecast-model",
        "forecast-accuracy",
    ],
    "/customers": ["chart-churn-risk", "chart-value-tiers", "at-risk-table", "at-risk-download"],
    "/customer": ["customer-id", "customer-segment", "customer-predictions", "customer-factors"],
    "/models": [
        "models-table",
        "jobs-table",
        "bulk-file",
        "bulk-upload",
        "bulk-status",
        "bulk-download",
    ],
    "/retailers": ["chart-demographics"],
    "/login": ["token", "login-submit"],
}


class Page(HTMLParser):
    """What a test needs from a page: ids, script and style sources, labels, charts."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: dict[str, dict[str, str | None]] = {}
        self.tags: dict[str, str] = {}
        self.sources: list[str] = []
        self.labels: set[str] = set()
        self.controls: list[str] = []
        self.charts: list[str] = []
        self.nav_links: list[tuple[str, bool]] = []
        self._in_nav = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids[str(a["id"])] = a
            self.tags[str(a["id"])] = tag
        if tag == "script" and a.get("src"):
            self.sources.append(str(a["src"]))
        if tag == "link" and a.get("href"):
            self.sources.append(str(a["href"]))
        if tag == "label" and a.get("for"):
            self.labels.add(str(a["for"]))
        if tag in ("select", "input") and a.get("id"):
            self.controls.append(str(a["id"]))
        if tag == "div" and "chart" in (a.get("class") or "").split():
            self.charts.append(str(a.get("id")))
        if tag == "nav":
            self._in_nav = True
        if tag == "a" and self._in_nav:
            self.nav_links.append((str(a.get("href")), a.get("aria-current") == "page"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav":
            self._in_nav = False


@pytest.fixture()
def client(home: Path) -> Iterator[TestClient]:
    app = create_app(Settings(home=home))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
    app.state.custintel.db.dispose()


def parse(client: TestClient, path: str) -> Page:
    response = client.get(path)  # no key
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    page = Page()
    page.feed(response.text)
    return page


@pytest.mark.parametrize("path", list(CONTRACT))
def test_page_is_served_without_a_key_with_its_contract_ids(client: TestClient, path: str) -> None:
    page = parse(client, path)
    missing = [i for i in CONTRACT[path] if i not in page.ids]
    assert not missing, f"{path} lacks {missing}"
    for chart in page.charts:
        assert chart.startswith("chart-")
        assert page.ids[chart].get("data-state") == "loading"
        # a visible heading names the chart
        assert page.ids[chart].get("aria-labelledby") in page.ids


@pytest.mark.parametrize("path", list(CONTRACT))
def test_page_loads_only_local_files(client: TestClient, path: str) -> None:
    page = parse(client, path)
    assert page.sources, "no script or stylesheet at all"
    for source in page.sources:
        assert not re.match(r"^(https?:)?//", source), f"{path} loads {source} from elsewhere"
        local = source.split("?")[0]
        assert client.get(local).status_code == 200, f"{local} is not served"


@pytest.mark.parametrize("path", list(CONTRACT))
def test_every_control_is_labelled(client: TestClient, path: str) -> None:
    page = parse(client, path)
    unlabelled = [c for c in page.controls if c not in page.labels]
    assert not unlabelled, f"{path}: no <label for> for {unlabelled}"


@pytest.mark.parametrize("page_def", [p for p in PAGES if p.in_nav], ids=lambda p: p.name)
def test_nav_links_every_page_and_marks_the_current_one(
    client: TestClient, page_def: PageDef
) -> None:
    path = page_def.path
    page = parse(client, path)
    assert "nav" in page.ids and page.tags["nav"] == "nav"
    hrefs = [href for href, _ in page.nav_links]
    assert hrefs == [p.path for p in PAGES if p.in_nav]
    assert [href for href, current in page.nav_links if current] == [path]


def test_the_charts_library_is_loaded_before_the_page_module(client: TestClient) -> None:
    page = parse(client, "/forecast")
    scripts = [s.split("?")[0] for s in page.sources if s.endswith(".js") or ".js?" in s]
    assert scripts == ["/static/vendor/apexcharts/apexcharts.min.js", "/static/js/forecast.js"]
    assert "/static/vendor/apexcharts/apexcharts.min.js" not in [
        s.split("?")[0] for s in parse(client, "/login").sources
    ]


def test_pages_forbid_foreign_scripts_and_referrers(client: TestClient) -> None:
    response = client.get("/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert response.headers["referrer-policy"] == "no-referrer"


def test_page_modules_fetch_nothing_from_the_internet() -> None:
    for script in (STATIC / "js").glob("*.js"):
        text = script.read_text(encoding="utf-8")
        assert not re.search(r"https?://", text), f"{script.name} names an outside address"


def test_the_vendored_apexcharts_has_its_version_and_license() -> None:
    library = VENDOR / "apexcharts.min.js"
    assert library.stat().st_size > 100_000
    version = (VENDOR / "VERSION").read_text(encoding="utf-8").strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    assert f"ApexCharts v{version}" in library.read_text(encoding="utf-8")[:300]
    license_text = (VENDOR / "LICENSE").read_text(encoding="utf-8")
    assert "MIT License" in license_text and "Permission is hereby granted" in license_text
    docs = DOCS.read_text(encoding="utf-8")
    assert f"ApexCharts {version}" in docs and "MIT" in docs


def test_static_files_need_no_key(client: TestClient) -> None:
    for path in ("/static/js/app.js", "/static/css/dashboard.css", "/static/favicon.svg"):
        assert client.get(path).status_code == 200
    assert client.get("/static/../pages.py").status_code == 404


def test_the_api_reference_uses_the_vendored_swagger_ui(client: TestClient) -> None:
    page = parse(client, "/docs")
    sources = [s.split("?")[0] for s in page.sources]
    assert sources == [
        "/static/favicon.svg",
        "/static/vendor/swagger-ui/swagger-ui.css",
        "/static/vendor/swagger-ui/swagger-ui-bundle.js",
        "/static/js/api-docs.js",
    ]
    for source in sources:
        assert client.get(source).status_code == 200, f"{source} is not served"
    assert "script-src 'self'" in client.get("/docs").headers["content-security-policy"]
    assert "swagger-ui" in page.ids
    # FastAPI's own pages load their scripts from a CDN: they are not served.
    assert client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").json()["info"]["title"] == "custintel"


def test_the_vendored_swagger_ui_has_its_version_and_license() -> None:
    vendor = STATIC / "vendor" / "swagger-ui"
    version = (vendor / "VERSION").read_text(encoding="utf-8").strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    assert (vendor / "swagger-ui-bundle.js").stat().st_size > 1_000_000
    assert "Apache License" in (vendor / "LICENSE").read_text(encoding="utf-8")
    docs = DOCS.read_text(encoding="utf-8")
    assert f"Swagger UI {version}" in docs
