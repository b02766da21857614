"""Exact and HNSW search: recall, exact re-ranking, category restriction, add without rebuild, subspaces."""
import numpy as np
import pytest

from fashion_gui.index import ExactIndex, HnswIndex, IndexConfig, SubspaceIndexSet, chunk_slices
from fashion_gui.index.synthetic import manipulation_queries, synthetic_embeddings

SMALL = IndexConfig(M=16, ef_construction=100, ef_search=100, search_dim=64, min_candidates=60, rerank=3,
                    num_threads=2)


@pytest.fixture(scope="module")
def data():
    """2000 items x 256 dims: 4 attribute chunks of 64 dims, 8 values each, 10 categories."""
    return synthetic_embeddings(2000, n_attributes=4, chunk_dim=64, seed=3)


@pytest.fixture(scope="module")
def queries(data):
    return manipulation_queries(data, 60, seed=4)


@pytest.fixture(scope="module")
def exact(data):
    index = ExactIndex(256)
    index.build(data.ids, data.vectors, data.categories)
    return index


@pytest.fixture(scope="module")
def hnsw(data):
    index = HnswIndex(256, SMALL)
    index.build(data.ids, data.vectors, data.categories)
    return index


def _brute_force(vectors, q, k):
    x = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    d = 1.0 - x @ (q / np.linalg.norm(q))
    return np.argsort(d, kind="stable")[:k], np.sort(d)[:k]


def test_exact_index_matches_brute_force(data, queries, exact):
    for q in queries[:10]:
        want_ids, want_d = _brute_force(data.vectors, q, 20)
        got = exact.search(q, 20)
        np.testing.assert_array_equal(got.ids, data.ids[want_ids])
        np.testing.assert_allclose(got.distances, want_d, atol=1e-5)
        assert np.all(np.diff(got.distances) >= 0)
        np.testing.assert_allclose(got.scores, 1.0 - got.distances)


def test_exact_batch_search_equals_single_queries(queries, exact):
    batch = exact.search_batch(queries[:5], 10)
    for q, got in zip(queries[:5], batch):
        np.testing.assert_array_equal(got.ids, exact.search(q, 10).ids)


def test_hnsw_recall_against_exact(queries, exact, hnsw):
    assert hnsw.projection is not None and hnsw.projection.dim == 64
    k = 20
    recalls = [len(set(hnsw.search(q, k).ids) & set(exact.search(q, k).ids)) / k for q in queries]
    assert np.mean(recalls) >= 0.95


def test_reranked_search_is_exactly_the_exact_order_when_candidates_suffice(data, queries, exact):
    index = HnswIndex(256, IndexConfig(M=16, ef_construction=100, ef_search=400, search_dim=64,
                                       min_candidates=400, num_threads=2))
    index.build(data.ids, data.vectors, data.categories)
    k, checked = 10, 0
    for q in queries:
        want = exact.search(q, k)
        candidates = index._candidates(index._store.prepare_query(q), 400)
        if not set(want.ids.tolist()) <= set(index.ids[candidates].tolist()):
            continue  # the graph missed a true neighbour: re-ranking cannot restore it
        got = index.search(q, k)
        np.testing.assert_array_equal(got.ids, want.ids)
        np.testing.assert_allclose(got.distances, want.distances, atol=1e-6)
        checked += 1
    assert checked >= len(queries) * 0.9


@pytest.mark.parametrize("route", ["projected_scan", "graph_filter", "all_candidates"])
def test_category_restricted_search_returns_only_that_category(data, queries, exact, route):
    # each category holds ~10% of the 2000 items (~200): scan fraction 0.3 -> projected scan, 0 -> the
    # graph walk with filter=, and 300 candidates -> every category item is re-ranked exactly
    fraction = {"projected_scan": 0.3, "graph_filter": 0.0, "all_candidates": 0.3}[route]
    min_candidates = 300 if route == "all_candidates" else 60
    index = HnswIndex(256, IndexConfig(**{**SMALL.to_dict(), "category_scan_fraction": fraction,
                                          "min_candidates": min_candidates}))
    index.build(data.ids, data.vectors, data.categories)
    recalls = []
    for q, cat in zip(queries, np.arange(len(queries)) % 10):
        res = index.search(q, 15, category=int(cat))
        assert len(res) == 15 and np.all(data.categories[res.ids] == cat)
        recalls.append(len(set(res.ids) & set(exact.search(q, 15, category=int(cat)).ids)) / 15)
    assert np.mean(recalls) >= (1.0 if route == "all_candidates" else 0.95)
    both = index.search(queries[0], 30, category=[2, 5])
    assert set(data.categories[both.ids].tolist()) <= {2, 5}
    assert len(index.search(queries[0], 5, category=99)) == 0  # no such category: nothing, not an error


