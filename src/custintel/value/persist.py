"""Fitted value models as plain JSON, so that a served version can score feature rows.

Every learner is stored in its library's own format, none of which runs code when read
(principle 5 of DESIGN.md: artifacts are never unpickled):

- LightGBM: its model text (``Booster.model_to_string``), read back by
  ``lgb.Booster(model_str=...)`` behind :class:`SavedLightGBM`, which answers
  ``predict`` and ``predict_proba`` as the scikit-learn wrapper it was saved from;
- XGBoost: its JSON model (``save_raw("json")``), loaded into a fresh scikit-learn
  wrapper;
- scikit-learn's random forests: skops, deflated (base64 in the JSON). skops rebuilds
  only the types it is told to trust; :func:`learner_from_dict` trusts scikit-learn's
  forest and tree classes and NumPy's arrays, and refuses a file naming anything else.

The calibration maps, RFM cells and fill values are numbers. :func:`models_to_dict` and
:func:`models_from_dict` round-trip a :class:`~custintel.value.models.ValueModels`: the
restored models give the same predictions (tests/value/test_persist.py).
"""

from __future__ import annotations

import base64
import math
import zipfile
from typing import Any

import numpy as np
import pandas as pd

from custintel.errors import ConfigError
from custintel.value.calibration import CenteredIsotonic
from custintel.value.models import ChurnClassifiers, ValueModels
from custintel.value.seasons import Seasons

__all__ = [
    "SavedLightGBM",
    "learner_from_dict",
    "learner_to_dict",
    "models_from_dict",
    "models_to_dict",
]

FORMAT = "custintel.value-models"
FORMAT_VERSION = 1
# The types a stored forest may contain (skops names them module.qualname).
TRUSTED_PREFIXES = ("sklearn.ensemble._forest.", "sklearn.tree.", "numpy.")


class SavedLightGBM:
    """A LightGBM model read back from its text: ``predict`` (a regressor's values) and,
    for a classifier, ``predict_proba``, as the scikit-learn wrapper it was saved from
    gives them; ``booster`` for its SHAP contributions (``value/explain.py``)."""

    def __init__(self, text: str, classifier: bool) -> None:
        import lightgbm as lgb

        self.booster = lgb.Booster(model_str=text)
        self.classifier = classifier

    def predict(self, inputs: pd.DataFrame) -> np.ndarray:
        """The booster's output for ``inputs``: values (a regressor) or P(class 1) (a
        classifier)."""
        return np.asarray(self.booster.predict(inputs))

    def predict_proba(self, inputs: pd.DataFrame) -> np.ndarray:
        """P(class 0) and P(class 1) per row, as ``LGBMClassifier.predict_proba``."""
        if not self.classifier:
            raise TypeError("a LightGBM regressor has no predict_proba")
        positive = self.predict(inputs)
        return np.column_stack([1 - positive, positive])


def learner_to_dict(model: Any) -> dict[str, Any]:
    """One fitted learner (LightGBM, XGBoost or a scikit-learn forest) as JSON-able
    data."""
    import lightgbm as lgb
    import xgboost as xgb
    from sklearn.base import is_classifier
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    if isinstance(model, SavedLightGBM):
        return {
            "format": "lightgbm",
            "classifier": model.classifier,
            "model": model.booster.model_to_string(),
        }
    if isinstance(model, lgb.LGBMModel):
        return {
            "format": "lightgbm",
            "classifier": is_classifier(model),
            "model": model.booster_.model_to_string(),
        }
    if isinstance(model, xgb.XGBModel):
        raw = model.get_booster().save_raw("json")
        return {"format": "xgboost", "classifier": is_classifier(model), "model": raw.decode()}
    if isinstance(model, RandomForestRegressor | RandomForestClassifier):
        import skops.io as sio

        return {
            "format": "skops",
            "classifier": is_classifier(model),
            # Deflated: a forest's arrays shrink about 4x for some 40 ms more to save.
            "model": base64.b64encode(
                sio.dumps(model, compression=zipfile.ZIP_DEFLATED, compresslevel=6)
            ).decode("ascii"),
        }
    raise ConfigError(f"cannot store a {type(model).__name__} learner")


