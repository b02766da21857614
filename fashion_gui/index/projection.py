"""A fixed linear projection of the indexed vectors to a compact search space for the HNSW graph.

PCA of the stored (unit, for cosine) vectors, learned by a randomised SVD (Halko, Martinsson & Tropp
2011, Alg. 4.4 with two power iterations) on a row sample. Every step is a large matrix product or an
eigendecomposition of a small (w x w) Gram matrix (SVQB orthonormalisation instead of Householder QR,
eigh of B B^T instead of an SVD of B): LAPACK's QR and SVD issue many small multi-threaded BLAS calls,
which on 2 cores shared with a training process took 4.5 s for a 2000 x 256 fit (now 1.1 s; 0.05 s
on an idle machine).

Items are centred then projected, ``z_x = B^T (x - mu)``. For cosine the query is projected *without*
centring, ``z_q = B^T q``, because ``<q, x> = <q, mu> + <q, x - mu>`` and the first term is the same for
every item: the inner product in the projected space then ranks items as ``<q, x>`` does, up to the part
of ``x - mu`` outside the basis.
For l2 both are centred and the projected squared distance is a lower bound of the full one.
Candidates found in this space are always re-ranked exactly in the full space (hnsw.py).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fashion_gui.index.base import IndexLoadError

OVERSAMPLE = 16  # extra random directions of the randomised SVD
POWER_ITERATIONS = 2


@dataclass(frozen=True)
class Projection:
    basis: np.ndarray  # (D, p) float32, orthonormal columns
    mean: np.ndarray  # (D,) float32

    @property
    def dim(self) -> int:
        return int(self.basis.shape[1])

    @classmethod
    def fit(cls, vectors: np.ndarray, dim: int, *, sample: int = 20000, seed: int = 0) -> "Projection":
        """Top-``dim`` principal directions of a random sample of ``vectors`` (N, D)."""
        rng = np.random.default_rng(seed)
        n, d = vectors.shape
        if not 0 < dim < d:
            raise ValueError(f"projection dims must lie in 1..{d - 1}, got {dim}")
        rows = np.sort(rng.choice(n, size=min(sample, n), replace=False))
        x = vectors[rows].astype(np.float32)  # (S, D)
        mean = x.mean(axis=0)
        x -= mean
        width = min(dim + OVERSAMPLE, *x.shape)
        y = x @ rng.standard_normal((d, width), dtype=np.float32)  # (S, w)
        for _ in range(POWER_ITERATIONS):
            y = x @ (x.T @ orthonormal_columns(y))  # (S, w)
        q = orthonormal_columns(y)  # (S, w')
        b = (q.T @ x).astype(np.float64)  # (w', D)
        evals, u = np.linalg.eigh(b @ b.T)  # squared singular values of b, ascending
        keep = np.flatnonzero(evals > max(float(evals.max()), 1e-30) * 1e-10)[::-1][:dim]
        basis = (b.T @ u[:, keep]) / np.sqrt(evals[keep])  # (D, r) right singular vectors, largest first
        if basis.shape[1] < dim:  # rank below dim (few rows): fill up with random orthogonal directions
            extra = rng.standard_normal((d, dim - basis.shape[1]))
            extra -= basis @ (basis.T @ extra)
            basis = np.hstack([basis, orthonormal_columns(extra)])
        return cls(np.ascontiguousarray(basis, dtype=np.float32), mean.astype(np.float32))

    def items(self, vectors: np.ndarray) -> np.ndarray:
        """Projected items (N, p), computed in blocks to bound the temporary (x - mu)."""
        out = np.empty((len(vectors), self.dim), dtype=np.float32)
        for start in range(0, len(vectors), 8192):
            block = vectors[start:start + 8192].astype(np.float32, copy=False)
            out[start:start + len(block)] = (block - self.mean) @ self.basis
        return out

    def query(self, q: np.ndarray, space: str) -> np.ndarray:
        """Projected query (p,): uncentred for cosine (inner-product ranking), centred for l2.

        numpy's own einsum loop, not BLAS: a multi-threaded sgemv of this size (4080 x 128) takes
        0.05 ms on an idle machine but waits up to 8 ms for its second thread when the other core is busy
        (measured p90 on 2 cores under load); einsum takes a steady ~0.2 ms on one core.
        """
        v = q if space == "cosine" else q - self.mean
        return np.einsum("d,dp->p", v, self.basis)

    def save(self, path: Path) -> None:
        with open(path, "wb") as fh:
            np.savez(fh, basis=self.basis, mean=self.mean)

    @classmethod
    def load(cls, path: str | os.PathLike, dim_in: int) -> "Projection":
        try:
            with np.load(path, allow_pickle=False) as data:
                basis, mean = data["basis"], data["mean"]
        except (OSError, ValueError, KeyError, EOFError) as exc:
            raise IndexLoadError(f"cannot read the index projection {path}: {exc}") from exc
        if basis.ndim != 2 or basis.shape[0] != dim_in or mean.shape != (dim_in,):
            raise IndexLoadError(f"index projection {path} has shape {basis.shape}, expected ({dim_in}, p)")
        return cls(basis.astype(np.float32), mean.astype(np.float32))


def orthonormal_columns(y: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the column space of ``y`` (n, w) by SVQB (Stathopoulos & Wu 2002), done
    twice in float64 for accuracy; directions with a negligible singular value are dropped."""
    dtype = y.dtype
    q = y.astype(np.float64)
    for _ in range(2):
        evals, vecs = np.linalg.eigh(q.T @ q)  # (w, w)
        keep = evals > max(float(evals.max()), 1e-300) * 1e-12
        q = q @ (vecs[:, keep] / np.sqrt(evals[keep]))
    return q.astype(dtype)
