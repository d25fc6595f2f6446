"""Training examples built so that the right model is known, shared by the tests of
the candidates and of the choice step."""

from __future__ import annotations

import numpy as np
import pandas as pd

WINDOW = 30


def examples_frame(rng: np.random.Generator, n: int, *, btyd_knows: bool = False) -> pd.DataFrame:
    """Examples where spend and churn depend on one feature, ``signal`` (missing for a
    fifth of the customers, as the gap features are for one-order customers). With
    ``btyd_knows`` the BTYD rates are the true rates; without, they are noise."""
    signal = rng.uniform(0, 1, n)
    true_rate = 3 * signal**2
    spend = rng.poisson(true_rate * WINDOW / 10) * 10.0
    orders = (spend > 0).astype(float) + (spend > 20)
    btyd_rate = true_rate if btyd_knows else rng.uniform(0, 3, n)
    gap = np.where(rng.uniform(size=n) < 0.2, np.nan, rng.uniform(10, 90, n))
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "signal": signal,
            "recency_days": rng.integers(1, 300, n).astype(float),
            "frequency": rng.integers(1, 10, n).astype(float),
            "tenure_days": rng.integers(30, 900, n).astype(float),
            "spend_365d": rng.uniform(0, 500, n),
            "orders_365d": rng.integers(0, 10, n).astype(float),
            "ipi_mean_days": gap,
            "btyd_spend_rate": btyd_rate,
            "btyd_orders_rate": btyd_rate / 10,
            "btyd_p_alive": rng.uniform(0, 1, n),
            "window_days": WINDOW,
            "spend": spend,
            "orders": orders,
            "spend_rate": spend / WINDOW,
            "orders_rate": orders / WINDOW,
            "churned": orders == 0,
            "days_to_next_order": np.where(orders > 0, rng.integers(0, WINDOW, n), np.nan),
        }
    )
