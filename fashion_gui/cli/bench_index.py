"""``fashion bench query|index|path``: index latency, recall, build cost and style-path speed, JSON out.

All three run on synthetic ADDE-like embeddings (fashion_gui/index/synthetic.py): ``--dim`` split into
``--attributes`` chunks (12 x 340 = 4080 by default), each chunk one of 8 value prototypes + noise,
L2-normalised per chunk, 10 categories; queries are fresh items with one chunk replaced by a clean
prototype (an attribute manipulation). Recall@K is measured against the exact scan of the same data.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from fashion_gui.index.config import SUBSPACE_KINDS, IndexConfig
from fashion_gui.index.exact import ExactIndex
from fashion_gui.index.hnsw import HnswIndex
from fashion_gui.index.knn_graph import KnnGraph
from fashion_gui.index.manifest import IndexManifest, chunk_slices
from fashion_gui.index.paths import UnreachableError, path_to_category, shortest_path, typicality
from fashion_gui.index.persist import load_index, save_index
from fashion_gui.index.subspaces import SubspaceIndexSet
from fashion_gui.index.synthetic import SyntheticEmbeddings, manipulation_queries, synthetic_embeddings

DEFAULTS = IndexConfig()
DEFAULT_ITEMS = [10000, 100000]


def register(bench: argparse._SubParsersAction) -> None:
    """Add ``query``, ``index`` and ``path`` to the ``fashion bench`` subcommand group."""
    q = bench.add_parser("query", help="search latency p50/p99, recall@K vs exact, speed-up over the exact scan")
    _common(q)
    q.add_argument("--k", type=int, default=50, help="results per query (recall@K)")
    q.add_argument("--queries", type=int, default=200, help="timed queries per size")
    q.add_argument("--subspace-kinds", nargs="+", default=["exact", "projected"], choices=SUBSPACE_KINDS,
                   help="subspace indexes to time and compare with the exact subspace scan (\"similar in\")")
    real = q.add_argument_group("real features (instead of synthetic vectors)")
    real.add_argument("--features", type=Path, default=None,
                      help="an .npz or .npy of gallery features (N, D): an array named *embedding, else the first")
    real.add_argument("--workspace", "-w", type=Path, default=None,
                      help="a workspace: its model's cached gallery features (indexes/<model>/features.npz)")
    real.add_argument("--model", default=None, help="the workspace's checkpoint (default: the engine's encoder)")
    real.add_argument("--large-demo", type=int, default=0, metavar="N",
                      help="render an N-item demo catalog at 64 px into --demo-dir, encode it with the "
                           "workspace's model, and measure on those features")
    real.add_argument("--demo-dir", type=Path, default=None, help="where --large-demo builds (kept for reuse)")
    real.add_argument("--demo-seed", type=int, default=1, help="--large-demo: the demo catalog's seed")
    real.add_argument("--also", type=Path, nargs="+", default=[], metavar="WORKSPACE",
                      help="add the cached features of these workspaces (encoded by the same model) to the "
                           "gallery, e.g. a second --large-demo catalog rendered with another seed")
    q.set_defaults(func=cmd_query)

    i = bench.add_parser("index", help="build, add, save/load time and resident memory of the indexes")
    _common(i)
    i.add_argument("--add", type=float, default=0.01, help="fraction of new items added without a rebuild")
    i.set_defaults(func=cmd_index)

    p = bench.add_parser("path", help="kNN graph build and style-path query time")
    _common(p)
    p.add_argument("--graph-k", type=int, default=5, help="neighbours per item in the style graph")
    p.add_argument("--paths", type=int, default=50, help="timed path queries per size")
    p.set_defaults(func=cmd_path)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--items", type=int, nargs="+", default=DEFAULT_ITEMS,
                   help="gallery sizes to measure (real features: every item unless given)")
    p.add_argument("--dim", type=int, default=4080, help="embedding dims (split into --attributes chunks)")
    p.add_argument("--attributes", type=int, default=12, help="attribute chunks A (dim must divide by A)")
    p.add_argument("--M", type=int, default=DEFAULTS.M, help="HNSW links per node")
    p.add_argument("--ef-construction", type=int, default=DEFAULTS.ef_construction)
    p.add_argument("--ef-search", type=int, default=DEFAULTS.ef_search)
    p.add_argument("--search-dim", type=int, default=DEFAULTS.search_dim, help="projected dims (0 = none)")
    p.add_argument("--rerank", type=int, default=DEFAULTS.rerank, help="candidates = max(k * rerank, min)")
    p.add_argument("--min-candidates", type=int, default=DEFAULTS.min_candidates)
    p.add_argument("--seed", type=int, default=0, help="synthetic data seed")
    p.add_argument("--json", type=Path, default=None, help="also write the figures to this file")


def _config(args: argparse.Namespace) -> IndexConfig:
    return replace(DEFAULTS, M=args.M, ef_construction=args.ef_construction, ef_search=args.ef_search,
                   search_dim=args.search_dim, rerank=args.rerank, min_candidates=args.min_candidates)


def _data(args: argparse.Namespace, n: int) -> SyntheticEmbeddings:
    if args.dim % args.attributes:
        raise ValueError(f"--dim {args.dim} does not split into {args.attributes} equal attribute chunks")
    return synthetic_embeddings(n, n_attributes=args.attributes, chunk_dim=args.dim // args.attributes,
                                seed=args.seed)


def _rss_mb() -> float:
    """Resident memory now (VmRSS on Linux; peak RSS from getrusage elsewhere), in MiB."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _ms(samples: list[float]) -> dict:
    arr = np.asarray(samples) * 1e3
    return {"p50_ms": round(float(np.percentile(arr, 50)), 3), "p99_ms": round(float(np.percentile(arr, 99)), 3)}


