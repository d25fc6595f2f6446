"""``/v1/dashboard/*``: each endpoint's numbers against rows seeded by hand (exact,
hand-computed answers), and against a real small demo shop (consistency with the
other routes)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from custintel.api import create_app
from custintel.api.dashboard_queries import _quotas
from custintel.appdb.keys import create_key
from custintel.appdb.schema import (
    CustomerPrediction,
    ForecastPoint,
    ModelVersion,
    SegmentAssignment,
)
from custintel.config import Settings
from custintel.registry.versions import activate

LAST = date(2024, 6, 30)  # the latest history date of the seeded forecast
ENDPOINTS = ["overview", "rfm-grid", "segment-performance", "projection", "churn"]


@pytest.fixture()
def app_client(home: Path) -> Iterator[TestClient]:
    app = create_app(Settings(home=home))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    app.state.custintel.db.dispose()


@pytest.fixture()
def auth(app_client: TestClient) -> dict[str, str]:
    with app_client.app.state.custintel.db.session() as session:  # type: ignore[attr-defined]
        key, _ = create_key(session, "read", name="dashboard test")
    return {"Authorization": f"Bearer {key}"}


def _version(session: Session, capability: str, version: int = 1) -> ModelVersion:
    row = ModelVersion(
        capability=capability,
        version=version,
        artifact=f"{capability}-{version}.json",
        sha256="0" * 64,
        summary={},
        metrics={},
        as_of=LAST + timedelta(days=1),
    )
    session.add(row)
    session.flush()
    return row


def seed(client: TestClient, build: Any) -> None:
    """Run ``build(session)`` and activate every version it created."""
    with client.app.state.custintel.db.session() as session:  # type: ignore[attr-defined]
        for row in build(session):
            activate(session, row.capability, row.version)
        session.commit()


def seed_forecast(session: Session, by: str = "") -> list[ModelVersion]:
    """100 days of daily history up to LAST: 1.0 a day, 2.0 in the last 30 days; then
    30 forecast days of 3.0. With ``by`` the total is the split's "total" series."""
    row = _version(session, "forecasting")
    first = LAST - timedelta(days=99)
    for k in range(100):
        day = first + timedelta(days=k)
        value = 2.0 if k >= 70 else 1.0
        session.add(
            ForecastPoint(
                model_version_id=row.id,
                timeframe="daily",
                by=by,
                series="total",
                kind="history",
                date=day,
                value=value,
            )
        )
        if by:  # another series of the split must not count
            session.add(
                ForecastPoint(
                    model_version_id=row.id,
                    timeframe="daily",
                    by=by,
                    series="toys",
                    kind="history",
                    date=day,
                    value=1000.0,
                )
            )
    for k in range(30):
        session.add(
            ForecastPoint(
                model_version_id=row.id,
                timeframe="daily",
                by=by,
                series="total",
                kind="forecast",
                date=LAST + timedelta(days=k + 1),
                value=3.0,
                lower_80=2.0,
                upper_80=4.0,
            )
        )
    return [row]


def seed_value(session: Session) -> list[ModelVersion]:
    row = _version(session, "value")
    rows = [
        # id, p_active, churn_risk, clv, value_tier, churn_probability
        ("A", 0.2, "high", 500.0, "top", 0.9),
        ("B", 0.5, "medium", 900.0, "high", 0.5),
        ("C", 0.9, "low", 2000.0, "top", 0.1),
        ("D", None, "high", None, "low", 0.8),
        ("E", 0.7, "medium", 100.0, "medium", 0.4),
    ]
    for cid, p_active, risk, clv, tier, churn in rows:
        session.add(
            CustomerPrediction(
                model_version_id=row.id,
                customer_id=cid,
                p_active=p_active,
                churn_risk=risk,
                clv=clv,
                value_tier=tier,
                churn_probability=churn,
                expected_spend=10.0,
                top_factors="last order 90 days ago (raises churn risk); 2 orders",
            )
        )
    return [row]


