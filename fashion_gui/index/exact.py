"""Exact search: one numpy matrix-vector product over all stored vectors.

Used for small catalogs (below ``IndexConfig.exact_threshold`` items it is faster than HNSW and needs no
build), as the ground truth of recall measurements, and for attribute subspaces at demo sizes.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from fashion_gui.index.base import Category, SearchResult
from fashion_gui.index.config import IndexConfig
from fashion_gui.index.vector_store import StoreBackedIndex, VectorStore, category_set, exact_scan, top_k

BATCH_ROWS = 256  # queries per matrix product in search_batch (bounds the (B, N) distance block)


class ExactIndex(StoreBackedIndex):
    """Brute-force nearest neighbours in float32 (storage is always float32 here: it is the reference)."""

    kind = "exact"

    def __init__(self, dim: int, config: IndexConfig | None = None) -> None:
        super().__init__(dim, config)
        self._store = VectorStore(dim, self.config.space, "float32")
        self._lock = threading.RLock()

    def build(self, ids: np.ndarray, vectors: np.ndarray, categories: np.ndarray | None = None) -> None:
        store = VectorStore(self.dim, self.config.space, "float32")
        store.append(ids, store.prepare(vectors), categories)
        with self._lock:
            self._store = store

    def add(self, ids: np.ndarray, vectors: np.ndarray, categories: np.ndarray | None = None) -> None:
        prepared = self._store.prepare(vectors)
        with self._lock:
            self._store.append(ids, prepared, categories)

    def search(self, query: np.ndarray, k: int, *, category: Category = None) -> SearchResult:
        with self._lock:
            store = self._store
            q = store.prepare_query(query)
            cats = category_set(category)
            rows = None if cats is None else store.category_rows(cats)
            return exact_scan(store, q, rows, k)

    def search_batch(self, queries: np.ndarray, k: int, *, category: Category = None) -> list[SearchResult]:
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if category is not None:
            return [self.search(q, k, category=category) for q in queries]
        out: list[SearchResult] = []
        with self._lock:
            store = self._store
            prepared = np.stack([store.prepare_query(q) for q in queries]) if len(queries) else queries
            mat = store.matrix
            sq = np.einsum("ij,ij->i", mat, mat) if self.config.space == "l2" else None
            for start in range(0, len(prepared), BATCH_ROWS):
                block = prepared[start:start + BATCH_ROWS]
                dots = block @ mat.T  # (B, N)
                if sq is None:
                    dist = 1.0 - dots
                else:
                    dist = np.maximum(sq[None, :] - 2.0 * dots + np.einsum("ij,ij->i", block, block)[:, None], 0.0)
                for row in dist:
                    order = top_k(row, k)
                    out.append(SearchResult(store.ids[order].copy(), row[order].astype(np.float32),
                                            self.config.space))
        return out

    def save(self, directory: str | os.PathLike) -> None:
        with self._lock:
            self._store.save(Path(directory))

    @classmethod
    def load(cls, directory: str | os.PathLike, dim: int, config: IndexConfig) -> "ExactIndex":
        index = cls(dim, config)
        index._store = VectorStore.load(directory, dim, config.space, "float32")
        return index
