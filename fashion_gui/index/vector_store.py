"""Item vectors, ids and categories held by an index, with exact distances over any subset of rows.

Rows are append-only: row r is the r-th item ever added, which is also the label used inside hnswlib.
Storage grows by half its size when full, so :meth:`VectorStore.append` is amortised O(added items).
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np


from fashion_gui.index.base import Category, IndexLoadError, SearchResult, VectorIndex, check_ids, check_vectors

FILES = ("vectors.npy", "ids.npy", "categories.npy")
# Up to this many matrix elements, products use numpy's single-threaded einsum instead of a multi-threaded BLAS
# sgemv, whose thread hand-off costs milliseconds when the other cores are busy (see projection.py).
SINGLE_THREAD_ELEMENTS = 1 << 22


def top_k(distances: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k smallest distances, ascending (ties keep the lower position first)."""
    k = min(k, len(distances))
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    if k < len(distances):
        part = np.argpartition(distances, k - 1)[:k]
        return part[np.lexsort((part, distances[part]))]
    return np.argsort(distances, kind="stable")


def matvec(mat: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``mat @ v``: single-threaded einsum for small products, multi-threaded BLAS for large scans."""
    return np.einsum("nd,d->n", mat, v) if mat.size <= SINGLE_THREAD_ELEMENTS else mat @ v


def category_set(category: Category) -> np.ndarray | None:
    """The requested category indices as an int32 array, or None for no restriction."""
    if category is None:
        return None
    if isinstance(category, (int, np.integer)):
        return np.array([int(category)], dtype=np.int32)
    cats = np.unique(np.fromiter((int(c) for c in category), dtype=np.int32))
    if len(cats) == 0:
        raise ValueError("category restriction is empty; pass None for no restriction")
    return cats


def exact_scan(store: "VectorStore", q: np.ndarray, rows: np.ndarray | None, k: int) -> SearchResult:
    """The ``k`` nearest of ``rows`` (all rows when None) to a prepared query, by exact distances."""
    dist = store.distances(q, rows)
    order = top_k(dist, k)
    hit_rows = order if rows is None else rows[order]
    return SearchResult(store.ids[hit_rows].copy(), dist[order], store.space)


class VectorStore:
    """Normalised (cosine) or raw (l2) item vectors in ``dtype`` plus ids and categories per row."""

    def __init__(self, dim: int, space: str = "cosine", dtype: str = "float32") -> None:
        self.dim = dim
        self.space = space
        self.dtype = np.dtype(dtype)
        self._n = 0
        self._vectors = np.empty((0, dim), dtype=self.dtype)
        self._ids = np.empty(0, dtype=np.int64)
        self._categories = np.empty(0, dtype=np.int32)
        self._sqnorms = np.empty(0, dtype=np.float32)  # squared norms, used by the l2 space
        self._row: dict[int, int] = {}
        self._category_rows: dict[bytes, np.ndarray] = {}

    # --- writing -----------------------------------------------------------------------------------
    def prepare(self, vectors: np.ndarray) -> np.ndarray:
        """float32 (N, D) as stored: unit rows for cosine (a zero vector stays zero), raw for l2."""
        arr = check_vectors(vectors, self.dim)
        if self.space == "cosine":
            norms = np.linalg.norm(arr, axis=1, keepdims=True)
            return (arr / np.maximum(norms, np.float32(1e-12))).astype(np.float32, copy=False)
        return arr.copy() if np.shares_memory(arr, vectors) else arr  # never keep the caller's array

    def append(self, ids: np.ndarray | Iterable[int], vectors: np.ndarray,
               categories: np.ndarray | Iterable[int] | None = None) -> np.ndarray:
        """Add items; returns their rows. Vectors must already be :meth:`prepare`-d (the first append
        to an empty store keeps a float32 array as its storage: the caller must not modify it after)."""
        n_new = len(vectors)
        ids = check_ids(ids, n_new)
        dup = [int(i) for i in ids if int(i) in self._row]
        if dup:
            raise ValueError(f"items {dup[:5]} are already indexed; ids must be new (rebuild to change items)")
        cats = (np.full(n_new, -1, dtype=np.int32) if categories is None
                else np.asarray(categories, dtype=np.int32).reshape(-1))
        if len(cats) != n_new:
            raise ValueError(f"got {len(cats)} categories for {n_new} vectors")
        rows = np.arange(self._n, self._n + n_new)
        new = slice(self._n, self._n + n_new)
        if self._n == 0 and vectors.dtype == self.dtype and vectors.flags.c_contiguous:
            self._vectors = vectors  # first fill: adopt the prepared array instead of copying it
            self._ids, self._categories, self._sqnorms = (np.empty(n_new, dtype=t) for t in
                                                          (np.int64, np.int32, np.float32))
        else:
            self._reserve(self._n + n_new)
            self._vectors[new] = vectors
        self._ids[new] = ids
        self._categories[new] = cats
        stored = self._vectors[new]
        if stored.dtype == np.float32:
            self._sqnorms[new] = np.einsum("ij,ij->i", stored, stored)
        else:
            for start in range(0, n_new, 8192):  # bounded float32 copies of float16 storage
                block = stored[start:start + 8192].astype(np.float32)
                self._sqnorms[self._n + start:self._n + start + len(block)] = np.einsum("ij,ij->i", block, block)
        for r, i in zip(rows.tolist(), ids.tolist()):
            self._row[i] = r
        self._n += n_new
        self._category_rows.clear()
        return rows

    def _reserve(self, n: int) -> None:
        cap = len(self._ids)
        if n <= cap:
            return
        new_cap = max(n, cap + cap // 2, 16)
        vec = np.empty((new_cap, self.dim), dtype=self.dtype)
        vec[: self._n] = self._vectors[: self._n]
        self._vectors = vec
        for name, dtype in (("_ids", np.int64), ("_categories", np.int32), ("_sqnorms", np.float32)):
            arr = np.empty(new_cap, dtype=dtype)
            arr[: self._n] = getattr(self, name)[: self._n]
            setattr(self, name, arr)

    # --- reading -----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._n

    @property
    def ids(self) -> np.ndarray:
        return self._ids[: self._n]

    @property
    def categories(self) -> np.ndarray:
        return self._categories[: self._n]

    @property
    def matrix(self) -> np.ndarray:
        """The stored vectors (N, D) in the storage dtype (a view; do not modify)."""
        return self._vectors[: self._n]

    def rows_of(self, ids: Iterable[int] | np.ndarray) -> np.ndarray:
        try:
            return np.fromiter((self._row[int(i)] for i in ids), dtype=np.int64)
        except KeyError as exc:
            raise KeyError(f"item {exc.args[0]} is not in the index") from None

    def get(self, rows: np.ndarray) -> np.ndarray:
        return self._vectors[rows].astype(np.float32, copy=False)

    def category_rows(self, cats: np.ndarray) -> np.ndarray:
        """Rows whose category is one of ``cats`` (cached until the next append)."""
        key = cats.tobytes()
        rows = self._category_rows.get(key)
        if rows is None:
            rows = np.flatnonzero(np.isin(self.categories, cats))
            self._category_rows[key] = rows
        return rows

    def prepare_query(self, query: np.ndarray) -> np.ndarray:
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        if q.shape[0] != self.dim:
            raise ValueError(f"query has {q.shape[0]} dims, the index has {self.dim}")
        if not np.isfinite(q).all():
            raise ValueError("query contains NaN or infinite values")
        if self.space == "cosine":
            q = q / max(float(np.linalg.norm(q)), 1e-12)
        return q

    def distances(self, q: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Exact distances from a prepared query to the given rows (all rows when None)."""
        if rows is None:
            mat, sq = self.matrix, self._sqnorms[: self._n]
        else:
            mat, sq = self._vectors[rows], self._sqnorms[rows]
        if mat.dtype != np.float32:
            mat = mat.astype(np.float32)
        dots = matvec(mat, q)  # (n,)
        if self.space == "cosine":
            return (1.0 - dots).astype(np.float32, copy=False)
        return np.maximum(sq - 2.0 * dots + float(q @ q), 0.0).astype(np.float32, copy=False)

    # --- files -------------------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        np.save(directory / "vectors.npy", self.matrix, allow_pickle=False)
        np.save(directory / "ids.npy", self.ids, allow_pickle=False)
        np.save(directory / "categories.npy", self.categories, allow_pickle=False)

    @classmethod
    def load(cls, directory: str | os.PathLike, dim: int, space: str, dtype: str) -> "VectorStore":
        directory = Path(directory)
        try:
            vectors = np.load(directory / "vectors.npy", allow_pickle=False)
            ids = np.load(directory / "ids.npy", allow_pickle=False)
            cats = np.load(directory / "categories.npy", allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise IndexLoadError(f"cannot read index vectors in {directory}: {exc}") from exc
        if vectors.ndim != 2 or vectors.shape[1] != dim or len(ids) != len(vectors) or len(cats) != len(vectors):
            raise IndexLoadError(
                f"index vectors in {directory} have shape {vectors.shape} with {len(ids)} ids and "
                f"{len(cats)} categories; expected (N, {dim}) with N of each"
            )
        store = cls(dim, space, dtype)
        # Adopt the loaded arrays as the storage (capacity = N; the next append grows it).
        store._vectors = np.ascontiguousarray(vectors, dtype=store.dtype)
        store._ids = ids.astype(np.int64, copy=False)
        store._categories = cats.astype(np.int32, copy=False)
        as32 = store._vectors.astype(np.float32, copy=False)
        store._sqnorms = np.einsum("ij,ij->i", as32, as32).astype(np.float32, copy=False)
        store._row = {int(i): r for r, i in enumerate(store._ids.tolist())}
        if len(store._row) != len(ids):
            raise IndexLoadError(f"index ids in {directory} are not unique; rebuild the index")
        store._n = len(ids)
        return store


class StoreBackedIndex(VectorIndex):
    """A VectorIndex whose items live in ``self._store`` (a VectorStore) guarded by ``self._lock``."""

    _store: VectorStore
    _lock: threading.RLock

    def vectors(self, ids: Iterable[int] | np.ndarray) -> np.ndarray:
        with self._lock:
            return self._store.get(self._store.rows_of(ids))

    @property
    def ids(self) -> np.ndarray:
        with self._lock:
            return self._store.ids.copy()

    @property
    def categories(self) -> np.ndarray:
        with self._lock:
            return self._store.categories.copy()

    def __len__(self) -> int:
        return len(self._store)
