"""Model versions: JSON artifacts with checksums (the full registry lands with the API)."""

from custintel.registry.artifacts import ArtifactRef, ArtifactStore

__all__ = ["ArtifactRef", "ArtifactStore"]
