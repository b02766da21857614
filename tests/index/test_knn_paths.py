"""kNN graph, style paths (Dijkstra), path to a category, typicality, graph cache."""
import heapq

import numpy as np
import pytest

from fashion_gui.index import (
    ExactIndex, HnswIndex, IndexConfig, IndexManifest, KnnGraph, UnreachableError, open_or_build_graph,
    path_to_category, save_index, shortest_path, typicality,
)
from fashion_gui.index.synthetic import synthetic_embeddings


def graph_from_edges(n, edges, ids=None):
    """A KnnGraph with exactly these undirected weighted edges (i, j, w)."""
    per_node = [[] for _ in range(n)]
    for i, j, w in edges:
        per_node[i].append((j, w))
    width = max(1, max(len(p) for p in per_node))
    rows = np.full((n, width), -1, dtype=np.int64)
    dist = np.full((n, width), np.inf, dtype=np.float32)
    for i, p in enumerate(per_node):
        for c, (j, w) in enumerate(p):
            rows[i, c], dist[i, c] = j, w
    return KnnGraph.from_neighbours(np.arange(n) if ids is None else np.asarray(ids), rows, dist, k=width)


#     1 --1-- 2 --1-- 3
#    /                  \
#  0 (2)               (1) 5        0-4: 1, 4-5: 9 (a long jump), 4-3: 6
#    \                  /
#     4 -------9-------
HAND = [(0, 1, 2.0), (1, 2, 1.0), (2, 3, 1.0), (3, 5, 1.0), (0, 4, 1.0), (4, 5, 9.0), (4, 3, 6.0)]


def test_dijkstra_on_a_hand_made_graph():
    graph = graph_from_edges(6, HAND, ids=[10, 11, 12, 13, 14, 15])
    assert graph.is_symmetric() and graph.n_edges == 7
    path = shortest_path(graph, 10, 15)
    assert path.ids == (10, 11, 12, 13, 15)
    assert path.length == pytest.approx(5.0)
    assert path.steps == (2.0, 1.0, 1.0, 1.0)
    assert path.largest_step == 0  # the 10 -> 11 hop (length 2)
    back = shortest_path(graph, 15, 14)
    assert back.ids == (15, 13, 12, 11, 10, 14) and back.length == pytest.approx(6.0)
    assert back.largest_step == 3  # 11 -> 10
    same = shortest_path(graph, 12, 12)
    assert same.ids == (12,) and same.length == 0.0 and same.largest_step is None


def test_unreachable_target_raises_a_clear_error():
    graph = graph_from_edges(5, [(0, 1, 1.0), (1, 2, 1.0), (3, 4, 1.0)])
    assert graph.n_components == 2
    with pytest.raises(UnreachableError, match="different connected components"):
        shortest_path(graph, 0, 4)
    with pytest.raises(KeyError, match="not a node"):
        shortest_path(graph, 0, 99)
    vectors = np.eye(5, dtype=np.float32)
    with pytest.raises(UnreachableError, match="no item of the target category is reachable"):
        path_to_category(graph, vectors, 0, [3, 4])


def _reference_dijkstra(graph, s, t):
    dist, heap = {s: 0.0}, [(0.0, s)]
    while heap:
        d, u = heapq.heappop(heap)
        if d > dist[u]:
            continue
        nbr, w = graph.neighbours(u)
        for v, wv in zip(nbr.tolist(), w.tolist()):
            if d + wv < dist.get(v, np.inf):
                dist[v] = d + wv
                heapq.heappush(heap, (d + wv, v))
    return dist.get(t, np.inf)


def test_bidirectional_search_matches_plain_dijkstra():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((400, 8)).astype(np.float32)
    index = ExactIndex(8, IndexConfig(space="l2"))
    index.build(np.arange(400), x)
    graph = KnnGraph.build(index, k=3)
    for s, t in rng.integers(0, 400, (40, 2)).tolist():
        want = _reference_dijkstra(graph, s, t)
        if not np.isfinite(want):
            with pytest.raises(UnreachableError):
                shortest_path(graph, s, t)
            continue
        path = shortest_path(graph, s, t)
        assert path.length == pytest.approx(want, rel=1e-5)
        assert path.ids[0] == s and path.ids[-1] == t
        for (a, b), w in zip(zip(path.ids, path.ids[1:]), path.steps):  # every hop is a graph edge
            nbr, wt = graph.neighbours(a)
            assert w == pytest.approx(float(wt[nbr.tolist().index(b)]))


