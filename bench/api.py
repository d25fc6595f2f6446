"""HTTP API latency under load, and a bulk file of customer ids scored end to end.

    python -m bench.api all [--customers 1000000]

A data directory with ``--customers`` published customer predictions (a synthetic
value version, written through ``publish.publish_scores`` as a training run writes it)
is served by ``custintel serve`` with one and with two API processes (``--workers``).

- Latency: wrk (Debian's package) requests ``GET /v1/customers/{id}`` for random ids,
  paced by its Lua ``delay()`` at about 200 and 1,000 requests a second for 20 s each;
  p50/p95/p99 come from wrk's own latency histogram. The rate limit is lifted for the
  run (it would otherwise answer 429 from 10 requests a second per key).
- Bulk: a CSV of every customer id is uploaded to ``POST /v1/bulk``; the time runs until
  the results CSV is downloaded. The naive way, measured in the same run: the same ids
  through the single-customer route, one request each, with 16 concurrent connections
  (wrk, unpaced), timed on a sample and scaled to all ids.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from bench.measure import ROOT

DATA = ROOT / "bench" / "results" / "api"
PORT = 8799
RATES = (200, 1000)
WORKERS = (1, 2)  # API processes (`serve --workers`)
SECONDS = 20

LUA = """
math.randomseed(os.time())
local customers = {customers}
local pause = {pause}
local key = "{key}"
request = function()
  local id = string.format("C%07d", math.random(1, customers))
  return wrk.format("GET", "/v1/customers/" .. id, {{["Authorization"] = "Bearer " .. key}})
end
delay = function() return pause end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d %d %.3f %.3f %.3f\\n",
    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max))
