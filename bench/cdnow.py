"""CDNOW's full purchase log as the benchmarks read it (docs/accuracy.md).

CDNOW has no order ids: a line is one purchase, and 255 of its 69,659 lines repeat an
earlier line exactly (the same customer buying the same number of CDs for the same
amount twice on a day). They are real purchases, and the published analyses of CDNOW
count them, so the benchmarks load every line (``duplicates = "keep"``, the setting
docs/decisions.md gives for logs like this one) rather than custintel's default, which
rejects repeated rows of a keyless file as a likely double export.
"""

from __future__ import annotations

from typing import Any

from bench.measure import ROOT

MASTER = ROOT.parent / "shared" / "data" / "cdnow" / "CDNOW_master.txt"


def cdnow_store(results: str) -> Any:
    """An in-memory store synced from every line of CDNOW_master.txt; ``results`` names
    the folder under bench/results that serves as the run's data directory."""
    from custintel.config import Settings
    from custintel.services import mapping_from_options, open_data

    mapping = mapping_from_options(orders=MASTER)
    assert mapping is not None
    orders = mapping.tables["orders"]
    mapping.tables["orders"] = orders.model_copy(update={"duplicates": "keep"})
    store, _ = open_data(Settings(home=ROOT / "bench" / "results" / results), mapping)
    return store
