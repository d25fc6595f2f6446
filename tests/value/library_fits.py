"""PyMC-Marketing's own MAP fits with flat priors: the reference that custintel's fits
(``custintel.value.btyd_map``, the library's models compiled once) are held to, and
the source of the library's predictions that the closed forms are compared with."""

from __future__ import annotations

from typing import Any

import pandas as pd

from custintel.value.btyd_map import MODELS, library_model
from custintel.value.btyd_model import FAMILIES, BTYDModel, quiet_pymc


def library_fit(summary: pd.DataFrame, kind: str = "bgnbd", *, flat: bool = True) -> Any:
    """PyMC-Marketing's model of ``kind`` (an order family or ``"gamma_gamma"``) fitted
    to the summary by ``fit(method="map")``, with flat priors or (``flat=False``) its
    default ones."""
    model = library_model(kind, flat=flat)
    columns = ["customer_id", *MODELS[kind][1]]
    with quiet_pymc():
        model.fit(summary[columns].reset_index(drop=True), method="map", progressbar=False)
    return model


def fitted_parameters(fitted: Any, kind: str) -> dict[str, float]:
    """A library fit's MAP parameters of ``kind``, by name."""
    return {name: float(fitted.fit_result[name].mean()) for name in MODELS[kind][0]}


def model_of(orders: Any, family: str, gamma_gamma: Any | None = None) -> BTYDModel:
    """custintel's model with the parameters of library fits of ``family`` and, when
    given, of Gamma-Gamma."""
    assert family in FAMILIES
    spend = fitted_parameters(gamma_gamma, "gamma_gamma") if gamma_gamma is not None else None
    return BTYDModel.from_parameters(
        family, fitted_parameters(orders, family), spend, mean_order_value=0.0
    )
