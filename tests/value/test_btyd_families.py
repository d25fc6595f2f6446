"""BTYD order-model families: MBG/NBD and Pareto/NBD beside BG/NBD, and the choice.

Fast: closed forms of fixed (injected) models against independent references (the
Pareto/NBD P(alive) integral by quadrature, the textbook MBG/NBD expressions), storage
per family, and the choice's bookkeeping with failing or sampled families. Slow (they
fit): recovery of simulated parameters, and "auto" picking the family that generated
the data. The CDNOW cross-checks against PyMC-Marketing's own predictions are in
test_btyd.py, next to the CDNOW fixture.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad
from scipy.special import expit, hyp2f1
from simulate import bgnbd_purchases, quiet_in_holdout

from custintel.errors import ConfigError, NotEnoughData
from custintel.value import btyd, btyd_map, btyd_model
from custintel.value.btyd import FAMILIES, BTYDModel, fit_btyd, log_likelihood

# Fader, Hardie & Lee's Pareto/NBD fit of the CDNOW 1/10 sample (alpha < beta), two with
# alpha and beta 60 times apart, and PyMC-Marketing's MBG/NBD fit of the same sample
# (rounded; test_btyd.py fits it).
PARETO_CDNOW = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
PARETO_FAST_DROPOUT = {"r": 2.0, "alpha": 30.0, "s": 3.0, "beta": 0.5}
PARETO_LONG_LIFE = {"r": 2.0, "alpha": 0.5, "s": 3.0, "beta": 60.0}
MBGNBD_CDNOW = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}
BGNBD_CDNOW = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
FIXED = {
    "bgnbd": BTYDModel(**BGNBD_CDNOW, p=6.25, q=3.74, v=15.44, mean_order_value=35.0),
    "mbgnbd": BTYDModel(**MBGNBD_CDNOW, family="mbgnbd", mean_order_value=35.0),
    "paretonbd": BTYDModel(**PARETO_CDNOW, family="paretonbd", p=6.25, q=3.74, v=15.44),
}


def summary(rows: list[tuple[float, float, float]]) -> pd.DataFrame:
    """A summary frame from (frequency, recency, T) rows, ids c0, c1..., spend 20."""
    frame = pd.DataFrame(rows, columns=["frequency", "recency", "T"])
    frame.insert(0, "customer_id", [f"c{i}" for i in range(len(rows))])
    frame["frequency"] = frame["frequency"].astype(np.int64)
    frame["monetary_value"] = np.where(frame["frequency"] > 0, 20.0, 0.0)
    return frame


GRID = summary(
    [
        (x, recency, T)
        for T in (0.0, 1.0, 13.0, 52.0, 104.0)
        for x in (0, 1, 3, 10, 50, 400)
        for recency in ((0.0,) if x == 0 else (0.0, T / 4, T))
        if not (x and T == 0)
    ]
)


# --------------------------------------------------------------------------- closed forms


def pareto_odds_dead(params: dict, x: float, t_x: float, T: float) -> float:
    """log of s (alpha+T)^(r+x) (beta+T)^s * integral_{t_x}^{T} (alpha+tau)^-(r+x)
    (beta+tau)^-(s+1) dtau: the Pareto/NBD likelihood's 'died in (t_x, T]' term over its
    'alive at T' term, integrated numerically (scaled by its largest value, at t_x)."""
    r, alpha, s, beta = (params[k] for k in ("r", "alpha", "s", "beta"))

    def log_f(tau: float) -> float:
        return (
            np.log(s)
            + (r + x) * np.log((alpha + T) / (alpha + tau))
            + s * np.log((beta + T) / (beta + tau))
            - np.log(beta + tau)
        )

    top = log_f(t_x)
    kinks = [min(T, t_x + (alpha + t_x) / (r + x) * k) for k in (1, 5, 20)]
    value, _ = quad(
        lambda tau: np.exp(log_f(tau) - top),
        t_x,
        T,
        epsabs=0,
        epsrel=1e-12,
        limit=500,
        points=kinks,
    )
    return top + np.log(value)


@pytest.mark.parametrize(
    "params",
    [PARETO_CDNOW, PARETO_FAST_DROPOUT, PARETO_LONG_LIFE],
    ids=["cdnow", "alpha>>beta", "alpha<<beta"],
)
def test_pareto_p_alive_matches_its_integral(params: dict) -> None:
    # alpha and beta 60 times apart and hundreds of purchases: scipy's hyp2f1 returns
    # NaN there, and the quadrature takes over
    model = BTYDModel(**params, family="paretonbd")
    cases = [
        (x, fraction * T, T)
        for T in (0.5, 13.0, 52.0, 260.0)
        for x in (1, 2, 10, 100, 2000)
        for fraction in (0.0, 0.3, 0.9, 0.999)
    ] + [(0, 0.0, T) for T in (0.5, 13.0, 52.0, 260.0)]
    frame = summary(cases)
    reference = np.array([pareto_odds_dead(params, x, t_x, T) for x, t_x, T in cases])
    np.testing.assert_allclose(model.p_alive(frame), expit(-reference), rtol=1e-7, atol=0)
    # and as log-odds, where P(alive) underflows to 0 for frequent buyers long gone
    x, t_x, T = (frame[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    log_odds = btyd_model._pareto_log_odds_dead(*params.values(), x, t_x, T)
    np.testing.assert_allclose(log_odds, reference, rtol=1e-9, atol=1e-7)
    # the quadrature alone, on every case (not only where hyp2f1 fails)
    repeat = x > 0
    by_quadrature = btyd_model._pareto_log_odds_dead_by_quadrature(
        *params.values(), x[repeat], t_x[repeat], T[repeat]
    )
    np.testing.assert_allclose(by_quadrature, reference[repeat], rtol=1e-9, atol=1e-7)


def test_pareto_expected_orders_are_the_textbook_expression() -> None:
    model = FIXED["paretonbd"]
    r, alpha, s, beta = (PARETO_CDNOW[k] for k in ("r", "alpha", "s", "beta"))
    frame = summary([(0, 0.0, 30.0), (2, 10.0, 39.0), (7, 35.0, 39.0), (40, 3.0, 52.0)])
    t = 52.0
    x, t_x, T = (frame[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    alive = 1 / (
        1 + np.exp([pareto_odds_dead(PARETO_CDNOW, *row) for row in zip(x, t_x, T, strict=True)])
    )
    # Fader & Hardie (2005), note 009, eq. 22
    expected = (
        (r + x)
        * (beta + T)
        / ((alpha + T) * (s - 1))
        * (1 - ((beta + T) / (beta + T + t)) ** (s - 1))
    ) * alive
    np.testing.assert_allclose(model.expected_orders(frame, 7 * t), expected, rtol=1e-9)


def test_pareto_expected_orders_are_continuous_at_s_equal_1() -> None:
    at_one = BTYDModel(r=0.5, alpha=10.0, s=1.0, beta=12.0, family="paretonbd")
    near = [
        BTYDModel(r=0.5, alpha=10.0, s=s, beta=12.0, family="paretonbd") for s in (0.99999, 1.00001)
    ]
    orders = at_one.expected_orders(GRID, 365).to_numpy()
    for model in near:
        np.testing.assert_allclose(model.expected_orders(GRID, 365), orders, rtol=1e-4)


def test_mbgnbd_closed_forms_are_the_textbook_expressions() -> None:
    # Batislam, Denizel & Filiztekin (2007), eq. 5 and 6, as PyMC-Marketing writes them
    model = FIXED["mbgnbd"]
    r, alpha, a, b = (MBGNBD_CDNOW[k] for k in ("r", "alpha", "a", "b"))
    frame = summary([(0, 0.0, 30.0), (2, 10.0, 39.0), (7, 35.0, 39.0), (20, 3.0, 52.0)])
    x, t_x, T = (frame[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    t = 52.0
    alive = 1 / (1 + a / (b + x) * ((alpha + T) / (alpha + t_x)) ** (r + x))
    z = t / (alpha + T + t)
    hyp = hyp2f1(r + x, b + x + 1, a + b + x, z)
    orders = (a + b + x) / (a - 1) * (1 - hyp * ((alpha + T) / (alpha + t + T)) ** (r + x)) * alive
    np.testing.assert_allclose(model.p_alive(frame), alive, rtol=1e-12)
    np.testing.assert_allclose(model.expected_orders(frame, 7 * t), orders, rtol=1e-9)
    assert alive[0] < 1  # MBG/NBD: a customer without repeats may have left


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_predicts_finite_growing_orders_and_probabilities(family: str) -> None:
    model = FIXED[family]
    alive = model.p_alive(GRID).to_numpy()
    assert ((alive >= 0) & (alive <= 1)).all()
    new = (GRID["frequency"] == 0).to_numpy()
    if family == "bgnbd":
        assert (alive[new] == 1).all()
    else:  # MBG/NBD and Pareto/NBD: a customer without repeats may have left too
        assert (alive[new & (GRID["T"] > 0).to_numpy()] < 1).all()
    horizons = [1, 7, 30, 90, 365, 1826, 3652]
    table = np.column_stack([model.expected_orders(GRID, h).to_numpy() for h in horizons])
    assert np.isfinite(table).all() and (table >= 0).all()
    growing = np.diff(table, axis=1)
    assert (growing[table[:, 1:] > 1e-300] > 0).all()


@pytest.mark.parametrize("family", FAMILIES)
def test_no_order_probabilities_match_customers_drawn_from_each_family(family: str) -> None:
    """P(no order in the next 39 weeks) against 40,000 customers drawn from the model with
    the same parameters: overall, by repeat purchases and by the predicted probability."""
    params = {"bgnbd": BGNBD_CDNOW, "mbgnbd": MBGNBD_CDNOW, "paretonbd": PARETO_CDNOW}[family]
    rng = np.random.default_rng(11)
    x, last, T, quiet = quiet_in_holdout(rng, 40_000, family, params, weeks=39.0)
    frame = summary(list(zip(x, last, T, strict=True)))
    model = FIXED[family]
    predicted = model.p_no_orders(frame, 39 * 7).to_numpy()
    assert ((predicted > 0) & (predicted <= 1)).all()
    assert predicted.mean() == pytest.approx(quiet.mean(), abs=0.01)
    for group in (x == 0, x == 1, (x >= 2) & (x < 5), x >= 5):
        assert predicted[group].mean() == pytest.approx(quiet[group].mean(), abs=0.03)
    for low in np.arange(0.0, 1.0, 0.2):
        inside = (predicted >= low) & (predicted < low + 0.2)
        if inside.sum() >= 500:
            assert predicted[inside].mean() == pytest.approx(quiet[inside].mean(), abs=0.03)
    # never more orders than a longer window allows: the probability falls with the horizon
    longer = model.p_no_orders(frame, 78 * 7).to_numpy()
    assert (longer <= predicted + 1e-12).all()
    np.testing.assert_allclose(model.p_no_orders(frame, 1e-9).to_numpy(), 1.0, atol=1e-6)


# --------------------------------------------------------------------------- storage


@pytest.mark.parametrize("family", FAMILIES)
def test_a_stored_model_of_each_family_predicts_identically(family: str) -> None:
    model = replace(
        FIXED[family],
        log_likelihoods={"bgnbd": -9582.43, "mbgnbd": -9582.14, "paretonbd": -9594.98},
        family_notes={"paretonbd": "RuntimeError: example"},
        n_choice_customers=2357,
    )
    loaded = BTYDModel.from_dict(json.loads(json.dumps(model.to_dict())))
    assert loaded == model and loaded.family == family
    for method, args in [
        ("p_alive", ()),
        ("expected_orders", (180,)),
        ("expected_spend", (180,)),
        ("clv", (730, 0.08)),
    ]:
        before = getattr(model, method)(GRID, *args)
        after = getattr(loaded, method)(GRID, *args)
        pd.testing.assert_series_equal(before, after, check_exact=True)


def test_a_version_1_artifact_loads_as_bgnbd() -> None:
    stored = FIXED["bgnbd"].to_dict()
    for key in ("family", "s", "beta", "log_likelihoods", "family_notes", "n_choice_customers"):
        del stored[key]
    loaded = BTYDModel.from_dict(stored | {"format_version": 1})
    assert loaded == FIXED["bgnbd"] and loaded.family == "bgnbd"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: BTYDModel(r=1, alpha=1, a=1, b=1, family="nbd"), "family='nbd'"),
        (lambda: BTYDModel(r=1, alpha=1, s=1, family="paretonbd"), "beta=None"),
        (lambda: BTYDModel(r=1, alpha=1, a=1, b=1, s=1, beta=1), "BG/NBD has no parameter s"),
        (
            lambda: BTYDModel(r=1, alpha=1, a=1, b=1, s=1, beta=1, family="paretonbd"),
            "Pareto/NBD has no parameter a",
        ),
        (
            lambda: BTYDModel.from_dict(FIXED["paretonbd"].to_dict() | {"family": "bgnbd"}),
            "BG/NBD parameter a=None",
        ),
        (lambda: fit_btyd(GRID, family="pareto"), "family='pareto'"),
    ],
    ids=["unknown", "pareto-no-beta", "bgnbd-with-s", "pareto-with-a", "wrong-family", "fit"],
)
def test_family_mistakes_are_named(make, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make()


# --------------------------------------------------------------------------- simulation


def frame_of(x: np.ndarray, recency: np.ndarray, T: np.ndarray) -> pd.DataFrame:
    return summary(list(zip(x, recency, T, strict=True)))


def simulate_bgnbd(
    n: int, *, r: float, alpha: float, a: float, b: float, seed: int, modified: bool = False
) -> pd.DataFrame:
    """Customers drawn from BG/NBD (or MBG/NBD), as a summary (weeks)."""
    rng = np.random.default_rng(seed)
    x, last, T = bgnbd_purchases(rng, n, r=r, alpha=alpha, a=a, b=b, modified=modified)
    return frame_of(x, last, T)


def simulate_paretonbd(
    n: int, *, r: float, alpha: float, s: float, beta: float, seed: int
) -> pd.DataFrame:
    """Customers drawn from Pareto/NBD, as a summary (weeks).

    Purchase rates ~ Gamma(r, rate alpha), dropout rates ~ Gamma(s, rate beta), an
    exponential lifetime at that rate; the repeat purchases in the active part of
    T ~ U(26, 78) weeks are Poisson, and the last of x uniform times is the active
    span times U^(1/x).
    """
    rng = np.random.default_rng(seed)
    T = rng.uniform(26.0, 78.0, n)
    rate = rng.gamma(r, 1 / alpha, n)
    active = np.minimum(rng.exponential(1 / rng.gamma(s, 1 / beta, n)), T)
    x = rng.poisson(rate * active)
    last = np.where(x > 0, active * rng.random(n) ** (1 / np.maximum(x, 1)), 0.0)
    return frame_of(x, last, T)


# --------------------------------------------------------------------------- the choice


def recording(monkeypatch: pytest.MonkeyPatch, fail: dict[str, Exception]) -> list[tuple]:
    """Make btyd._fit_family record (family, customers) and raise for ``fail``'s families."""
    calls: list[tuple] = []
    real = btyd._fit_family

    def fit(data: pd.DataFrame, family: str, *, flat: bool = True) -> Any:
        calls.append((family, len(data)))
        if family in fail:
            raise fail[family]
        return real(data, family, flat=flat)

    monkeypatch.setattr(btyd, "_fit_family", fit)
    return calls