def seed_segments(session: Session) -> list[ModelVersion]:
    """Champions: two customers at R5 F5 (monetary 100 + 50, 4 + 1 orders); Lost: one
    at R1 F2 (monetary 10, no order counted); clusters and projections for 40 more."""
    row = _version(session, "segmentation")
    people = [
        ("S1", 5, 5, "Champions", 100.0, 4.0),
        ("S2", 5, 5, "Champions", 50.0, 1.0),
        ("S3", 1, 2, "Lost", 10.0, 0.0),
    ]
    for cid, r, f, segment, monetary, orders in people:
        session.add(
            SegmentAssignment(
                model_version_id=row.id,
                customer_id=cid,
                r_score=r,
                f_score=f,
                m_score=3,
                rfm_segment=segment,
                monetary=monetary,
                frequency=orders,
            )
        )
    for i in range(40):  # 30 in cluster 0, 10 in cluster 1; no RFM scores
        cluster = 0 if i < 30 else 1
        session.add(
            SegmentAssignment(
                model_version_id=row.id,
                customer_id=f"P{i:02d}",
                cluster=cluster,
                cluster_name=f"cluster {cluster}",
                x=float(i),
                y=-float(i),
            )
        )
    session.add(  # a cluster without a projection is not drawn
        SegmentAssignment(model_version_id=row.id, customer_id="Q", cluster=0, x=None, y=None)
    )
    return [row]


# -- no key, no model ------------------------------------------------------------------


@pytest.mark.parametrize("name", ENDPOINTS)
def test_needs_a_key(app_client: TestClient, name: str) -> None:
    response = app_client.get(f"/v1/dashboard/{name}")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("name", "capability"),
    [
        ("overview", "forecasting"),
        ("rfm-grid", "segmentation"),
        ("segment-performance", "segmentation"),
        ("projection", "segmentation"),
        ("churn", "value"),
    ],
)
def test_409_without_an_active_model(
    app_client: TestClient, auth: dict[str, str], name: str, capability: str
) -> None:
    response = app_client.get(f"/v1/dashboard/{name}", headers=auth)
    assert response.status_code == 409
    body = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert body["capability"] == capability
    assert "train it first" in body["detail"]


# -- overview --------------------------------------------------------------------------


@pytest.mark.parametrize("by", ["", "category"], ids=["total", "category-split-total"])
def test_overview_revenue_periods_and_forecast(
    app_client: TestClient, auth: dict[str, str], by: str
) -> None:
    seed(app_client, lambda s: seed_forecast(s, by))
    body = app_client.get("/v1/dashboard/overview", headers=auth).json()
    revenue = {p["days"]: p for p in body["revenue"]}
    # last 30 days: 30 x 2.0; the 30 before: 30 x 1.0
    assert revenue[30] == {"days": 30, "revenue": 60.0, "previous": 30.0, "change": 1.0}
    # last 90: 30 x 2.0 + 60 x 1.0; the history does not reach 90 days further back
    assert revenue[90] == {"days": 90, "revenue": 120.0, "previous": None, "change": None}
    assert revenue[365]["revenue"] == 130.0 and revenue[365]["previous"] is None
    assert body["forecast_30"] == {"days": 30, "revenue": 90.0, "previous": 60.0, "change": 0.5}
    assert body["freshness"] == LAST.isoformat()
    assert len(body["revenue_series"]["history"]) == 100
    assert len(body["revenue_series"]["forecast"]) == 30
    assert body["customers"] is None and body["active_customers"] is None
    assert body["missing"] == ["segmentation", "value"]
    assert [m["capability"] for m in body["models"]] == ["forecasting"]
    assert body["models"][0]["created_at"].endswith("Z")


def test_overview_customers_and_active(app_client: TestClient, auth: dict[str, str]) -> None:
    seed(app_client, seed_value)
    body = app_client.get("/v1/dashboard/overview", headers=auth).json()
    assert body["customers"] == 5
    assert body["active_customers"] == 3  # p_active 0.5, 0.9, 0.7 (0.2 and null are not)
    assert body["revenue_series"] is None and body["forecast_30"] is None
    assert body["missing"] == ["segmentation", "forecasting"]


