"""Helpers shared by the job tests: assertions, fakes, polling."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from api_helpers import bearer as bearer
from custintel.registry.versions import VersionInfo


def no_traceback(text: str | None) -> None:
    """A job's error is a message for people: no Python traceback in it."""
    assert text is not None
    assert "Traceback" not in text and 'File "' not in text


def fake_version(capability: str, version: int = 7) -> VersionInfo:
    return VersionInfo(
        id=100 + version,
        capability=capability,
        version=version,
        active=True,
        created_at=datetime(2024, 1, 1, tzinfo=UTC),
        as_of=None,
        data_from=None,
        data_to=None,
        metrics={"mae": 1.5},
        sha256="0" * 64,
        job_id=None,
    )


def wait_for(check: Callable[[], Any], timeout: float = 10.0, every: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy (or fail after ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s")
