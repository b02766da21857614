"""``fashion bench million``: a million-item index on one machine, memory-mapped at reduced precision.

Synthetic ADDE-like embeddings (fashion_gui/index/synthetic.py; 12 x 340 = 4080 dims by default) are
generated block by block, never all at once (16 GB as float32), and indexed by a streamed build
(index/streamed.py) into ``DIR/index``: int8 (or float16) re-ranking vectors, a 128-d projection and an
HNSW graph. While the blocks stream past, the exact float32 top-K of every query (all items, and within
one category) is kept, so recall is measured against the original vectors, quantisation included.

The query phase runs in a fresh process (a build leaves the allocator holding memory): it maps the index
from disk (``IndexConfig.memmap``), times the queries, and reports resident memory (VmRSS and its anonymous
and file-backed parts) against the bytes of the index files. ``--reuse`` skips the build when ``DIR`` holds
one with the same settings, so the queries can be re-timed on a quiet machine.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from fashion_gui.index.config import STORAGE_DTYPES, IndexConfig
from fashion_gui.index.manifest import IndexManifest
from fashion_gui.index.persist import IndexData, load_index, read_manifest
from fashion_gui.index.synthetic import SyntheticEmbeddings, manipulation_queries, synthetic_blocks
from fashion_gui.index.vector_store import top_k

INDEX_DIR = "index"
TRUTH_FILE = "truth.npz"
DEFAULTS = IndexConfig()


def register(bench: argparse._SubParsersAction) -> None:
    m = bench.add_parser("million", help="a memory-mapped int8/float16 index of a million synthetic items: "
                                         "build time, file sizes, resident memory, p50/p99, recall@K")
    m.add_argument("--dir", type=Path, required=True, help="folder for the index and the exact answers")
    m.add_argument("--items", type=int, default=1_000_000)
    m.add_argument("--dim", type=int, default=4080, help="embedding dims (split into --attributes chunks)")
    m.add_argument("--attributes", type=int, default=12)
    m.add_argument("--storage", choices=STORAGE_DTYPES, default="int8", help="re-ranking vectors' precision")
    m.add_argument("--block", type=int, default=50_000, help="items generated and written per block")
    m.add_argument("--queries", type=int, default=200)
    m.add_argument("--k", type=int, default=50)
    m.add_argument("--M", type=int, default=DEFAULTS.M)
    m.add_argument("--ef-construction", type=int, default=DEFAULTS.ef_construction)
    m.add_argument("--ef-search", type=int, default=DEFAULTS.ef_search)
    m.add_argument("--search-dim", type=int, default=DEFAULTS.search_dim)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--reuse", action="store_true", help="keep an index already built in --dir with these settings")
    m.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    m.set_defaults(func=cmd_million)


def _config(args: argparse.Namespace) -> IndexConfig:
    return replace(DEFAULTS, M=args.M, ef_construction=args.ef_construction, ef_search=args.ef_search,
                   search_dim=args.search_dim, storage=args.storage, memmap=True)


def _manifest(args: argparse.Namespace) -> IndexManifest:
    data = f"synthetic-{args.items}x{args.dim}/{args.attributes}-seed{args.seed}"
    return IndexManifest("million", data, 1, args.dim, _config(args))


class RunningTopK:
    """Exact top-K per query over blocks of items: cosine distances of the original float32 vectors."""

    def __init__(self, queries: np.ndarray, k: int, categories: np.ndarray) -> None:
        self.q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        self.k, self.cats = k, categories
        n = len(queries)
        self.ids = np.full((2, n, k), -1, dtype=np.int64)  # [all items, within the query's category]
        self.dist = np.full((2, n, k), np.inf, dtype=np.float32)

    def update(self, first_id: int, vectors: np.ndarray, categories: np.ndarray) -> None:
        x = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        dist = (1.0 - self.q @ x.T).astype(np.float32)  # (Q, m)
        ids = np.arange(first_id, first_id + len(x), dtype=np.int64)
        for which, d in enumerate((dist, np.where(categories[None, :] == self.cats[:, None], dist, np.inf))):
            all_d = np.concatenate([self.dist[which], d], axis=1)
            all_i = np.concatenate([self.ids[which], np.broadcast_to(ids, d.shape)], axis=1)
            for r in range(len(all_d)):
                keep = top_k(all_d[r], self.k)
                self.dist[which, r], self.ids[which, r] = all_d[r, keep], all_i[r, keep]


def _build(args: argparse.Namespace) -> dict:
    from fashion_gui.index.streamed import build_streamed

    chunk_dim = args.dim // args.attributes
    proto = next(synthetic_blocks(1, 1, args.attributes, chunk_dim, seed=args.seed))[1].prototypes
    queries = manipulation_queries(SyntheticEmbeddings(np.empty((0, args.dim), np.float32), np.empty(0, np.int32),
                                                       np.empty((0, args.attributes), np.int32), proto),
                                   args.queries, seed=args.seed + 1)
    query_cats = np.random.default_rng(args.seed + 2).integers(0, 10, args.queries).astype(np.int32)
    truth = RunningTopK(queries, args.k, query_cats)
    timing = {"generate_and_exact_s": 0.0}

    def blocks():
        for first, data in synthetic_blocks(args.items, args.block, args.attributes, chunk_dim, seed=args.seed):
            start = time.perf_counter()
            truth.update(first, data.vectors, data.categories)
            timing["generate_and_exact_s"] += time.perf_counter() - start
            yield IndexData(np.arange(first, first + len(data.vectors), dtype=np.int64), data.vectors,
                            data.categories)

    def progress(stage: str, done: int, total: int) -> None:
        if done == total or done % (10 * args.block) < args.block:
            print(f"{stage}: {done}/{total}", file=sys.stderr, flush=True)

    start = time.perf_counter()
    build = build_streamed(args.dir / INDEX_DIR, _manifest(args), args.items, blocks, progress)
    total = time.perf_counter() - start
    np.savez(args.dir / TRUTH_FILE, queries=queries, categories=query_cats, ids=truth.ids, dist=truth.dist)
    return {"build_s": round(total, 1), "passes_s": {k: round(v, 1) for k, v in build.seconds.items()},
            "of_which_exact_answers_s": round(timing["generate_and_exact_s"], 1)}


def _memory() -> dict:
    """VmRSS and its anonymous / file-backed parts now, in MiB (Linux /proc)."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key = line.split(":")[0]
        if key in ("VmRSS", "RssAnon", "RssFile"):
            out[key] = round(int(line.split()[1]) / 1024, 1)
    return out


