"""The model registry in the app database: versions with their metrics, and which
version of each capability is active.

The artifact files and their checksums stay in the artifact store
(``registry/artifacts.py``); a version row names its file and sha256, and its results
(assignments, predictions, forecasts) are written under its id before it is activated.
Activation is one update of the capability's row in ``active_models``; a request reads
that row once, so a swap never mixes two versions.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from custintel.appdb.schema import ActiveModel, ModelVersion, utcnow
from custintel.errors import ConfigError, NotEnoughData, StoreError
from custintel.registry.artifacts import ArtifactRef
from custintel.value.eligibility import chance_caveats

__all__ = [
    "CAPABILITIES",
    "VersionInfo",
    "activate",
    "active",
    "add_version",
    "list_versions",
    "load_artifact",
]

CAPABILITIES = ("segmentation", "forecasting", "value")


@dataclass(frozen=True)
class VersionInfo:
    """A version as the API and the CLI show it."""

    id: int
    capability: str
    version: int
    active: bool
    created_at: datetime
    as_of: date | None
    data_from: date | None
    data_to: date | None
    metrics: dict[str, Any]
    sha256: str
    job_id: str | None
    # A value version's columns that rank no better than chance (its run's statements).
    caveats: list[dict[str, str]] = field(default_factory=list)


def _info(row: ModelVersion, active_id: int | None) -> VersionInfo:
    return VersionInfo(
        row.id,
        row.capability,
        row.version,
        row.id == active_id,
        row.created_at,
        row.as_of,
        row.data_from,
        row.data_to,
        row.metrics or {},
        row.sha256,
        row.job_id,
        chance_caveats(row.summary),
    )


def _check(capability: str) -> None:
    if capability not in CAPABILITIES:
        raise ConfigError(
            f"unknown capability {capability!r}", hint=f"use one of {', '.join(CAPABILITIES)}"
        )


def add_version(
    session: Session,
    ref: ArtifactRef,
    *,
    summary: dict[str, Any],
    metrics: dict[str, Any],
    as_of: date | None,
    data_from: date | None,
    data_to: date | None,
    job_id: str | None = None,
) -> ModelVersion:
    """Record the artifact ``ref`` as a version (not yet active); its results are then
    written under the returned row's id."""
    _check(ref.capability)
    row = ModelVersion(
        capability=ref.capability,
        version=ref.version,
        artifact=ref.path.name,
        sha256=ref.sha256,
        summary=summary,
        metrics=metrics,
        as_of=as_of,
        data_from=data_from,
        data_to=data_to,
        job_id=job_id,
    )
    session.add(row)
    session.flush()
    return row


def activate(session: Session, capability: str, version: int) -> VersionInfo:
    """Serve ``version`` of ``capability`` from now on (also a rollback)."""
    _check(capability)
    row = session.scalar(
        select(ModelVersion).where(
            ModelVersion.capability == capability, ModelVersion.version == version
        )
    )
    if row is None:
        raise NotEnoughData(
            f"{capability} has no version {version}",
            hint=f"GET /v1/models lists the versions of {capability}",
        )
    current = session.get(ActiveModel, capability)
    if current is None:
        session.add(ActiveModel(capability=capability, model_version_id=row.id))
    else:
        current.model_version_id = row.id
        current.activated_at = utcnow()
    session.flush()
    return _info(row, row.id)


def active(session: Session, capability: str) -> ModelVersion | None:
    """The version ``capability`` serves, or None before its first training."""
    _check(capability)
    return session.scalar(
        select(ModelVersion)
        .join(ActiveModel, ActiveModel.model_version_id == ModelVersion.id)
        .where(ActiveModel.capability == capability)
    )


def list_versions(session: Session, capability: str | None = None) -> list[VersionInfo]:
    """Every version (of ``capability``, or of all), newest first, each marked active
    or not."""
    if capability is not None:
        _check(capability)
    actives = {a.capability: a.model_version_id for a in session.scalars(select(ActiveModel))}
    query = select(ModelVersion).order_by(ModelVersion.capability, ModelVersion.version.desc())
    if capability is not None:
        query = query.where(ModelVersion.capability == capability)
    return [_info(r, actives.get(r.capability)) for r in session.scalars(query)]


def load_artifact(models_root: Path, row: ModelVersion) -> dict[str, Any]:
    """The artifact of ``row``, read from the artifact store only after its sha256
    matches the one the registry recorded (a swapped or damaged file is refused)."""
    path = models_root / row.capability / row.artifact
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise StoreError(
            f"the artifact of {row.capability} version {row.version} is missing",
            where=str(path),
            hint="retrain the capability, or activate another version",
        ) from None
    if hashlib.sha256(data).hexdigest() != row.sha256:
        raise StoreError(
            f"the artifact of {row.capability} version {row.version} does not match the "
            "checksum in the registry; refusing to load it",
            where=str(path),
            hint="retrain the capability; do not copy model files between installations",
        )
    payload: dict[str, Any] = json.loads(data)
    return payload
