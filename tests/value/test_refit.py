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


def test_the_final_regressors_learn_from_the_latest_labelled_cutoff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
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
        final, _, plan = service.fit_and_choose(store, as_of, 30)
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
