"""The web dashboard: static pages whose charts read the ``/v1`` JSON API.

``pages.install(app)`` serves the pages (``/``, ``/segments``, ``/forecast``,
``/customers``, ``/customer``, ``/retailers``, ``/models``, ``/login``) and ``/static``;
docs/dashboard.md describes them and the endpoint behind each chart.
"""

from custintel.dashboard.pages import PAGES, STATIC, install

__all__ = ["PAGES", "STATIC", "install"]