def test_exact_index_category_restriction(data, queries, exact):
    for q, cat in zip(queries[:10], range(10)):
        res = exact.search(q, 15, category=cat)
        assert np.all(data.categories[res.ids] == cat)
        rows = np.flatnonzero(data.categories == cat)
        want, _ = _brute_force(data.vectors[rows], q, 15)
        np.testing.assert_array_equal(res.ids, data.ids[rows[want]])


def test_filtered_hnsw_recall_against_exact_in_category(queries, exact, hnsw):
    recalls = []
    for q, cat in zip(queries, np.arange(len(queries)) % 10):
        want = exact.search(q, 20, category=int(cat)).ids
        recalls.append(len(set(hnsw.search(q, 20, category=int(cat)).ids) & set(want)) / 20)
    assert np.mean(recalls) >= 0.95


def test_add_without_rebuild_finds_new_items(data):
    base, new = slice(0, 1500), slice(1500, 2000)
    for index in (HnswIndex(256, SMALL), ExactIndex(256)):
        index.build(data.ids[base], data.vectors[base], data.categories[base])
        index.add(data.ids[new] + 10_000, data.vectors[new], data.categories[new])  # outgrows the graph
        assert len(index) == 2000
        for i in range(1500, 2000, 25):
            assert index.search(data.vectors[i], 1).ids[0] == data.ids[i] + 10_000
        np.testing.assert_allclose(index.vectors([11_500]), data.vectors[[1500]] / np.linalg.norm(data.vectors[1500]),
                                   atol=1e-6)
        with pytest.raises(ValueError, match="already indexed"):
            index.add([0], data.vectors[:1])


def test_search_validates_queries_and_handles_small_k(hnsw):
    with pytest.raises(ValueError, match="dims"):
        hnsw.search(np.ones(10), 5)
    with pytest.raises(ValueError, match="NaN"):
        hnsw.search(np.full(256, np.nan), 5)
    assert len(hnsw.search(np.ones(256), 0)) == 0
    empty = ExactIndex(8)
    assert len(empty.search(np.ones(8), 5)) == 0


def test_tiny_hnsw_index_without_projection(data):
    index = HnswIndex(256, SMALL)
    index.build(data.ids[:50], data.vectors[:50])  # too few items to learn a projection: full-space graph
    assert index.projection is None
    res = index.search(data.vectors[7], 60)
    assert len(res) == 50 and res.ids[0] == 7


def test_l2_space_ranks_by_euclidean_distance():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 16)).astype(np.float32) * rng.uniform(0.1, 3, (300, 1)).astype(np.float32)
    q = rng.standard_normal(16).astype(np.float32)
    d2 = ((x - q) ** 2).sum(1)
    for index in (ExactIndex(16, IndexConfig(space="l2")), HnswIndex(16, IndexConfig(space="l2", search_dim=0))):
        index.build(np.arange(300), x)
        res = index.search(q, 10)
        np.testing.assert_array_equal(res.ids, np.argsort(d2)[:10])
        np.testing.assert_allclose(res.distances, np.sort(d2)[:10], rtol=1e-4)


def test_subspace_index_set_searches_one_chunk(data, queries):
    subs = SubspaceIndexSet(n_attributes=4, chunk_dim=64)
    assert subs.chunks == chunk_slices(4, 64)
    subs.build(data.ids, data.vectors, data.categories)
    chunk = data.vectors[:, 64:128]
    for q in queries[:5]:
        want, _ = _brute_force(chunk, q[64:128], 10)
        np.testing.assert_array_equal(subs.search(q, 10, 1).ids, want)  # full query, sliced
        np.testing.assert_array_equal(subs.search(q[64:128], 10, 1).ids, want)  # the chunk itself
    res = subs.search(queries[0], 10, 2, category=4)
    assert np.all(data.categories[res.ids] == 4)
    subs.add([5000], data.vectors[:1] * 2)
    assert len(subs) == 2001
    assert sorted(subs.subspace(3).search(data.vectors[0, 192:], 2).ids.tolist()) == [0, 5000]
    with pytest.raises(IndexError):
        subs.subspace(4)


def test_config_validation():
    with pytest.raises(ValueError, match="space"):
        IndexConfig(space="dot")
    with pytest.raises(ValueError, match="storage"):
        IndexConfig(storage="bfloat16")
    with pytest.raises(ValueError, match="unknown index parameters"):
        IndexConfig.from_dict({"M": 8, "colour": 1})
    assert IndexConfig.from_dict(IndexConfig(M=8).to_dict()) == IndexConfig(M=8)


def test_float16_storage_keeps_recall(data, queries, exact):
    index = HnswIndex(256, IndexConfig(**{**SMALL.to_dict(), "storage": "float16"}))
    index.build(data.ids, data.vectors, data.categories)
    recalls = [len(set(index.search(q, 20).ids) & set(exact.search(q, 20).ids)) / 20 for q in queries]
    assert np.mean(recalls) >= 0.95
