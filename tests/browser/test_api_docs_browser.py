"""The API reference at /docs in a real headless Chromium: Swagger UI, vendored, draws
every route of the OpenAPI document and offers to take an API key, without asking any
other server for anything."""

from __future__ import annotations

from urllib.parse import urlsplit

from browser_helpers import Console, Live
from playwright.sync_api import Page, expect


def test_the_api_reference_draws_every_route_offline(
    live: Live, page: Page, console: Console
) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(live.url("/docs", token=False))
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("custintel")
    spec = live.client.get("/openapi.json").json()
    operations = sum(
        1
        for path in spec["paths"].values()
        for method in path
        if method in {"get", "post", "put", "patch", "delete"}
    )
    expect(page.locator(".opblock")).to_have_count(operations, timeout=15_000)
    expect(page.locator(".opblock-summary-path", has_text="/v1/predictions").first).to_be_visible()
    # The bearer key is declared, so the page offers to take one for "Try it out".
    expect(page.locator("button.authorize")).to_be_visible()
    server = urlsplit(live.base_url).netloc
    elsewhere = [url for url in requested if urlsplit(url).netloc not in (server, "")]
    assert not elsewhere, f"/docs asked other servers for {elsewhere}"
    console.assert_clean()
