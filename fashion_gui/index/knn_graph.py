"""The k-nearest-neighbour graph of style paths (cooperative embeddings, Sec. 5.3).

Nodes are gallery items; each item is joined to its k nearest items (k = 5 in the paper) and the graph is
made symmetric (an edge exists when either end has the other among its k nearest), with the L2 distance
between the two stored vectors as the edge weight. The vectors are those the index holds: for a cosine
index they are unit vectors (per subspace for attribute subspaces), whose L2 distance is a monotone
function of the cosine distance, so graph, paths and searches agree on what "near" means.

Neighbours come from the HNSW index (one threaded batch query plus exact re-ranking, hnsw.py) or, for an
exact index, from a blocked exact scan while N^2 * D stays below ``EXACT_BUDGET``; beyond that a
temporary HNSW index is built. The graph is cached beside its index as ``knn-k<k>[-s<a>].npz`` and keyed
by the index manifest, the item ids and k, so a changed index never serves an old graph.
"""
from __future__ import annotations

import hashlib
import json
import os
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from fashion_gui.atomic import atomic_open
from fashion_gui.index.base import IndexLoadError, VectorIndex
from fashion_gui.index.config import IndexConfig
from fashion_gui.index.exact import ExactIndex
from fashion_gui.index.hnsw import HnswIndex
from fashion_gui.index.manifest import IndexManifest
from fashion_gui.index.subspaces import SubspaceIndexSet

log = logging.getLogger(__name__)

GRAPH_FORMAT = 1
EXACT_BUDGET = 2e11  # N^2 * D multiply-adds (a few seconds on 2 cores) for an exact neighbour scan
EXACT_BLOCK = 512  # rows per (B, N) distance block of the exact scan


