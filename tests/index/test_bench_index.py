"""``fashion bench query|index|path`` on tiny sizes: the commands run and report what they promise."""
import argparse
import json

import numpy as np
import pytest

from fashion_gui.cli import bench_index


def _run(command, extra, tmp_path):
    parser = argparse.ArgumentParser(prog="fashion")
    bench = parser.add_subparsers(dest="command").add_parser("bench")
    bench_index.register(bench.add_subparsers(dest="bench_command", required=True))
    out = tmp_path / "bench.json"
    args = parser.parse_args(["bench", command, "--items", "400", "--dim", "64", "--attributes", "4",
                              "--search-dim", "16", "--M", "8", "--ef-construction", "40", "--json", str(out),
                              *extra])
    assert args.func(args) == 0
    return json.loads(out.read_text())


def test_bench_query(tmp_path, capsys):
    figures = _run("query", ["--queries", "20", "--k", "10"], tmp_path)
    assert json.loads(capsys.readouterr().out) == figures
    row = figures["results"][0]
    assert row["items"] == 400 and row["full"]["recall@10"] >= 0.9
    assert row["full"]["p50_ms"] > 0 and row["full"]["exact_scan"]["p50_ms"] > 0 and row["full"]["speedup_vs_exact"] > 0
    assert row["category"]["only_that_category"] is True


def test_bench_index(tmp_path):
    row = _run("index", [], tmp_path)["results"][0]
    assert row["added_item_found"] is True and row["add_items"] == 4
    for key in ("hnsw_build_s", "save_s", "load_s", "disk_mb", "hnsw_rss_delta_mb"):
        assert key in row


def test_bench_path(tmp_path):
    figures = _run("path", ["--paths", "5"], tmp_path)
    row = figures["results"][0]
    assert figures["graph_k"] == 5 and row["graph_edges"] >= 400 * 5 / 2
    assert row["path"]["p50_ms"] > 0 and row["path_to_category"]["p50_ms"] > 0


def test_bench_rejects_uneven_chunks(tmp_path):
    with pytest.raises(ValueError, match="equal attribute chunks"):
        _run("query", ["--attributes", "5"], tmp_path)


def test_bench_query_compares_subspace_kinds_with_the_exact_scan(tmp_path):
    figures = _run("query", ["--queries", "20", "--k", "10", "--subspace-kinds", "exact", "projected"], tmp_path)
    sub = figures["results"][0]["subspace"]
    assert sub["dim"] == 16 and sub["exact"]["recall@10"] == 1.0  # the reference itself
    assert 0.0 <= sub["projected"]["recall@10"] <= 1.0 and sub["projected"]["p50_ms"] > 0


def test_bench_query_on_a_features_file_holds_queries_out(tmp_path):
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((64, 8)))[0]
    vectors = (rng.standard_normal((600, 8)) @ basis.T).astype(np.float32)  # low-rank, like real features
    path = tmp_path / "features.npz"
    np.savez(path, a_embedding=vectors, categories=np.arange(600) % 3)
    figures = _run("query", ["--queries", "40", "--k", "10", "--features", str(path)], tmp_path)
    assert "features from" in figures["data"] and "held-out" in figures["data"]
    row = figures["results"][0]
    assert row["items"] == 400  # a sample of the 560 rows left after holding 40 out as queries
    assert row["full"]["recall@10"] >= 0.9 and row["subspace"]["projected"]["recall@10"] >= 0.9


def test_bench_query_on_a_workspace_says_how_to_encode_first(tmp_path, demo_workspace):
    with pytest.raises(ValueError, match="no usable encoder model|fashion index build"):
        _run("query", ["--queries", "10", "--workspace", str(demo_workspace.root)], tmp_path)


def test_bench_query_adds_the_features_of_other_workspaces(tmp_path, demo_workspace):
    """``--also W2``: a second catalog's cached features (same model) join the gallery, with its categories."""
    import shutil

    from fashion_gui.catalog.store import Catalog

    rng = np.random.default_rng(1)
    with Catalog.open(demo_workspace.catalog_path) as catalog:
        dim = 8 * len(catalog.schema.types)
    basis = np.linalg.qr(rng.standard_normal((dim, 8)))[0]
    roots = []
    for n in range(2):
        root = tmp_path / f"ws{n}"
        shutil.copytree(demo_workspace.root, root)
        with Catalog.open(root / "catalog.sqlite") as catalog:
            ids = np.sort(np.asarray(catalog.ids()))
        (root / "indexes" / "m").mkdir(parents=True)
        np.savez(root / "indexes" / "m" / "features.npz", ids=ids,
                 embedding=(rng.standard_normal((len(ids), 8)) @ basis.T).astype(np.float32))
        roots.append(root)
    figures = _run("query", ["--queries", "20", "--k", "10", "--workspace", str(roots[0]), "--model", "m",
                             "--also", str(roots[1])], tmp_path)
    assert "plus the features of" in figures["data"] and "600 items in all" in figures["data"]
    row = figures["results"][0]
    assert row["items"] == 400 and row["full"]["recall@10"] >= 0.9  # a sample of the 580 left after 20 queries
