"""Large catalogs: int8 storage, memory-mapped loading, the streamed build and ``fashion bench million``."""
import argparse
import json
from dataclasses import replace

import numpy as np
import pytest

from fashion_gui.cli import bench_million
from fashion_gui.index import ExactIndex, HnswIndex, IndexConfig, IndexData, IndexManifest, load_index, open_or_update
from fashion_gui.index.streamed import StreamedHnswBuild, build_streamed
from fashion_gui.index.synthetic import manipulation_queries, synthetic_blocks, synthetic_embeddings
from fashion_gui.index.vector_store import VectorStore, quantise_int8

SMALL = IndexConfig(M=16, ef_construction=100, ef_search=100, search_dim=48, min_candidates=60, rerank=3,
                    num_threads=2, exact_threshold=0)


@pytest.fixture(scope="module")
def data():
    return synthetic_embeddings(3000, n_attributes=4, chunk_dim=48, seed=7)


@pytest.fixture(scope="module")
def queries(data):
    return manipulation_queries(data, 40, seed=8)


@pytest.fixture(scope="module")
def exact(data):
    index = ExactIndex(192)
    index.build(data.ids, data.vectors, data.categories)
    return index


def _recall(index, exact, queries, k=20, category=None):
    return np.mean([len(set(index.search(q, k, category=category).ids) & set(exact.search(q, k, category=category).ids))
                    / k for q in queries])


def test_int8_codes_reconstruct_within_half_a_step():
    rows = np.random.default_rng(0).standard_normal((50, 300)).astype(np.float32)
    rows[3] = 0.0
    codes, scales = quantise_int8(rows)
    assert codes.dtype == np.int8 and np.abs(codes).max() == 127
    err = np.abs(codes * scales[:, None] - rows)
    assert np.all(err <= scales[:, None] / 2 + 1e-7)
    assert np.all(codes[3] == 0) and scales[3] == 1.0  # a zero row stays zero


@pytest.mark.parametrize("space", ["cosine", "l2"])
def test_int8_store_distances_match_float32(data, space):
    exact_store, int8_store = VectorStore(192, space, "float32"), VectorStore(192, space, "int8")
    for store in (exact_store, int8_store):
        store.append(data.ids[:500], store.prepare(data.vectors[:500]), data.categories[:500])
    q = exact_store.prepare_query(data.vectors[600])
    np.testing.assert_allclose(int8_store.distances(q), exact_store.distances(q), atol=0.02)
    rows = np.array([4, 400, 17])
    np.testing.assert_allclose(int8_store.distances(q, rows), exact_store.distances(q, rows), atol=0.02)
    np.testing.assert_allclose(int8_store.get(rows), exact_store.get(rows), atol=0.01)
    with pytest.raises(TypeError, match="int8"):
        int8_store.matrix  # noqa: B018  (codes without their scales are not vectors)


def test_store_id_lookup_without_a_python_dict(data):
    store = VectorStore(192, "cosine", "int8")
    ids = data.ids[:100][::-1] * 7 + 3  # unsorted, sparse ids
    store.append(ids, store.prepare(data.vectors[:100]))
    np.testing.assert_array_equal(store.rows_of([ids[5], ids[0], ids[99]]), [5, 0, 99])
    with pytest.raises(KeyError, match="item 4 is not in the index"):
        store.rows_of([ids[1], 4])
    with pytest.raises(ValueError, match="already indexed"):
        store.append(ids[:2], store.prepare(data.vectors[:2]))
    store.append([1, 2], store.prepare(data.vectors[100:102]))
    np.testing.assert_array_equal(store.rows_of([2, ids[3]]), [101, 3])


def test_int8_hnsw_keeps_recall_and_survives_memory_mapping(tmp_path, data, queries, exact):
    config = replace(SMALL, storage="int8")
    index = HnswIndex(192, config)
    index.build(data.ids, data.vectors, data.categories)
    assert _recall(index, exact, queries) >= 0.95
    manifest = IndexManifest("full", "h", 1, 192, config)
    folder = tmp_path / "idx"
    loaded, _, how = open_or_update(folder, manifest, lambda: IndexData(data.ids, data.vectors, data.categories))
    assert how == "built"
    # Mapping the files from disk is how the index is opened, not what was built: no rebuild.
    mapped, saved, how = open_or_update(folder, replace(manifest, config=replace(config, memmap=True)),
                                        lambda: pytest.fail("a memmap change must not rebuild the index"))
    assert how == "loaded" and saved.config.memmap is True
    assert isinstance(mapped._store._vectors, np.memmap) and isinstance(mapped._z, np.memmap)
    for q in queries[:10]:
        a, b = loaded.search(q, 20), mapped.search(q, 20)
        np.testing.assert_array_equal(a.ids, b.ids)
        np.testing.assert_allclose(a.distances, b.distances, atol=1e-6)
    # Adding to a mapped index reads it into memory; the new item is found and the files stay untouched.
    extra = synthetic_embeddings(3010, n_attributes=4, chunk_dim=48, seed=7).vectors[3000:]
    mapped.add(np.arange(5000, 5010), extra, np.zeros(10, np.int32))
    assert mapped.search(extra[4], 1).ids[0] == 5004
    assert not isinstance(mapped._store._vectors, np.memmap)
    again, _ = load_index(folder, memmap=True)
    assert len(again) == 3000