def test_overview_forecast_shorter_than_30_days(
    app_client: TestClient, auth: dict[str, str]
) -> None:
    def build(session: Session) -> list[ModelVersion]:
        rows = seed_forecast(session)
        session.flush()
        session.query(ForecastPoint).filter(
            ForecastPoint.kind == "forecast", ForecastPoint.date > LAST + timedelta(days=24)
        ).delete()
        return rows

    seed(app_client, build)
    ahead = app_client.get("/v1/dashboard/overview", headers=auth).json()["forecast_30"]
    # 24 days of 3.0 against the last 24 days of history (2.0 each)
    assert ahead == {"days": 24, "revenue": 72.0, "previous": 48.0, "change": 0.5}


# -- segments --------------------------------------------------------------------------


def test_rfm_grid(app_client: TestClient, auth: dict[str, str]) -> None:
    seed(app_client, seed_segments)
    body = app_client.get("/v1/dashboard/rfm-grid", headers=auth).json()
    assert body["r_scores"] == [1, 2, 3, 4, 5] and body["f_scores"] == [1, 2, 3, 4, 5]
    assert len(body["cells"]) == 25
    cells = {(c["r"], c["f"]): (c["customers"], c["revenue"]) for c in body["cells"]}
    assert cells[5, 5] == (2, 150.0)
    assert cells[1, 2] == (1, 10.0)
    assert sum(n for n, _ in cells.values()) == 3
    assert [(c["r"], c["f"]) for c in body["cells"]][:2] == [(1, 1), (1, 2)]


def test_segment_performance(app_client: TestClient, auth: dict[str, str]) -> None:
    seed(app_client, seed_segments)
    body = app_client.get("/v1/dashboard/segment-performance", headers=auth).json()
    assert body["segments"] == [
        {
            "segment": "Champions",
            "customers": 2,
            "revenue": 150.0,
            "orders": 5.0,
            "average_order_value": 30.0,
            "orders_per_customer": 2.5,
        },
        {
            "segment": "Lost",
            "customers": 1,
            "revenue": 10.0,
            "orders": 0.0,
            "average_order_value": None,  # no orders: no average
            "orders_per_customer": 0.0,
        },
    ]


def test_projection_is_stratified_by_cluster(app_client: TestClient, auth: dict[str, str]) -> None:
    seed(app_client, seed_segments)
    body = app_client.get("/v1/dashboard/projection?limit=8", headers=auth).json()
    assert body["customers"] == 40  # "Q" has no projection
    sampled = {c["cluster"]: (c["size"], c["sampled"]) for c in body["clusters"]}
    assert sampled == {0: (30, 6), 1: (10, 2)}  # 3:1, like the population
    assert len(body["points"]) == 8
    # every 5th customer by id within its cluster
    assert [p["customer_id"] for p in body["points"]] == [
        "P00",
        "P05",
        "P10",
        "P15",
        "P20",
        "P25",
        "P30",
        "P35",
    ]
    point = body["points"][1]
    assert point == {
        "customer_id": "P05",
        "x": 5.0,
        "y": -5.0,
        "cluster": 0,
        "cluster_name": "cluster 0",
    }
    everyone = app_client.get("/v1/dashboard/projection", headers=auth).json()
    assert len(everyone["points"]) == 40 and everyone["limit"] == 2000


@pytest.mark.parametrize(
    ("sizes", "limit", "expected"),
    [
        ({0: 30, 1: 10}, 8, {0: 6, 1: 2}),
        ({0: 999, 1: 1}, 10, {0: 9, 1: 1}),  # a tiny cluster still gets a point
        ({0: 5, 1: 5}, 100, {0: 5, 1: 5}),  # under the limit: everyone
        ({0: 7, 1: 7, 2: 7}, 10, {0: 4, 1: 3, 2: 3}),
    ],
    ids=["proportional", "tiny-cluster", "under-limit", "remainder"],
)
def test_quotas(sizes: dict[int, int], limit: int, expected: dict[int, int]) -> None:
    quota = _quotas(sizes, limit)
    assert quota == expected
    assert sum(quota.values()) == min(limit, sum(sizes.values()))


# -- customers -------------------------------------------------------------------------


