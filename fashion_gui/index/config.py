"""Index parameters (one dataclass, saved in every index manifest).

The defaults were chosen by measurement on the 2-core development machine (shared, so under load) with
synthetic ADDE-like embeddings: 100k items of 12 attribute chunks x 340 dims = 4080-d, each chunk one
of 8 value prototypes + noise (``fashion bench query``; fashion_gui/index/synthetic.py). Findings:

* A plain HNSW graph in the full 4080-d space is too slow (~6 ms for recall 0.97 at 20k items), so the
  graph lives in a 128-d PCA projection (projection.py) and its candidates are re-ranked exactly in the
  full space (hnsw.py). With the exact top 100 of the 128-d space as candidates, re-ranking recovers
  99.9% of the true top 50; with 64 dims only 76% (96.5% from 400 candidates). 256 dims gave no more
  recall than 128 and doubled the build time, so recall is limited by the graph walk, not the projection.
* Graph degree: at ef=200, recall@50 was 0.92 with M=16, 0.988 with M=32 and 0.997 with M=48; M=48 at
  ef=150 (0.990) cost the same per query as M=32 at ef=200 but took ~2x longer to build. M=32,
  ef_construction=200 builds 100k items in ~100 s on 2 cores.
* ef_search (M=32, 100 candidates): recall 0.972 / 0.988 / 0.994 / 0.997 at ef 150 / 200 / 250 / 300
  for p50 2.16 / 2.21 / 2.39 / 2.59 ms on the loaded machine; 100 vs 150 candidates: 0.988 vs 0.989.
  Of the ~2 ms, the graph walk is ~1.1 ms, the projection 0.2 ms and the gather + dot of the 100
  re-ranked full vectors 0.4 ms (float16 storage: 1.3 ms, numpy's float16 -> float32 cast is slow).
  On a quieter run: p50 1.80 ms, p99 1.98 ms, recall@50 0.984, exact scan 80 ms (44x).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

SPACES = ("cosine", "l2")
STORAGE_DTYPES = ("float32", "float16", "int8")
# Fields that only say how a saved index is opened, not what was built: changing one never rebuilds it.
LOAD_OPTIONS = ("memmap", "num_threads")
SUBSPACE_KINDS = ("exact", "hnsw", "projected")


@dataclass(frozen=True)
class IndexConfig:
    """How an index is built and searched. Every field is part of the manifest: changing one rebuilds."""

    space: str = "cosine"  # "cosine" (vectors L2-normalised, distance 1 - cos) or "l2" (squared euclidean)
    M: int = 32  # HNSW links per node (module docstring: 16 loses 7 points of recall@50, 48 builds 2x slower)
    ef_construction: int = 200  # HNSW build beam; ~100 s for 100k items on 2 cores in 128-d
    ef_search: int = 200  # HNSW search beam (raised to the candidate count when that is larger)
    search_dim: int = 128  # dims of the PCA projection the graph is built in; 0 = graph in the full space
    pca_sample: int = 20000  # rows sampled to learn the projection (randomised SVD)
    rerank: int = 2  # candidates fetched = max(k * rerank, min_candidates), re-ranked exactly
    min_candidates: int = 100  # floor on the candidate count (100 recovers the exact top 50 in 128-d)
    exact_threshold: int = 5000  # fewer items: exact scan, no build (~4 ms at 5k x 4080); more: HNSW
    category_scan_fraction: float = 0.3  # categories up to this share of items: projected scan (hnsw.py)
    subspace_index: str = "projected"  # attribute subspaces: "exact", "hnsw" or "projected" (scan + re-rank,
    #                                    exact below exact_threshold items; subspaces.py, projected.py)
    subspace_search_dim: int = 32  # "projected": dims of each subspace's PCA scan (index/projected.py)
    subspace_candidates: int = 400  # "projected": candidates re-ranked exactly in the full subspace
    storage: str = "float32"  # re-ranking vectors; "float16" halves memory but adds ~0.9 ms per query;
    #                           "int8" (+ one scale per row) quarters it (vector_store.py; a million items)
    memmap: bool = False  # map the saved re-ranking vectors and projected vectors from disk instead of
    #                       reading them into memory (catalogs larger than RAM; vector_store.py)
    num_threads: int = 0  # threads for building (0 = all cores); queries always use one thread
    seed: int = 100  # seeds the projection and the HNSW level generator

    def __post_init__(self) -> None:
        if self.space not in SPACES:
            raise ValueError(f"IndexConfig.space must be one of {', '.join(SPACES)}, not {self.space!r}")
        if self.storage not in STORAGE_DTYPES:
            raise ValueError(f"IndexConfig.storage must be one of {', '.join(STORAGE_DTYPES)}, not {self.storage!r}")
        if self.subspace_index not in SUBSPACE_KINDS:
            raise ValueError(f"IndexConfig.subspace_index must be one of {', '.join(SUBSPACE_KINDS)}, "
                             f"not {self.subspace_index!r}")
        for name in ("M", "ef_construction", "ef_search", "rerank", "min_candidates", "pca_sample",
                     "subspace_search_dim", "subspace_candidates"):
            if getattr(self, name) < 1:
                raise ValueError(f"IndexConfig.{name} must be at least 1, got {getattr(self, name)}")
        if self.search_dim < 0 or self.exact_threshold < 0 or self.num_threads < 0:
            raise ValueError("IndexConfig.search_dim, exact_threshold and num_threads must not be negative")
        if not 0.0 <= self.category_scan_fraction <= 1.0:
            raise ValueError("IndexConfig.category_scan_fraction must lie in [0, 1]")

    def to_dict(self) -> dict:
        return asdict(self)

    def built_like(self, other: "IndexConfig") -> bool:
        """True when the two configurations build the same index (they may differ in LOAD_OPTIONS)."""
        return all(getattr(self, f.name) == getattr(other, f.name) for f in fields(self) if f.name not in LOAD_OPTIONS)

    @classmethod
    def from_dict(cls, data: dict) -> "IndexConfig":
        """Rebuild from a manifest; unknown keys are refused so an old program never misreads a new index."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown index parameters {unknown}; this program knows {sorted(known)}")
        return cls(**data)