end
"""


def _home(customers: int) -> Path:
    return DATA / f"home-{customers}"


def prepare(customers: int) -> Path:
    """A data directory with ``customers`` published predictions (reused when present)."""
    from custintel.config import Settings
    from custintel.publish import publish_scores
    from custintel.registry import ArtifactStore
    from custintel.services import app_database

    home = _home(customers)
    marker = home / "published"
    if marker.exists():
        return home
    shutil.rmtree(home, ignore_errors=True)
    settings = Settings(home=home)
    rng = np.random.default_rng(0)
    spend = rng.gamma(1.2, 40.0, customers)
    churn = rng.uniform(0, 1, customers)
    scores = pd.DataFrame(
        {
            "customer_id": [f"C{i:07d}" for i in range(1, customers + 1)],
            "expected_orders": spend / 50,
            "expected_spend": spend,
            "expected_spend__books": spend * 0.4,
            "expected_spend__toys": spend * 0.6,
            "p_active": 1 - churn,
            "churn_probability": churn,
            "churn_risk": np.where(churn < 0.4, "low", np.where(churn < 0.7, "medium", "high")),
            "clv": spend * 8,
            "next_order_date": None,
            "rfm_segment": "Loyal",
            "spend_percentile": pd.Series(spend).rank(pct=True).to_numpy(),
            "value_tier": "medium",
            "top_factors": "last order 12 days ago (lowers churn risk)",
        }
    )
    ref = ArtifactStore(home / "models").save("value", {"synthetic": True})
    started = time.perf_counter()
    publish_scores(
        app_database(settings),
        ref,
        scores,
        {"chosen": {}, "horizon_days": 30},
        as_of=date(2026, 1, 1),
        data_from=date(2022, 1, 1),
    )
    print(f"published {customers:,} predictions in {time.perf_counter() - started:.0f} s")
    marker.write_text("yes\n")
    return home


def _key(home: Path) -> str:
    from custintel.appdb.keys import create_key
    from custintel.config import Settings
    from custintel.services import app_database

    with app_database(Settings(home=home)).session() as session:
        key, _ = create_key(session, "admin", name="bench")
    return key


def _serve(home: Path, workers: int = 1) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CUSTINTEL_HOME": str(home),
        "CUSTINTEL_RATE_LIMIT_PER_MINUTE": str(10**9),
    }
    log = (DATA / "serve.log").open("wb")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "custintel"),
            "serve",
            "--port",
            str(PORT),
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    import httpx2 as httpx

    for _ in range(120):
        try:
            if httpx.get(f"http://127.0.0.1:{PORT}/healthz").status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit(f"custintel serve did not start; see {DATA / 'serve.log'}")


def _wrk(key: str, customers: int, connections: int, pause_ms: int, seconds: int) -> dict:
    script = Path(tempfile.mkdtemp()) / "bench.lua"
    script.write_text(LUA.format(customers=customers, pause=pause_ms, key=key))
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "-s",
            str(script),
            f"http://127.0.0.1:{PORT}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+)", out)
    if match is None:
        raise SystemExit(f"wrk printed no result:\n{out}")
    requests, bad_status, socket_errors, micros = (int(match.group(i)) for i in range(1, 5))
    p50, p95, p99 = (float(match.group(i)) / 1000 for i in (5, 6, 7))
    return {
        "requests": requests,
        "rate": requests / (micros / 1e6),
        "non_2xx": bad_status,
        "socket_errors": socket_errors,
        "p50_ms": p50,
        "p95_ms": p95,
        "p99_ms": p99,
    }


def latency(key: str, customers: int, workers: int) -> list[dict]:
    """wrk paced to each rate in ``RATES``: connections × (1000 / pause) requests a
    second, less the time each request takes."""
    out = []
    for rate in RATES:
        connections = max(8, rate // 20)
        # each connection waits ``pause`` after a reply: about 2 ms go to the request
        pause = max(0, int(1000 * connections / rate) - 2)
        result = _wrk(key, customers, connections, pause, SECONDS)
        out.append({"workers": workers, "target_rate": rate, "connections": connections, **result})
        print(json.dumps(out[-1]), flush=True)
    return out


def bulk(key: str, customers: int) -> dict:
    """Upload every id as a CSV, wait for the job, download the results."""
    import httpx2 as httpx

    ids = "customer_id\n" + "\n".join(f"C{i:07d}" for i in range(1, customers + 1)) + "\n"
    headers = {"Authorization": f"Bearer {key}"}
    base = f"http://127.0.0.1:{PORT}"
    started = time.perf_counter()
    with httpx.Client(timeout=600) as client:
        response = client.post(
            f"{base}/v1/bulk", files={"file": ("ids.csv", ids.encode())}, headers=headers
        )
        response.raise_for_status()
        job = response.json()["id"]
        while True:
            status = client.get(f"{base}/v1/jobs/{job}", headers=headers).json()
            if status["status"] in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(0.5)
        if status["status"] != "succeeded":
            raise SystemExit(f"bulk job ended {status['status']}: {status['error']}")
        result = client.get(f"{base}/v1/jobs/{job}/result?format=csv", headers=headers)
        result.raise_for_status()
    seconds = time.perf_counter() - started
    rows = result.text.count("\n") - 1
    return {"customers": customers, "rows": rows, "seconds": seconds}


def naive_bulk(key: str, customers: int) -> dict:
    """One request per id through the single-customer route, unpaced, 16 connections:
    10 s of requests timed and scaled to ``customers``."""
    seconds = 10
    result = _wrk(key, customers, 16, 0, seconds)
    per_second = result["rate"]
    return {
        "rate": per_second,
        "seconds_for_all": customers / per_second,
        "p95_ms": result["p95_ms"],
    }


def markdown(customers: int, lat: list[dict], bulk_run: dict, naive: dict) -> str:
    lines = [
        f"Measured {date.today()} on {os.cpu_count()} cores, `custintel serve` (uvicorn; "
        f"`--workers` API processes) over SQLite with {customers:,} customers' "
        f"predictions; load from wrk on the same machine. Reproduce: "
        f"`python -m bench.api all --customers {customers}`.",
        "",
        "| API processes | target rate | achieved | p50 | p95 | p99 | errors |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in lat:
        lines.append(
            f"| {r['workers']} | {r['target_rate']:,}/s | {r['rate']:,.0f}/s | "
            f"{r['p50_ms']:.1f} ms | "
            f"{r['p95_ms']:.1f} ms | {r['p99_ms']:.1f} ms | "
            f"{r['non_2xx'] + r['socket_errors']} |"
        )
    lines += [
        "",
        f"Bulk file of {bulk_run['customers']:,} ids, upload to downloaded results CSV: "
        f"**{bulk_run['seconds']:.0f} s** ({bulk_run['rows']:,} rows). The naive way, one "
        f"request per id at the single-customer route's best rate in the same run "
        f"({naive['rate']:,.0f}/s with 16 connections): {naive['seconds_for_all']:,.0f} s, "
        f"**{naive['seconds_for_all'] / bulk_run['seconds']:.1f}x slower**.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("step", choices=["all", "prepare"])
    parser.add_argument("--customers", type=int, default=1_000_000)
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: `apt-get install wrk` (Debian's package)")
    DATA.mkdir(parents=True, exist_ok=True)
    home = prepare(options.customers)
    if options.step == "prepare":
        return
    key = _key(home)
    lat = []
    for workers in WORKERS:
        server = _serve(home, workers)
        try:
            lat += latency(key, options.customers, workers)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
    server = _serve(home)
    try:
        bulk_run = bulk(key, options.customers)
        print(json.dumps(bulk_run), flush=True)
        naive = naive_bulk(key, options.customers)
        print(json.dumps(naive), flush=True)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    print(markdown(options.customers, lat, bulk_run, naive))


if __name__ == "__main__":
    main()