def _blocks(n, block, seed=7):
    def blocks():
        for first, part in synthetic_blocks(n, block, n_attributes=4, chunk_dim=48, seed=seed):
            yield IndexData(np.arange(first, first + len(part.vectors)), part.vectors, part.categories)
    return blocks


def test_synthetic_blocks_share_prototypes_and_number_items_across_blocks():
    parts = list(synthetic_blocks(2500, 1000, n_attributes=4, chunk_dim=48, seed=7))
    assert [first for first, _ in parts] == [0, 1000, 2000] and len(parts[-1][1].vectors) == 500
    whole = synthetic_embeddings(10, n_attributes=4, chunk_dim=48, seed=7)
    np.testing.assert_array_equal(parts[0][1].prototypes, whole.prototypes)
    assert not np.allclose(parts[0][1].vectors[:10], parts[1][1].vectors[:10])


@pytest.mark.parametrize("storage", ["int8", "float16"])
def test_streamed_build_opens_as_an_hnsw_index_with_recall(tmp_path, queries, storage):
    n = 3000
    whole = np.concatenate([b.vectors for b in _blocks(n, 700)()])
    cats = np.concatenate([b.categories for b in _blocks(n, 700)()])
    exact = ExactIndex(192)
    exact.build(np.arange(n), whole, cats)
    config = replace(SMALL, storage=storage, memmap=True, pca_sample=1000)
    stages = []
    build = build_streamed(tmp_path / "big", IndexManifest("big", "synthetic", 1, 192, config), n, _blocks(n, 700),
                           progress=lambda stage, done, total: stages.append((stage, done, total)))
    assert stages[-1] == ("graph", n, n) and ("vectors", n, n) in stages
    assert set(build.seconds) == {"vectors", "projection", "graph"}
    index, manifest = load_index(tmp_path / "big")
    assert isinstance(index, HnswIndex) and manifest.item_count == n and len(index) == n
    assert isinstance(index._store._vectors, np.memmap) and index._store._vectors.dtype == np.dtype(storage)
    assert _recall(index, exact, queries) >= 0.95
    assert _recall(index, exact, queries, category=3) >= 0.95
    np.testing.assert_array_equal(index.categories, cats)
    np.testing.assert_allclose(index.vectors([17]), whole[17:18] / np.linalg.norm(whole[17]), atol=0.01)


def test_streamed_build_refuses_wrong_counts_and_duplicate_ids(tmp_path):
    config = replace(SMALL, storage="int8", pca_sample=500)
    with pytest.raises(ValueError, match="held 3000 items, 3100 were announced"):
        StreamedHnswBuild(192, 3100, _blocks(3000, 1000), config).save(tmp_path)

    def duplicated():
        for part in _blocks(2000, 1000)():
            yield IndexData(part.ids % 1000, part.vectors, part.categories)
    (tmp_path / "d").mkdir()
    with pytest.raises(ValueError, match="unique"):
        StreamedHnswBuild(192, 2000, duplicated, config).save(tmp_path / "d")
    with pytest.raises(ValueError, match="projection"):
        StreamedHnswBuild(192, 10, _blocks(10, 10), replace(config, search_dim=0))


def test_bench_million_small(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="fashion")
    bench = parser.add_subparsers(dest="command").add_parser("bench")
    bench_million.register(bench.add_subparsers(dest="bench_command", required=True))
    out = tmp_path / "m.json"
    argv = ["bench", "million", "--dir", str(tmp_path / "m"), "--items", "6000", "--dim", "256", "--attributes", "4",
            "--block", "2500", "--queries", "20", "--k", "10", "--search-dim", "32", "--M", "12",
            "--ef-construction", "60", "--json", str(out)]
    args = parser.parse_args(argv)
    assert args.func(args) == 0
    figures = json.loads(out.read_text())
    assert figures["items"] == 6000 and figures["query"]["items"] == 6000
    assert figures["query"]["full"]["recall@10"] >= 0.9 and figures["query"]["category"]["recall@10"] >= 0.9
    files = figures["query"]["file_mb"]
    assert {"vectors.npy", "scales.npy", "hnsw.bin", "projected.npy"} <= set(files)
    assert files["vectors.npy"] == pytest.approx(6000 * 256 / 2**20, abs=0.1)  # one byte per dimension
    assert figures["query"]["rss_over_stored"] > 0
    # --reuse keeps the index it finds (same settings) and measures again.
    args = parser.parse_args([*argv, "--reuse"])
    assert args.func(args) == 0
    assert json.loads(out.read_text())["build"] == "reused"
    capsys.readouterr()


def test_exact_truth_of_the_bench_matches_a_full_scan(data, queries):
    truth = bench_million.RunningTopK(queries[:5], 10, np.full(5, 2, dtype=np.int32))
    for start in range(0, 3000, 1000):
        truth.update(start, data.vectors[start:start + 1000], data.categories[start:start + 1000])
    exact = ExactIndex(192)
    exact.build(data.ids, data.vectors, data.categories)
    for i, q in enumerate(queries[:5]):
        np.testing.assert_array_equal(truth.ids[0, i], exact.search(q, 10).ids)
        np.testing.assert_array_equal(truth.ids[1, i], exact.search(q, 10, category=2).ids)
