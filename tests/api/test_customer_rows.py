"""POST /v1/predictions with feature rows, on a value version trained on a demo shop:
known customers' rows give the predictions stored for them, new rows are scored, and
bad rows get a 422 that names what to fix."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api_helpers import bearer
from custintel.api import create_app
from custintel.appdb.keys import create_key
from custintel.config import Settings
from custintel.data.store import Store
from custintel.demo import generate_shop, write_shop
from custintel.features import customer_features
from custintel.services import mapping_from_options, run_scoring, sync_with_settings
from custintel.value.examples import outlier_spend
from custintel.value.rows import ServedValue, _summary, score_rows
from custintel.value.seasons import Seasons

pytestmark = pytest.mark.slow
HORIZON = 30


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A data directory with the demo shop's orders and a value version trained on it."""
    root = tmp_path_factory.mktemp("rows")
    write_shop(generate_shop(customers=500, seed=5), root / "shop", formats=("parquet",))
    settings = Settings(home=root / "home")
    mapping = mapping_from_options(orders=root / "shop" / "orders.parquet")
    assert mapping is not None
    with Store(settings.store_path) as store:
        sync_with_settings(store, mapping, settings)
    run_scoring(settings, None, out=root / "scores.parquet", horizon_days=HORIZON)
    return settings