@dataclass(eq=False)
class KnnGraph:
    """Symmetric kNN graph in CSR form: node i is item ``ids[i]``; its edges are
    ``indices[indptr[i]:indptr[i + 1]]`` with lengths ``weights[...]``."""

    ids: np.ndarray  # (N,) int64
    indptr: np.ndarray  # (N + 1,) int64
    indices: np.ndarray  # (E,) int32
    weights: np.ndarray  # (E,) float32, L2
    k: int
    components: np.ndarray  # (N,) int32 connected-component label of each node
    _node: dict[int, int] = field(init=False, repr=False)
    _order: np.ndarray = field(init=False, repr=False)  # node positions sorting ids ascending
    _lists: tuple[list, list, list] | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        self._node = {int(i): n for n, i in enumerate(self.ids.tolist())}
        self._order = np.argsort(self.ids, kind="stable")

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, item_id: object) -> bool:
        return isinstance(item_id, (int, np.integer)) and int(item_id) in self._node

    @property
    def n_edges(self) -> int:
        """Undirected edges (each is stored in both directions)."""
        return len(self.indices) // 2

    @property
    def n_components(self) -> int:
        return int(self.components.max()) + 1 if len(self.components) else 0

    def node(self, item_id: int) -> int:
        try:
            return self._node[int(item_id)]
        except KeyError:
            raise KeyError(f"item {item_id} is not a node of this graph (it holds {len(self)} gallery items)") from None

    def nodes_of(self, item_ids: np.ndarray | list[int]) -> np.ndarray:
        """Nodes of those ``item_ids`` that are in the graph (others are skipped), in the given order."""
        item_ids = np.asarray(item_ids, dtype=np.int64).reshape(-1)
        if len(self.ids) == 0 or len(item_ids) == 0:
            return np.empty(0, dtype=np.int64)
        sorted_ids = self.ids[self._order]
        pos = np.minimum(np.searchsorted(sorted_ids, item_ids), len(sorted_ids) - 1)
        found = sorted_ids[pos] == item_ids
        return self._order[pos[found]].astype(np.int64)

    def neighbours(self, node: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.indptr[node], self.indptr[node + 1]
        return self.indices[lo:hi], self.weights[lo:hi]

    def adjacency_lists(self) -> tuple[list, list, list]:
        """(indptr, indices, weights) as Python lists, built once: Dijkstra's inner loop reads these."""
        if self._lists is None:
            self._lists = (self.indptr.tolist(), self.indices.tolist(), self.weights.tolist())
        return self._lists

    def is_symmetric(self) -> bool:
        n = len(self)
        src = np.repeat(np.arange(n, dtype=np.int64), np.diff(self.indptr))
        fwd = np.lexsort((self.indices, src))
        bwd = np.lexsort((src, self.indices))
        return bool(np.array_equal(src[fwd], self.indices[bwd]) and np.array_equal(self.indices[fwd], src[bwd])
                    and np.array_equal(self.weights[fwd], self.weights[bwd]))

    # --- construction ------------------------------------------------------------------------------
    @classmethod
    def from_neighbours(cls, ids: np.ndarray, rows: np.ndarray, dist: np.ndarray, k: int) -> "KnnGraph":
        """Symmetrise per-node neighbour lists (N, k) of row positions (-1 = none) and L2 distances."""
        src = np.repeat(np.arange(len(ids), dtype=np.int64), rows.shape[1])
        return cls.from_edges(ids, src, rows.reshape(-1), dist.reshape(-1), k)

    @classmethod
    def from_edges(cls, ids: np.ndarray, src: np.ndarray, dst: np.ndarray, w: np.ndarray, k: int) -> "KnnGraph":
        """Undirected graph from directed edge arrays (node positions, -1 = none); duplicates keep the shortest."""
        n = len(ids)
        src, dst = np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)
        w = np.asarray(w, dtype=np.float32)
        ok = (dst >= 0) & (dst != src)
        src, dst, w = src[ok], dst[ok], w[ok]
        src, dst = np.concatenate([src, dst]), np.concatenate([dst, src])
        w = np.concatenate([w, w])
        order = np.lexsort((w, dst, src))  # by (src, dst), shortest first among duplicates
        src, dst, w = src[order], dst[order], w[order]
        first = np.ones(len(src), dtype=bool)
        first[1:] = (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])
        src, dst, w = src[first], dst[first], w[first]
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
        return cls(np.asarray(ids, dtype=np.int64).copy(), indptr, dst.astype(np.int32), w, int(k),
                   _components(indptr, dst, n))

    def with_edges(self, src: np.ndarray, dst: np.ndarray, w: np.ndarray) -> "KnnGraph":
        """This graph plus undirected edges ``src[i] - dst[i]`` (node positions) of lengths ``w``."""
        own_src = np.repeat(np.arange(len(self), dtype=np.int64), np.diff(self.indptr))
        return KnnGraph.from_edges(self.ids, np.concatenate([own_src, src]),
                                   np.concatenate([self.indices.astype(np.int64), dst]),
                                   np.concatenate([self.weights, w]), self.k)

    @classmethod
    def build(cls, index: VectorIndex, k: int = 5) -> "KnnGraph":
        """The kNN graph over all items of ``index`` (module docstring says how neighbours are found)."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        ids = index.ids
        if isinstance(index, HnswIndex):
            rows, dist = index.item_neighbours(k)
        elif float(len(ids)) ** 2 * index.dim <= EXACT_BUDGET:
            rows, dist = exact_neighbours(index.vectors(ids), k)
        else:
            temp = HnswIndex(index.dim, replace(index.config, search_dim=_graph_search_dim(index),
                                                ef_construction=min(index.config.ef_construction, 100)))
            temp.build(ids, index.vectors(ids))
            rows, dist = temp.item_neighbours(k)
        return cls.from_neighbours(ids, rows, dist, k)

    @classmethod
    def from_vectors(cls, ids: np.ndarray, vectors: np.ndarray, k: int = 5,
                     config: IndexConfig | None = None) -> "KnnGraph":
        """Graph over raw vectors with L2 neighbours (no normalisation), e.g. for a one-off analysis."""
        config = replace(config or IndexConfig(), space="l2")
        vectors = np.asarray(vectors, dtype=np.float32)
        index: VectorIndex
        if len(ids) < config.exact_threshold:
            index = ExactIndex(vectors.shape[1], config)
        else:
            index = HnswIndex(vectors.shape[1], config)
        index.build(ids, vectors)
        return cls.build(index, k)

    # --- files -------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, key: dict) -> None:
        """Write atomically (temp file, fsync, replace) with the cache ``key`` stored inside."""
        with atomic_open(path, "wb") as fh:
            np.savez(fh, ids=self.ids, indptr=self.indptr, indices=self.indices, weights=self.weights,
                     components=self.components, k=np.int64(self.k), key=np.array(json.dumps(key, sort_keys=True)))

    @classmethod
    def load(cls, path: str | os.PathLike) -> tuple["KnnGraph", dict]:
        try:
            with np.load(path, allow_pickle=False) as data:
                key = json.loads(str(data["key"]))
                graph = cls(data["ids"], data["indptr"], data["indices"], data["weights"], int(data["k"]),
                            data["components"])
        except (OSError, ValueError, KeyError, EOFError) as exc:
            raise IndexLoadError(f"cannot read the kNN graph {path}: {exc}") from exc
        n = len(graph.ids)
        if len(graph.indptr) != n + 1 or graph.indptr[-1] != len(graph.indices) or len(graph.components) != n:
            raise IndexLoadError(f"kNN graph {path} is inconsistent; it will be rebuilt")
        return graph, key


def bridge_components(graph: KnnGraph, index: VectorIndex) -> KnnGraph:
    """Join the graph's connected components by their shortest connecting edges (Boruvka rounds).

    A k = 5 graph over a catalog with several photos per product falls apart into many islands (on the
    600-image test demo, style paths from a t-shirt could reach no shoe), so a path "to a category" would
    often not exist. Each round gives every component but the largest its shortest edge to another
    component (the minimum-spanning-forest rule, so no bridge is longer than it must be); rounds repeat
    until one component is left. Bridges are the long hops where styles change, which is what the
    path view marks. Nearest outside neighbours come from an exact scan while that stays cheap, else from
    the index's own search (``BRIDGE_CANDIDATES`` neighbours per node).
    """
    ids = graph.ids
    vectors = None
    while graph.n_components > 1:
        comps = graph.components
        giant = int(np.bincount(comps).argmax())
        nodes = np.flatnonzero(comps != giant)
        if float(len(nodes)) * len(ids) * index.dim <= EXACT_BUDGET:
            if vectors is None:
                vectors = index.vectors(ids)
            other, dist = _nearest_outside_exact(vectors, comps, nodes)
        else:
            other, dist = _nearest_outside_search(index, ids, comps, nodes)
        best: dict[int, tuple[float, int, int]] = {}
        for u, v, d in zip(nodes.tolist(), other.tolist(), dist.tolist()):
            c = int(comps[u])
            if v >= 0 and (c not in best or d < best[c][0]):
                best[c] = (d, u, v)
        if not best:
            log.warning("kNN graph: %d components could not be joined", graph.n_components)
            break
        w, src, dst = (np.array(x) for x in zip(*best.values()))
        graph = graph.with_edges(src.astype(np.int64), dst.astype(np.int64), w.astype(np.float32))
    return graph


BRIDGE_CANDIDATES = 64


def _nearest_outside_exact(vectors: np.ndarray, comps: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each node, the nearest node (L2) of another component: (positions, distances)."""
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    sq = np.einsum("ij,ij->i", x, x)
    other = np.empty(len(nodes), dtype=np.int64)
    dist = np.empty(len(nodes), dtype=np.float32)
    for start in range(0, len(nodes), EXACT_BLOCK):
        rows = nodes[start:start + EXACT_BLOCK]
        d2 = sq[rows, None] - 2.0 * (x[rows] @ x.T) + sq[None, :]  # (B, N)
        d2[comps[rows][:, None] == comps[None, :]] = np.inf
        best = np.argmin(d2, axis=1)
        other[start:start + len(rows)] = best
        dist[start:start + len(rows)] = np.sqrt(np.maximum(d2[np.arange(len(rows)), best], 0.0))
    return other, dist


