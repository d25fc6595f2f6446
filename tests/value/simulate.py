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
