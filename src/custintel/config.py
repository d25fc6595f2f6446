"""Settings, read once from environment variables (``CUSTINTEL_*``).

The data directory (``CUSTINTEL_HOME``, default ``./custintel-data``) holds everything
custintel keeps for one shop: the analytical store, the mapping in use, rejects files and,
later, the app database and model artifacts.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    """custintel's settings; each field is also an env var ``CUSTINTEL_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="CUSTINTEL_", extra="ignore")

    home: Path = Field(default=Path("custintel-data"), description="the data directory")
    max_reject_share: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="a sync fails, loading nothing, when more than this share of a table's "
        "rows are rejected",
    )
    duckdb_memory_limit: str | None = Field(
        default=None, description="DuckDB memory_limit for the store, e.g. '4GB'"
    )
    database_url: str | None = Field(
        default=None,
        description="the app database (SQLAlchemy URL); SQLite in the data directory when unset",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis for jobs, rate limits and caches; in-process/SQLite when unset",
    )
    require_services: bool = Field(
        default=False, description="tests fail instead of skipping when a server is absent"
    )

    @cached_property
    def store_path(self) -> Path:
        return self.home / "store.duckdb"

    @cached_property
    def rejects_dir(self) -> Path:
        return self.home / "rejects"

    @cached_property
    def mapping_path(self) -> Path:
        return self.home / "custintel.toml"


def get_settings() -> Settings:
    """Build the settings from the environment (called once per process by adapters)."""
    return Settings()
