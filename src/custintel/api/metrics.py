"""Prometheus metrics: ``GET /metrics`` in the text exposition format.

- ``custintel_http_request_duration_seconds`` (histogram): latency by method, route
  *template* (``/v1/customers/{customer_id}``, never the id, so the series stay few)
  and status; requests that match no route count as ``unmatched``.
- ``custintel_predictions_served_total`` (counter): predictions returned for customers
  asked for by id (``/v1/customers/{customer_id}``, ``/v1/predictions``), by route;
  pages of ``/v1/customers`` are listings and are not counted.
- ``custintel_model_age_seconds`` (gauge): age of each capability's active version
  (since it was trained), read from the app database at scrape time.
- ``custintel_jobs`` (gauge): jobs by kind and status (outcomes: succeeded, failed,
  cancelled; and those queued or running), and ``custintel_job_duration_seconds_sum``
  (gauge): the summed run time of finished jobs by kind and outcome, so that a mean is
  sum / count. Both read from the app database at scrape time: jobs run in the worker,
  which may be another process.

``/metrics`` is open without a key, like the health checks: scrapers rarely carry
bearer tokens, and it holds no customer data, only counts, latencies and model ages.
Put it behind the network (or the proxy) if that is too much. Each app has its own
registry, so several apps in one process (tests) do not clash.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from custintel.api.deps import AppState, StateDep, per_app
from custintel.appdb.schema import Job, utcnow
from custintel.registry.versions import CAPABILITIES, active

__all__ = ["ApiMetrics", "MetricsMiddleware", "count_predictions", "install", "metrics_for"]

router = APIRouter(tags=["health"])


@dataclass
class ApiMetrics:
    """The metrics of one app, in their own registry."""

    registry: CollectorRegistry
    latency: Histogram
    predictions: Counter
    model_age: Gauge
    jobs: Gauge
    job_seconds: Gauge

    @classmethod
    def new(cls) -> ApiMetrics:
        registry = CollectorRegistry()
        return cls(
            registry,
            Histogram(
                "custintel_http_request_duration_seconds",
                "HTTP request latency in seconds, by route template",
                ["method", "route", "status"],
                registry=registry,
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            ),
            Counter(
                "custintel_predictions_served",
                "Customer predictions returned by the API",
                ["route"],
                registry=registry,
            ),
            Gauge(
                "custintel_model_age_seconds",
                "Seconds since the active version of each capability was trained",
                ["capability"],
                registry=registry,
            ),
            Gauge(
                "custintel_jobs", "Jobs by kind and status", ["kind", "status"], registry=registry
            ),
            Gauge(
                "custintel_job_duration_seconds_sum",
                "Summed run time of finished jobs, by kind and outcome",
                ["kind", "status"],
                registry=registry,
            ),
        )


def metrics_for(app: AppState) -> ApiMetrics:
    """The metrics of the app whose state is ``app`` (created on first use)."""
    return per_app(app, "metrics", ApiMetrics.new)


def count_predictions(app: AppState, route: str, n: int) -> None:
    """Count ``n`` customer predictions served by ``route``."""
    if n:
        metrics_for(app).predictions.labels(route=route).inc(n)


class MetricsMiddleware:
    """Time every HTTP request and record it under its route template."""

    def __init__(self, app: ASGIApp, state: AppState):
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            metrics_for(self.state).latency.labels(
                method=scope.get("method", ""), route=template, status=str(status)
            ).observe(time.perf_counter() - started)


@router.get(
    "/metrics",
    summary="Prometheus metrics (open, no key)",
    response_class=Response,
    responses={
        200: {
            "content": {
                CONTENT_TYPE_LATEST: {
                    "example": 'custintel_model_age_seconds{capability="value"} 3600.0\n'
                }
            },
            "description": "text format",
        }
    },
)
def prometheus(app: StateDep) -> Response:
    metrics = metrics_for(app)
    now = utcnow()
    with app.db.session() as session:
        for capability in CAPABILITIES:
            version = active(session, capability)
            if version is None:
                if _has(metrics, capability):
                    metrics.model_age.remove(capability)
                continue
            created = version.created_at
            if created.tzinfo is None:  # SQLite returns naive UTC
                created = created.replace(tzinfo=now.tzinfo)
            metrics.model_age.labels(capability=capability).set((now - created).total_seconds())
        _job_metrics(session, metrics)
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _job_metrics(session: Session, metrics: ApiMetrics) -> None:
    """Jobs by kind and status, and the summed run time of finished ones."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    seconds: dict[tuple[str, str], float] = defaultdict(float)
    rows = session.execute(select(Job.kind, Job.status, Job.started_at, Job.finished_at))
    for kind, status, started, finished in rows:
        counts[(kind, status)] += 1
        if started is not None and finished is not None:
            seconds[(kind, status)] += (finished - started).total_seconds()
    metrics.jobs.clear()
    metrics.job_seconds.clear()
    for (kind, status), n in counts.items():
        metrics.jobs.labels(kind=kind, status=status).set(n)
    for (kind, status), total in seconds.items():
        metrics.job_seconds.labels(kind=kind, status=status).set(total)


def _has(metrics: ApiMetrics, capability: str) -> bool:
    return any(
        s.labels.get("capability") == capability
        for family in metrics.model_age.collect()
        for s in family.samples
    )


def install(app: FastAPI) -> None:
    """Time every request of ``app`` (the ``/metrics`` route comes with ``ROUTERS``)."""
    app.add_middleware(MetricsMiddleware, state=app.state.custintel)
