"""The projected scan with exact re-rank (index/projected.py), on low-rank data like a trained model's
attribute chunk and on the adversarial isotropic case."""
import numpy as np
import pytest

from fashion_gui.index.config import IndexConfig
from fashion_gui.index.exact import ExactIndex
from fashion_gui.index.projected import ProjectedScanIndex
from fashion_gui.index.subspaces import SubspaceIndexSet

CONFIG = IndexConfig(subspace_index="projected", subspace_search_dim=16, subspace_candidates=100, exact_threshold=0)


def _low_rank(n: int, dim: int = 96, rank: int = 12, seed: int = 0) -> np.ndarray:
    """Vectors in a ``rank``-d subspace of ``dim`` plus a little isotropic noise (like a trained chunk)."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.standard_normal((dim, rank)))[0]
    return (rng.standard_normal((n, rank)) @ basis.T + 0.01 * rng.standard_normal((n, dim))).astype(np.float32)


def _recall(index, exact, queries, k=20):
    return float(np.mean([len(set(index.search(q, k).ids) & set(exact.search(q, k).ids)) / k for q in queries]))


def test_projected_scan_recovers_the_exact_neighbours_of_low_rank_vectors():
    x = _low_rank(3000)
    index, exact = ProjectedScanIndex(96, CONFIG), ExactIndex(96, CONFIG)
    cats = np.arange(3000) % 5
    index.build(np.arange(3000), x, cats)
    exact.build(np.arange(3000), x, cats)
    assert index.search_dim == 16
    queries = _low_rank(30, seed=1)
    assert _recall(index, exact, queries) >= 0.98
    res, want = index.search(queries[0], 10), exact.search(queries[0], 10)
    np.testing.assert_allclose(res.distances[:3], want.distances[:3], rtol=1e-5)  # re-ranked exactly
    got = index.search(queries[0], 10, category=2)
    assert np.all(cats[got.ids] == 2) and got.ids.tolist() == exact.search(queries[0], 10, category=2).ids.tolist()


def test_isotropic_noise_defeats_the_projection_and_the_exact_path_is_exact():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3000, 96)).astype(np.float32)  # no low-rank structure at all
    index, exact = ProjectedScanIndex(96, CONFIG), ExactIndex(96, CONFIG)
    index.build(np.arange(3000), x)
    exact.build(np.arange(3000), x)
    queries = rng.standard_normal((20, 96)).astype(np.float32)
    assert _recall(index, exact, queries) < 0.9  # why the README keeps the synthetic figures apart
    wide = ProjectedScanIndex(96, IndexConfig(subspace_search_dim=16, subspace_candidates=5000, exact_threshold=0))
    wide.build(np.arange(3000), x)  # more candidates than items: the exact scan
    assert _recall(wide, exact, queries) == 1.0
    small = ProjectedScanIndex(96, IndexConfig(subspace_search_dim=16, subspace_candidates=100))
    small.build(np.arange(3000), x)  # fewer items than exact_threshold (5000): no projection, the exact scan
    assert small.search_dim == 96 and _recall(small, exact, queries) == 1.0


def test_add_save_and_load_keep_the_projection(tmp_path):
    x = _low_rank(2000)
    subs = SubspaceIndexSet(n_attributes=2, chunk_dim=48, config=CONFIG)
    subs.build(np.arange(2000), x, np.zeros(2000, int))
    subs.add(np.array([9000]), x[:1])
    assert len(subs) == 2001
    assert sorted(subs.search(x[0], 2, 1).ids.tolist()) == [0, 9000]
    before = subs.search(x[5], 10, 0)
    folder = tmp_path / "subs"
    folder.mkdir()
    subs.save(folder)
    again = SubspaceIndexSet.load(folder, 96, CONFIG)
    assert isinstance(again.subspace(0), ProjectedScanIndex)
    after = again.search(x[5], 10, 0)
    assert after.ids.tolist() == before.ids.tolist()
    np.testing.assert_allclose(after.distances, before.distances, rtol=1e-5)


def test_config_checks_the_new_fields():
    with pytest.raises(ValueError, match="subspace_search_dim"):
        IndexConfig(subspace_search_dim=0)
    with pytest.raises(ValueError, match="subspace_index"):
        IndexConfig(subspace_index="magic")
