"""Item vectors, ids and categories held by an index, with exact distances over any subset of rows.

Rows are append-only: row r is the r-th item ever added, which is also the label used inside hnswlib.
Storage grows by half its size when full, so :meth:`VectorStore.append` is amortised O(added items).

Vectors are kept as float32, float16, or int8 codes with one float32 scale per row (symmetric
quantisation, ``x ~ scale * code`` with ``scale = max|x| / 127``): 4, 2 or ~1 byte per dimension. Reduced
precision is decoded to float32 block by block, so a scan never holds a float32 copy of the whole store.
A loaded store can map its vectors from disk (``mmap=True``): only the rows a query touches are read, so
a million 4080-d items (4 GB as int8) are searched with a few hundred MB of resident memory. Adding to a
mapped store reads it into memory (the next save writes it back).
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np


from fashion_gui.index.base import Category, IndexLoadError, SearchResult, VectorIndex, check_ids, check_vectors

FILES = ("vectors.npy", "ids.npy", "categories.npy")
SCALES_FILE = "scales.npy"  # int8 storage: one float32 scale per row
INT8_MAX = 127
DECODE_ROWS = 16384  # rows decoded to float32 at a time (64 MB at 4080 dims)
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


def quantise_int8(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float32 (N, D) -> int8 codes (N, D) and float32 scales (N,) with ``rows ~ scales[:, None] * codes``."""
    peak = np.abs(rows).max(axis=1) if rows.size else np.zeros(len(rows), np.float32)
    scales = np.where(peak > 0, peak / INT8_MAX, 1.0).astype(np.float32)
    codes = np.rint(rows / scales[:, None]).clip(-INT8_MAX, INT8_MAX).astype(np.int8)
    return codes, scales