def measure(directory: str, k: int, warmup: int = 10) -> dict:
    """The query phase (run in a fresh process): load memory-mapped, time, recall, resident memory."""
    directory = Path(directory)
    gc.collect()
    before = _memory()
    start = time.perf_counter()
    index, manifest = load_index(directory / INDEX_DIR, memmap=True)
    load_s = time.perf_counter() - start
    loaded = _memory()
    with np.load(directory / TRUTH_FILE) as t:
        queries, cats, truth_ids = t["queries"], t["categories"], t["ids"]
    out: dict = {"load_s": round(load_s, 2)}
    for which, name in ((0, "full"), (1, "category")):
        def run(i: int):
            return index.search(queries[i], k, category=None if which == 0 else int(cats[i]))
        for i in range(min(warmup, len(queries))):
            run(i)
        times, recalls = [], []
        for i in range(len(queries)):
            start = time.perf_counter()
            found = run(i)
            times.append(time.perf_counter() - start)
            recalls.append(len(set(found.ids.tolist()) & set(truth_ids[which, i].tolist())) / k)
        ms = np.asarray(times) * 1e3
        out[name] = {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3),
                     f"recall@{k}": round(float(np.mean(recalls)), 4),
                     f"min_recall@{k}": round(float(np.min(recalls)), 4)}
    after = _memory()
    _, data_dir = read_manifest(directory / INDEX_DIR)
    files = {p.name: p.stat().st_size for p in sorted(data_dir.iterdir()) if p.is_file()}
    stored = sum(files.values())
    used = after["VmRSS"] - before["VmRSS"]
    out.update({
        "file_mb": {name: round(size / 2**20, 1) for name, size in files.items()},
        "stored_mb": round(stored / 2**20, 1),
        "rss_mb": {"before_load": before, "after_load": loaded, "after_queries": after},
        "index_rss_mb": round(used, 1),
        "rss_over_stored": round(used / (stored / 2**20), 3),
        "items": manifest.item_count,
    })
    return out


def cmd_million(args: argparse.Namespace) -> int:
    if args.dim % args.attributes:
        raise ValueError(f"--dim {args.dim} does not split into {args.attributes} equal attribute chunks")
    args.dir.mkdir(parents=True, exist_ok=True)
    figures: dict = {"benchmark": "million", "cores": os.cpu_count(), "items": args.items, "dim": args.dim,
                     "storage": args.storage, "k": args.k, "queries": args.queries,
                     "data": (f"synthetic: {args.attributes} chunks x {args.dim // args.attributes} dims, each one "
                              "of 8 value prototypes + noise, unit per chunk; 10 categories; queries = fresh items "
                              "with one chunk set to a clean prototype; recall against the exact float32 scan"),
                     "config": _config(args).to_dict()}
    built = None
    if args.reuse:
        try:
            saved, _ = read_manifest(args.dir / INDEX_DIR)
            built = saved if not saved.differences(_manifest(args)) and (args.dir / TRUTH_FILE).is_file() else None
        except Exception:  # noqa: BLE001  (no usable index: build one)
            built = None
    figures["build"] = _build(args) if built is None else "reused"
    code = f"import json; from fashion_gui.cli.bench_million import measure; print(json.dumps(measure({str(args.dir)!r}, {args.k})))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"the query phase failed:\n{proc.stderr[-2000:]}")
    figures["query"] = json.loads(proc.stdout.strip().splitlines()[-1])
    figures["targets"] = {"p50_ms": 5.0, f"recall@{args.k}": 0.95, "rss_over_stored": 1.3}
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0
