"""``custintel serve``: the HTTP API over the data directory (uvicorn)."""

from __future__ import annotations

import logging
import re
from typing import Annotated

import typer

from custintel.cli.common import app, console, handles_errors, out_console, settings

_TOKEN = re.compile(r"(token=)[^&\s\"]+")


class RedactTokens(logging.Filter):
    """Mask ``token=<key>`` in access-log lines: keys are never logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args
            )
        record.msg = _TOKEN.sub(r"\1***", str(record.msg))
        return True


@app.command()
@handles_errors
def serve(
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8000,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (0.0.0.0 for every interface).")
    ] = "127.0.0.1",
) -> None:
    """Serve the HTTP API for the data directory (CUSTINTEL_HOME)."""
    import uvicorn

    from custintel.api import create_app

    config = settings()
    api = create_app(config)
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::") else host
    console.print(f"serving {config.home} (docs at /docs); stop with Ctrl+C", highlight=False)
    out_console.print(f"http://{shown}:{port}", highlight=False)
    logging.getLogger("uvicorn.access").addFilter(RedactTokens())
    uvicorn.run(api, host=host, port=port, log_level="info", proxy_headers=False)