class VectorStore:
    """Normalised (cosine) or raw (l2) item vectors in ``dtype`` (float32, float16 or int8 + per-row
    scales; module docstring) plus ids and categories per row."""

    def __init__(self, dim: int, space: str = "cosine", dtype: str = "float32") -> None:
        self.dim = dim
        self.space = space
        self.dtype = np.dtype(dtype)
        self._n = 0
        self._vectors = np.empty((0, dim), dtype=self.dtype)
        self._scales = np.empty(0, dtype=np.float32)  # int8 only: row = scale * code
        self._ids = np.empty(0, dtype=np.int64)
        self._categories = np.empty(0, dtype=np.int32)
        self._sqnorms = np.empty(0, dtype=np.float32)  # squared norms (of the decoded rows), used by l2
        self._lookup: tuple[np.ndarray, np.ndarray] | None = None  # (sorted ids, their rows), built lazily
        self._category_rows: dict[bytes, np.ndarray] = {}

    @property
    def quantised(self) -> bool:
        return self.dtype == np.int8

    # --- writing -----------------------------------------------------------------------------------
    def prepare(self, vectors: np.ndarray) -> np.ndarray:
        """float32 (N, D) as stored: unit rows for cosine (a zero vector stays zero), raw for l2."""
        arr = check_vectors(vectors, self.dim)
        if self.space == "cosine":
            norms = np.linalg.norm(arr, axis=1, keepdims=True)
            return (arr / np.maximum(norms, np.float32(1e-12))).astype(np.float32, copy=False)
        return arr.copy() if np.shares_memory(arr, vectors) else arr  # never keep the caller's array

    def encode(self, prepared: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Prepared float32 rows in the storage dtype, with their scales for int8 (else None)."""
        if self.quantised:
            return quantise_int8(prepared)
        return prepared.astype(self.dtype, copy=False), None

    def append(self, ids: np.ndarray | Iterable[int], vectors: np.ndarray,
               categories: np.ndarray | Iterable[int] | None = None) -> np.ndarray:
        """Add items; returns their rows. Vectors must already be :meth:`prepare`-d (the first append
        to an empty float32 store keeps the array as its storage: the caller must not modify it after)."""
        n_new = len(vectors)
        ids = check_ids(ids, n_new)
        present = self.contains(ids)
        if present.any():
            raise ValueError(f"items {ids[present][:5].tolist()} are already indexed; ids must be new "
                             "(rebuild to change items)")
        cats = (np.full(n_new, -1, dtype=np.int32) if categories is None
                else np.asarray(categories, dtype=np.int32).reshape(-1))
        if len(cats) != n_new:
            raise ValueError(f"got {len(cats)} categories for {n_new} vectors")
        codes, scales = self.encode(vectors)
        rows = np.arange(self._n, self._n + n_new)
        new = slice(self._n, self._n + n_new)
        if self._n == 0 and codes.flags.c_contiguous:
            self._vectors = codes  # first fill: adopt the encoded array instead of copying it
            self._ids, self._categories, self._sqnorms, self._scales = (
                np.empty(n_new, dtype=t) for t in (np.int64, np.int32, np.float32, np.float32))
        else:
            self._reserve(self._n + n_new)
            self._vectors[new] = codes
        if scales is not None:
            self._scales[new] = scales
        self._ids[new] = ids
        self._categories[new] = cats
        self._n += n_new
        self._sqnorms[new] = self._row_sqnorms(rows[0], rows[-1] + 1) if n_new else 0.0
        self._lookup = None
        self._category_rows.clear()
        return rows

    def _row_sqnorms(self, start: int, stop: int) -> np.ndarray:
        """Squared norms of the decoded rows [start, stop) (all ones for unit cosine rows: not computed)."""
        if self.space == "cosine":
            return np.ones(stop - start, dtype=np.float32)
        out = np.empty(stop - start, dtype=np.float32)
        for s in range(start, stop, DECODE_ROWS):
            block = self.decode_range(s, min(s + DECODE_ROWS, stop))
            out[s - start:s - start + len(block)] = np.einsum("ij,ij->i", block, block)
        return out

    def _reserve(self, n: int) -> None:
        cap = len(self._ids)
        if n <= cap:
            return
        new_cap = max(n, cap + cap // 2, 16)
        vec = np.empty((new_cap, self.dim), dtype=self.dtype)
        vec[: self._n] = self._vectors[: self._n]  # a memory-mapped store is read into memory here
        self._vectors = vec
        for name, dtype in (("_ids", np.int64), ("_categories", np.int32), ("_sqnorms", np.float32),
                            ("_scales", np.float32)):
            arr = np.empty(new_cap, dtype=dtype)
            old = getattr(self, name)[: self._n]
            arr[: len(old)] = old
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
        """The stored float vectors (N, D) (a view; do not modify). int8 codes need their scales: use
        :meth:`get` or :meth:`decode_range` instead."""
        if self.quantised:
            raise TypeError("an int8 store has no float matrix; decode rows with get() or decode_range()")
        return self._vectors[: self._n]

    def _sorted_ids(self) -> tuple[np.ndarray, np.ndarray]:
        if self._lookup is None:
            order = np.argsort(self.ids, kind="stable")
            self._lookup = (self.ids[order], order)
        return self._lookup

    def contains(self, ids: np.ndarray) -> np.ndarray:
        """Boolean mask: which of ``ids`` are stored."""
        sorted_ids, _ = self._sorted_ids()
        if len(sorted_ids) == 0:
            return np.zeros(len(ids), dtype=bool)
        pos = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
        return sorted_ids[pos] == ids

    def rows_of(self, ids: Iterable[int] | np.ndarray) -> np.ndarray:
        wanted = np.asarray(ids if isinstance(ids, np.ndarray) else list(ids), dtype=np.int64).reshape(-1)
        found = self.contains(wanted)
        if not found.all():
            raise KeyError(f"item {int(wanted[~found][0])} is not in the index")
        sorted_ids, order = self._sorted_ids()
        return order[np.searchsorted(sorted_ids, wanted)].astype(np.int64)

    def get(self, rows: np.ndarray) -> np.ndarray:
        """Decoded float32 vectors of these rows (N, D)."""
        out = self._vectors[rows].astype(np.float32, copy=False)
        if self.quantised:
            out *= self._scales[rows][:, None]
        return out

    def decode_range(self, start: int, stop: int) -> np.ndarray:
        """Decoded float32 rows [start, stop)."""
        out = np.asarray(self._vectors[start:stop]).astype(np.float32, copy=False)
        if self.quantised:
            out = out * self._scales[start:stop, None]
        return out

    def blocks(self, block: int = DECODE_ROWS):
        """(start, float32 rows) over the whole store, ``block`` rows at a time."""
        for start in range(0, self._n, block):
            yield start, self.decode_range(start, min(start + block, self._n))

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

    def _dots(self, q: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
        """Inner products of the decoded rows with ``q``, decoding at most DECODE_ROWS rows at a time."""
        if self.dtype == np.float32:
            return matvec(self.matrix if rows is None else self._vectors[rows], q)
        n = self._n if rows is None else len(rows)
        dots = np.empty(n, dtype=np.float32)
        for start in range(0, n, DECODE_ROWS):
            part = slice(start, min(start + DECODE_ROWS, n))
            chunk = self._vectors[part] if rows is None else self._vectors[rows[part]]
            dots[part] = matvec(chunk.astype(np.float32), q)
            if self.quantised:
                dots[part] *= self._scales[part] if rows is None else self._scales[rows[part]]
        return dots

    def distances(self, q: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Exact distances (on the stored precision) from a prepared query to the given rows (all when None)."""
        dots = self._dots(q, rows)  # (n,)
        if self.space == "cosine":
            return (1.0 - dots).astype(np.float32, copy=False)
        sq = self._sqnorms[: self._n] if rows is None else self._sqnorms[rows]
        return np.maximum(sq - 2.0 * dots + float(q @ q), 0.0).astype(np.float32, copy=False)

    # --- files -------------------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        np.save(directory / "vectors.npy", self._vectors[: self._n], allow_pickle=False)
        np.save(directory / "ids.npy", self.ids, allow_pickle=False)
        np.save(directory / "categories.npy", self.categories, allow_pickle=False)
        if self.quantised:
            np.save(directory / SCALES_FILE, self._scales[: self._n], allow_pickle=False)

    @classmethod
    def load(cls, directory: str | os.PathLike, dim: int, space: str, dtype: str,
             mmap: bool = False) -> "VectorStore":
        """Read a saved store; ``mmap`` maps the vectors from disk instead of reading them (module docstring)."""
        directory = Path(directory)
        store = cls(dim, space, dtype)
        try:
            vectors = np.load(directory / "vectors.npy", allow_pickle=False, mmap_mode="r" if mmap else None)
            ids = np.load(directory / "ids.npy", allow_pickle=False)
            cats = np.load(directory / "categories.npy", allow_pickle=False)
            scales = (np.load(directory / SCALES_FILE, allow_pickle=False) if store.quantised
                      else np.empty(0, np.float32))
        except (OSError, ValueError, EOFError) as exc:
            raise IndexLoadError(f"cannot read index vectors in {directory}: {exc}") from exc
        if vectors.ndim != 2 or vectors.shape[1] != dim or len(ids) != len(vectors) or len(cats) != len(vectors):
            raise IndexLoadError(
                f"index vectors in {directory} have shape {vectors.shape} with {len(ids)} ids and "
                f"{len(cats)} categories; expected (N, {dim}) with N of each"
            )
        if store.quantised and (vectors.dtype != np.int8 or len(scales) != len(vectors)):
            raise IndexLoadError(f"int8 index vectors in {directory} are {vectors.dtype} with {len(scales)} "
                                 f"scales for {len(vectors)} rows; rebuild the index")
        # Adopt the loaded arrays as the storage (capacity = N; the next append grows it).
        store._vectors = vectors if vectors.dtype == store.dtype else np.ascontiguousarray(vectors, store.dtype)
        store._scales = scales.astype(np.float32, copy=False)
        store._ids = ids.astype(np.int64, copy=False)
        store._categories = cats.astype(np.int32, copy=False)
        store._n = len(ids)
        if len(np.unique(store._ids)) != len(ids):
            raise IndexLoadError(f"index ids in {directory} are not unique; rebuild the index")
        store._sqnorms = store._row_sqnorms(0, store._n)
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
