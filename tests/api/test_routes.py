"""The /v1 read, predict and admin routes over a seeded shop (tests/api/seed.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from seed import CHANCE_NOTE, factors_note

from api_helpers import bearer
from custintel.api import create_app
from custintel.appdb.keys import create_key
from custintel.config import Settings

PROBLEM = "application/problem+json"


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    return response.json()


# -- segments ---------------------------------------------------------------------------


def test_segments_counts_from_assignments_shares_and_profiles_from_summary(
    api: TestClient, api_keys: dict[str, str]
) -> None:
    body = api.get("/v1/segments", headers=bearer(api_keys["read"])).json()
    assert body["model"] == {"capability": "segmentation", "version": 2, "as_of": "2024-04-01"}
    assert body["customers"] == 10 and body["scheme"] == "rfm-11"
    # version 2 rotates by one: C001->Loyal, C002->At risk, C003->Champions, ...
    sizes = {s["segment"]: s["customers"] for s in body["segments"]}
    assert sizes == {"Champions": 3, "Loyal": 4, "At risk": 3}
    champions = body["segments"][0]
    assert champions["share_revenue"] == 0.6 and champions["share_customers"] == 0.3
    assert champions["action"] == "look after Champions"
    assert [c["name"] for c in body["clustering"]["clusters"]] == ["cluster 0", "cluster 1"]
    assert body["clustering"]["clusters"][0]["mean"]["frequency"] is None


def test_segment_migration_between_two_dates(api: TestClient, api_keys: dict[str, str]) -> None:
    response = api.get(
        "/v1/segments/migration",
        params={"start": "2024-01-01", "end": "2024-04-01"},
        headers=bearer(api_keys["read"]),
    )
    body = response.json()
    assert response.status_code == 200, body
    flows = {(f["from_segment"], f["to_segment"]): f["customers"] for f in body["flows"]}
    assert flows == {
        ("Champions", "Loyal"): 3,
        ("Loyal", "At risk"): 3,
        ("At risk", "Champions"): 3,
        ("(new)", "Loyal"): 1,  # C010 appears in version 2 only
    }
    assert body["start_model"]["version"] == 1 and body["end_model"]["version"] == 2


def test_segment_migration_by_cluster_counts_everyone(
    api: TestClient, api_keys: dict[str, str]
) -> None:
    body = api.get(
        "/v1/segments/migration",
        params={"start": "2024-01-01", "end": "2024-04-01", "by": "cluster_name"},
        headers=bearer(api_keys["read"]),
    ).json()
    assert sum(f["customers"] for f in body["flows"]) == 10
    assert {"from_segment": "cluster 0", "to_segment": "cluster 0", "customers": 5} in body["flows"]


def test_segment_migration_at_an_unrecorded_date_names_the_recorded_ones(
    api: TestClient, api_keys: dict[str, str]
) -> None:
    response = api.get(
        "/v1/segments/migration",
        params={"start": "2023-12-31", "end": "2024-04-01"},
        headers=bearer(api_keys["read"]),
    )
    body = _problem(response, 404)
    assert "2023-12-31" in body["detail"] and "2024-01-01, 2024-04-01" in body["detail"]


# -- customers --------------------------------------------------------------------------


def test_one_customer_has_segment_predictions_and_factors(
    api: TestClient, api_keys: dict[str, str]
) -> None:
    response = api.get("/v1/customers/C002", headers=bearer(api_keys["read"]))
    body = response.json()
    assert response.status_code == 200, body
    assert body["segment"]["rfm_segment"] == "At risk" and body["segment"]["f_score"] == 2
    assert body["predictions"]["expected_spend"] == 101.0  # value version 1, i=1
    assert body["predictions"]["next_order_date"] == "2024-05-02"
    assert body["top_factors"] == ["last order 1 days ago (lowers churn risk)", "1 orders"]
    assert {(m["capability"], m["version"]) for m in body["models"]} == {
        ("segmentation", 2),
        ("value", 1),
    }


def test_a_customer_carries_the_caveats_of_the_version_that_scored_them(
    api: TestClient, api_keys: dict[str, str]
) -> None:
    """Version 1 (active) measured every column; version 2's churn ranking could be
    chance, and once it serves, the customer and the churn dashboard say so."""
    read, admin = bearer(api_keys["read"]), bearer(api_keys["admin"])
    first = api.get("/v1/customers/C002", headers=read).json()
    assert first["caveats"] == [] and first["factors_note"] == factors_note(1)
    assert api.get("/v1/customers?limit=2", headers=read).json()["caveats"] == []
    assert api.get("/v1/dashboard/churn", headers=read).json()["caveats"] == []

    assert api.post("/v1/models/value/2/activate", headers=admin).status_code == 200
    expected = [
        {"output": "churn_probability", "status": "no better than chance", "note": CHANCE_NOTE}
    ]
    body = api.get("/v1/customers/C002", headers=read).json()
    assert body["predictions"]["expected_spend"] == 201.0  # version 2 answered
    assert body["caveats"] == expected
    assert body["factors_note"] == factors_note(2)  # the top factors' own statement
    churn = api.get("/v1/dashboard/churn", headers=read).json()
    assert churn["caveats"] == expected and churn["factors_note"] == factors_note(2)
    # every payload of value predictions carries them: a page, and a batch by id
    assert api.get("/v1/customers?limit=2", headers=read).json()["caveats"] == expected
    batch = api.post(
        "/v1/predictions", json={"customer_ids": ["C002"]}, headers=bearer(api_keys["predict"])
    )
    assert batch.status_code == 200, batch.text
    assert batch.json()["caveats"] == expected
    # and the model registry lists them per version, whichever serves
    listed = api.get("/v1/models?capability=value", headers=read).json()
    assert {v["version"]: v["caveats"] for v in listed} == {1: [], 2: expected}
    forecasting = api.get("/v1/models?capability=forecasting", headers=read).json()
    assert all(v["caveats"] == [] for v in forecasting)


def test_an_unknown_customer_is_404(api: TestClient, api_keys: dict[str, str]) -> None:
    body = _problem(api.get("/v1/customers/nobody", headers=bearer(api_keys["read"])), 404)
    assert "'nobody'" in body["detail"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"sort": "expected_spend", "limit": 3}, ["C010", "C009", "C008"]),
        ({"sort": "expected_spend", "order": "asc", "limit": 2, "offset": 1}, ["C002", "C003"]),
        # C004 has no churn probability: last whichever the order
        (
            {"sort": "churn_probability", "order": "asc", "limit": 10},
            ["C010", "C009", "C008", "C007", "C006", "C005", "C003", "C002", "C001", "C004"],
        ),
        (
            {"sort": "churn_probability", "limit": 10},
            ["C001", "C002", "C003", "C005", "C006", "C007", "C008", "C009", "C010", "C004"],
        ),
    ],
    ids=["spend-desc", "spend-asc-offset", "churn-asc-nulls-last", "churn-desc-nulls-last"],
)
def test_customer_pages_sort_and_page(
    api: TestClient, api_keys: dict[str, str], params: dict, expected: list[str]
) -> None:
    response = api.get("/v1/customers", params=params, headers=bearer(api_keys["read"]))
    body = response.json()
    assert response.status_code == 200, body
    assert [c["customer_id"] for c in body["items"]] == expected
    assert body["total"] == 10 and body["model"]["version"] == 1


@pytest.mark.parametrize(
    "params",
    [{"sort": "customer_id"}, {"limit": 1001}, {"limit": 0}, {"offset": -1}, {"order": "up"}],
    ids=["sort-not-whitelisted", "limit-too-big", "limit-zero", "offset-negative", "order"],
)
def test_bad_customer_page_parameters_are_422(
    api: TestClient, api_keys: dict[str, str], params: dict
) -> None:
    response = api.get("/v1/customers", params=params, headers=bearer(api_keys["read"]))
    body = _problem(response, 422)
    assert next(iter(params)) in body["detail"]


def test_predictions_batch_lists_unknown_ids_and_dedupes(
    api: TestClient, api_keys: dict[str, str]
) -> None:
    response = api.post(
        "/v1/predictions",
        json={"customer_ids": ["C003", "ghost", "C001", "C003"]},
        headers=bearer(api_keys["predict"]),
    )
    body = response.json()
    assert response.status_code == 200, body
    assert [p["customer_id"] for p in body["predictions"]] == ["C003", "C001"]
    assert body["unknown"] == ["ghost"]


def test_predictions_batch_over_the_maximum_is_422_naming_it(home) -> None:
    app = create_app(Settings(home=home, max_batch_size=2))
    from seed import seed_shop

    seed_shop(app.state.custintel.db)
    with app.state.custintel.db.session() as session:
        key, _ = create_key(session, "predict")
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post(
            "/v1/predictions", json={"customer_ids": ["a", "b", "c"]}, headers=bearer(key)
        )
    body = _problem(response, 422)
    assert "the most is 2" in body["detail"] and body["max_batch_size"] == 2
    app.state.custintel.db.dispose()


@pytest.mark.parametrize(
    "payload",
    [{"customer_ids": []}, {"ids": ["a"]}, {"customer_ids": "C001"}],
    ids=["empty", "wrong-field", "not-a-list"],
)
def test_bad_prediction_bodies_are_422(
    api: TestClient, api_keys: dict[str, str], payload: dict
) -> None:
    response = api.post("/v1/predictions", json=payload, headers=bearer(api_keys["predict"]))
    _problem(response, 422)


def test_feature_rows_on_a_version_without_learners_are_409(
    api: TestClient, api_keys: dict[str, str]
) -> None:
    """A shop too young to train the learners gets a BTYD-only version (as seeded): its
    stored predictions are served by id, feature rows are refused with the reason."""
    response = api.post(
        "/v1/predictions",
        json={"rows": [{"customer_id": "new-1", "recency_days": 3}]},
        headers=bearer(api_keys["predict"]),
    )
    body = _problem(response, 409)
    assert "history too short" in body["detail"] and "send customer_ids" in body["detail"]


# -- forecasts --------------------------------------------------------------------------


def test_forecast_is_a_chartable_payload_cut_to_the_horizon(
    api: TestClient, api_keys: dict[str, str]
) -> None:
    response = api.get(
        "/v1/forecasts",
        params={"timeframe": "weekly", "horizon": 3},
        headers=bearer(api_keys["read"]),
    )
    body = response.json()
    assert response.status_code == 200, body
    assert body["horizon"] == 3 and body["by"] is None
    (total,) = body["series"]
    assert total["series"] == "total" and total["model"] == "AutoETS"
    assert len(total["history"]) == 10 and len(total["forecast"]) == 3
    assert total["forecast"][0] == {
        "date": "2024-03-11",
        "forecast": 200.0,
        "lower_80": 190.0,
        "upper_80": 210.0,
        "lower_95": 180.0,
        "upper_95": 220.0,
    }
    assert total["backtest"]["metrics"]["floor_mase"] == 1.0


def test_forecast_by_category_has_one_series_each(
    api: TestClient, api_keys: dict[str, str]
) -> None:
    body = api.get(
        "/v1/forecasts",
        params={"timeframe": "weekly", "by": "category"},
        headers=bearer(api_keys["read"]),
    ).json()
    assert [s["series"] for s in body["series"]] == ["books", "toys"]
    assert body["horizon"] == 8 and all(len(s["forecast"]) == 8 for s in body["series"])


def test_an_untrained_timeframe_is_404_naming_the_trained_ones(
    api: TestClient, api_keys: dict[str, str]
) -> None:
    response = api.get(
        "/v1/forecasts", params={"timeframe": "daily"}, headers=bearer(api_keys["read"])
    )
    body = _problem(response, 404)
    assert "timeframe=weekly" in body["detail"] and "timeframe=weekly&by=category" in body["detail"]


def test_a_horizon_beyond_the_trained_one_is_422_saying_the_max(
    api: TestClient, api_keys: dict[str, str]
) -> None:
    response = api.get(
        "/v1/forecasts",
        params={"timeframe": "weekly", "horizon": 9},
        headers=bearer(api_keys["read"]),
    )
    body = _problem(response, 422)
    assert body["max_horizon"] == 8 and "at most 8" in body["detail"]


# -- models -----------------------------------------------------------------------------


def test_models_lists_versions_marking_the_active_one(
    api: TestClient, api_keys: dict[str, str]
) -> None:
    body = api.get(
        "/v1/models", params={"capability": "value"}, headers=bearer(api_keys["read"])
    ).json()
    assert [(m["version"], m["active"]) for m in body] == [(2, False), (1, True)]
    everything = api.get("/v1/models", headers=bearer(api_keys["read"])).json()
    assert {m["capability"] for m in everything} == {"segmentation", "value", "forecasting"}


def test_one_model_version_has_its_summary(api: TestClient, api_keys: dict[str, str]) -> None:
    body = api.get("/v1/models/segmentation/1", headers=bearer(api_keys["read"])).json()
    assert body["version"] == 1 and body["active"] is False
    assert body["summary"]["scheme"] == "rfm-11"
    missing = api.get("/v1/models/segmentation/9", headers=bearer(api_keys["read"]))
    assert "versions: 1, 2" in _problem(missing, 404)["detail"]
    _problem(api.get("/v1/models/nothing/1", headers=bearer(api_keys["read"])), 422)


def test_activation_switches_what_customers_are_served(
    api: TestClient, api_keys: dict[str, str]
) -> None:
    response = api.post("/v1/models/value/2/activate", headers=bearer(api_keys["admin"]))
    assert response.status_code == 200 and response.json()["active"] is True
    body = api.get("/v1/customers/C002", headers=bearer(api_keys["read"])).json()
    assert body["predictions"]["expected_spend"] == 201.0
    missing = api.post("/v1/models/value/7/activate", headers=bearer(api_keys["admin"]))
    _problem(missing, 404)


# -- no active model --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", "/v1/segments", "read"),
        ("GET", "/v1/customers", "read"),
        ("GET", "/v1/customers/C001", "read"),
        ("POST", "/v1/predictions", "predict"),
        ("GET", "/v1/forecasts?timeframe=weekly", "read"),
    ],
)
def test_routes_say_train_it_first_before_any_training(
    client: TestClient, keys: dict[str, str], method: str, path: str, scope: str
) -> None:
    response = client.request(
        method,
        path,
        headers=bearer(keys[scope]),
        json={"customer_ids": ["C001"]} if method == "POST" else None,
    )
    assert "train it first" in _problem(response, 409)["detail"]


def test_models_list_is_empty_before_any_training(client: TestClient, keys: dict[str, str]) -> None:
    response = client.get("/v1/models", headers=bearer(keys["read"]))
    assert response.status_code == 200 and response.json() == []


def test_without_by_the_total_comes_from_a_reconciled_split(
    api: TestClient, api_keys: dict[str, str]
) -> None:
    """Training forecasts per category (with the reconciled total) and nothing else:
    asking for the plain total serves that split's "total" series."""
    from datetime import date

    from seed import add_version

    from custintel.appdb.schema import ForecastPoint
    from custintel.registry.versions import activate

    db = api.app.state.custintel.db  # type: ignore[attr-defined]
    with db.session() as session:
        row = add_version(session, "forecasting", 9)
        for series in ("total", "toys"):
            for kind, day in (("history", date(2024, 1, 1)), ("forecast", date(2024, 2, 1))):
                session.add(
                    ForecastPoint(
                        model_version_id=row.id,
                        timeframe="monthly",
                        by="category",
                        series=series,
                        kind=kind,
                        date=day,
                        value=1.0,
                        model="AutoETS" if kind == "forecast" else None,
                    )
                )
        session.flush()
        activate(session, "forecasting", 9)
    body = api.get(
        "/v1/forecasts", params={"timeframe": "monthly"}, headers=bearer(api_keys["read"])
    ).json()
    assert [s["series"] for s in body["series"]] == ["total"]
    assert len(body["series"][0]["forecast"]) == 1


