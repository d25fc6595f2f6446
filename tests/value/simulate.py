"""Customers drawn from the BTYD models' own stories, shared by the BTYD tests."""

from __future__ import annotations

import numpy as np


def bgnbd_purchases(
    rng: np.random.Generator,
    n: int,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
    modified: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Repeat purchases ``x``, the time of the last one and the observation length
    ``T`` (weeks) of ``n`` customers drawn from BG/NBD (MBG/NBD with ``modified``).

    Purchase rates ~ Gamma(r, rate alpha) and dropout probabilities ~ Beta(a, b); from
    the first purchase at 0, purchases follow at exponential gaps, and after each
    repeat purchase (MBG/NBD: also after the first) the customer drops out with their
    probability; the observation lasts T ~ U(26, 78) weeks.
    """
    T = rng.uniform(26.0, 78.0, n)
    rate = rng.gamma(r, 1 / alpha, n)
    dropout = rng.beta(a, b, n)
    now, last = np.zeros(n), np.zeros(n)
    x = np.zeros(n, dtype=np.int64)
    alive = np.ones(n, dtype=bool)
    if modified:
        alive &= rng.random(n) >= dropout
    while alive.any():  # one round per purchase, all customers at once
        now[alive] += rng.exponential(1 / rate[alive])
        alive &= now <= T
        x[alive] += 1
        last[alive] = now[alive]
        alive &= rng.random(n) >= dropout
    return x, last, T


def quiet_in_holdout(
    rng: np.random.Generator, n: int, family: str, params: dict[str, float], weeks: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``x``, last purchase and ``T`` of ``n`` customers drawn from ``family`` (as in
    :func:`bgnbd_purchases`; Pareto/NBD: lifetimes Exp(mu), mu ~ Gamma(s, rate beta)),
    and whether each made no purchase in the ``weeks`` after T."""
    T = rng.uniform(26.0, 78.0, n)
    rate = rng.gamma(params["r"], 1 / params["alpha"], n)
    if family == "paretonbd":
        death = rng.exponential(1 / rng.gamma(params["s"], 1 / params["beta"], n))
        dropout = np.zeros(n)
    else:
        death = np.full(n, np.inf)
        dropout = rng.beta(params["a"], params["b"], n)
    now, last = np.zeros(n), np.zeros(n)
    x = np.zeros(n, dtype=np.int64)
    quiet = np.ones(n, dtype=bool)
    alive = np.ones(n, dtype=bool)
    if family == "mbgnbd":
        alive &= rng.random(n) >= dropout
    while alive.any():
        now[alive] += rng.exponential(1 / rate[alive])
        alive &= (now <= T + weeks) & (now <= death)
        before = alive & (now <= T)
        x[before] += 1
        last[before] = now[before]
        quiet[alive & (now > T)] = False
        alive &= now <= T  # after the first purchase in the holdout nothing more matters
        alive &= rng.random(n) >= dropout
    return x, last, T, quiet