def _timed(fn, items, warmup: int = 5) -> tuple[list, list[float]]:
    for x in items[:warmup]:
        fn(x)
    out, times = [], []
    for x in items:
        start = time.perf_counter()
        out.append(fn(x))
        times.append(time.perf_counter() - start)
    return out, times


def _or_none(fn):
    """``fn`` returning None where no path exists (a disconnected graph is a result, not a failure)."""
    def wrapped(x):
        try:
            return fn(x)
        except UnreachableError:
            return None
    return wrapped


def _recall(found: list, truth: list, k: int) -> tuple[float, float]:
    r = [len(set(a.ids.tolist()) & set(b.ids.tolist())) / max(min(k, len(b.ids)), 1) for a, b in zip(found, truth)]
    return round(float(np.mean(r)), 4), round(float(np.min(r)), 4)


def _build_hnsw(ids: np.ndarray, vectors: np.ndarray, categories: np.ndarray,
                config: IndexConfig) -> tuple[HnswIndex, float, float]:
    gc.collect()
    rss0 = _rss_mb()
    start = time.perf_counter()
    index = HnswIndex(vectors.shape[1], config)
    index.build(ids, vectors, categories)
    build_s = time.perf_counter() - start
    gc.collect()
    return index, build_s, _rss_mb() - rss0


def _emit(figures: dict, path: Path | None) -> int:
    text = json.dumps(figures, indent=2)
    print(text)
    if path:
        path.write_text(text + "\n")
    return 0


def _header(name: str, args: argparse.Namespace, config: IndexConfig) -> dict:
    return {
        "benchmark": name,
        "cores": os.cpu_count(),
        "dim": args.dim,
        "attributes": args.attributes,
        "data": (f"synthetic: {args.attributes} chunks x {args.dim // args.attributes} dims, each one of 8 "
                 "value prototypes + noise (norm 0.6), unit per chunk; 10 categories; queries = fresh items "
                 "with one chunk set to a clean prototype"),
        "config": config.to_dict(),
        "results": [],
    }


