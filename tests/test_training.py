"""Training on the data directory publishes whole versions to the app database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from custintel.appdb import AppDB
from custintel.appdb.schema import CustomerPrediction, ForecastBacktest, SegmentAssignment
from custintel.config import Settings
from custintel.errors import NotEnoughData
from custintel.registry.versions import active, list_versions
from custintel.services import app_database, run_forecast
from custintel.training import score_ids, train_capability
from custintel.value.eligibility import chance_caveats

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(built_demo: Settings) -> Settings:
    return built_demo


def _db(settings: Settings) -> AppDB:
    return AppDB.from_settings(settings)


def test_the_demo_publishes_an_active_version_of_each_capability(demo: Settings) -> None:
    with _db(demo).session() as s:
        value = active(s, "value")
        segments = active(s, "segmentation")
        assert value is not None and segments is not None and active(s, "forecasting")
        predicted = s.scalar(
            select(func.count()).where(CustomerPrediction.model_version_id == value.id)
        )
        assigned = s.scalar(
            select(func.count()).where(SegmentAssignment.model_version_id == segments.id)
        )
    assert predicted == assigned == value.metrics["customers"] > 500
    with _db(demo).session() as s:
        spent = s.scalar(
            select(func.sum(SegmentAssignment.monetary)).where(
                SegmentAssignment.model_version_id == segments.id
            )
        )
    import pandas as pd

    features = pd.read_parquet(demo.home / "features.parquet")
    assert spent == pytest.approx(features["monetary"].sum())
    assert value.data_from is not None and value.data_from < value.as_of


def test_a_forecast_run_carries_the_other_forecasts_over(demo: Settings, tmp_path: Path) -> None:
    version = train_capability(demo, "forecasting")
    assert set(version.metrics) == {"monthly/category", "weekly/category", "daily/category"}
    # one more timeframe × split from the CLI path: the three others stay served
    run_forecast(demo, None, out=tmp_path / "f.csv", freq="M", horizon=6, by=None)
    with _db(demo).session() as s:
        served = active(s, "forecasting")
        assert served is not None and served.version == version.version + 1
        splits = set(
            s.execute(
                select(ForecastBacktest.timeframe, ForecastBacktest.by)
                .where(ForecastBacktest.model_version_id == served.id)
                .distinct()
            ).all()
        )
    assert splits == {
        ("monthly", "category"),
        ("weekly", "category"),
        ("daily", "category"),
        ("monthly", ""),
    }


def test_a_failed_training_leaves_the_served_version(
    demo: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import custintel.value.service as value_service

    with _db(demo).session() as s:
        before = active(s, "value")
        count = len(list_versions(s, "value"))

    def broken(*args: object, **kwargs: object) -> None:
        raise NotEnoughData("no orders in the last year")

    monkeypatch.setattr(value_service, "score_customers", broken)
    with pytest.raises(NotEnoughData):
        train_capability(demo, "value")
    with _db(demo).session() as s:
        after = active(s, "value")
        assert after is not None and before is not None and after.id == before.id
        assert len(list_versions(s, "value")) == count


def test_score_ids_keeps_the_order_and_flags_unknown_ids(demo: Settings) -> None:
    frame = score_ids(demo, ["C000002", "nobody", "C000001"])
    with _db(demo).session() as s:
        value = active(s, "value")
    assert value is not None and frame.attrs["model_version"] == value.version
    assert frame.attrs["versions"]["value"] == value.id
    # The demo's rankings are all measured. At 1,000 customers its next-order dates are
    # not: the best candidate's lead over the middle of the window is within chance.
    caveats = frame.attrs["caveats"]
    assert caveats == chance_caveats(value.summary)
    assert {c["output"] for c in caveats} <= {"next_order_date"}
    assert all(c["status"] == "no better than chance" for c in caveats)
    assert frame["customer_id"].tolist() == ["C000002", "nobody", "C000001"]
    assert frame["found"].tolist() == [True, False, True]
    assert frame.loc[0, "expected_spend"] >= 0 and frame.loc[0, "churn_risk"] in {
        "low",
        "medium",
        "high",
    }


def test_training_without_a_store_says_to_sync_first(home: Path) -> None:
    with pytest.raises(NotEnoughData, match="no store yet") as caught:
        train_capability(Settings(home=home), "segmentation")
    assert "custintel sync" in (caught.value.hint or "")


@pytest.mark.parametrize("server", ["postgres_url", "mariadb_url"])
def test_the_active_versions_are_written_back_to_the_shop_database(
    demo: Settings, server: str, request: pytest.FixtureRequest
) -> None:
    import sqlalchemy as sa

    from custintel.training import write_back_active

    url = request.getfixturevalue(server)
    toml = demo.mapping_path
    toml.write_text(f'[writeback]\nurl = "{url}"\n', encoding="utf-8")
    try:
        written = write_back_active(demo)
    finally:
        toml.unlink()
    assert written is not None
    engine = sa.create_engine(url)
    with engine.connect() as c:
        segments = c.execute(sa.text("SELECT count(*) FROM custintel_customer_segments")).scalar()
        spend = c.execute(
            sa.text("SELECT count(*) FROM custintel_customer_segments WHERE clv IS NOT NULL")
        ).scalar()
        timeframes = {
            r[0]
            for r in c.execute(sa.text("SELECT DISTINCT timeframe FROM custintel_sales_forecasts"))
        }
        notes = c.execute(
            sa.text(
                "SELECT column_name, status, model, note, value_version FROM custintel_value_notes"
            )
        ).fetchall()
    engine.dispose()
    assert segments == written["segments"] > 500 and spend == segments
    assert timeframes == {"daily", "weekly", "monthly"}
    # what the spend, churn and CLV columns rest on: the active value version's statements
    with app_database(demo).session() as session:
        value = active(session, "value")
        assert value is not None
        statements = value.summary["eligibility"]
    assert written["value notes"] == len(notes) == len(statements)
    assert sorted(tuple(n[:4]) for n in notes) == sorted(
        (s["output"], s["status"], s["model"], s["note"]) for s in statements
    )
    assert {n[4] for n in notes} == {value.version}


def test_without_a_writeback_table_nothing_is_written(demo: Settings) -> None:
    from custintel.training import write_back_active

    assert write_back_active(demo) is None


def test_segment_prediction_of_feature_rows_reproduces_the_stored_segments(
    demo: Settings,
) -> None:
    """Feature rows of known customers, scored by the active model's artifact, get the
    segments the training run stored for them; a tampered artifact is refused."""
    import pandas as pd
    from fastapi.testclient import TestClient

    from custintel.api import create_app
    from custintel.appdb.keys import create_key

    app = create_app(demo)
    with app.state.custintel.db.session() as session:
        key, _ = create_key(session, "predict")
    rows = pd.read_parquet(demo.home / "features.parquet").head(40)
    rows = rows.astype({"customer_id": str}).astype(object).where(rows.notna(), None)
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(app, raise_server_exceptions=False) as client:
        by_rows = client.post(
            "/v1/segments/predict", json={"rows": rows.to_dict("records")}, headers=headers
        )
        assert by_rows.status_code == 200, by_rows.text
        ids = rows["customer_id"].tolist()
        by_ids = client.post(
            "/v1/segments/predict", json={"customer_ids": [*ids, "nobody"]}, headers=headers
        ).json()
        assert by_ids["unknown"] == ["nobody"]
        fields = ("customer_id", "rfm_segment", "cluster", "r_score", "f_score", "m_score")
        predicted = [{f: s[f] for f in fields} for s in by_rows.json()["segments"]]
        stored = [{f: s[f] for f in fields} for s in by_ids["segments"]]
        assert predicted == stored
        missing = client.post(
            "/v1/segments/predict", json={"rows": [{"recency_days": 3}]}, headers=headers
        )
        assert missing.status_code == 422 and "frequency" in missing.json()["detail"]
        # a swapped artifact file is refused by its checksum
        from custintel.api import queries

        queries._MODEL_CACHE.clear()
        with app.state.custintel.db.session() as session:
            served = active(session, "segmentation")
            assert served is not None
            path = demo.home / "models" / "segmentation" / served.artifact
        original = path.read_bytes()
        path.write_bytes(original.replace(b'"scheme"', b'"scheme" ', 1))
        try:
            refused = client.post(
                "/v1/segments/predict",
                json={"rows": rows.head(2).to_dict("records")},
                headers=headers,
            )
        finally:
            path.write_bytes(original)
            queries._MODEL_CACHE.clear()
        assert refused.status_code == 503 and "checksum" in refused.json()["detail"]
    app.state.custintel.db.dispose()
