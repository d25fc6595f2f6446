"""MAP fits of PyMC-Marketing's BTYD models, each model compiled once per process.

PyMC-Marketing's ``model.fit(method="map")`` builds a new PyMC model around each data set
and compiles it, with the data folded into the graphs as constants. Every fit then pays
PyTensor's graph rewriting (about half a second, whatever the number of customers), and
a machine that has not compiled those graphs before also pays gcc: a 600-customer
shop's scoring took 45 s with an empty compile cache and 20 s with a warm one, against
35 s and 17 s once the order models were compiled once (docs/performance.md).

Here each of the library's models (``BetaGeoModel``, ``ModifiedBetaGeoModel``,
``ParetoNBDModel``, ``GammaGammaModel``; with flat priors or the library's default
ones) is built once per process on a few placeholder customers, the constants that
carry their data in its log-posterior are replaced by inputs, and the graph and its
gradient are compiled. Each fit then maximises it the way ``pymc.find_MAP`` does:
scipy's L-BFGS-B over the model's transformed parameters from the model's initial
point, stopped after 5,000 evaluations at the last point with a finite gradient. On
CDNOW both ways find the same parameters to 1e-4 (a test). What is written here is only
that driver and the swap of constants; the models and their likelihoods are the
library's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from custintel.value.btyd_model import (
    GAMMA_GAMMA_PARAMETERS,
    ORDER_PARAMETERS,
    checked_summary,
    quiet_pymc,
)

__all__ = ["MAX_EVALUATIONS", "MODELS", "fit_map", "library_model", "log_likelihood"]

# pymc.find_MAP's default budget of log-posterior evaluations.
MAX_EVALUATIONS = 5000

# Each model's parameters and the summary columns its likelihood reads.
MODELS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    **{
        family: (names, ("frequency", "recency", "T")) for family, names in ORDER_PARAMETERS.items()
    },
    "gamma_gamma": (GAMMA_GAMMA_PARAMETERS, ("frequency", "monetary_value")),
}

# A compiled PyTensor function keeps its inputs and outputs in storage of its own, so one
# shared by the threads of `custintel worker --workers N` is called by one at a time.
_ONE_CALL_AT_A_TIME = threading.Lock()

# The customers the models are built on before their data become inputs: every value
# distinct, so that each constant in the graph tells which column it holds, and a count
# (7) that no parameter vector of these models has.
_PLACEHOLDER = pd.DataFrame(
    {
        "customer_id": [f"placeholder {i}" for i in range(7)],
        "frequency": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
        "recency": [10.5, 11.5, 12.5, 13.5, 14.5, 15.5, 16.5],
        "T": [20.25, 21.25, 22.25, 23.25, 24.25, 25.25, 26.25],
        "monetary_value": [30.75, 31.75, 32.75, 33.75, 34.75, 35.75, 36.75],
    }
)


def library_model(kind: str, *, flat: bool = True) -> Any:
    """An unfitted PyMC-Marketing model of ``kind`` (a family of :data:`ORDER_PARAMETERS`
    or ``"gamma_gamma"``): with flat priors on its parameters (its MAP fit is then the
    maximum likelihood estimate), or with ``flat=False`` the library's default priors."""
    with quiet_pymc():
        from pymc_extras.prior import Prior
        from pymc_marketing import clv

        model_class: Any = {
            "bgnbd": clv.BetaGeoModel,
            "mbgnbd": clv.ModifiedBetaGeoModel,
            "paretonbd": clv.ParetoNBDModel,
            "gamma_gamma": clv.GammaGammaModel,
        }[kind]
        config = {name: Prior("HalfFlat") for name in MODELS[kind][0]} if flat else None
        return model_class(model_config=config)


@dataclass(frozen=True)
class _Compiled:
    """One model's log-posterior and its gradient as a function of (the transformed
    parameters, named in ``transformed``, then the data columns), the parameters as a
    function of the transformed ones, and the initial point ``find_MAP`` starts from."""

    log_posterior: Callable[..., list[np.ndarray]]
    parameters: Callable[..., list[np.ndarray]]
    transformed: tuple[str, ...]
    start: np.ndarray


