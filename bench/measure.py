"""Run one benchmark step in a fresh Python process and report its wall time and peak
memory (the process's maximum resident set size), so that steps do not share caches or
allocator state and the peak belongs to that step alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


@dataclass(frozen=True)
class Measurement:
    """One step: seconds of wall time and peak resident memory in MiB, plus its output."""

    name: str
    seconds: float
    peak_mib: float
    result: dict[str, object]


def run_step(module: str, step: str, *args: str, timeout: float = 3600) -> Measurement:
    """Run ``python -m module step args`` and parse the JSON line it prints last."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", module, step, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"step {step} failed:\n{proc.stderr[-4000:]}")
    payload = json.loads(proc.stdout.strip().splitlines()[-1])
    return Measurement(step, payload.pop("seconds"), payload.pop("peak_mib"), payload)


def report(seconds: float, **result: object) -> None:
    """Called at the end of a step: print its figures as the last JSON line."""
    import resource

    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "peak_mib": peak_kib / 1024, **result}))


def print_checks(checks: Iterable[T], measure: Callable[[T], dict[str, Any]]) -> None:
    """For the benches that check a change before it is made: ``measure`` each check,
    printing its record as a JSON line as soon as it is done (a long run shows its
    progress), then every record with the seconds in all as the last line."""
    started = time.perf_counter()
    records = []
    for check in checks:
        records.append(measure(check))
        print(json.dumps(records[-1]), flush=True)
    seconds = round(time.perf_counter() - started, 1)
    print(json.dumps({"seconds": seconds, "checks": records}))
