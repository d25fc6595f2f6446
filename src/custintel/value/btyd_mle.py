"""Maximum likelihood fits of the BTYD order models, each likelihood compiled once.

PyMC-Marketing's ``model.fit(method="map")`` builds a new PyMC model around each data set
and compiles five PyTensor functions for it, with the data folded into the graphs as
constants. Every fit then pays PyTensor's graph rewriting (about half a second, whatever
the number of customers), and a machine that has not compiled those graphs before also
pays gcc: a 600-customer shop's scoring took 45 s with an empty compile cache and 20 s
with a warm one, against 35 s and 17 s with this module (docs/performance.md).

Here the log-likelihood of PyMC-Marketing's own distributions (``BetaGeoNBD``,
``ModifiedBetaGeoNBD``, ``ParetoNBD``) and its gradient are compiled once per family and
process, with the customers' frequency, recency and T as inputs, and maximised the way
``pymc.find_MAP`` does it: scipy's L-BFGS-B over the log of each parameter, starting from
1 (the initial point of PyMC's flat positive prior), stopped after 5,000 evaluations at
the last point with a finite gradient. With flat priors that is the estimate
``fit(method="map")`` finds (on CDNOW the two agree to 1e-4 in every parameter; a
test). What is written here is only that driver; the likelihoods are the library's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from custintel.value.btyd_model import ORDER_PARAMETERS, checked_summary, quiet_pymc

__all__ = ["MAX_EVALUATIONS", "library_model", "log_likelihood", "max_likelihood"]

# pymc.find_MAP's default budget of likelihood evaluations.
MAX_EVALUATIONS = 5000

# A compiled PyTensor function keeps its inputs and outputs in storage of its own, so one
# shared by the threads of `custintel worker --workers N` is called by one at a time.
_ONE_CALL_AT_A_TIME = threading.Lock()

_Compiled = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], list[np.ndarray]]


def library_model(family: str, *, flat: bool = True) -> Any:
    """An unfitted PyMC-Marketing order model of the family: with flat priors on its
    four parameters (its MAP fit is then the maximum likelihood estimate), or with
    ``flat=False`` the library's default priors."""
    with quiet_pymc():
        from pymc_extras.prior import Prior
        from pymc_marketing import clv

        model_class = {
            "bgnbd": clv.BetaGeoModel,
            "mbgnbd": clv.ModifiedBetaGeoModel,
            "paretonbd": clv.ParetoNBDModel,
        }[family]
        config = {name: Prior("HalfFlat") for name in ORDER_PARAMETERS[family]} if flat else None
        return model_class(model_config=config)


@cache
def _compiled(family: str) -> _Compiled:
    """The family's log-likelihood summed over customers and its gradient with respect
    to the log parameters (in :data:`ORDER_PARAMETERS` order), as one function of (log
    parameters, T, recency, frequency)."""
    with quiet_pymc():
        import pymc as pm
        import pytensor
        import pytensor.tensor as pt
        from pymc.pytensorf import compile as compile_pymc
        from pymc_marketing.clv import distributions

        distribution: Any = {
            "bgnbd": distributions.BetaGeoNBD,
            "mbgnbd": distributions.ModifiedBetaGeoNBD,
            "paretonbd": distributions.ParetoNBD,
        }[family]
        log_parameters = pt.dvector("log_parameters")
        t, recency, frequency = pt.dvector("T"), pt.dvector("recency"), pt.dvector("frequency")
        parameters = {
            name: pt.exp(log_parameters[i]) for i, name in enumerate(ORDER_PARAMETERS[family])
        }
        variable = distribution.dist(**parameters, T=t)
        total = pm.logp(variable, pt.stack([recency, frequency], axis=1)).sum()
        gradient = pytensor.grad(total, log_parameters)
        # PyMC's compile, as find_MAP's: a parameter out of its support gives -inf
        return compile_pymc([log_parameters, t, recency, frequency], [total, gradient])


def _columns(summary: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = checked_summary(summary, ("frequency", "recency", "T"))
    return (
        data["T"].to_numpy(float),
        data["recency"].to_numpy(float),
        data["frequency"].to_numpy(float),
    )


def log_likelihood(family: str, parameters: Mapping[str, float], summary: pd.DataFrame) -> float:
    """The family's log-likelihood with these parameters on the summary's customers."""
    log_parameters = np.log([float(parameters[name]) for name in ORDER_PARAMETERS[family]])
    function, columns = _compiled(family), _columns(summary)
    with np.errstate(divide="ignore"), quiet_pymc(), _ONE_CALL_AT_A_TIME:
        total, _ = function(log_parameters, *columns)
    return float(total)


def max_likelihood(family: str, summary: pd.DataFrame) -> dict[str, float]:
    """The family's maximum likelihood parameters on the summary's customers, by name
    (what PyMC-Marketing's MAP fit with flat priors finds)."""
    function, columns = _compiled(family), _columns(summary)
    evaluations = 0
    last_finite: np.ndarray | None = None

    def negative(log_parameters: np.ndarray) -> tuple[float, np.ndarray]:
        nonlocal evaluations, last_finite
        with quiet_pymc(), _ONE_CALL_AT_A_TIME:
            total, gradient = function(log_parameters, *columns)
        if np.isfinite(gradient).all():
            last_finite = log_parameters
        if evaluations > MAX_EVALUATIONS:
            raise StopIteration
        evaluations += 1
        return -float(total), -np.asarray(gradient, float)

    start = np.zeros(len(ORDER_PARAMETERS[family]))
    try:
        found = minimize(negative, start, method="L-BFGS-B", jac=True).x
    except StopIteration:
        found = last_finite if last_finite is not None else start
    values = np.exp(np.asarray(found, float))
    return {name: float(v) for name, v in zip(ORDER_PARAMETERS[family], values, strict=True)}
