"""``custintel serve``: the HTTP API over the data directory (uvicorn)."""

from __future__ import annotations

import logging
import re
from typing import Annotated

import typer

from custintel.cli.common import app, console, handles_errors, out_console, settings
from custintel.config import Settings

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


def run_server(config: Settings, host: str, port: int) -> None:
    """Serve the API over ``config``'s data directory until stopped, with the job
    worker in this process when ``in_process_worker`` is set (the embedded default)."""
    import uvicorn

    from custintel.api import create_app
    from custintel.jobs.queue import start_in_process_worker

    api = create_app(config)
    worker = None
    if config.in_process_worker:
        worker = start_in_process_worker(config)
        api.state.custintel.extras["jobs"] = worker.queue
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::") else host
    console.print(f"serving {config.home} (docs at /docs); stop with Ctrl+C", highlight=False)
    out_console.print(f"http://{shown}:{port}", highlight=False)
    logging.getLogger("uvicorn.access").addFilter(RedactTokens())
    try:
        uvicorn.run(api, host=host, port=port, log_level="info", proxy_headers=False)
    finally:
        if worker is not None:
            worker.stop()


@app.command()
@handles_errors
def serve(
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8000,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (0.0.0.0 for every interface).")
    ] = "127.0.0.1",
) -> None:
    """Serve the HTTP API for the data directory (CUSTINTEL_HOME)."""
    run_server(settings(), host, port)