def test_churn(app_client: TestClient, auth: dict[str, str]) -> None:
    seed(app_client, seed_value)
    body = app_client.get("/v1/dashboard/churn", headers=auth).json()
    assert body["customers"] == 5
    assert body["churn_risk"] == [
        {"name": "low", "customers": 1},
        {"name": "medium", "customers": 2},
        {"name": "high", "customers": 2},
    ]
    assert body["value_tiers"] == [
        {"name": "low", "customers": 1},
        {"name": "medium", "customers": 1},
        {"name": "high", "customers": 1},
        {"name": "top", "customers": 2},
    ]
    # high or medium risk, largest CLV first, unknown CLV last; C (low risk) is not listed
    assert [c["customer_id"] for c in body["at_risk"]] == ["B", "A", "E", "D"]
    assert body["at_risk"][0]["top_factors"] == [
        "last order 90 days ago (raises churn risk)",
        "2 orders",
    ]
    top = app_client.get("/v1/dashboard/churn?top=2", headers=auth).json()
    assert [c["customer_id"] for c in top["at_risk"]] == ["B", "A"]
    assert app_client.get("/v1/dashboard/churn?top=5000", headers=auth).status_code == 422


# -- caching and the OpenAPI document --------------------------------------------------


def test_etag_gives_304(app_client: TestClient, auth: dict[str, str]) -> None:
    seed(app_client, seed_segments)
    first = app_client.get("/v1/dashboard/rfm-grid", headers=auth)
    tag = first.headers["etag"]
    again = app_client.get("/v1/dashboard/rfm-grid", headers={**auth, "If-None-Match": tag})
    assert again.status_code == 304


def test_openapi_documents_every_endpoint(app_client: TestClient) -> None:
    spec = app_client.get("/openapi.json").json()
    expected = {
        "overview": "OverviewOut",
        "rfm-grid": "RfmGridOut",
        "segment-performance": "SegmentPerformanceOut",
        "projection": "ProjectionOut",
        "churn": "ChurnOut",
    }
    for name, model in expected.items():
        operation = spec["paths"][f"/v1/dashboard/{name}"]["get"]
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith(f"/{model}")
        assert "409" in operation["responses"]
    # the pages are not API routes
    assert "/segments" not in spec["paths"] and "/" not in spec["paths"]


# -- a real demo shop ------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(built_demo: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    app = create_app(built_demo)
    with app.state.custintel.db.session() as session:
        key, _ = create_key(session, "read", name="dashboard demo test")
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, {"Authorization": f"Bearer {key}"}
    app.state.custintel.db.dispose()


@pytest.mark.slow
def test_demo_numbers_agree_with_the_other_routes(
    demo: tuple[TestClient, dict[str, str]],
) -> None:
    client, auth = demo

    def get(path: str) -> Any:
        response = client.get(path, headers=auth)
        assert response.status_code == 200, response.text
        return response.json()

    segments = get("/v1/segments")
    scored = get("/v1/customers?limit=1")["total"]
    overview = get("/v1/dashboard/overview")
    assert overview["missing"] == []
    assert overview["customers"] == scored
    assert 0 < overview["active_customers"] <= scored
    assert all(p["revenue"] and p["revenue"] > 0 for p in overview["revenue"])
    assert overview["forecast_30"]["revenue"] > 0
    assert len(overview["revenue_series"]["history"]) == 365
    assert len(overview["revenue_series"]["forecast"]) == overview["forecast_30"]["days"]

    grid = get("/v1/dashboard/rfm-grid")
    assert sum(c["customers"] for c in grid["cells"]) == segments["customers"]
    performance = get("/v1/dashboard/segment-performance")
    by_name = {s["segment"]: s["customers"] for s in segments["segments"] if s["customers"]}
    assert {s["segment"]: s["customers"] for s in performance["segments"]} == by_name
    assert sum(s["revenue"] for s in performance["segments"]) == pytest.approx(
        sum(c["revenue"] for c in grid["cells"]), rel=1e-6
    )
    projection = get("/v1/dashboard/projection")
    assert len(projection["points"]) == min(2000, projection["customers"])
    assert {c["cluster"] for c in projection["clusters"]} == {
        c["cluster"] for c in segments["clustering"]["clusters"]
    }
    churn = get("/v1/dashboard/churn")
    assert sum(c["customers"] for c in churn["churn_risk"]) == scored
    assert sum(c["customers"] for c in churn["value_tiers"]) == scored
    clv = [c["clv"] for c in churn["at_risk"]]
    assert clv == sorted(clv, reverse=True)
    assert {c["churn_risk"] for c in churn["at_risk"]} <= {"high", "medium"}
