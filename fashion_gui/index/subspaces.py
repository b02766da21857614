"""One index per attribute subspace ("similar in pattern only"; ADDE's A x d chunks, the cooperative
embeddings' subspaces), each over that chunk of the embedding, L2-normalised per chunk for cosine.

Per subspace the index is, by default, a projected scan with an exact re-rank (projected.py; an exact scan
below ``exact_threshold`` items): on a trained model's real features (ADDE-M encoding a 50,000-item demo,
``fashion bench query --large-demo 50000``) it takes 1.3 ms p50 at recall@50 0.999 where the exact scan
takes 4.3 ms. ``subspace_index="exact"`` or ``"hnsw"`` choose the others. Measured earlier on 2 cores with
synthetic chunks of 340 dims (one of 8 value prototypes + noise; ``fashion bench query``): an exact scan
takes 0.4-2 ms at 10k items and 7.4 ms p50 at 100k (16 ms with the machine busy), with no build (100k
items x 12 subspaces in 8 s). An HNSW graph in the full 340-d chunk needed ef=200 for recall@50 0.95
(2.2 ms) and ef=400 for 0.99 (3.2 ms) at 100k, and 1-2 min of build per subspace (12 subspaces: up to
half an hour); a 128-d projection of a synthetic chunk (isotropic noise) loses the within-value ordering
(recall@50 0.23 at 100k, 0.5 at 10k), so subspace graphs are never projected; real chunks are nearly
low-rank, which is why the projected scan works on them. Each chunk is stored contiguously (N, d_a), so
all subspaces together hold one copy of the embedding.
"""
from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from fashion_gui.index.base import Category, IndexLoadError, SearchResult, VectorIndex, check_vectors
from fashion_gui.index.config import IndexConfig
from fashion_gui.index.exact import ExactIndex
from fashion_gui.index.hnsw import HnswIndex
from fashion_gui.index.manifest import Chunks, chunk_slices
from fashion_gui.index.projected import ProjectedScanIndex

CHUNKS_FILE = "chunks.json"


class SubspaceIndexSet:
    """Indexes over column ranges ``chunks`` of the full embedding; search one subspace at a time."""

    kind = "subspaces"

    def __init__(self, chunks: Sequence[tuple[int, int]] | None = None, *, n_attributes: int | None = None,
                 chunk_dim: int | None = None, config: IndexConfig | None = None) -> None:
        if chunks is None:
            if n_attributes is None or chunk_dim is None:
                raise ValueError("give either chunks or both n_attributes and chunk_dim")
            chunks = chunk_slices(n_attributes, chunk_dim)
        self.chunks: Chunks = tuple((int(a), int(b)) for a, b in chunks)
        if not self.chunks or any(not 0 <= a < b for a, b in self.chunks):
            raise ValueError(f"attribute chunks must be non-empty (start, stop) ranges, got {self.chunks}")
        self.dim = max(b for _, b in self.chunks)
        self.config = config or IndexConfig()
        self._indexes: list[VectorIndex] = [self._new_index(b - a) for a, b in self.chunks]
        self._lock = threading.RLock()

    def _new_index(self, dim: int) -> VectorIndex:
        if self.config.subspace_index == "hnsw":
            return HnswIndex(dim, replace(self.config, search_dim=0))
        if self.config.subspace_index == "projected":
            return ProjectedScanIndex(dim, self.config)
        return ExactIndex(dim, self.config)

    def __len__(self) -> int:
        return len(self._indexes[0])

    @property
    def ids(self) -> np.ndarray:
        return self._indexes[0].ids

    def subspace(self, a: int) -> VectorIndex:
        """The index of attribute subspace ``a``."""
        if not 0 <= a < len(self.chunks):
            raise IndexError(f"attribute subspace {a} does not exist; there are {len(self.chunks)}")
        return self._indexes[a]

    def _split(self, vectors: np.ndarray) -> list[np.ndarray]:
        vectors = check_vectors(vectors, self.dim)
        return [np.ascontiguousarray(vectors[:, a:b]) for a, b in self.chunks]

    def build(self, ids: np.ndarray, vectors: np.ndarray, categories: np.ndarray | None = None) -> None:
        fresh = [self._new_index(b - a) for a, b in self.chunks]
        for index, part in zip(fresh, self._split(vectors)):
            index.build(ids, part, categories)
        with self._lock:
            self._indexes = fresh

    def add(self, ids: np.ndarray, vectors: np.ndarray, categories: np.ndarray | None = None) -> None:
        parts = self._split(vectors)
        with self._lock:
            for index, part in zip(self._indexes, parts):
                index.add(ids, part, categories)

    def search(self, query: np.ndarray, k: int, subspace: int, *, category: Category = None) -> SearchResult:
        """Nearest items in one subspace; ``query`` is a full embedding (D,) or that chunk (d_a,)."""
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        index = self.subspace(subspace)
        a, b = self.chunks[subspace]
        if query.shape[0] == self.dim and self.dim != b - a:
            query = query[a:b]
        with self._lock:
            return index.search(query, k, category=category)

    def vectors(self, ids: np.ndarray, subspace: int) -> np.ndarray:
        return self.subspace(subspace).vectors(ids)

    def save(self, directory: str | os.PathLike) -> None:
        directory = Path(directory)
        with self._lock:
            (directory / CHUNKS_FILE).write_text(json.dumps([list(c) for c in self.chunks]))
            for a, index in enumerate(self._indexes):
                sub = directory / f"s{a:02d}"
                sub.mkdir()
                (sub / "kind").write_text(index.kind)
                index.save(sub)

    @classmethod
    def load(cls, directory: str | os.PathLike, dim: int, config: IndexConfig) -> "SubspaceIndexSet":
        directory = Path(directory)
        try:
            chunks = tuple(tuple(c) for c in json.loads((directory / CHUNKS_FILE).read_text()))
            kinds = [(directory / f"s{a:02d}" / "kind").read_text().strip() for a in range(len(chunks))]
        except (OSError, ValueError, TypeError) as exc:
            raise IndexLoadError(f"cannot read the subspace layout in {directory}: {exc}") from exc
        index_set = cls(chunks, config=config)
        if index_set.dim != dim:
            raise IndexLoadError(f"subspaces in {directory} span {index_set.dim} dims, expected {dim}")
        loaded: list[VectorIndex] = []
        for a, ((start, stop), kind) in enumerate(zip(chunks, kinds)):
            cls_ = {"exact": ExactIndex, "hnsw": HnswIndex, "projected": ProjectedScanIndex}.get(kind)
            if cls_ is None:
                raise IndexLoadError(f"unknown subspace index kind {kind!r} in {directory}")
            sub_config = replace(config, search_dim=0) if kind == "hnsw" else config
            loaded.append(cls_.load(directory / f"s{a:02d}", stop - start, sub_config))
        if len({len(i) for i in loaded}) != 1:
            raise IndexLoadError(f"subspace indexes in {directory} hold different item counts; rebuild")
        index_set._indexes = loaded
        return index_set
