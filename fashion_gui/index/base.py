"""The small index contract (DESIGN.md: build / add / search / save / load), so a vector database can
implement it later, and the search result every implementation returns."""
from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from fashion_gui.atomic import fsync_dir, fsync_tree  # noqa: F401  (re-exported for the index modules)
from fashion_gui.index.config import IndexConfig

Category = int | Iterable[int] | None  # one category index, several, or no restriction


class IndexLoadError(RuntimeError):
    """Index files that cannot be read (missing, truncated, wrong shape); the caller rebuilds."""


@dataclass(frozen=True)
class SearchResult:
    """Nearest items, nearest first. ``distances``: cosine distance (1 - cos) or squared L2 by space."""

    ids: np.ndarray  # (k,) int64 item ids
    distances: np.ndarray  # (k,) float32, ascending
    space: str = "cosine"

    @property
    def scores(self) -> np.ndarray:
        """Higher is better: cosine similarity for "cosine", negative squared distance for "l2"."""
        return 1.0 - self.distances if self.space == "cosine" else -self.distances

    def __len__(self) -> int:
        return len(self.ids)


class VectorIndex(ABC):
    """Nearest-neighbour search over item vectors, restricted to categories on request.

    Implementations keep one int64 item id and one category index (-1 = none) per vector, are safe to
    query from one thread while another adds (a lock serialises mutations and queries), and write their
    files into a folder given to :meth:`save` (atomic replacement is :func:`fashion_gui.index.persist.save_index`).
    """

    kind: ClassVar[str]

    def __init__(self, dim: int, config: IndexConfig | None = None) -> None:
        if dim < 1:
            raise ValueError(f"index dimension must be positive, got {dim}")
        self.dim = int(dim)
        self.config = config or IndexConfig()

    @abstractmethod
    def build(self, ids: np.ndarray, vectors: np.ndarray, categories: np.ndarray | None = None) -> None:
        """Index these items, replacing any previous content."""

    @abstractmethod
    def add(self, ids: np.ndarray, vectors: np.ndarray, categories: np.ndarray | None = None) -> None:
        """Add new items without a rebuild (ids must be new)."""

    @abstractmethod
    def search(self, query: np.ndarray, k: int, *, category: Category = None) -> SearchResult:
        """The k nearest items to one query vector (D,), optionally only within ``category``."""

    def search_batch(self, queries: np.ndarray, k: int, *, category: Category = None) -> list[SearchResult]:
        """One :class:`SearchResult` per row of ``queries`` (B, D)."""
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        return [self.search(q, k, category=category) for q in queries]

    @abstractmethod
    def vectors(self, ids: Iterable[int] | np.ndarray) -> np.ndarray:
        """Stored vectors (float32, normalised for cosine) of these ids, in order (N, D)."""

    @property
    @abstractmethod
    def ids(self) -> np.ndarray:
        """All item ids in insertion order (N,)."""

    @property
    @abstractmethod
    def categories(self) -> np.ndarray:
        """Category index of every item, aligned with :attr:`ids` (-1 where none was given)."""

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def save(self, directory: str | os.PathLike) -> None:
        """Write the index files into an existing, empty folder (not atomic on its own)."""

    @classmethod
    @abstractmethod
    def load(cls, directory: str | os.PathLike, dim: int, config: IndexConfig) -> "VectorIndex":
        """Read files written by :meth:`save`; raises :class:`IndexLoadError` when they are unusable."""


def check_vectors(vectors: np.ndarray, dim: int, what: str = "vectors") -> np.ndarray:
    """(N, dim) float32, C-contiguous, finite; a clear error otherwise."""
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise ValueError(f"{what} must have shape (N, {dim}), got {np.shape(vectors)}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} contain NaN or infinite values; re-encode the items")
    return np.ascontiguousarray(arr)


def check_ids(ids: np.ndarray | Iterable[int], n: int) -> np.ndarray:
    arr = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64).reshape(-1)
    if len(arr) != n:
        raise ValueError(f"got {len(arr)} ids for {n} vectors")
    if len(np.unique(arr)) != len(arr):
        raise ValueError("item ids must be unique")
    return arr


