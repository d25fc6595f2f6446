"""Versioned model artifacts on disk, each checked against its recorded sha256.

``$CUSTINTEL_HOME/models/<capability>/v<N>.json`` holds version N's model as plain JSON
(never pickle); ``index.json`` beside it records each version's file, sha256, creation
time and metadata. Loading recomputes the checksum and refuses a file that does not
match (principle 5 of DESIGN.md). Writes are atomic (temp file, then rename).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from custintel.errors import StoreError

__all__ = ["ArtifactRef", "ArtifactStore"]


@dataclass(frozen=True)
class ArtifactRef:
    """One stored version of a capability's model."""

    capability: str
    version: int
    path: Path
    sha256: str
    created_at: str
    metadata: dict[str, Any]


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


class ArtifactStore:
    """The model artifacts under ``root`` (``$CUSTINTEL_HOME/models``)."""

    def __init__(self, root: Path):
        self.root = root

    def _index_path(self, capability: str) -> Path:
        return self.root / capability / "index.json"

    def versions(self, capability: str) -> list[ArtifactRef]:
        """Every stored version of ``capability``, oldest first."""
        path = self._index_path(capability)
        if not path.exists():
            return []
        try:
            entries = json.loads(path.read_text("utf-8"))
        except json.JSONDecodeError as exc:
            raise StoreError(f"model index is damaged: {exc}", where=str(path)) from None
        return [
            ArtifactRef(
                capability,
                e["version"],
                path.parent / e["file"],
                e["sha256"],
                e["created_at"],
                e.get("metadata", {}),
            )
            for e in entries
        ]

    def save(
        self, capability: str, payload: dict[str, Any], metadata: dict[str, Any] | None = None
    ) -> ArtifactRef:
        """Store ``payload`` as the next version of ``capability``."""
        existing = self.versions(capability)
        version = (existing[-1].version + 1) if existing else 1
        data = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode("utf-8")
        path = self.root / capability / f"v{version}.json"
        _atomic_write(path, data)
        ref = ArtifactRef(
            capability,
            version,
            path,
            hashlib.sha256(data).hexdigest(),
            datetime.now(UTC).isoformat(timespec="seconds"),
            metadata or {},
        )
        entries = [
            {
                "version": r.version,
                "file": r.path.name,
                "sha256": r.sha256,
                "created_at": r.created_at,
                "metadata": r.metadata,
            }
            for r in [*existing, ref]
        ]
        _atomic_write(self._index_path(capability), json.dumps(entries, indent=1).encode())
        return ref

    def load(self, ref: ArtifactRef) -> dict[str, Any]:
        """The payload of ``ref``, after checking its sha256."""
        try:
            data = ref.path.read_bytes()
        except FileNotFoundError:
            raise StoreError("model file is missing", where=str(ref.path)) from None
        if hashlib.sha256(data).hexdigest() != ref.sha256:
            raise StoreError(
                "model file does not match its recorded checksum; refusing to load it",
                where=str(ref.path),
                hint="retrain the model; do not copy model files between installations",
            )
        payload: dict[str, Any] = json.loads(data)
        return payload

    def latest(self, capability: str) -> tuple[ArtifactRef, dict[str, Any]] | None:
        """The newest version of ``capability`` and its payload, or None."""
        versions = self.versions(capability)
        if not versions:
            return None
        return versions[-1], self.load(versions[-1])
