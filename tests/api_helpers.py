"""Helpers the API tests import (a module of its own: every test folder has a
conftest, so ``from conftest import`` would find the wrong one)."""

from __future__ import annotations


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
