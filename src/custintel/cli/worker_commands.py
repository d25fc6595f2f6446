"""``custintel worker``: run the job queue's consumer (huey) for the data directory."""

from __future__ import annotations

from typing import Annotated

import typer

from custintel.cli.common import app, console, handles_errors, settings
from custintel.config import Settings


def run_worker(config: Settings, *, workers: int = 1, periodic: bool = True) -> None:
    """Migrate the app database, settle the jobs a dead worker left running, then
    consume the queue until SIGINT (finish the running job) or SIGTERM (stop now)."""
    from custintel.appdb import AppDB
    from custintel.jobs.queue import JobQueue, consumer_options

    db = AppDB.from_settings(config)
    db.migrate()
    queue = JobQueue(config, db=db)
    for job in queue.recover():
        console.print(f"job {job.id} ({job.kind}): {job.message}", highlight=False)
    where = "Redis" if config.redis_url else f"{config.home / 'jobs.huey.db'}"
    console.print(
        f"worker: {workers} thread(s), queue in {where}, "
        f"{len(queue.schedules)} schedule(s){'' if periodic else ' (not run here)'}",
        highlight=False,
    )
    consumer = queue.huey.create_consumer(**consumer_options(workers=workers, periodic=periodic))
    consumer.run()


@app.command()
@handles_errors
def worker(
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Jobs run at the same time (threads).")
    ] = 1,
    periodic: Annotated[
        bool,
        typer.Option(
            "--periodic/--no-periodic",
            help="Run the [schedule] of custintel.toml here; give --no-periodic to every "
            "worker but one when several share a Redis queue.",
        ),
    ] = True,
) -> None:
    """Run background jobs (training, sync, bulk scoring) from the queue."""
    run_worker(settings(), workers=workers, periodic=periodic)
