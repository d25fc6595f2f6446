"""PyMC-Marketing's own MAP fits with flat priors: the reference that custintel's
maximum likelihood fits (``custintel.value.btyd_mle``) are held to, and the source of
the library's predictions that the closed forms are compared with."""

from __future__ import annotations

from typing import Any

import pandas as pd

from custintel.value.btyd_mle import library_model
from custintel.value.btyd_model import quiet_pymc


def library_fit(summary: pd.DataFrame, family: str = "bgnbd") -> Any:
    """PyMC-Marketing's order model of ``family`` fitted to the summary by
    ``fit(method="map")`` with flat priors on its four parameters."""
    model = library_model(family)
    columns = ["customer_id", "frequency", "recency", "T"]
    with quiet_pymc():
        model.fit(summary[columns].reset_index(drop=True), method="map", progressbar=False)
    return model