def _nearest_outside_search(index: VectorIndex, ids: np.ndarray, comps: np.ndarray,
                            nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Like the exact version through ``index.search``; -1 where no candidate lies outside the component."""
    position = {int(i): p for p, i in enumerate(ids.tolist())}
    vectors = index.vectors(ids[nodes])
    other = np.full(len(nodes), -1, dtype=np.int64)
    dist = np.full(len(nodes), np.inf, dtype=np.float32)
    for i, (u, q) in enumerate(zip(nodes.tolist(), vectors)):
        found = index.search(q, BRIDGE_CANDIDATES)
        for item, d in zip(found.ids.tolist(), found.distances.tolist()):
            v = position.get(int(item), -1)
            if v >= 0 and comps[v] != comps[u]:
                # cosine distance 1 - cos of unit vectors -> L2 = sqrt(2 d); "l2" gives squared L2
                other[i], dist[i] = v, float(np.sqrt(max(2.0 * d if found.space == "cosine" else d, 0.0)))
                break
    return other, dist


def exact_neighbours(vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest other rows by L2 (N, k), blocked so the distance block stays (EXACT_BLOCK, N)."""
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(x)
    k = min(k, max(n - 1, 0))
    sq = np.einsum("ij,ij->i", x, x)
    rows = np.empty((n, k), dtype=np.int64)
    dist = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, EXACT_BLOCK):
        block = x[start:start + EXACT_BLOCK]
        d2 = sq[start:start + len(block), None] - 2.0 * (block @ x.T) + sq[None, :]  # (B, N)
        d2[np.arange(len(block)), np.arange(start, start + len(block))] = np.inf
        part = np.argpartition(d2, k - 1, axis=1)[:, :k] if 0 < k < n else np.argsort(d2, axis=1)[:, :k]
        part_d = np.take_along_axis(d2, part, axis=1)
        order = np.argsort(part_d, axis=1, kind="stable")
        rows[start:start + len(block)] = np.take_along_axis(part, order, axis=1)
        dist[start:start + len(block)] = np.sqrt(np.maximum(np.take_along_axis(part_d, order, axis=1), 0.0))
    return rows, dist