def test_segment_prediction_scores_feature_rows_and_looks_up_ids(
    api: TestClient, api_keys: dict[str, str]
) -> None:
    headers = bearer(api_keys["predict"])
    rows = [
        {"customer_id": "new", "recency_days": 5, "frequency": 9, "monetary": 2000.0},
        {"customer_id": "old", "recency_days": 500, "frequency": 1, "monetary": 10.0},
    ]
    body = api.post("/v1/segments/predict", json={"rows": rows}, headers=headers).json()
    scores = [(s["r_score"], s["f_score"], s["m_score"], s["cluster"]) for s in body["segments"]]
    assert scores == [(5, 5, 5, -1), (1, 1, 1, -1)]
    by_ids = api.post(
        "/v1/segments/predict", json={"customer_ids": ["C001", "zzz"]}, headers=headers
    ).json()
    assert [s["customer_id"] for s in by_ids["segments"]] == ["C001"]
    assert by_ids["unknown"] == ["zzz"]
    both = api.post(
        "/v1/segments/predict", json={"customer_ids": ["C001"], "rows": rows}, headers=headers
    )
    assert both.status_code == 422 and "not both" in both.json()["detail"]
    read_only = api.post(
        "/v1/segments/predict", json={"rows": rows}, headers=bearer(api_keys["read"])
    )
    assert read_only.status_code == 403


def test_an_activation_elsewhere_is_served_within_the_active_ttl(
    api: TestClient, api_keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process (here: the database directly) activates value version 2: this
    process keeps serving version 1 for at most ACTIVE_TTL_SECONDS, then version 2;
    an activation through this process's API is served at once."""
    import time as clock

    from custintel.api import queries
    from custintel.registry.versions import activate

    headers = bearer(api_keys["read"])

    def served_version() -> int:
        models = api.get("/v1/customers/C001", headers=headers).json()["models"]
        return next(m["version"] for m in models if m["capability"] == "value")

    assert served_version() == 1
    db = api.app.state.custintel.db  # type: ignore[attr-defined]
    with db.session() as session:
        activate(session, "value", 2)
    assert served_version() == 1  # remembered
    later = clock.monotonic() + queries.ACTIVE_TTL_SECONDS + 1
    monkeypatch.setattr("custintel.api.queries.time.monotonic", lambda: later)
    assert served_version() == 2
    admin = bearer(api_keys["admin"])
    assert api.post("/v1/models/value/1/activate", headers=admin).status_code == 200
    assert served_version() == 1