def _real_features(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, int, str]:
    """(vectors (N, D), categories (N,), attribute count, description) of real gallery features."""
    if args.large_demo:
        from fashion_gui.cli.bench_large import large_demo_features  # torch and the renderer: only here

        found = large_demo_features(args.workspace, args.large_demo, args.demo_dir, args.model, args.demo_seed)
        return _with_also(found, args)
    if args.workspace is not None:
        from fashion_gui.cli.bench_large import workspace_features

        return _with_also(workspace_features(args.workspace, args.model), args)
    with np.load(args.features, allow_pickle=False) as data:
        arrays = {"": data} if isinstance(data, np.ndarray) else {k: data[k] for k in data.files}
    name = next((k for k in arrays if k.endswith("embedding")), next(k for k, v in arrays.items() if v.ndim == 2))
    vectors = np.asarray(arrays[name], dtype=np.float32)
    cats = np.asarray(arrays.get("categories", np.zeros(len(vectors))), dtype=np.int32)
    return vectors, cats, args.attributes, f"features from {args.features} ({name or 'the array'})"


def _with_also(found: tuple[np.ndarray, np.ndarray, int, str],
               args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, int, str]:
    """``found`` followed by the cached features of every ``--also`` workspace (same model, same dims)."""
    if not args.also:
        return found
    from fashion_gui.cli.bench_large import _encoder_name, workspace_features
    from fashion_gui.workspace import Workspace

    vectors, cats, attributes, what = found
    parts, part_cats, names = [vectors], [cats], []
    model = args.model or _encoder_name(Workspace.at(args.workspace), None)
    for root in args.also:
        more, more_cats, more_attributes, _ = workspace_features(root, model)
        if more.shape[1] != vectors.shape[1] or more_attributes != attributes:
            raise ValueError(f"{root}'s features ({more.shape[1]} dims, {more_attributes} attributes) do not match "
                             f"the first gallery's ({vectors.shape[1]}, {attributes})")
        parts.append(more)
        part_cats.append(more_cats)
        names.append(f"{root} ({len(more)} items)")
    total = sum(len(p) for p in parts)
    return (np.concatenate(parts), np.concatenate(part_cats), attributes,
            f"{what}; plus the features of {', '.join(names)}: {total} items in all")


