"""The segmentation service: degenerate shops, new customers, recorded history."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from custintel.cli import app
from custintel.data import Store
from custintel.errors import NotEnoughData
from custintel.segmentation.service import (
    NOT_CLUSTERED,
    predict_segment,
    record_assignments,
    segment_customers,
    segment_of,
)

AS_OF = date(2024, 6, 1)


def features(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = rng.random(n) < 0.5
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "recency_days": np.where(group, rng.integers(1, 30, n), rng.integers(200, 400, n)),
            "frequency": np.where(group, rng.integers(5, 12, n), 1),
            "monetary": np.where(group, rng.uniform(500, 900, n), rng.uniform(10, 40, n)),
            "tenure_days": rng.integers(400, 800, n),
        }
    )


def test_a_shop_too_small_to_cluster_still_gets_rfm_segments() -> None:
    tiny = features().head(2)
    with pytest.warns(UserWarning):  # RFM says its scores carry little information
        run = segment_customers(tiny, as_of=AS_OF)
    assert list(run.assignments["cluster_name"]) == [NOT_CLUSTERED] * 2
    assert run.assignments["rfm_segment"].notna().all()
    assert run.summary["clustering"]["why"].startswith("not clustered: n_customers=2")
    assert run.model["clusterer"] is None


def test_new_customers_are_scored_against_the_fitted_population() -> None:
    frame = features()
    run = segment_customers(frame, as_of=AS_OF, method="kmeans")
    # rows of the population itself get the scores and clusters they were assigned
    again = predict_segment(run.model, frame)
    fitted = run.assignments.set_index("customer_id")
    for column in ("r_score", "f_score", "m_score", "rfm_segment", "cluster"):
        assert (again.set_index("customer_id")[column] == fitted[column]).all(), column
    newcomers = pd.DataFrame(
        {
            "recency_days": [2, 390],
            "frequency": [20, 0],
            "monetary": [5_000.0, -3.0],
            "tenure_days": [500, 500],
        }
    )
    scored = predict_segment(run.model, newcomers)
    assert scored.loc[0, ["r_score", "f_score", "m_score"]].tolist() == [5, 5, 5]
    assert scored.loc[0, "rfm_segment"] == "Champions"
    assert scored.loc[1, ["r_score", "f_score", "m_score"]].tolist() == [1, 1, 1]
    assert scored.loc[0, "cluster_name"] != scored.loc[1, "cluster_name"]


def test_recorded_assignment_is_found_by_customer(tmp_path: Path) -> None:
    with Store(tmp_path / "s.duckdb") as store:
        run = segment_customers(features(), as_of=AS_OF, method="kmeans")
        record_assignments(store, run, model_version=1)
        record_assignments(store, run, model_version=2)  # same as_of replaces, no doubles
        assert store.count("segment_assignments") == 400
        found = segment_of(store, "c1")
        assert found["model_version"] == 2
        assert found["rfm_segment"] == run.assignments.loc[1, "rfm_segment"]
        with pytest.raises(NotEnoughData, match="'nobody'"):
            segment_of(store, "nobody")


def test_tsne_coordinates_cover_the_sample_only() -> None:
    run = segment_customers(features(), as_of=AS_OF, method="kmeans", tsne_sample_size=150)
    assert run.assignments["pca_x"].notna().all()
    assert run.assignments["tsne_x"].notna().sum() == 150


def test_segment_retailers_on_the_demo_shop(home: Path, tmp_path: Path) -> None:
    from custintel.demo import generate_shop, write_shop

    write_shop(generate_shop(customers=1000, seed=2), tmp_path, formats=("parquet",))
    out = tmp_path / "retailers.csv"
    result = CliRunner().invoke(
        app,
        [
            "segment-retailers",
            "--orders",
            str(tmp_path / "orders.parquet"),
            "--customers",
            str(tmp_path / "customers.parquet"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert set(table["volume"]) == {"low", "medium", "high"}
    assert {"customer_id", "demo_cluster", "demo_cluster_name", "sales"} <= set(table.columns)
    assert "mean sales" in result.output


@pytest.mark.services
def test_segment_retailers_on_the_b2b_preset_in_postgresql(
    home: Path, postgres_url: str, tmp_path: Path
) -> None:
    from fixtures.preset_schemas import create_preset_db

    create_preset_db(postgres_url, "b2b")
    mapping = tmp_path / "custintel.toml"
    mapping.write_text(f'source = "{postgres_url}"\npreset = "b2b"\n')
    out = tmp_path / "retailers.csv"
    result = CliRunner().invoke(
        app,
        [
            "segment-retailers",
            "--mapping",
            str(mapping),
            "--out",
            str(out),
            "--attributes",
            "urban_rural_classification,customer_income_bracket,male_female_ratio",
        ],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert len(table) == 5  # every retailer of the fixture, with or without orders
    assert table["volume"].isin(["low", "medium", "high"]).all()
    assert table["demo_cluster"].nunique() >= 2
