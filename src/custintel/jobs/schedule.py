"""Scheduled jobs: cron expressions in the data directory's custintel.toml, run as huey
periodic tasks by the worker.

::

    [schedule]
    sync = "0 2 * * *"            # every day at 02:00 UTC
    train = "0 3 * * 1"           # every capability, Mondays at 03:00 UTC
    train_forecasting = "0 4 * * *"

Five fields (minute hour day month day-of-week; ``*``, ``*/n``, ``a-b``, ``a,b``;
Sunday is 0 or 7), in UTC, read by huey's ``crontab``: a day of the month and a day of
the week both given must both match (huey's rule, stricter than classic cron's "either").
Each run submits a job (visible in ``GET /v1/jobs``, params ``scheduled``) rather than
working inside the scheduler. The worker reads the schedule when it starts: restart it
after changing the file. Stale-job recovery also runs every minute as a periodic task.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from huey import crontab

from custintel.config import Settings
from custintel.errors import ConfigError, closest_names
from custintel.registry.versions import CAPABILITIES

if TYPE_CHECKING:
    from collections.abc import Callable

    from custintel.jobs.queue import JobQueue

__all__ = ["SCHEDULE_KEYS", "Schedule", "read_schedules", "register_schedules"]

log = logging.getLogger("custintel.jobs")

SCHEDULE_KEYS: dict[str, tuple[str, dict[str, str]]] = {
    "sync": ("sync", {}),
    "train": ("train", {"capability": "all"}),
    **{f"train_{c}": ("train", {"capability": c}) for c in CAPABILITIES},
}
_FIELDS = ("minute", "hour", "day", "month", "day_of_week")
_LOOKAHEAD_DAYS = 4 * 366 + 1  # enough for "29 February"


@dataclass(frozen=True)
class Schedule:
    """One ``[schedule]`` entry: a job of ``kind`` with ``params`` at times ``cron``."""

    name: str
    cron: str
    kind: str
    params: dict[str, str]

    @property
    def fields(self) -> dict[str, str]:
        return dict(zip(_FIELDS, self.cron.split(), strict=True))

    def validator(self) -> Callable[[datetime], bool]:
        """huey's test of a timestamp against this schedule."""
        return crontab(**self.fields, strict=True)

    def next_run(self, after: datetime | None = None) -> datetime | None:
        """The first minute strictly after ``after`` (UTC, default now) that the
        schedule matches, or None when none comes within four years."""
        after = (after or datetime.now(UTC)).astimezone(UTC).replace(second=0, microsecond=0)
        allowed = _allowed(self.fields)
        day = after.replace(hour=0, minute=0)
        for _ in range(_LOOKAHEAD_DAYS):
            if (
                day.month in allowed["month"]
                and day.day in allowed["day"]
                and day.isoweekday() % 7 in allowed["day_of_week"]
            ):
                for hour in sorted(allowed["hour"]):
                    for minute in sorted(allowed["minute"]):
                        moment = day.replace(hour=hour, minute=minute)
                        if moment > after:
                            return moment
            day += timedelta(days=1)
        return None


def _allowed(fields: dict[str, str]) -> dict[str, set[int]]:
    """The values each field allows, asked of huey's own crontab one field at a time
    (so the listing and the scheduler cannot disagree)."""
    base = datetime(2024, 1, 1)  # a Monday in a leap year
    probes: dict[str, list[tuple[int, datetime]]] = {
        "minute": [(m, base.replace(minute=m)) for m in range(60)],
        "hour": [(h, base.replace(hour=h)) for h in range(24)],
        "day": [(d, base.replace(day=d)) for d in range(1, 32)],
        "month": [(m, base.replace(month=m)) for m in range(1, 13)],
        "day_of_week": [(w, base + timedelta(days=(w - 1) % 7)) for w in range(7)],
    }
    return {
        name: {value for value, moment in probes[name] if crontab(**{name: expr})(moment)}
        for name, expr in fields.items()
    }


def _check(name: str, cron: Any, where: str) -> Schedule:
    if name not in SCHEDULE_KEYS:
        close = closest_names(name, SCHEDULE_KEYS)
        raise ConfigError(
            f"[schedule] names {name!r}, which is not a job"
            + (f" (did you mean {close[0]!r}?)" if close else ""),
            where=where,
            hint=f"schedule one of {', '.join(SCHEDULE_KEYS)}",
        )
    hint = 'write five fields: minute hour day month day-of-week, e.g. "0 3 * * *"'
    if not isinstance(cron, str) or len(cron.split()) != 5:
        raise ConfigError(
            f"[schedule] {name} = {cron!r} is not a cron expression", where=where, hint=hint
        )
    kind, params = SCHEDULE_KEYS[name]
    schedule = Schedule(name, " ".join(cron.split()), kind, params)
    try:
        schedule.validator()
    except ValueError as error:
        raise ConfigError(
            f"[schedule] {name} = {cron!r} is not a valid cron expression: {error}",
            where=where,
            hint=hint,
        ) from None
    return schedule


def read_schedules(settings: Settings) -> list[Schedule]:
    """The ``[schedule]`` entries of the data directory's custintel.toml (none when
    the file or the table is absent); a bad entry is a ConfigError naming it."""
    path = settings.mapping_path
    if not path.exists():
        return []
    try:
        with path.open("rb") as f:
            table = tomllib.load(f).get("schedule", {})
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"not valid TOML: {error}", where=str(path)) from None
    if not isinstance(table, dict):
        raise ConfigError("[schedule] must be a table of cron expressions", where=str(path))
    return [_check(name, cron, str(path)) for name, cron in table.items()]


def register_schedules(queue: JobQueue) -> list[Schedule]:
    """Register each schedule, and stale-job recovery every minute, as huey periodic
    tasks on ``queue.huey``; returns the schedules."""
    schedules = read_schedules(queue.settings)
    for schedule in schedules:

        def submit(schedule: Schedule = schedule) -> None:
            job = queue.submit(schedule.kind, {**schedule.params, "scheduled": schedule.name})
            log.info("schedule %s submitted job %s", schedule.name, job.id)

        submit.__name__ = submit.__qualname__ = f"schedule_{schedule.name}"
        queue.huey.periodic_task(schedule.validator(), name=submit.__name__)(submit)

    def recover_stale_jobs() -> None:
        queue.recover()

    queue.huey.periodic_task(crontab(), name="recover_stale_jobs")(recover_stale_jobs)
    return schedules