SMALL_BGNBD = {"r": 0.5, "alpha": 5.0, "a": 0.8, "b": 2.5}


def test_a_familys_model_is_compiled_once_for_all_its_fits() -> None:
    """A scoring run fits BTYD at every cutoff; compiling the likelihood for each fit
    cost about half a second apiece (and gcc's time on a fresh machine)."""
    before = btyd_map._compiled.cache_info()
    for seed, n in ((5, 300), (6, 800)):
        fitted = btyd_map.fit_map("bgnbd", simulate_bgnbd(n, **SMALL_BGNBD, seed=seed))
        assert fitted["r"] == pytest.approx(SMALL_BGNBD["r"], rel=0.5)
    after = btyd_map._compiled.cache_info()
    assert after.misses - before.misses <= 1 and after.hits - before.hits >= 1


def test_fits_in_several_threads_find_what_they_find_alone() -> None:
    """`custintel worker --workers N` trains in threads, which share the compiled
    likelihood."""
    shops = [simulate_bgnbd(n, **SMALL_BGNBD, seed=seed) for seed, n in ((7, 400), (8, 900))]
    alone = [btyd_map.fit_map("bgnbd", shop) for shop in shops]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda i: btyd_map.fit_map("bgnbd", shops[i % 2]), range(8)))
    for i, fitted in enumerate(together):
        assert fitted == alone[i % 2]


