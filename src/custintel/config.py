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
    redis_namespace: str = Field(
        default="custintel",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="the job queue's name and the prefix of every Redis key: give each "
        "deployment that shares one Redis database its own",
    )
    key_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        description="how long an API process trusts a verified key before checking it again "
        "(a key revoked elsewhere stops within this time; 0 checks every request)",
    )
    rate_limit_per_minute: int = Field(
        default=600, ge=1, description="API requests per key per minute (token bucket burst)"
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description='origins CORS allows, a JSON list (["https://shop.example"]); none if empty',
    )
    max_batch_size: int = Field(
        default=1000, ge=1, description="most customer ids in one POST /v1/predictions"
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1, description="largest request body the API accepts, in bytes"
    )
    bulk_max_bytes: int = Field(
        default=50_000_000, gt=0, description="largest bulk upload accepted (bytes)"
    )
    bulk_max_rows: int = Field(
        default=1_000_000, gt=0, description="most customer ids in one bulk upload"
    )
    job_max_attempts: int = Field(
        default=3, ge=1, description="runs of a job before it fails (worker deaths, crashes)"
    )
    job_heartbeat_seconds: float = Field(
        default=10.0, gt=0, description="a running job's heartbeat interval (seconds)"
    )
    in_process_worker: bool = Field(
        default=True,
        description="`custintel serve` runs the job worker in its own process (embedded "
        "default); set false when a separate `custintel worker` consumes the queue",
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