@pytest.fixture(scope="module")
def client(trained: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    app = create_app(trained)
    with app.state.custintel.db.session() as session:
        key, _ = create_key(session, "predict", name="rows test")
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client, bearer(key)
    app.state.custintel.db.dispose()


@pytest.fixture(scope="module")
def feature_rows(trained: Settings) -> pd.DataFrame:
    """Every customer's features at the version's as_of, as `custintel features` writes."""
    with Store(settings_path(trained), read_only=True) as store:
        as_of = store.con.execute("SELECT max(as_of) FROM customer_scores").fetchone()[0]
        return customer_features(store.con, as_of).to_pandas()


def settings_path(settings: Settings) -> Path:
    return settings.store_path


def _json_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for record in frame.to_dict(orient="records"):
        out.append(
            {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in record.items()}
        )
    for row in out:
        row["as_of"] = str(row["as_of"])
    return out


def test_known_customers_rows_reproduce_their_stored_predictions(client, feature_rows) -> None:
    test_client, headers = client
    sample = feature_rows.sample(n=200, random_state=1)
    by_rows = test_client.post(
        "/v1/predictions", json={"rows": _json_rows(sample)}, headers=headers
    )
    assert by_rows.status_code == 200, by_rows.text
    ids = list(sample["customer_id"])
    by_ids = test_client.post("/v1/predictions", json={"customer_ids": ids}, headers=headers)
    stored = {p["customer_id"]: p for p in by_ids.json()["predictions"]}
    scored = by_rows.json()["predictions"]
    assert [p["customer_id"] for p in scored] == ids and set(stored) == set(ids)
    for prediction in scored:
        expected = stored[prediction["customer_id"]]
        for field, value in prediction.items():
            if isinstance(value, float):
                assert value == pytest.approx(expected[field], rel=1e-9, abs=1e-12), field
            elif field == "spend_by_category":
                assert value == pytest.approx(expected[field], rel=1e-9, abs=1e-12)
            else:
                assert value == expected[field], (prediction["customer_id"], field)
    assert by_rows.json()["ignored_columns"] == []
    assert any(p["top_factors"] for p in scored)


def test_a_new_customer_row_is_scored_from_the_models_as_of(client, feature_rows) -> None:
    test_client, headers = client
    loyal = feature_rows.sort_values("monetary").iloc[-1:].copy()
    loyal["customer_id"] = "new-1"
    rows = _json_rows(loyal)
    del rows[0]["as_of"]
    rows[0]["loyalty_card"] = "gold"
    response = test_client.post("/v1/predictions", json={"rows": rows}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    (prediction,) = body["predictions"]
    assert prediction["customer_id"] == "new-1" and body["ignored_columns"] == ["loyalty_card"]
    assert prediction["expected_spend"] > 0 and prediction["value_tier"] in {"top", "high"}
    as_of = date.fromisoformat(body["model"]["as_of"])
    if prediction["next_order_date"] is not None:
        due = date.fromisoformat(prediction["next_order_date"])
        assert as_of <= due < as_of + timedelta(days=HORIZON)


def test_a_row_for_another_month_is_scored_in_that_months_season(feature_rows, trained) -> None:
    (artifact,) = sorted(Path(trained.home).rglob("value/v*.json"))
    served = ServedValue.from_dict(json.loads(artifact.read_text())["served"])
    # 500 customers carry no season the shrinkage keeps; give the version a known one
    assert served.models.seasons.flat
    served.models.seasons = Seasons(spend=tuple(np.linspace(0.6, 1.4, 12)), orders=(1.0,) * 12)
    starts = (served.as_of, served.as_of + timedelta(days=182))
    row = feature_rows.sort_values("monetary").iloc[-1:]
    rows = pd.concat([row, row], ignore_index=True).assign(
        customer_id=["now", "later"], as_of=[str(d) for d in starts]
    )
    scores, _ = score_rows(served, rows)
    factors = served.models.seasons.factors("spend", list(starts), HORIZON)
    spend = scores["expected_spend"].to_numpy()
    assert spend[1] / spend[0] == pytest.approx(factors[1] / factors[0], rel=1e-9)
    assert factors[1] != pytest.approx(factors[0], rel=0.05)
    # orders have no season here: the same in both months
    assert scores["expected_orders"].iloc[1] == pytest.approx(scores["expected_orders"].iloc[0])


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        (lambda r: r.pop("repeat_spend"), 422, "repeat_spend is empty in row 0"),
        (lambda r: r.update(frequency="many"), 422, "frequency is not a number in row 0"),
        (lambda r: r.update(recency_days=r["tenure_days"] + 5), 422, "do not fit together"),
        (lambda r: r.update(as_of="yesterday"), 422, "is not a date"),
    ],
    ids=["missing-column", "not-a-number", "recency-beyond-tenure", "bad-date"],
)
def test_a_bad_row_is_422_naming_what_to_fix(client, feature_rows, change, status, words) -> None:
    test_client, headers = client
    rows = _json_rows(feature_rows.iloc[:2])
    change(rows[0])
    response = test_client.post("/v1/predictions", json={"rows": rows}, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert words in response.json()["detail"]


def test_batch_shape_problems_are_422(client, feature_rows) -> None:
    test_client, headers = client
    rows = _json_rows(feature_rows.iloc[:2])
    twice = [rows[0], rows[0]]
    cases = [
        ({"rows": twice}, "sent twice"),
        ({"rows": []}, "the batch is empty"),
        ({"rows": rows, "customer_ids": ["x"]}, "not both"),
    ]
    lacking = [{k: v for k, v in row.items() if k != "repeat_spend"} for row in rows]
    cases.append(({"rows": lacking}, "lack 1 feature(s) the model needs: repeat_spend"))
    for payload, words in cases:
        response = test_client.post("/v1/predictions", json=payload, headers=headers)
        assert response.status_code == 422 and words in response.json()["detail"], payload


def test_a_row_past_the_versions_outlier_spend_gets_btyds_spend(feature_rows, trained) -> None:
    """The version keeps the spend past which a customer is outlying at its as_of (1,000
    times the median customer's); a row past it is given BTYD's spend, as the outlying
    customers of the population were, whatever model was chosen for the others."""
    (artifact,) = sorted(Path(trained.home).rglob("value/v*.json"))
    served = ServedValue.from_dict(json.loads(artifact.read_text())["served"])
    assert served.outlier_spend == pytest.approx(outlier_spend(feature_rows["monetary"]))
    row = feature_rows.sort_values("monetary").iloc[-1:].assign(customer_id="trade-1")
    assert row["monetary"].iloc[0] < served.outlier_spend  # the top customer is ordinary
    ordinary, _ = score_rows(served, row)
    served.outlier_spend = float(row["monetary"].iloc[0]) - 1.0
    marked, _ = score_rows(served, row)
    summary = _summary(row.reset_index(drop=True))
    btyd = float(np.asarray(served.btyd.expected_spend(summary, HORIZON))[0])
    season = served.models.season(row.assign(as_of=served.as_of), "spend", HORIZON)[0]
    assert marked["expected_spend"].iloc[0] == pytest.approx(btyd * season, rel=1e-9)
    if served.models.chosen["spend"] != "btyd":
        assert ordinary["expected_spend"].iloc[0] != pytest.approx(btyd * season, rel=1e-6)