def _data_inputs(graph: Any, columns: tuple[str, ...]) -> tuple[list[Any], dict[Any, Any]]:
    """An input vector per data column, and the replacement of each constant of the
    graph that holds placeholder data by those inputs (a 2-D constant holds columns side
    by side, as an order model's observed (recency, frequency)). Raises RuntimeError
    when a constant of the placeholder's length is left that matches no columns: the
    library passes its data in a way this module does not know."""
    import pytensor.tensor as pt
    from pytensor.graph.traversal import ancestors
    from pytensor.tensor.variable import TensorConstant

    inputs = {name: pt.dvector(name) for name in columns}
    placeholder = {name: _PLACEHOLDER[name].to_numpy(float) for name in columns}
    replacements: dict[Any, Any] = {}
    for constant in ancestors([graph]):
        if not isinstance(constant, TensorConstant) or constant.data.ndim not in (1, 2):
            continue
        data = np.asarray(constant.data, float)
        if data.shape[0] != len(_PLACEHOLDER):
            continue
        side_by_side = data.reshape(len(data), -1).T
        names = [
            next((n for n in columns if np.array_equal(column, placeholder[n])), None)
            for column in side_by_side
        ]
        if None in names:
            raise RuntimeError(
                f"a constant of the PyMC-Marketing model holds data custintel cannot "
                f"replace ({constant.type}); the pymc-marketing release may be newer "
                "than custintel knows"
            )
        matched = [inputs[n] for n in names if n is not None]
        replacements[constant] = matched[0] if data.ndim == 1 else pt.stack(matched, axis=1)
    return [inputs[name] for name in columns], replacements


@cache
def _compiled(kind: str, flat: bool) -> _Compiled:
    """The model of ``kind`` compiled once per process (see the module docstring)."""
    with quiet_pymc():
        import pytensor
        from pymc.pytensorf import compile as compile_pymc

        library = library_model(kind, flat=flat)
        library.build_model(_PLACEHOLDER)
        model = library.model
        values = model.value_vars
        if any(value.ndim != 0 for value in values):
            raise RuntimeError(
                f"PyMC-Marketing's {kind} model has a parameter that is not a scalar"
            )
        # find_MAP's objective: the log-posterior without the transforms' Jacobian
        log_posterior = model.logp(jacobian=False)
        inputs, replacements = _data_inputs(log_posterior, MODELS[kind][1])
        swapped = pytensor.clone_replace(log_posterior, replacements, rebuild_strict=False)
        gradient = list(pytensor.grad(swapped, values))  # type: ignore[arg-type]
        parameters = model.replace_rvs_by_values([model[name] for name in MODELS[kind][0]])
        initial = model.initial_point()
        return _Compiled(
            # PyMC's compile, as find_MAP's: a parameter out of its support gives -inf.
            # A data input left out of the graph (a library release holding its data
            # some other way) makes it raise rather than fit the placeholder.
            log_posterior=compile_pymc([*values, *inputs], [swapped, *gradient]),
            parameters=compile_pymc(values, parameters, on_unused_input="ignore"),
            transformed=tuple(value.name for value in values),
            start=np.array([float(initial[value.name]) for value in values]),
        )


def _columns(kind: str, data: pd.DataFrame) -> list[np.ndarray]:
    columns = MODELS[kind][1]
    checked = checked_summary(data, columns)
    return [checked[name].to_numpy(float) for name in columns]


def log_likelihood(family: str, parameters: Mapping[str, float], summary: pd.DataFrame) -> float:
    """An order family's log-likelihood with these parameters on the summary's customers
    (its flat-prior model's log-posterior, whose transformed parameters are their logs:
    PyMC names the log of ``r`` ``r_log__``)."""
    compiled = _compiled(family, True)
    point = np.log(
        [float(parameters[name.removesuffix("_log__")]) for name in compiled.transformed]
    )
    with np.errstate(divide="ignore"), quiet_pymc(), _ONE_CALL_AT_A_TIME:
        total, *_ = compiled.log_posterior(*point, *_columns(family, summary))
    return float(total)


def fit_map(kind: str, data: pd.DataFrame, *, flat: bool = True) -> dict[str, float]:
    """The MAP parameters of the model of ``kind`` on ``data``'s customers, by name: with
    flat priors the maximum likelihood estimate, what PyMC-Marketing's
    ``fit(method="map")`` finds with the same priors."""
    compiled, columns = _compiled(kind, flat), _columns(kind, data)
    evaluations = 0
    last_finite: np.ndarray | None = None

    def negative(point: np.ndarray) -> tuple[float, np.ndarray]:
        nonlocal evaluations, last_finite
        with quiet_pymc(), _ONE_CALL_AT_A_TIME:
            total, *gradient = compiled.log_posterior(*point, *columns)
        if np.isfinite(gradient).all():
            last_finite = point
        if evaluations > MAX_EVALUATIONS:
            raise StopIteration
        evaluations += 1
        return -float(total), -np.asarray(gradient, float)

    try:
        found = minimize(negative, compiled.start, method="L-BFGS-B", jac=True).x
    except StopIteration:
        found = last_finite if last_finite is not None else compiled.start
    with quiet_pymc(), _ONE_CALL_AT_A_TIME:
        values = compiled.parameters(*np.asarray(found, float))
    return {name: float(v) for name, v in zip(MODELS[kind][0], values, strict=True)}
