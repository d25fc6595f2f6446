"""The dashboard's pages and static files, served without a key.

A page is a static shell: the shared header and navigation around the page's own
HTML fragment (``static/pages/<name>.html``), ApexCharts (vendored, never fetched from
the internet) and the page's ES module. Every number on it comes from ``/v1`` JSON
calls that the module makes with the key kept in ``sessionStorage`` (``?token=<key>``
on any page, or the login page, puts it there), so serving the shell needs no key.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from html import escape
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from custintel import __version__

__all__ = ["PAGES", "STATIC", "Page", "install", "render", "router"]

STATIC = Path(__file__).parent / "static"
APEXCHARTS = "/static/vendor/apexcharts/apexcharts.min.js"

# The pages make no request outside this server, and only this server's scripts run.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; connect-src 'self'; "
        "img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; font-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
    ),
    "Referrer-Policy": "no-referrer",  # a ?token= in the address never leaves the page
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True)
class Page:
    path: str
    name: str  # fragment and module file name
    title: str
    in_nav: bool = True
    charts: bool = True


PAGES = (
    Page("/", "overview", "Overview"),
    Page("/segments", "segments", "Segments"),
    Page("/forecast", "forecast", "Forecast"),
    Page("/customers", "customers", "Customers"),
    Page("/customer", "customer", "Customer"),
    Page("/retailers", "retailers", "Retailers"),
    Page("/models", "models", "Models & jobs"),
    Page("/login", "login", "Sign in", in_nav=False, charts=False),
)

SHELL = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · custintel</title>
<link rel="icon" href="/static/favicon.svg?v={v}" type="image/svg+xml">
<link rel="stylesheet" href="/static/css/dashboard.css?v={v}">
{chart_script}<script type="module" src="/static/js/{name}.js?v={v}"></script>
</head>
<body data-page="{name}">
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<a class="brand" href="/">custintel</a>
<nav id="nav" aria-label="Dashboard pages"><ul>
{nav}
</ul></nav>
{signout}</header>
<main id="main" tabindex="-1">
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"""


def _nav(current: Page) -> str:
    items = []
    for page in PAGES:
        if not page.in_nav:
            continue
        mark = ' aria-current="page"' if page == current else ""
        items.append(f'<li><a href="{page.path}"{mark}>{escape(page.title)}</a></li>')
    return "\n".join(items)


@lru_cache(maxsize=len(PAGES))
def render(name: str) -> str:
    """The HTML of page ``name`` (a fixed file of the package, read once)."""
    page = next(p for p in PAGES if p.name == name)
    body = (STATIC / "pages" / f"{page.name}.html").read_text(encoding="utf-8")
    chart_script = f'<script src="{APEXCHARTS}?v={__version__}" defer></script>\n'
    signout = '<button type="button" id="sign-out" class="quiet">Sign out</button>\n'
    return SHELL.format(
        title=escape(page.title),
        name=page.name,
        v=__version__,
        chart_script=chart_script if page.charts else "",
        nav=_nav(page),
        signout=signout if page.in_nav else "",
        body=body,
    )


router = APIRouter(tags=["dashboard pages"], include_in_schema=False)


def _route(page: Page) -> None:
    def serve() -> HTMLResponse:
        return HTMLResponse(render(page.name), headers=HEADERS)

    serve.__name__ = f"page_{page.name}"
    router.add_api_route(page.path, serve, methods=["GET"], response_class=HTMLResponse)


for _page in PAGES:
    _route(_page)

API_DOCS = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>API reference · custintel</title>
<link rel="icon" href="/static/favicon.svg?v={v}" type="image/svg+xml">
<link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css?v={v}">
<script src="/static/vendor/swagger-ui/swagger-ui-bundle.js?v={v}" defer></script>
<script src="/static/js/api-docs.js?v={v}" defer></script>
</head>
<body>
<div id="swagger-ui"></div>
</body>
</html>
"""


@router.get("/docs", response_class=HTMLResponse)
def api_docs() -> HTMLResponse:
    """The API reference: Swagger UI over ``/openapi.json`` from the vendored bundle, in
    place of FastAPI's default page, which loads Swagger UI from a CDN and so stays
    blank on a server without internet access."""
    return HTMLResponse(API_DOCS.format(v=__version__), headers=HEADERS)


def install(app: FastAPI) -> None:
    """Serve the pages, the API reference at ``/docs`` and ``/static`` (the modules,
    styles, and the vendored ApexCharts and Swagger UI)."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