def test_typicality_orders_by_distance_to_the_centre():
    vectors = np.array([[0, 0], [4, 0], [1, 0], [0, -1], [-1, 1]], dtype=np.float32)  # centre (0.8, 0)
    result = typicality(vectors, [100, 101, 102, 103, 104])
    assert result.ids.tolist() == [102, 100, 103, 104, 101]  # distances 0.2, 0.8, 1.28, 2.06, 3.2
    np.testing.assert_allclose(result.centre, [0.8, 0.0], rtol=1e-6)
    np.testing.assert_allclose(result.distances, np.sort(np.linalg.norm(vectors - [0.8, 0.0], axis=1)), rtol=1e-5)


def test_path_to_category_ends_at_the_member_nearest_the_centre():
    # a chain 0-1-2-3-4 on a line; category = items 2, 3, 4 (centre at x = 3 -> item 3)
    vectors = np.array([[0, 0], [1, 0], [2, 0], [3, 0], [4, 0]], dtype=np.float32)
    graph = graph_from_edges(5, [(i, i + 1, 1.0) for i in range(4)])
    path = path_to_category(graph, vectors, 0, [2, 3, 4, 77])  # 77 is not in the gallery: ignored
    assert path.ids == (0, 1, 2, 3) and path.target == 3
    ranked = typicality(vectors[[2, 3, 4]], [2, 3, 4])  # e.g. cached from the typicality view
    assert path_to_category(graph, None, 0, [2, 3, 4], ranked=ranked) == path
    np.testing.assert_array_equal(graph.nodes_of([4, 77, 0]), [4, 0])
    with pytest.raises(ValueError, match="no items in this gallery"):
        path_to_category(graph, vectors, 0, [77])


@pytest.fixture(scope="module")
def clustered():
    return synthetic_embeddings(1200, n_attributes=4, chunk_dim=32, seed=9)


def test_knn_graph_is_symmetric_and_matches_exact_neighbours(clustered):
    hnsw = HnswIndex(128, IndexConfig(M=16, ef_construction=100, search_dim=32, num_threads=2))
    hnsw.build(clustered.ids, clustered.vectors)
    exact = ExactIndex(128)
    exact.build(clustered.ids, clustered.vectors)
    g_hnsw, g_exact = KnnGraph.build(hnsw, k=5), KnnGraph.build(exact, k=5)
    for g in (g_hnsw, g_exact):
        assert g.is_symmetric()
        assert np.all(np.diff(g.indptr) >= 5)  # every node keeps its own 5 neighbours, plus reverse edges
        src = np.repeat(np.arange(len(g)), np.diff(g.indptr))
        assert not np.any(src == g.indices)  # no self loops
        unit = clustered.vectors / np.linalg.norm(clustered.vectors, axis=1, keepdims=True)
        np.testing.assert_allclose(g.weights, np.linalg.norm(unit[src] - unit[g.indices], axis=1), atol=1e-4)
    same = np.mean([len(set(g_hnsw.neighbours(i)[0].tolist()) & set(g_exact.neighbours(i)[0].tolist()))
                    / len(g_exact.neighbours(i)[0]) for i in range(len(g_exact))])
    assert same >= 0.95


def test_graph_from_raw_vectors_uses_l2():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((200, 6)).astype(np.float32) * 5
    graph = KnnGraph.from_vectors(np.arange(200) + 1000, x, k=4)
    assert graph.is_symmetric() and 1000 in graph and 5 not in graph
    d = np.linalg.norm(x[:, None] - x[None], axis=2)
    np.fill_diagonal(d, np.inf)
    nearest = set(np.argsort(d[0])[:4].tolist())
    assert nearest <= set(graph.neighbours(0)[0].tolist())


