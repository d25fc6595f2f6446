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

    python -m bench.api rows [--customers 20000]

Feature rows (``POST /v1/predictions`` with ``rows``) need a real trained version: the
demo shop at ``--customers`` is synced and scored (``run_scoring``) into its own data
directory, and its customers' feature rows are sent one and 1,000 at a time, one
request after another, over loopback. The naive way, measured in the same run and
process: each request restores the version from its artifact (checksum, JSON, the
learners) before scoring, as a server without the per-process model cache would; ours
scores with the restored version kept.
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


ROW_BATCHES = ((1, 200), (1000, 10))  # (rows a request, requests)


def prepare_rows(customers: int) -> tuple[Path, list[dict]]:
    """A data directory with a value version trained on the demo shop at ``customers``
    (reused when present), and every customer's feature row at its as_of."""
    from custintel.config import Settings
    from custintel.data import Mapping, Store, sync
    from custintel.demo import generate_shop, write_shop
    from custintel.features import customer_features
    from custintel.services import run_scoring

    home = DATA / f"rows-home-{customers}"
    settings = Settings(home=home)
    if not (home / "trained").exists():
        shutil.rmtree(home, ignore_errors=True)
        write_shop(generate_shop(customers=customers, seed=7), home / "shop", formats=("parquet",))
        with Store(settings.store_path) as store:
            sync(store, Mapping.for_files(orders=home / "shop" / "orders.parquet"))
        started = time.perf_counter()
        run_scoring(settings, None, out=home / "scores.parquet", horizon_days=30)
        print(f"trained on {customers:,} customers in {time.perf_counter() - started:.0f} s")
        (home / "trained").write_text("yes\n")
    with Store(settings.store_path, read_only=True) as store:
        row = store.con.execute("SELECT max(as_of) FROM customer_scores").fetchone()
        frame = customer_features(store.con, row[0] if row else None).to_pandas()
    frame["as_of"] = frame["as_of"].astype(str)
    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return home, records


def _percentiles(times: list[float]) -> dict:
    ms = np.asarray(times) * 1000
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
    }


def rows_over_http(key: str, rows: list[dict]) -> list[dict]:
    """Sequential requests of each batch size in ``ROW_BATCHES`` over loopback."""
    import httpx2 as httpx

    rng = np.random.default_rng(0)
    out = []
    with httpx.Client(timeout=120, headers={"Authorization": f"Bearer {key}"}) as client:
        url = f"http://127.0.0.1:{PORT}/v1/predictions"
        client.post(url, json={"rows": rows[:1]}).raise_for_status()  # loads the version
        for size, requests in ROW_BATCHES:
            times = []
            for _ in range(requests):
                batch = [rows[i] for i in rng.choice(len(rows), size, replace=False)]
                started = time.perf_counter()
                client.post(url, json={"rows": batch}).raise_for_status()
                times.append(time.perf_counter() - started)
            out.append({"rows": size, "requests": requests, **_percentiles(times)})
            print(json.dumps(out[-1]), flush=True)
    return out


def rows_in_process(home: Path, rows: list[dict]) -> list[dict]:
    """Scoring alone with the version kept (ours) against restoring it from its artifact
    for every request (the naive way), in this process."""
    from sqlalchemy import select

    from custintel.appdb.schema import ActiveModel, ModelVersion
    from custintel.config import Settings
    from custintel.registry.versions import load_artifact
    from custintel.services import app_database
    from custintel.value.rows import ServedValue, score_rows

    with app_database(Settings(home=home)).session() as session:
        version = session.scalar(
            select(ModelVersion)
            .join(ActiveModel, ActiveModel.model_version_id == ModelVersion.id)
            .where(ActiveModel.capability == "value")
        )
        assert version is not None
        session.expunge(version)

    def restore() -> ServedValue:
        return ServedValue.from_dict(load_artifact(home / "models", version)["served"])

    kept = restore()
    rng = np.random.default_rng(1)
    out = []
    for size, requests in ROW_BATCHES:
        ours, naive = [], []
        for _ in range(min(requests, 20)):
            frame = pd.DataFrame([rows[i] for i in rng.choice(len(rows), size, replace=False)])
            started = time.perf_counter()
            score_rows(kept, frame)
            ours.append(time.perf_counter() - started)
            started = time.perf_counter()
            score_rows(restore(), frame)
            naive.append(time.perf_counter() - started)
        out.append(
            {
                "rows": size,
                "ours_ms": float(np.median(ours) * 1000),
                "naive_ms": float(np.median(naive) * 1000),
                "artifact_mib": (home / "models" / "value" / version.artifact).stat().st_size
                / 2**20,
            }
        )
        print(json.dumps(out[-1]), flush=True)
    return out


def rows_markdown(customers: int, http: list[dict], local: list[dict]) -> str:
    lines = [
        f"Measured {date.today()} on {os.cpu_count()} cores: `POST /v1/predictions` with "
        f"feature rows, a value version trained on the demo shop at {customers:,} customers "
        f"(artifact {local[0]['artifact_mib']:.1f} MiB), one request after another over "
        f"loopback, one API process. Reproduce: `python -m bench.api rows --customers "
        f"{customers}`.",
        "",
        "| rows a request | requests | p50 | p95 | p99 | scoring alone, model kept | "
        "restored per request (naive) | ratio |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for h, m in zip(http, local, strict=True):
        lines.append(
            f"| {h['rows']:,} | {h['requests']} | {h['p50_ms']:.1f} ms | {h['p95_ms']:.1f} ms "
            f"| {h['p99_ms']:.1f} ms | {m['ours_ms']:.1f} ms | {m['naive_ms']:.1f} ms | "
            f"{m['naive_ms'] / m['ours_ms']:.1f}x |"
        )
    return "\n".join(lines) + "\n"


def main_rows(customers: int) -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    home, rows = prepare_rows(customers)
    key = _key(home)
    server = _serve(home)
    try:
        http = rows_over_http(key, rows)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    local = rows_in_process(home, rows)
    print(rows_markdown(customers, http, local))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("step", choices=["all", "prepare", "rows"])
    parser.add_argument(
        "--customers", type=int, help="default: 1,000,000 (all, prepare), 20,000 (rows)"
    )
    options = parser.parse_args()
    if options.step == "rows":
        main_rows(options.customers or 20_000)
        return
    options.customers = options.customers or 1_000_000
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
