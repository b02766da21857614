"""Building an HNSW index over more items than fit in memory as float32: two streamed passes.

A million 4080-d items are 16 GB as float32, so :class:`HnswIndex.build` (which holds every prepared vector)
cannot index them on a 24 GB machine. :class:`StreamedHnswBuild` writes the same files as
:meth:`HnswIndex.save`, so :func:`fashion_gui.index.persist.load_index` opens the result (memory-mapped with
``IndexConfig.memmap``), while holding only one block of items at a time:

1. the items arrive in blocks (``IndexData``); each is normalised, encoded in the storage dtype (int8 codes +
   scales, float16 or float32) and written into a memory-mapped ``vectors.npy``; a seeded random sample of
   ``pca_sample`` rows (fixed before the pass) is kept as float32 for the projection;
2. the projection is fitted on that sample (projection.py), then the stored rows are read back block by
   block, decoded, projected into a memory-mapped ``projected.npy`` and inserted into the hnswlib graph.

Peak memory is the graph (about ``(4 * search_dim + 8 * M) + 16`` bytes per item, ~0.8 GB at 1M, M=32, 128-d)
plus one block. Used by ``fashion bench million``; saving goes through :func:`save_index` (atomic).
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import hnswlib
import numpy as np

from fashion_gui.index.base import check_ids
from fashion_gui.index.config import IndexConfig
from fashion_gui.index.hnsw import GRAPH_FILE, PROJECTED_FILE, PROJECTION_FILE, HnswIndex
from fashion_gui.index.manifest import IndexManifest
from fashion_gui.index.persist import IndexData, save_index
from fashion_gui.index.projection import Projection
from fashion_gui.index.vector_store import DECODE_ROWS, SCALES_FILE, VectorStore

Progress = Callable[[str, int, int], None]  # (stage, items done, items in all)
GRAPH_BLOCK = 65536  # items inserted into the graph per add_items call


class StreamedHnswBuild:
    """An HNSW index built from blocks of items straight into its files (module docstring).

    It stands in for an index in :func:`save_index` (``kind``, ``len``, ``save``), which makes the write
    atomic; open the result with :func:`load_index`.
    """

    kind = HnswIndex.kind

    def __init__(self, dim: int, n: int, blocks: Callable[[], Iterable[IndexData]],
                 config: IndexConfig | None = None, progress: Progress | None = None) -> None:
        self.dim, self.n = int(dim), int(n)
        self.config = config or IndexConfig()
        if not 0 < self.config.search_dim < self.dim:
            raise ValueError("a streamed build needs a projection: IndexConfig.search_dim in 1..dim-1, "
                             f"got {self.config.search_dim} for {self.dim} dims")
        self.blocks = blocks
        self.progress = progress or (lambda stage, done, total: None)
        self.seconds: dict[str, float] = {}

    def __len__(self) -> int:
        return self.n

    def save(self, directory: str | os.PathLike) -> None:
        directory = Path(directory)
        start = time.perf_counter()
        sample = self._write_vectors(directory)
        self.seconds["vectors"] = time.perf_counter() - start
        start = time.perf_counter()
        cfg = self.config
        projection = Projection.fit(sample, cfg.search_dim, sample=len(sample), seed=cfg.seed)
        projection.save(directory / PROJECTION_FILE)
        del sample
        self.seconds["projection"] = time.perf_counter() - start
        start = time.perf_counter()
        self._write_graph(directory, projection)
        self.seconds["graph"] = time.perf_counter() - start

    def _write_vectors(self, directory: Path) -> np.ndarray:
        """Pass 1: encoded vectors, ids, categories (and int8 scales); returns the projection sample."""
        cfg = self.config
        store = VectorStore(self.dim, cfg.space, cfg.storage)
        codes = np.lib.format.open_memmap(directory / "vectors.npy", mode="w+", dtype=store.dtype,
                                          shape=(self.n, self.dim))
        ids = np.empty(self.n, dtype=np.int64)
        cats = np.full(self.n, -1, dtype=np.int32)
        scales = np.empty(self.n if store.quantised else 0, dtype=np.float32)
        rng = np.random.default_rng(cfg.seed)
        sample_rows = np.sort(rng.choice(self.n, size=min(cfg.pca_sample, self.n), replace=False))
        sample = np.empty((len(sample_rows), self.dim), dtype=np.float32)
        done = 0
        for block in self.blocks():
            block = IndexData(*block)
            m = len(block.ids)
            if done + m > self.n:
                raise ValueError(f"the blocks hold more than the {self.n} items announced")
            prepared = store.prepare(block.vectors)
            rows = slice(done, done + m)
            ids[rows] = check_ids(block.ids, m)
            if block.categories is not None:
                cats[rows] = np.asarray(block.categories, dtype=np.int32).reshape(-1)
            encoded, block_scales = store.encode(prepared)
            codes[rows] = encoded
            if block_scales is not None:
                scales[rows] = block_scales
            lo, hi = np.searchsorted(sample_rows, [done, done + m])
            sample[lo:hi] = prepared[sample_rows[lo:hi] - done]
            done += m
            self.progress("vectors", done, self.n)
        if done != self.n:
            raise ValueError(f"the blocks held {done} items, {self.n} were announced")
        if len(np.unique(ids)) != self.n:
            raise ValueError("item ids must be unique across all blocks")
        codes.flush()
        del codes
        np.save(directory / "ids.npy", ids, allow_pickle=False)
        np.save(directory / "categories.npy", cats, allow_pickle=False)
        if store.quantised:
            np.save(directory / SCALES_FILE, scales, allow_pickle=False)
        return sample

    def _write_graph(self, directory: Path, projection: Projection) -> None:
        """Pass 2: decode the stored rows, project them, insert them into the graph."""
        cfg = self.config
        store = VectorStore.load(directory, self.dim, cfg.space, cfg.storage, mmap=True)
        projected = np.lib.format.open_memmap(directory / PROJECTED_FILE, mode="w+", dtype=np.float32,
                                              shape=(self.n, projection.dim))
        graph = hnswlib.Index(space="ip" if cfg.space == "cosine" else "l2", dim=projection.dim)
        graph.init_index(max_elements=max(self.n, 16), ef_construction=cfg.ef_construction, M=cfg.M,
                         random_seed=cfg.seed)
        threads = cfg.num_threads or (os.cpu_count() or 1)
        step = max(GRAPH_BLOCK // DECODE_ROWS, 1) * DECODE_ROWS
        for start in range(0, self.n, step):
            stop = min(start + step, self.n)
            z = projection.items(store.decode_range(start, stop))
            projected[start:stop] = z
            graph.add_items(z, np.arange(start, stop), num_threads=threads)
            self.progress("graph", stop, self.n)
        projected.flush()
        del projected
        graph.save_index(str(directory / GRAPH_FILE))


def build_streamed(directory: str | os.PathLike, manifest: IndexManifest, n: int,
                   blocks: Callable[[], Iterable[IndexData]], progress: Progress | None = None) -> StreamedHnswBuild:
    """Build and save (atomically, under the index's build lock) an HNSW index from blocks of items;
    returns the build, whose ``seconds`` holds the time of each pass."""
    build = StreamedHnswBuild(manifest.dim, n, blocks, manifest.config, progress)
    save_index(build, directory, manifest)  # type: ignore[arg-type]  (an index for save_index's purposes)
    return build