def test_a_failing_family_is_skipped_with_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = simulate_bgnbd(1200, **SMALL_BGNBD, seed=3)
    calls = recording(monkeypatch, {"paretonbd": RuntimeError("the optimizer diverged")})
    real_likelihood = btyd.log_likelihood
    monkeypatch.setattr(  # MBG/NBD fits, but its likelihood comes out NaN
        btyd,
        "log_likelihood",
        lambda family, *args: np.nan if family == "mbgnbd" else real_likelihood(family, *args),
    )
    model = fit_btyd(frame)
    # MBG/NBD's degenerate fit is tried again with the default priors, in vain
    assert calls == [("bgnbd", 1200), ("mbgnbd", 1200), ("mbgnbd", 1200), ("paretonbd", 1200)]
    assert model.family == "bgnbd" and list(model.log_likelihoods) == ["bgnbd"]
    assert model.family_notes["paretonbd"] == "RuntimeError: the optimizer diverged"
    assert model.family_notes["mbgnbd"].startswith(
        "NotEnoughData: the MBG/NBD fit on 1200 customers has log-likelihood nan (r="
    )
    assert np.isfinite(model.expected_orders(frame, 365)).all()


def test_a_family_asked_for_falls_back_to_bgnbd(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = simulate_bgnbd(1200, **SMALL_BGNBD, seed=3)
    calls = recording(monkeypatch, {"mbgnbd": FloatingPointError("overflow in hyp2f1")})
    model = fit_btyd(frame, family="mbgnbd")
    assert calls == [("mbgnbd", 1200), ("bgnbd", 1200)]
    assert model.family == "bgnbd"
    assert model.family_notes == {"mbgnbd": "FloatingPointError: overflow in hyp2f1"}


def test_no_family_fitted_is_not_enough_data(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = simulate_bgnbd(300, **SMALL_BGNBD, seed=3)
    recording(monkeypatch, {family: ValueError(f"{family} broke") for family in FAMILIES})
    with pytest.raises(NotEnoughData, match="no BTYD order model could be fitted") as caught:
        fit_btyd(frame)
    for family, label in btyd.FAMILY_LABELS.items():
        assert f"{label}: ValueError: {family} broke" in caught.value.message


def test_the_choice_is_made_on_a_sample_and_the_winner_refitted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frame = simulate_bgnbd(1500, **SMALL_BGNBD, seed=4)
    monkeypatch.setattr(btyd, "CHOICE_SAMPLE_SIZE", 500)
    calls = recording(monkeypatch, {"paretonbd": RuntimeError("skipped to keep this fast")})
    model = fit_btyd(frame)
    assert calls == [("bgnbd", 500), ("mbgnbd", 500), ("paretonbd", 500), (model.family, 1500)]
    assert model.n_choice_customers == 500 and model.n_customers == 1500
    # the winner's parameters are those of its fit on every customer
    direct = btyd_map.fit_map(model.family, frame)
    for name in btyd.ORDER_PARAMETERS[model.family]:
        assert getattr(model, name) == direct[name], name


# --------------------------------------------------------------------------- fits (slow)

# Tolerances are 3 standard deviations of each estimate, measured over 20 simulated data
# sets of 5,000 customers (seeds 0-19). MBG/NBD: r 9.7 %, alpha 9.4 %, a 11 %, b 18 %;
# the mean purchase rate r/alpha 5.0 % and the mean dropout probability a/(a+b) 4.9 %.
# Pareto/NBD: r 5.2 %, alpha 5.1 %, s 10 %, beta 20 %; r/alpha 2.7 %, the mean dropout
# rate s/beta 11 % (T of at most 78 weeks shows little of lifetimes this long).
# On the same data sets "auto" picked the generating family every time (and on seeds
# 0-4 of BG/NBD data too); the log-likelihood margins over the runner-up were 14-17
# (MBG/NBD over BG/NBD) and 3-18 (Pareto/NBD over MBG/NBD).
GENERATED = {
    "mbgnbd": (
        {"r": 0.5, "alpha": 5.0, "a": 2.0, "b": 3.0},
        {"r": 0.29, "alpha": 0.28, "a": 0.33, "b": 0.54},
        lambda m: m.a / (m.a + m.b),
        0.15,
    ),
    "paretonbd": (
        {"r": 0.5, "alpha": 5.0, "s": 0.8, "beta": 12.0},
        {"r": 0.16, "alpha": 0.16, "s": 0.30, "beta": 0.61},
        lambda m: m.s / m.beta,
        0.33,
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("family", list(GENERATED))
def test_auto_picks_the_generating_family_and_recovers_it(family: str) -> None:
    true, tolerance, dropout, dropout_tolerance = GENERATED[family]
    if family == "mbgnbd":
        frame = simulate_bgnbd(5000, **true, seed=0, modified=True)
    else:
        frame = simulate_paretonbd(5000, **true, seed=0)
    model = fit_btyd(frame)
    assert model.family == family, model.log_likelihoods
    assert set(model.log_likelihoods) == set(FAMILIES) and not model.family_notes
    assert max(model.log_likelihoods, key=model.log_likelihoods.__getitem__) == family
    for name, value in true.items():
        assert getattr(model, name) == pytest.approx(value, rel=tolerance[name]), name
    assert model.r / model.alpha == pytest.approx(0.1, rel=0.15 if family == "mbgnbd" else 0.08)
    assert dropout(model) == pytest.approx(
        dropout(BTYDModel(**true, family=family)), rel=dropout_tolerance
    )
    # the fit is the maximum: the true parameters are no more likely on these data
    fitted = {name: getattr(model, name) for name in true}
    assert model.log_likelihoods[family] == pytest.approx(log_likelihood(family, fitted, frame))
    assert log_likelihood(family, true, frame) <= model.log_likelihoods[family] + 1e-6


@pytest.mark.slow
def test_pareto_nbd_is_fitted_on_a_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = simulate_paretonbd(1500, **GENERATED["paretonbd"][0], seed=1)
    monkeypatch.setattr(btyd, "CHOICE_SAMPLE_SIZE", 500)
    calls = recording(monkeypatch, {})
    model = fit_btyd(frame, family="paretonbd")
    assert calls == [("paretonbd", 500)]  # and not refitted on all 1,500
    assert model.family == "paretonbd" and model.n_choice_customers == 500
    assert list(model.log_likelihoods) == ["paretonbd"] and model.n_customers == 1500


def test_steady_customers_none_of_whom_leaves_get_the_default_priors() -> None:
    """A small B2B shop: 30 customers ordering every 10 to 90 days for two years, none
    seen to drop out. The likelihood runs off to its boundary (r, alpha and b towards
    infinity, a towards 0; on such a shop's orders at one cutoff the predictions came
    out NaN), so the fit is made again with PyMC-Marketing's default priors, which keep
    the parameters finite, say so, and find the pace."""
    rng = np.random.default_rng(0)
    x, recency, T = [], [], []
    for _ in range(30):
        first = int(rng.integers(0, 60))
        days = [first]
        while days[-1] < 668:
            days.append(days[-1] + int(rng.integers(10, 90)))
        days.pop()  # the first purchase day past the observation period
        x.append(len(days) - 1)
        recency.append((days[-1] - first) / 7)
        T.append((668 - first) / 7)
    frame = frame_of(np.array(x), np.array(recency), np.array(T))
    model = fit_btyd(frame, family="bgnbd")
    assert model.family == "bgnbd"
    note = model.family_notes["bgnbd"]
    assert "ran off to the edge of its parameters" in note and "default priors" in note
    assert max(model.r, model.alpha, model.a, model.b) < btyd.BOUNDARY
    expected = np.asarray(model.expected_orders(frame, 364), float)
    pace = np.mean(np.array(x) / np.array(T)) * 52  # repeat purchase days a year so far
    assert expected.mean() == pytest.approx(pace, rel=0.05)
    assert (np.asarray(model.p_alive(frame)) > 0.99).all()