def _graph_search_dim(index: VectorIndex) -> int:
    # Attribute chunks are never projected (subspaces.py); full embeddings keep the configured projection.
    return index.config.search_dim if index.dim > 4 * index.config.search_dim > 0 else 0


def _components(indptr: np.ndarray, indices: np.ndarray, n: int) -> np.ndarray:
    """Connected components by min-label propagation with pointer jumping (vectorised; O(E) per round)."""
    labels = np.arange(n, dtype=np.int64)
    if n == 0:
        return labels.astype(np.int32)
    src = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    dst = np.asarray(indices, dtype=np.int64)
    while True:
        new = labels.copy()
        np.minimum.at(new, src, labels[dst])
        new = new[new]
        if np.array_equal(new, labels):
            break
        labels = new
    return np.unique(labels, return_inverse=True)[1].astype(np.int32)


def graph_path(directory: str | os.PathLike, k: int, subspace: int | None = None) -> Path:
    suffix = "" if subspace is None else f"-s{subspace:02d}"
    return Path(directory) / f"knn-k{k}{suffix}.npz"


def open_or_build_graph(directory: str | os.PathLike, manifest: IndexManifest,
                        index: VectorIndex | SubspaceIndexSet, k: int = 5,
                        subspace: int | None = None, connect: bool = False) -> tuple[KnnGraph, bool]:
    """The cached graph of ``index`` (or of one of its subspaces) when its key matches, else a new one.

    ``manifest`` is the index's saved manifest (as returned by ``save_index`` / ``load_index``). Returns
    ``(graph, rebuilt)``. ``connect`` joins the components with :func:`bridge_components`.
    """
    target = index.subspace(subspace) if isinstance(index, SubspaceIndexSet) else index
    if isinstance(index, SubspaceIndexSet) and subspace is None:
        raise ValueError("a subspace index set needs subspace=<attribute index> for its kNN graph")
    ids = target.ids
    key = {
        "format": GRAPH_FORMAT,
        "manifest": manifest.to_dict(),
        "k": int(k),
        "subspace": subspace,
        "connect": bool(connect),
        "items": len(ids),
        "ids_sha1": hashlib.sha1(np.ascontiguousarray(ids, dtype=np.int64).tobytes()).hexdigest(),
    }
    path = graph_path(directory, k, subspace)
    cached = _load_cached(path, key)
    if cached is not None:
        return cached, False
    graph = KnnGraph.build(target, k)
    if connect:
        graph = bridge_components(graph, target)
    Path(directory).mkdir(parents=True, exist_ok=True)
    graph.save(path, key)
    return graph, True


def _load_cached(path: Path, key: dict) -> KnnGraph | None:
    """The graph at ``path`` if it exists, is readable and was built for ``key``; None otherwise."""
    if not path.is_file():
        return None
    try:
        graph, stored = KnnGraph.load(path)
    except IndexLoadError as exc:
        log.warning("rebuilding the kNN graph: %s", exc)
        return None
    if stored != json.loads(json.dumps(key, sort_keys=True)):
        log.info("rebuilding the kNN graph %s: its index changed", path)
        return None
    return graph