def test_graph_cache_is_keyed_by_the_index_manifest(tmp_path, clustered):
    index = ExactIndex(128)
    index.build(clustered.ids[:1000], clustered.vectors[:1000])
    manifest = save_index(index, tmp_path / "full", IndexManifest("full", "ck", 1, 128))
    graph, rebuilt = open_or_build_graph(tmp_path / "full", manifest, index, k=5)
    assert rebuilt and (tmp_path / "full" / "knn-k5.npz").is_file()
    cached, rebuilt = open_or_build_graph(tmp_path / "full", manifest, index, k=5)
    assert not rebuilt
    np.testing.assert_array_equal(cached.indices, graph.indices)
    np.testing.assert_array_equal(cached.weights, graph.weights)
    index.add(clustered.ids[1000:], clustered.vectors[1000:])
    manifest2 = save_index(index, tmp_path / "full", IndexManifest("full", "ck", 2, 128))
    grown, rebuilt = open_or_build_graph(tmp_path / "full", manifest2, index, k=5)
    assert rebuilt and len(grown) == 1200
    _, rebuilt = open_or_build_graph(tmp_path / "full", manifest2, index, k=3)
    assert rebuilt and (tmp_path / "full" / "knn-k3.npz").is_file()
    (tmp_path / "full" / "knn-k5.npz").write_bytes(b"garbage")
    _, rebuilt = open_or_build_graph(tmp_path / "full", manifest2, index, k=5)
    assert rebuilt


def test_path_on_a_real_graph_marks_the_largest_step(clustered):
    index = ExactIndex(128)
    index.build(clustered.ids, clustered.vectors, clustered.categories)
    graph = KnnGraph.build(index, k=5)
    a, b = 0, int(np.flatnonzero(clustered.categories != clustered.categories[0])[0])
    path = shortest_path(graph, a, b)
    assert path.largest_step is not None and path.steps[path.largest_step] == max(path.steps)
    assert path.length == pytest.approx(sum(path.steps), rel=1e-6)


def test_degenerate_galleries():
    one = ExactIndex(4)
    one.build([7], np.ones((1, 4)))
    graph = KnnGraph.build(one, k=5)
    assert len(graph) == 1 and graph.n_edges == 0 and graph.n_components == 1
    assert shortest_path(graph, 7, 7).ids == (7,)
    empty = HnswIndex(4)
    empty.build(np.empty(0, dtype=np.int64), np.empty((0, 4)))
    assert len(KnnGraph.build(empty, k=5)) == 0


@pytest.mark.parametrize("exact", [True, False])
def test_bridging_joins_islands_by_their_shortest_edges(monkeypatch, exact):
    from fashion_gui.index import ExactIndex, IndexConfig
    from fashion_gui.index import knn_graph

    # three tight clusters on a line (x = 0, 10, 30): a k=2 graph has three islands
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [30.0, 0.0]], np.float32)
    vectors = np.concatenate([c + rng.normal(0, 0.1, (6, 2)).astype(np.float32) for c in centres])
    ids = np.arange(100, 118)
    index = ExactIndex(2, IndexConfig(space="l2"))
    index.build(ids, vectors)
    graph = KnnGraph.build(index, k=2)
    assert graph.n_components == 3
    if not exact:  # force the index-search path
        monkeypatch.setattr(knn_graph, "EXACT_BUDGET", 0.0)
    joined = knn_graph.bridge_components(graph, index)
    assert joined.n_components == 1 and joined.is_symmetric()
    assert joined.n_edges == graph.n_edges + 2  # a spanning forest of 3 islands needs exactly 2 bridges
    # the bridges are the closest pairs between neighbouring clusters, with their true lengths
    new = {(min(a, b), max(a, b)) for a in range(18) for b in joined.neighbours(a)[0].tolist()} - \
          {(min(a, b), max(a, b)) for a in range(18) for b in graph.neighbours(a)[0].tolist()}
    d = np.linalg.norm(vectors[:, None] - vectors[None], axis=2)
    first = min(((a, b) for a in range(6) for b in range(6, 12)), key=lambda p: d[p])
    second = min(((a, b) for a in range(6, 12) for b in range(12, 18)), key=lambda p: d[p])
    assert new == {first, second}
    path = shortest_path(joined, 100, 117)  # island 1 -> island 3 through island 2
    assert len(path.ids) > 2 and path.steps[path.largest_step] == pytest.approx(d[second], rel=1e-4)
