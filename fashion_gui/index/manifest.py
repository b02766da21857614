"""``manifest.json``: what an index on disk was built from, so a stale index is rebuilt, never used.

An index is valid for one model checkpoint (its hash), one catalog version, one vector dimension, one set
of parameters and (for attribute subspaces) one chunk layout. The caller states what it expects; any
difference, or a different format version, means the saved index is rebuilt.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

from fashion_gui.index.config import LOAD_OPTIONS, IndexConfig

FORMAT_VERSION = 1  # bump when the files an index writes change meaning
MANIFEST_NAME = "manifest.json"

Chunks = tuple[tuple[int, int], ...]


def chunk_slices(n_attributes: int, chunk_dim: int) -> Chunks:
    """Contiguous (start, stop) column ranges of A attribute chunks of d dims each (ADDE's A x d layout)."""
    if n_attributes < 1 or chunk_dim < 1:
        raise ValueError(f"need at least one attribute chunk of at least one dim, got {n_attributes} x {chunk_dim}")
    return tuple((a * chunk_dim, (a + 1) * chunk_dim) for a in range(n_attributes))


def hash_checkpoint(path: str | os.PathLike) -> str:
    """sha256 of a checkpoint file, or of every file in a checkpoint folder (relative names included)."""
    path = Path(path)
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    if not files:
        raise FileNotFoundError(f"no checkpoint at {path}; train a model or pick an existing checkpoint")
    for file in files:
        if file != path:
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with open(file, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class IndexManifest:
    """Identity of a saved index. ``item_count`` and ``kind`` are filled in by ``save_index``; in an
    expectation they may be None, meaning "any"."""

    name: str
    checkpoint_hash: str
    catalog_version: int
    dim: int
    config: IndexConfig = IndexConfig()
    chunks: Chunks | None = None  # attribute subspaces (start, stop); None for a single index
    item_count: int | None = None
    kind: str | None = None  # "exact", "hnsw" or "subspaces": what was saved
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.chunks is not None:
            chunks = tuple((int(a), int(b)) for a, b in self.chunks)
            if any(not 0 <= a < b <= self.dim for a, b in chunks):
                raise ValueError(f"attribute chunks {chunks} do not fit in {self.dim} dims")
            object.__setattr__(self, "chunks", chunks)

    def differences(self, expected: "IndexManifest") -> list[str]:
        """Human-readable reasons this (saved) manifest does not serve ``expected``; empty = usable."""
        out = []
        for field in ("format_version", "name", "checkpoint_hash", "catalog_version", "dim", "chunks"):
            have, want = getattr(self, field), getattr(expected, field)
            if have != want:
                out.append(f"{field} is {have!r}, expected {want!r}")
        if not self.config.built_like(expected.config):  # how it is opened (LOAD_OPTIONS) may differ
            have, want = self.config.to_dict(), expected.config.to_dict()
            changed = ", ".join(f"{k} {have[k]!r} -> {want[k]!r}" for k in have
                                if have[k] != want[k] and k not in LOAD_OPTIONS)
            out.append(f"index parameters changed: {changed}")
        for field in ("item_count", "kind"):
            want = getattr(expected, field)
            if want is not None and getattr(self, field) != want:
                out.append(f"{field} is {getattr(self, field)!r}, expected {want!r}")
        return out

    def opened_as(self, expected: "IndexManifest") -> "IndexManifest":
        """This saved manifest with the expectation's LOAD_OPTIONS (memory mapping, threads)."""
        options = {name: getattr(expected.config, name) for name in LOAD_OPTIONS}
        return replace(self, config=replace(self.config, **options))

    def with_saved(self, item_count: int, kind: str) -> "IndexManifest":
        return replace(self, item_count=int(item_count), kind=kind)

    def to_dict(self) -> dict:
        return {
            "format_version": self.format_version,
            "name": self.name,
            "kind": self.kind,
            "checkpoint_hash": self.checkpoint_hash,
            "catalog_version": self.catalog_version,
            "dim": self.dim,
            "chunks": [list(c) for c in self.chunks] if self.chunks is not None else None,
            "item_count": self.item_count,
            "parameters": self.config.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "IndexManifest":
        try:
            chunks = data.get("chunks")
            return cls(
                name=str(data["name"]),
                checkpoint_hash=str(data["checkpoint_hash"]),
                catalog_version=int(data["catalog_version"]),
                dim=int(data["dim"]),
                config=IndexConfig.from_dict(dict(data["parameters"])),
                chunks=tuple(tuple(c) for c in chunks) if chunks is not None else None,
                item_count=None if data.get("item_count") is None else int(data["item_count"]),
                kind=data.get("kind"),
                format_version=int(data["format_version"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed index manifest: {exc}") from exc

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)
