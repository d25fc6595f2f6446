"""Seed the app database with model versions and their results, as a training run
would publish them, so the API routes can be tested without training anything.

Values encode their version (``expected_spend = 100 * version + i``), so a test can
tell which version an answer came from.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from custintel.appdb import AppDB
from custintel.appdb.schema import (
    CustomerPrediction,
    ForecastBacktest,
    ForecastPoint,
    ModelVersion,
    SegmentAssignment,
)
from custintel.registry import ArtifactStore
from custintel.registry.versions import activate

CUSTOMERS = [f"C{i:03d}" for i in range(1, 11)]  # C001 .. C010
SEGMENTS = ["Champions", "Loyal", "At risk"]


def add_version(
    session: Session,
    capability: str,
    version: int,
    *,
    as_of: date | None = None,
    summary: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    artifact: tuple[Path, dict[str, Any]] | None = None,
) -> ModelVersion:
    """A version row; with ``artifact`` (models folder, payload) a real artifact file
    whose name and sha256 the row records."""
    name, sha = f"{capability}-{version}.json", "0" * 64
    if artifact is not None:
        ref = ArtifactStore(artifact[0]).save(capability, artifact[1])
        name, sha = ref.path.name, ref.sha256
    row = ModelVersion(
        capability=capability,
        version=version,
        artifact=name,
        sha256=sha,
        summary=summary or {},
        metrics=metrics or {},
        as_of=as_of,
    )
    session.add(row)
    session.flush()
    return row


def segment_summary(as_of: date) -> dict[str, Any]:
    """A summary shaped like segmentation.service's."""
    return {
        "as_of": as_of.isoformat(),
        "customers": 10,
        "scheme": "rfm-11",
        "segments": [
            {
                "segment": name,
                "customers": 0,
                "share_customers": 0.0,
                "share_revenue": share,
                "description": f"{name} customers",
                "action": f"look after {name}",
            }
            for name, share in zip(SEGMENTS, (0.6, 0.3, 0.1), strict=True)
        ],
        "clustering": {
            "method": "kmeans",
            "k": 2,
            "why": "best silhouette",
            "comparison": [],
            "changes": None,
            "clusters": [
                {
                    "cluster": c,
                    "name": f"cluster {c}",
                    "size": 5,
                    "share_customers": 0.5,
                    "share_revenue": 0.5,
                    "mean": {"recency_days": 10.0 + c, "frequency": None},
                    "median": {"recency_days": 9.0 + c},
                    "top_features": [
                        {"feature": "frequency", "std_diff": 1.2, "direction": "higher"}
                    ],
                }
                for c in (0, 1)
            ],
        },
    }


# An RFM-only segmentation model (no clusters) as segmentation.service saves it.
RFM_MODEL: dict[str, Any] = {
    "scheme": "standard",
    "rfm_thresholds": {
        "r_score": {"1": 400.0, "2": 200.0, "3": 90.0, "4": 30.0, "5": 7.0},
        "f_score": {"1": 1.0, "2": 2.0, "3": 3.0, "4": 5.0, "5": 8.0},
        "m_score": {"1": 0.0, "2": 50.0, "3": 100.0, "4": 300.0, "5": 1000.0},
    },
    "clusterer": None,
}


def seed_segmentation(
    session: Session, version: int, as_of: date, shift: int = 0, models: Path | None = None
) -> ModelVersion:
    """Customers C001..C010 in SEGMENTS round-robin (rotated by ``shift``); C010 only
    from version 2 on (it is "(new)" in migrations). With ``models``, the version has a
    real RFM-only artifact there."""
    row = add_version(
        session,
        "segmentation",
        version,
        as_of=as_of,
        summary=segment_summary(as_of),
        artifact=(models, RFM_MODEL) if models is not None else None,
    )
    for i, customer in enumerate(CUSTOMERS):
        if customer == "C010" and version == 1:
            continue
        session.add(
            SegmentAssignment(
                model_version_id=row.id,
                customer_id=customer,
                r_score=(i % 5) + 1,
                f_score=version,
                m_score=3,
                rfm_segment=SEGMENTS[(i + shift) % len(SEGMENTS)],
                cluster=i % 2,
                cluster_name=f"cluster {i % 2}",
            )
        )
    session.flush()
    return row


CHANCE_NOTE = "btyd: ROC-AUC 0.498; that ranking could not be told from chance (p = 0.55)"