def learner_from_dict(data: dict[str, Any]) -> Any:
    """The learner :func:`learner_to_dict` stored; a skops file naming a type outside
    scikit-learn's forests and trees and NumPy is refused."""
    kind, classifier = data.get("format"), bool(data.get("classifier"))
    if kind == "lightgbm":
        return SavedLightGBM(data["model"], classifier)
    if kind == "xgboost":
        import xgboost as xgb

        model = xgb.XGBClassifier() if classifier else xgb.XGBRegressor()
        model.load_model(bytearray(data["model"].encode()))
        return model
    if kind == "skops":
        import skops.io as sio

        raw = base64.b64decode(data["model"])
        types = sio.get_untrusted_types(data=raw)
        refused = [t for t in types if not t.startswith(TRUSTED_PREFIXES)]
        if refused:
            raise ConfigError(
                f"the stored forest names types outside scikit-learn's trees: {refused}",
                hint="retrain the value model; do not edit model files",
            )
        return sio.loads(raw, trusted=types)
    raise ConfigError(f"unknown learner format {kind!r}", hint="retrain the value model")


def models_to_dict(models: ValueModels) -> dict[str, Any]:
    """What a :class:`ValueModels` needs to predict, as JSON-able data (the
    cross-validation record stays in the run's summary)."""
    churn = models.churn or ChurnClassifiers(features=models.features)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "features": list(models.features),
        "candidates": list(models.candidates),
        "imbalance": models.imbalance,
        "chosen": dict(models.chosen),
        "averaged": {target: list(parts) for target, parts in models.averaged.items()},
        "categories": list(models.categories),
        "window_days": models.window_days,
        "seasons": models.seasons.to_dict(),
        # JSON has no infinity: the shop's mix for everyone is stored as "inf".
        "category_prior": models.category_prior if math.isfinite(models.category_prior) else "inf",
        "category_mix": dict(models.category_mix),
        "regressors": {
            target: {name: learner_to_dict(model) for name, model in learners.items()}
            for target, learners in models.regressors.items()
        },
        "churn": {
            "features": list(churn.features),
            "models": {name: learner_to_dict(model) for name, model in churn.models.items()},
            "fill": dict(churn.fill),
        },
        "calibrators": {name: c.to_dict() for name, c in models.calibrators.items()},
        "cell_edges": {name: edges.tolist() for name, edges in models.cell_edges.items()},
        "cell_rates": {
            target: {str(cell): float(rate) for cell, rate in rates.items()}
            for target, rates in models.cell_rates.items()
        },
    }


def models_from_dict(data: dict[str, Any]) -> ValueModels:
    """The :class:`ValueModels` that :func:`models_to_dict` stored."""
    if data.get("format") != FORMAT or data.get("format_version") != FORMAT_VERSION:
        raise ConfigError(
            f"not value models of format {FORMAT} version {FORMAT_VERSION}",
            hint="retrain the value model with this custintel version",
        )
    churn = data["churn"]
    return ValueModels(
        features=list(data["features"]),
        candidates=tuple(data["candidates"]),
        imbalance=str(data["imbalance"]),
        regressors={
            target: {name: learner_from_dict(model) for name, model in learners.items()}
            for target, learners in data["regressors"].items()
        },
        churn=ChurnClassifiers(
            features=list(churn["features"]),
            models={name: learner_from_dict(model) for name, model in churn["models"].items()},
            fill={str(k): float(v) for k, v in churn["fill"].items()},
        ),
        calibrators={
            name: CenteredIsotonic.from_dict(c) for name, c in data["calibrators"].items()
        },
        cell_edges={name: np.asarray(edges, float) for name, edges in data["cell_edges"].items()},
        cell_rates={
            target: pd.Series({int(cell): rate for cell, rate in rates.items()}, dtype=float)
            for target, rates in data["cell_rates"].items()
        },
        chosen=dict(data["chosen"]),
        # Absent from versions stored before ties were averaged: none were.
        averaged={str(t): list(parts) for t, parts in data.get("averaged", {}).items()},
        categories=list(data["categories"]),
        # Absent from versions stored before the churn window was kept: their churn
        # probabilities were served over the label window unconverted, as they still are.
        window_days=data.get("window_days"),
        seasons=Seasons.from_dict(data.get("seasons")),
        # Absent from versions stored before the split had a prior: own shares only.
        category_prior=float(data.get("category_prior", 0.0)),
        # Absent from those too: the mix of the customers scored, as it then was.
        category_mix={str(k): float(v) for k, v in data.get("category_mix", {}).items()},
    )
