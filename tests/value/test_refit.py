"""The final refit: the regressors learn from the validation cutoff, churn is calibrated on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from custintel.data import Mapping, Store, sync
from custintel.demo import generate_shop, write_shop
from custintel.value import service

pytestmark = pytest.mark.slow


def fit_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[dict[str, Any]], Any, Any, Any]:
    """fit_and_choose on a 300-customer demo shop at a 30-day horizon, every
    fit_candidates call recorded (its train and calibration frames and options)."""
    write_shop(generate_shop(customers=300, seed=5), tmp_path, formats=("parquet",))
    calls: list[dict[str, Any]] = []
    fit = service.fit_candidates

    def recording(train: pd.DataFrame, calibration: pd.DataFrame, **kwargs: Any) -> Any:
        calls.append({"train": train, "calibration": calibration, **kwargs})
        return fit(train, calibration, **kwargs, n_jobs=1)

    monkeypatch.setattr(service, "fit_candidates", recording)
    with Store(tmp_path / "store.duckdb") as store:
        sync(store, Mapping.for_files(orders=tmp_path / "orders.parquet"))
        as_of = store.con.execute("SELECT max(ordered_at)::DATE FROM orders").fetchone()[0]
        final, comparison, plan = service.fit_and_choose(store, as_of, 30)
    return calls, final, comparison, plan


def test_the_final_regressors_learn_from_the_latest_labelled_cutoff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls, final, _, plan = fit_recorded(tmp_path, monkeypatch)
    trial, refit = calls
    validation = plan.validation[0]
    assert trial.get("regression_rows") is None
    assert set(trial["calibration"]["as_of"]) == {plan.calibration[0]}
    # Churn: trained without the validation rows, calibrated on them.
    assert validation not in set(refit["train"]["as_of"])
    assert set(refit["calibration"]["as_of"]) == {validation}
    # Spend, orders and next order: every cutoff, the validation one included.
    learned = set(refit["regression_rows"]["as_of"])
    assert learned == {c for c, _ in plan.train} | {plan.calibration[0], validation}
    assert final.chosen["spend"] in final.candidates


def test_a_shop_past_the_row_cap_trains_on_fewer_cutoffs_and_sampled_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 300 customers stand in for a large shop: a cap of 600 rows fits two cutoffs of
    # them, and from 200 customers LightGBM is the only tree learner.
    monkeypatch.setattr(service, "MAX_TRAIN_ROWS", 600)
    monkeypatch.setattr(service, "LARGE_SHOP", 200)
    calls, _, comparison, plan = fit_recorded(tmp_path, monkeypatch)
    assert len(plan.train) == 2
    assert calls and max(len(call["train"]) for call in calls) <= 600
    assert len(calls[-1]["regression_rows"]) <= 600
    assert "gbm" in comparison["spend"]
    assert not {"xgboost", "random_forest"} & set(comparison["spend"])


def test_past_the_row_cap_the_calibration_and_the_comparison_use_a_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "MAX_TRAIN_ROWS", 150)
    calls, final, comparison, plan = fit_recorded(tmp_path, monkeypatch)
    assert [len(call["calibration"]) for call in calls] == [150, 150]
    # Drawn from every customer at the cutoff, not the first 150 of them.
    assert calls[0]["calibration"]["customer_id"].max() > "C000150"
    assert comparison["churn"][final.chosen["churn"]]["customers"] == 150
    # The final regressors still learn from a sample of every labelled cutoff.
    learned = set(calls[-1]["regression_rows"]["as_of"])
    assert learned == {c for c, _ in plan.train} | {plan.calibration[0], plan.validation[0]}
