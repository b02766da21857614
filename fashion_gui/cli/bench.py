"""``fashion bench render``: demo renderer throughput (images per second), JSON out."""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from fashion_gui.catalog.demo.builder import DemoConfig, build_demo
from fashion_gui.catalog.demo.render import benchmark_render
from fashion_gui.cli import bench_composed, bench_index, bench_train
from fashion_gui.workspace import Workspace


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="performance benchmarks (JSON out)")
    cmds = p.add_subparsers(dest="bench_command", required=True, metavar="BENCHMARK")
    r = cmds.add_parser("render", help="demo renderer: raw images/s on one core and the full demo build")
    r.add_argument("--items", type=int, default=DemoConfig.items, help="images in the full-build measurement")
    r.add_argument("--size", type=int, default=DemoConfig.size)
    r.add_argument("--raw", type=int, default=200, help="images in the single-core measurement")
    r.add_argument("--workers", type=int, default=0, help="render processes for the full build (0 = cores)")
    r.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    r.set_defaults(func=cmd_render)
    bench_train.register(cmds)
    bench_index.register(cmds)
    bench_composed.register(cmds)


def cmd_render(args: argparse.Namespace) -> int:
    raw = benchmark_render(args.raw, args.size)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        counts = build_demo(Workspace(Path(tmp)), DemoConfig(items=args.items, size=args.size, workers=args.workers))
        build_s = time.perf_counter() - start
    figures = {
        "benchmark": "render",
        "size": args.size,
        "cores": os.cpu_count(),
        "raw_images_per_second_one_core": round(raw, 1),
        "demo_build_items": counts["items"],
        "demo_build_seconds": round(build_s, 2),
        "demo_build_images_per_second": round(counts["items"] / build_s, 1),
    }
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0