def value_eligibility(version: int) -> list[dict[str, Any]]:
    """What each column rests on, as a scoring run stores it: version 1's churn
    ranking is measured, version 2's could be chance."""
    chance = version == 2
    return [
        {"output": "expected_spend", "status": "measured", "model": "blend", "note": "RMSE 1"},
        {
            "output": "churn_probability",
            "status": "no better than chance" if chance else "measured",
            "model": "btyd",
            "note": CHANCE_NOTE if chance else "btyd: ROC-AUC 0.81",
        },
        {
            "output": "top_factors",
            "status": "measured",
            "model": "gbm",
            "note": factors_note(version),
        },
        {"output": "p_active", "status": "not measured", "model": "btyd", "note": "BTYD's"},
    ]


def factors_note(version: int) -> str:
    return f"TreeSHAP values of gbm's churn model; agrees with btyd's at Spearman 0.{version}"


def seed_value(
    session: Session,
    version: int,
    customers: list[str] = CUSTOMERS,
    models: Path | None = None,
) -> ModelVersion:
    """Predictions for ``customers``; with ``models``, an artifact there like that of a
    shop too young to train learners on (no served models: feature rows get 409)."""
    row = add_version(
        session,
        "value",
        version,
        summary={"eligibility": value_eligibility(version)},
        metrics={"churn_auc": 0.8 + version / 100},
        artifact=(models, {"served": None}) if models is not None else None,
    )
    for i, customer in enumerate(customers):
        session.add(
            CustomerPrediction(
                model_version_id=row.id,
                customer_id=customer,
                expected_orders=version + i / 10,
                expected_spend=100.0 * version + i,
                spend_by_category={"toys": 50.0 * version},
                p_active=min(1.0, 0.05 * (i + 1)),
                churn_probability=None if i == 3 else 1.0 - 0.05 * (i + 1),
                churn_risk="high" if i < 5 else "low",
                clv=1000.0 * version + i,
                next_order_date=date(2024, 5, 1) + timedelta(days=i),
                rfm_segment=SEGMENTS[i % 3],
                spend_percentile=i / 10,
                value_tier="high" if i > 6 else "low",
                top_factors=f"last order {i} days ago (lowers churn risk); {version} orders",
            )
        )
    session.flush()
    return row


def seed_forecast(session: Session, version: int, horizon: int = 8) -> ModelVersion:
    """weekly total and weekly by category (toys, books): 10 history + ``horizon``
    forecast points; backtests for each series."""
    row = add_version(session, "forecasting", version, metrics={"mase": 0.7})
    start = date(2024, 1, 1)
    for by, names in (("", ["total"]), ("category", ["toys", "books"])):
        for name in names:
            for k in range(10):
                session.add(
                    ForecastPoint(
                        model_version_id=row.id,
                        timeframe="weekly",
                        by=by,
                        series=name,
                        kind="history",
                        date=start + timedelta(weeks=k),
                        value=100.0 + k,
                    )
                )
            for k in range(horizon):
                value = 200.0 + k
                session.add(
                    ForecastPoint(
                        model_version_id=row.id,
                        timeframe="weekly",
                        by=by,
                        series=name,
                        kind="forecast",
                        date=start + timedelta(weeks=10 + k),
                        value=value,
                        lower_80=value - 10,
                        upper_80=value + 10,
                        lower_95=value - 20,
                        upper_95=value + 20,
                        model="AutoETS",
                    )
                )
            session.add(
                ForecastBacktest(
                    model_version_id=row.id,
                    timeframe="weekly",
                    by=by,
                    series=name,
                    model="AutoETS",
                    horizon=horizon,
                    metrics={
                        "mase": 0.7,
                        "smape": 0.1,
                        "floor_model": "SeasonalNaive",
                        "floor_mase": 1.0,
                    },
                )
            )
    session.flush()
    return row


def seed_shop(db: AppDB, models: Path | None = None) -> None:
    """Two segmentation versions (2024-01-01, 2024-04-01; the second active), two value
    versions (the first active) and one forecasting version (active)."""
    with db.session() as session:
        seed_segmentation(session, 1, date(2024, 1, 1), models=models)
        seed_segmentation(session, 2, date(2024, 4, 1), shift=1, models=models)
        seed_value(session, 1, models=models)
        seed_value(session, 2, models=models)
        seed_forecast(session, 1)
        activate(session, "segmentation", 2)
        activate(session, "value", 1)
        activate(session, "forecasting", 1)
