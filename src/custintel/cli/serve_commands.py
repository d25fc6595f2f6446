"""``custintel serve``: the HTTP API over the data directory (uvicorn)."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from custintel.cli.common import app, console, handles_errors, out_console, settings
from custintel.config import Settings


def run_server(
    config: Settings, host: str, port: int, workers: int = 1, token: str | None = None
) -> None:
    """Serve the API and the dashboard over ``config``'s data directory until stopped
    (printing the dashboard address, signed in with ``token`` when given), in ``workers``
    processes, with the job worker in this process when ``in_process_worker`` is set
    (the embedded default). The app database is migrated once, here, before any worker
    starts."""
    import uvicorn

    from custintel.api import create_app
    from custintel.jobs.queue import start_in_process_worker

    api = create_app(config)  # migrates the app database
    worker = None
    if config.in_process_worker:
        worker = start_in_process_worker(config)
        api.state.custintel.extras["jobs"] = worker.queue
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::") else host
    console.print(
        f"serving {config.home} in {workers} process(es) (docs at /docs); stop with Ctrl+C",
        highlight=False,
    )
    base = f"http://{shown}:{port}"
    if token:
        console.print("the dashboard, signed in with that key:", highlight=False)
        out_console.print(f"{base}/?token={token}", highlight=False)
    else:
        console.print(
            f"the dashboard: {base}/login (sign in with a key from "
            "`custintel keys create --scope read`)",
            highlight=False,
        )
        out_console.print(base, highlight=False)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "info",
        "proxy_headers": False,
    }
    try:
        if workers == 1:
            uvicorn.run(api, **options)
        else:
            # Each worker process builds its own app from the same environment.
            os.environ["CUSTINTEL_HOME"] = str(config.home)
            from custintel.api.server import run_workers

            run_workers(workers, options)
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
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="API processes (one per core is a good start; rate limits are per process "
            "unless CUSTINTEL_REDIS_URL is set).",
        ),
    ] = 1,
) -> None:
    """Serve the HTTP API for the data directory (CUSTINTEL_HOME)."""
    run_server(settings(), host, port, workers)
