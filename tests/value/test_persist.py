"""Fitted value models survive a JSON round trip with the same predictions, and a
stored forest naming an untrusted type is refused."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import numpy as np
import pytest
from synthetic import WINDOW, examples_frame

from custintel.errors import ConfigError
from custintel.value.explain import explain_churn
from custintel.value.models import CANDIDATES, fit_candidates
from custintel.value.persist import (
    learner_from_dict,
    learner_to_dict,
    models_from_dict,
    models_to_dict,
)
from custintel.value.rows import _forests_on_one_thread


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(7)
    train, calibration = examples_frame(rng, 1500), examples_frame(rng, 600)
    models = fit_candidates(train, calibration, candidates=CANDIDATES, n_jobs=1)
    models.chosen = {"spend": "blend", "orders": "gbm", "churn": "random_forest"}
    models.categories = ["toys"]
    models.window_days = 47
    return models, examples_frame(rng, 400)


def test_every_candidate_predicts_the_same_after_a_json_round_trip(fitted) -> None:
    models, frame = fitted
    restored = models_from_dict(json.loads(json.dumps(models_to_dict(models))))
    assert restored.chosen == models.chosen and restored.categories == ["toys"]
    assert restored.window_days == 47  # the window churn was calibrated on
    older = models_to_dict(models)
    del older["window_days"]  # stored before the window was kept
    assert models_from_dict(json.loads(json.dumps(older))).window_days is None
    expected = {
        "spend": set(CANDIDATES),
        "orders": set(CANDIDATES) - {"orders_x_value"},  # a spend candidate only
        "churn": {"btyd", "gbm", "xgboost", "random_forest", "blend"},
    }
    for target, names in expected.items():
        before = models.predict(frame, target, WINDOW)
        after = restored.predict(frame, target, WINDOW)
        assert before.keys() == after.keys() == names
        for name in before:
            np.testing.assert_allclose(
                after[name], before[name], rtol=1e-9, err_msg=f"{target} {name}"
            )
    for name, days in models.next_order_days(frame, WINDOW).items():
        np.testing.assert_allclose(restored.next_order_days(frame, WINDOW)[name], days, rtol=1e-9)


def test_the_restored_lightgbm_classifier_explains_in_the_same_words(fitted) -> None:
    models, frame = fitted
    restored = models_from_dict(json.loads(json.dumps(models_to_dict(models))))
    words, importance = explain_churn(models.classifier, frame, models.features)
    again, again_importance = explain_churn(restored.classifier, frame, restored.features)
    assert again == words
    assert again_importance == pytest.approx(importance)


def test_a_forest_naming_an_untrusted_type_is_refused(fitted) -> None:
    models, _ = fitted
    stored = learner_to_dict(models.churn.models["random_forest"])
    raw = base64.b64decode(stored["model"])
    # skops files are zip archives whose schema.json names each object's type
    source = zipfile.ZipFile(io.BytesIO(raw))
    schema = source.read("schema.json").decode().replace("sklearn.ensemble._forest", "os", 1)
    tampered = io.BytesIO()
    with zipfile.ZipFile(tampered, "w") as out:
        for item in source.namelist():
            out.writestr(item, schema if item == "schema.json" else source.read(item))
    stored["model"] = base64.b64encode(tampered.getvalue()).decode()
    with pytest.raises(ConfigError, match="outside scikit-learn"):
        learner_from_dict(stored)


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ConfigError, match="not value models"):
        models_from_dict({"format": "pickle"})
    with pytest.raises(ConfigError, match="unknown learner format"):
        learner_from_dict({"format": "pickle", "model": ""})


def test_a_served_forest_predicts_the_same_on_one_thread(fitted) -> None:
    models, frame = fitted
    restored = models_from_dict(json.loads(json.dumps(models_to_dict(models))))
    forests = [restored.regressors[t]["random_forest"] for t in ("spend", "orders")]
    forests.append(restored.churn.models["random_forest"])
    for forest in forests:
        forest.n_jobs = 2  # as a forest fitted on a 2-core machine
    before = restored.predict(frame, "spend", WINDOW)["random_forest"]
    _forests_on_one_thread(restored)
    assert [f.n_jobs for f in forests] == [1, 1, 1]
    # The same answers, but for the order in which the trees' outputs are summed.
    after = restored.predict(frame, "spend", WINDOW)["random_forest"]
    np.testing.assert_allclose(after, before, rtol=1e-12)


def test_a_forest_is_stored_deflated_and_one_stored_plain_still_loads(fitted) -> None:
    import skops.io as sio

    models, frame = fitted
    forest = models.churn.models["random_forest"]
    stored = learner_to_dict(forest)
    archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(stored["model"])))
    assert {item.compress_type for item in archive.infolist()} == {zipfile.ZIP_DEFLATED}
    # Versions saved before forests were deflated hold a plain skops archive.
    plain = {**stored, "model": base64.b64encode(sio.dumps(forest)).decode()}
    assert len(plain["model"]) > 2 * len(stored["model"])
    inputs = models.churn.inputs(frame)
    for restored in (learner_from_dict(stored), learner_from_dict(plain)):
        np.testing.assert_allclose(restored.predict_proba(inputs), forest.predict_proba(inputs))