def _query_sets(args: argparse.Namespace):
    """(items, ids, vectors, categories, queries, attributes, description) per measured size."""
    if args.features is None and args.workspace is None:
        for n in args.items:
            data = _data(args, n)
            yield (n, data.ids, data.vectors, data.categories,
                   list(manipulation_queries(data, args.queries, seed=args.seed + 1)), args.attributes, None)
        return
    vectors, cats, attributes, what = _real_features(args)
    if vectors.shape[1] % attributes:
        raise ValueError(f"the features have {vectors.shape[1]} dims, which do not split into {attributes} "
                         "attribute chunks; pass --attributes")
    rng = np.random.default_rng(args.seed)
    held = rng.choice(len(vectors), size=min(args.queries, len(vectors) // 10), replace=False)
    keep = np.setdiff1d(np.arange(len(vectors)), held)
    sizes = sorted({min(n, len(keep)) for n in args.items}) if args.items != DEFAULT_ITEMS else [len(keep)]
    for n in sizes:
        rows = keep if n == len(keep) else np.sort(rng.choice(keep, size=n, replace=False))
        yield (n, np.arange(n, dtype=np.int64), np.ascontiguousarray(vectors[rows]), cats[rows],
               list(vectors[held]), attributes, f"{what}; queries: {len(held)} held-out items, not indexed")


def cmd_query(args: argparse.Namespace) -> int:
    config = _config(args)
    figures = _header("query", args, config)
    figures["k"] = args.k
    for n, ids, vectors, categories, queries, attributes, real in _query_sets(args):
        dim = vectors.shape[1]
        if real is not None:
            figures["data"], figures["dim"], figures["attributes"] = real, dim, attributes
        exact = ExactIndex(dim, config)
        exact.build(ids, vectors, categories)
        truth, exact_t = _timed(lambda q: exact.search(q, args.k), queries)
        index, build_s, rss = _build_hnsw(ids, vectors, categories, config)
        found, hnsw_t = _timed(lambda q: index.search(q, args.k), queries)
        rec, rec_min = _recall(found, truth, args.k)
        cats = [int(c) for c in np.random.default_rng(args.seed).integers(0, categories.max() + 1, len(queries))]
        pairs = list(zip(queries, cats))
        cat_truth, cat_exact_t = _timed(lambda qc: exact.search(qc[0], args.k, category=qc[1]), pairs)
        cat_found, cat_t = _timed(lambda qc: index.search(qc[0], args.k, category=qc[1]), pairs)
        cat_rec, _ = _recall(cat_found, cat_truth, args.k)
        only_cat = all(np.all(categories[r.ids] == c) for r, (_, c) in zip(cat_found, pairs))
        attrs = [int(a) for a in np.random.default_rng(args.seed + 2).integers(0, attributes, len(queries))]
        asked = list(zip(queries, attrs))
        subspace: dict[str, dict] = {}
        sub_truth = None
        for kind in ["exact", *[k for k in args.subspace_kinds if k != "exact"]]:
            sub_config = replace(config, subspace_index=kind)
            start = time.perf_counter()
            subs = SubspaceIndexSet(n_attributes=attributes, chunk_dim=dim // attributes, config=sub_config)
            subs.build(ids, vectors, categories)
            sub_build = time.perf_counter() - start
            sub_found, sub_t = _timed(lambda qa: subs.search(qa[0], args.k, qa[1]), asked)
            if sub_truth is None:
                sub_truth = sub_found
            sub_rec, sub_min = _recall(sub_found, sub_truth, args.k)
            if kind in args.subspace_kinds:
                subspace[kind] = {**_ms(sub_t), f"recall@{args.k}": sub_rec, f"min_recall@{args.k}": sub_min,
                                  "build_s": round(sub_build, 2)}
            del subs
        hnsw_p50 = float(np.median(hnsw_t))
        figures["results"].append({
            "items": n,
            "full": {**_ms(hnsw_t), f"recall@{args.k}": rec, f"min_recall@{args.k}": rec_min,
                     "exact_scan": _ms(exact_t), "speedup_vs_exact": round(float(np.median(exact_t)) / hnsw_p50, 1)},
            "category": {**_ms(cat_t), f"recall@{args.k}": cat_rec, "only_that_category": bool(only_cat),
                         "category_fraction": round(1 / (int(categories.max()) + 1), 3),
                         "exact_scan": _ms(cat_exact_t)},
            "subspace": {"dim": dim // attributes, **subspace},
            "hnsw_build_s": round(build_s, 1),
            "hnsw_rss_delta_mb": round(rss, 1),
            "projection_dims": index.projection.dim if index.projection is not None else 0,
        })
        gc.collect()
    figures["targets"] = {"full_p50_ms_at_100k": 2.0, "recall": 0.98, "speedup_vs_exact": 30,
                          "subspace_p50_ms_at_100k": 3.0}
    return _emit(figures, args.json)


def cmd_index(args: argparse.Namespace) -> int:
    config = _config(args)
    figures = _header("index", args, config)
    for n in args.items:
        n_add = max(1, int(round(n * args.add)))
        data = _data(args, n + n_add)
        base, extra = slice(0, n), slice(n, n + n_add)
        gc.collect()
        rss0 = _rss_mb()
        start = time.perf_counter()
        index = HnswIndex(args.dim, config)
        index.build(data.ids[base], data.vectors[base], data.categories[base])
        build_s = time.perf_counter() - start
        gc.collect()
        rss_hnsw = _rss_mb() - rss0
        start = time.perf_counter()
        index.add(data.ids[extra], data.vectors[extra], data.categories[extra])
        add_s = time.perf_counter() - start
        found = index.search(data.vectors[n], 1)
        manifest = IndexManifest("bench", "synthetic", 1, args.dim, config)
        tmp = Path(tempfile.mkdtemp(prefix="fashion-bench-index-"))
        try:
            start = time.perf_counter()
            save_index(index, tmp / "full", manifest)
            save_s = time.perf_counter() - start
            disk_mb = sum(p.stat().st_size for p in (tmp / "full").rglob("*") if p.is_file()) / 2**20
            del index
            gc.collect()
            start = time.perf_counter()
            loaded, _ = load_index(tmp / "full")
            load_s = time.perf_counter() - start
            del loaded
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        gc.collect()
        rss0 = _rss_mb()
        start = time.perf_counter()
        subspaces = SubspaceIndexSet(chunk_slices(args.attributes, args.dim // args.attributes), config=config)
        subspaces.build(data.ids[base], data.vectors[base], data.categories[base])
        sub_s = time.perf_counter() - start
        gc.collect()
        rss_sub = _rss_mb() - rss0
        del subspaces
        figures["results"].append({
            "items": n,
            "hnsw_build_s": round(build_s, 1),
            "hnsw_rss_delta_mb": round(rss_hnsw, 1),
            "add_items": n_add,
            "add_s": round(add_s, 2),
            "added_item_found": bool(found.ids[0] == data.ids[n]),
            "save_s": round(save_s, 2),
            "load_s": round(load_s, 2),
            "disk_mb": round(disk_mb, 1),
            "subspaces_build_s": round(sub_s, 2),
            "subspaces_rss_delta_mb": round(rss_sub, 1),
            "subspace_index": config.subspace_index,
        })
        del data
        gc.collect()
    return _emit(figures, args.json)


def cmd_path(args: argparse.Namespace) -> int:
    config = _config(args)
    figures = _header("path", args, config)
    figures["graph_k"] = args.graph_k
    for n in args.items:
        data = _data(args, n)
        index, build_s, _ = _build_hnsw(data.ids, data.vectors, data.categories, config)
        start = time.perf_counter()
        graph = KnnGraph.build(index, args.graph_k)
        graph_s = time.perf_counter() - start
        rng = np.random.default_rng(args.seed)
        pairs = [tuple(int(x) for x in rng.choice(n, 2, replace=False)) for _ in range(args.paths)]

        paths, path_t = _timed(_or_none(lambda st: shortest_path(graph, *st)), pairs, warmup=2)
        vectors = index.vectors(graph.ids)
        members = {c: data.ids[data.categories == c] for c in np.unique(data.categories).tolist()}
        cat_pairs = [(int(s), int(rng.integers(0, len(members)))) for s in rng.integers(0, n, args.paths)]
        _, cat_t = _timed(_or_none(lambda sc: path_to_category(graph, vectors, sc[0], members[sc[1]])), cat_pairs,
                          warmup=2)
        ranked, typ_t = _timed(lambda c: typicality(vectors[graph.nodes_of(members[c])], members[c]),
                               sorted(members), warmup=0)
        ranked_by_cat = dict(zip(sorted(members), ranked))
        _, cached_t = _timed(_or_none(lambda sc: path_to_category(graph, None, sc[0], members[sc[1]],
                                                                  ranked=ranked_by_cat[sc[1]])), cat_pairs, warmup=2)
        found = [p for p in paths if p is not None]
        figures["results"].append({
            "items": n,
            "hnsw_build_s": round(build_s, 1),
            "graph_build_s": round(graph_s, 1),
            "graph_edges": graph.n_edges,
            "graph_components": graph.n_components,
            "path": {**_ms(path_t), "mean_hops": round(float(np.mean([len(p.ids) - 1 for p in found])), 1)
                     if found else None, "unreachable": len(paths) - len(found)},
            "path_to_category": _ms(cat_t),
            "path_to_category_with_cached_typicality": _ms(cached_t),
            "typicality_per_category": _ms(typ_t),
            "category_size": int(np.mean([len(m) for m in members.values()])),
        })
        index = graph = vectors = None  # free this size before the next one is built
        gc.collect()
    return _emit(figures, args.json)
