"""Schedules: [schedule] of custintel.toml as huey periodic tasks, and their listing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from custintel.appdb import AppDB
from custintel.config import Settings
from custintel.errors import ConfigError
from custintel.jobs.queue import JobQueue, build_huey
from custintel.jobs.schedule import read_schedules
from custintel.jobs.state import list_jobs


def write_schedule(settings: Settings, body: str) -> None:
    settings.home.mkdir(parents=True, exist_ok=True)
    settings.mapping_path.write_text("[schedule]\n" + body)


def test_no_file_or_no_table_means_no_schedules(settings: Settings) -> None:
    assert read_schedules(settings) == []
    settings.home.mkdir(parents=True)
    settings.mapping_path.write_text('[tables.orders]\npath = "o.csv"\n')
    assert read_schedules(settings) == []


def test_schedules_are_read_and_their_next_run_computed(settings: Settings) -> None:
    write_schedule(
        settings, 'train = "0 3 * * *"\nsync = "30 */6 * * 1-5"\ntrain_value = "0 0 29 2 *"\n'
    )
    train, sync, value = read_schedules(settings)
    assert (train.kind, train.params) == ("train", {"capability": "all"})
    assert (sync.kind, sync.params) == ("sync", {})
    assert value.params == {"capability": "value"}
    now = datetime(2024, 3, 1, 3, 0, tzinfo=UTC)  # a Friday
    assert train.next_run(now) == datetime(2024, 3, 2, 3, 0, tzinfo=UTC)
    assert sync.next_run(now) == datetime(2024, 3, 1, 6, 30, tzinfo=UTC)
    assert sync.next_run(datetime(2024, 3, 1, 19, 0, tzinfo=UTC)) == datetime(
        2024, 3, 4, 0, 30, tzinfo=UTC
    )  # the weekend is skipped
    assert value.next_run(now) == datetime(2028, 2, 29, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ('trian = "0 3 * * *"', "did you mean 'train'"),
        ('sync = "0 3 * *"', "not a cron expression"),
        ('sync = "61 3 * * *"', "not a valid cron expression"),
        ('sync = "0 3 * * mon"', "not a valid cron expression"),
        ("sync = 3", "not a cron expression"),
    ],
    ids=["unknown-key", "four-fields", "bad-minute", "names", "not-a-string"],
)
def test_bad_entries_are_named(settings: Settings, body: str, match: str) -> None:
    write_schedule(settings, body + "\n")
    with pytest.raises(ConfigError, match=match):
        read_schedules(settings)


def test_schedules_become_huey_periodic_tasks_that_submit_jobs(
    settings: Settings, db: AppDB, fake_training: list[tuple[str, str | None]]
) -> None:
    write_schedule(settings, 'train_value = "15 2 * * *"\n')
    huey = build_huey(settings, immediate=True)
    queue = JobQueue(settings, db=db, huey=huey)
    due = huey.read_periodic(datetime(2024, 5, 5, 2, 15))
    assert sorted(type(t).__name__ for t in due) == ["recover_stale_jobs", "schedule_train_value"]
    assert [type(t).__name__ for t in huey.read_periodic(datetime(2024, 5, 5, 2, 16))] == [
        "recover_stale_jobs"
    ]
    for task in due:
        huey.execute(task)
    (job,) = list_jobs(queue.db)
    assert job.kind == "train" and job.status == "succeeded"
    assert job.params == {"capability": "value", "scheduled": "train_value"}
