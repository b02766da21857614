"""Synthetic embeddings shaped like ADDE's, for benchmarks and tests (no model or images needed).

A embedding = A attribute chunks of d dims (A x d, e.g. 12 x 340 = 4080). Each attribute has
``n_values`` prototype vectors (random unit vectors in its chunk); an item picks one value per attribute
and its chunk is that prototype plus isotropic Gaussian noise of norm ~``noise``, L2-normalised per chunk
(ADDE normalises each attribute chunk). Items belong to one of ``n_categories`` categories; the first
attribute follows the category for 80% of the items, so categories are visible in the embedding.
Queries mimic attribute manipulation: a fresh item with one chunk replaced by a clean prototype.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SyntheticEmbeddings:
    vectors: np.ndarray  # (N, A * d) float32, each chunk unit-norm
    categories: np.ndarray  # (N,) int32
    values: np.ndarray  # (N, A) int32 value index per attribute
    prototypes: np.ndarray  # (A, n_values, d) float32 unit vectors

    @property
    def ids(self) -> np.ndarray:
        return np.arange(len(self.vectors), dtype=np.int64)


def _chunks(rng: np.random.Generator, prototypes: np.ndarray, values: np.ndarray, noise: float) -> np.ndarray:
    n_attr, _, d = prototypes.shape
    out = np.empty((len(values), n_attr * d), dtype=np.float32)
    for a in range(n_attr):
        chunk = out[:, a * d:(a + 1) * d]
        chunk[:] = rng.standard_normal((len(values), d), dtype=np.float32)
        chunk *= np.float32(noise / np.sqrt(d))
        chunk += prototypes[a, values[:, a]]
        chunk /= np.linalg.norm(chunk, axis=1, keepdims=True)
    return out


def _prototypes(rng: np.random.Generator, n_attributes: int, n_values: int, chunk_dim: int) -> np.ndarray:
    prototypes = rng.standard_normal((n_attributes, n_values, chunk_dim), dtype=np.float32)
    prototypes /= np.linalg.norm(prototypes, axis=-1, keepdims=True)
    return prototypes


def _items(rng: np.random.Generator, prototypes: np.ndarray, n: int, noise: float,
           n_categories: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vectors, categories, values) of n fresh items."""
    n_attributes, n_values, _ = prototypes.shape
    categories = rng.integers(0, n_categories, n).astype(np.int32)
    values = rng.integers(0, n_values, (n, n_attributes)).astype(np.int32)
    follows = rng.random(n) < 0.8
    values[follows, 0] = categories[follows] % n_values
    return _chunks(rng, prototypes, values, noise), categories, values


def synthetic_embeddings(n: int, n_attributes: int = 12, chunk_dim: int = 340, n_values: int = 8,
                         noise: float = 0.6, n_categories: int = 10, seed: int = 0) -> SyntheticEmbeddings:
    rng = np.random.default_rng(seed)
    prototypes = _prototypes(rng, n_attributes, n_values, chunk_dim)
    vectors, categories, values = _items(rng, prototypes, n, noise, n_categories)
    return SyntheticEmbeddings(vectors, categories, values, prototypes)


def synthetic_blocks(n: int, block: int, n_attributes: int = 12, chunk_dim: int = 340, n_values: int = 8,
                     noise: float = 0.6, n_categories: int = 10, seed: int = 0):
    """The same kind of data as :func:`synthetic_embeddings` (same prototypes for a seed), generated
    ``block`` items at a time so that a million 4080-d items never exist in memory at once. Yields
    (first id, SyntheticEmbeddings of the block); ids run 0..n-1 across blocks."""
    prototypes = _prototypes(np.random.default_rng(seed), n_attributes, n_values, chunk_dim)
    for index, start in enumerate(range(0, n, block)):
        rng = np.random.default_rng([seed, index])
        vectors, categories, values = _items(rng, prototypes, min(block, n - start), noise, n_categories)
        yield start, SyntheticEmbeddings(vectors, categories, values, prototypes)


def manipulation_queries(data: SyntheticEmbeddings, n: int, noise: float = 0.6, seed: int = 1) -> np.ndarray:
    """(n, A * d) queries: new items whose chunk for one random attribute is a clean value prototype."""
    rng = np.random.default_rng(seed)
    n_attr, n_values, d = data.prototypes.shape
    values = rng.integers(0, n_values, (n, n_attr))
    queries = _chunks(rng, data.prototypes, values, noise)
    edited = rng.integers(0, n_attr, n)
    new_value = rng.integers(0, n_values, n)
    for i, (a, v) in enumerate(zip(edited.tolist(), new_value.tolist())):
        queries[i, a * d:(a + 1) * d] = data.prototypes[a, v]
    return queries
