"""Job test fixtures: settings over a fresh data directory, its migrated app database,
a queue whose huey runs tasks as they are enqueued (immediate mode), and fakes of the
training and scoring services."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from jobs_helpers import fake_version

from custintel import training
from custintel.appdb import AppDB
from custintel.config import Settings
from custintel.jobs.queue import JobQueue, build_huey
from custintel.registry.versions import VersionInfo


@pytest.fixture()
def settings(home: Path) -> Settings:
    return Settings(home=home, job_heartbeat_seconds=0.2)


@pytest.fixture()
def db(settings: Settings) -> Iterator[AppDB]:
    database = AppDB.from_settings(settings)
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture()
def queue(settings: Settings, db: AppDB) -> JobQueue:
    """Tasks run inline as they are enqueued (huey's immediate mode)."""
    return JobQueue(settings, db=db, huey=build_huey(settings, immediate=True))


@pytest.fixture()
def fake_training(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None]]:
    """``train_capability`` that reports progress twice and returns a version; the
    calls (capability, job id) are recorded."""
    calls: list[tuple[str, str | None]] = []

    def train_capability(
        settings: Settings, capability: str, *, progress: Callable[..., None], job_id: str | None
    ) -> VersionInfo:
        calls.append((capability, job_id))
        progress(0.5, f"fitting {capability}")
        progress(1.0, "done")
        return fake_version(capability)

    monkeypatch.setattr(training, "train_capability", train_capability)
    return calls


@pytest.fixture()
def fake_scoring(monkeypatch: pytest.MonkeyPatch) -> None:
    """``score_ids``: ids starting with "c" are known, others are flagged unknown."""

    def score_ids(
        settings: Settings, customer_ids: list[str], *, versions: dict[str, int] | None = None
    ) -> pd.DataFrame:
        found = [i.startswith("c") for i in customer_ids]
        frame = pd.DataFrame(
            {
                "customer_id": customer_ids,
                "found": found,
                "expected_spend": [10.0 if k else None for k in found],
            }
        )
        frame.attrs.update(model_version=7, versions={"value": 107}, caveats=[])
        return frame

    monkeypatch.setattr(training, "score_ids", score_ids)
