"""Data in: sources, mappings, validation, the DuckDB store and sync."""

from custintel.data.ingest import SyncReport, TableReport, sync
from custintel.data.mapping import Mapping, TableMapping, guess_columns, load_mapping, load_preset
from custintel.data.model import TABLES, OrderKind
from custintel.data.store import Store

__all__ = [
    "TABLES",
    "Mapping",
    "OrderKind",
    "Store",
    "SyncReport",
    "TableMapping",
    "TableReport",
    "guess_columns",
    "load_mapping",
    "load_preset",
    "sync",
]
