"""``fashion bench cooperative``: cooperative embeddings against the Table 3 baselines, the loss ablation
(Table 1a), learned vs fixed proxies (Table 2a) and ordered vs not (Table 1c), over several seeds, on the
test split with the registered evaluator (README table; resumable like the other multi-seed benchmarks)."""
from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import torch

from fashion_gui.atomic import atomic_write_json
from fashion_gui.catalog.store import Catalog
from fashion_gui.cli.bench_runs import config_record, previous_runs
from fashion_gui.cli.catalog import add_workspace_arg
from fashion_gui.inference.checkpoint import load_checkpoint
from fashion_gui.inference.device import resolve_device
from fashion_gui.methods import EvalRequest, get_method
from fashion_gui.workspace import Workspace

# row -> (registry entry, preset or None, extra option values)
ROWS: dict[str, tuple[str, str | None, dict]] = {
    "untrained": ("cooperative", None, {"epochs": 0}),
    "cooperative": ("cooperative", None, {}),
    "(a) multitask": ("coop-multitask", None, {}),
    "(b) multitask + triplet": ("coop-multitask-triplet", None, {}),
    "(c) concatenated triplets": ("coop-concat", None, {}),
    "instance loss only": ("cooperative", "instance-only", {}),
    "attribute loss only": ("cooperative", "attribute-only", {}),
    "category loss only": ("cooperative", "category-only", {}),
    "fixed proxies": ("cooperative", "fixed-proxies", {}),
    "not ordered": ("cooperative", "not-ordered", {}),
    "lambda_reg 0.5 (paper)": ("cooperative", "paper-reg", {}),
}
COLUMNS = [("instance R@1", ("instance_r1",)), ("attribute mAP", ("attribute", "mAP")),
           ("category mAP", ("category", "mAP")), ("ordered MAE", ("ordered", "mean", "MAE")),
           ("ordered MRR", ("ordered", "mean", "MRR"))]


def register(bench_sub: argparse._SubParsersAction) -> None:
    b = bench_sub.add_parser("cooperative", help="cooperative embeddings vs baselines and ablations over seeds")
    add_workspace_arg(b)
    b.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS), metavar="ROW",
                   help=f"rows to run (default all: {', '.join(ROWS)})")
    b.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    b.add_argument("--epochs", type=int, default=6, help="epochs of every trained row (the same budget for all)")
    b.add_argument("--image-size", type=int, default=64)
    b.add_argument("--backbone", default="compact")
    b.add_argument("--n", type=int, default=50, help="dimensions per subspace")
    b.add_argument("--cpu-threads", type=int, default=0)
    b.add_argument("--device", default="cpu")
    b.add_argument("--json", type=Path, default=None, help="write all runs and the summary here")
    b.set_defaults(func=cmd_cooperative)


def _get(metrics: dict, path: tuple) -> float:
    node = metrics
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return float("nan")
        node = node[key]
    return float(node)


def cmd_cooperative(args: argparse.Namespace) -> int:
    ws = Workspace.at(args.workspace)
    if not ws.exists():
        raise ValueError(f"{ws.root} has no catalog.sqlite; create it with `fashion catalog demo -w {ws.root}`")
    device = resolve_device(args.device)
    runs = previous_runs(args.json) if args.json else []
    protocol: dict = {}
    for row in args.rows:
        method, preset, extra = ROWS[row]
        spec = get_method(method)
        for seed in args.seeds:
            if any(r["row"] == row and r["seed"] == seed for r in runs):
                print(f"{row} seed {seed}: already in {args.json}, skipped", flush=True)
                continue
            values = {"seed": seed, "epochs": args.epochs, "image_size": args.image_size, "backbone": args.backbone,
                      "n": args.n, "device": args.device, "cpu_threads": args.cpu_threads, **extra}
            config = spec.make_config(values, preset=preset)
            slug = "".join(c if c.isalnum() else "-" for c in row).strip("-")
            out = ws.checkpoints / f"bench-coop-{slug}-s{seed}"
            start = time.perf_counter()
            spec.create_trainer(ws, out, config=config).run()
            seconds = time.perf_counter() - start
            with Catalog.open(ws.catalog_path) as catalog:
                ckpt = load_checkpoint(out, catalog.schema.to_dict())
                report = spec.evaluate(EvalRequest(ws, catalog, ckpt, "test", device))
            protocol = report.protocol
            row_metrics = {label: _get(report.metrics, path) for label, path in COLUMNS}
            runs.append({"row": row, "method": method, "preset": preset, "seed": seed,
                         "train_seconds": round(seconds, 1), "metrics": row_metrics,
                         "per_type": {"attribute": report.metrics["attribute"]["per_type"],
                                      "ordered": report.metrics["ordered"]}})
            print(f"{row} seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in row_metrics.items())
                  + f" ({seconds:.0f} s)", flush=True)
            if args.json:
                atomic_write_json(args.json, _payload(args, ws, device, runs, None, None, protocol))
    summary, table = summarise(runs, [r for r in ROWS if any(run["row"] == r for run in runs)])
    print(table)
    if args.json:
        atomic_write_json(args.json, _payload(args, ws, device, runs, summary, table, protocol))
    return 0


def summarise(runs: list[dict], rows: list[str]) -> tuple[dict, str]:
    """Mean and standard deviation over seeds per row and column, and a markdown table."""
    summary = {}
    for row in rows:
        mine = [r for r in runs if r["row"] == row]
        summary[row] = {"seeds": len(mine)}
        for label, _ in COLUMNS:
            vals = [r["metrics"][label] for r in mine if not math.isnan(r["metrics"][label])]
            summary[row][label] = (statistics.mean(vals) if vals else float("nan"),
                                   statistics.stdev(vals) if len(vals) > 1 else 0.0)
    lines = ["| row | seeds | " + " | ".join(label for label, _ in COLUMNS) + " |",
             "|" + "---|" * (len(COLUMNS) + 2)]
    for row, cols in summary.items():
        lines.append(f"| {row} | {cols['seeds']} | " + " | ".join(
            f"{cols[label][0]:.3f} ± {cols[label][1]:.3f}" for label, _ in COLUMNS) + " |")
    return summary, "\n".join(lines)


def _payload(args: argparse.Namespace, ws: Workspace, device, runs: list, summary, table, protocol: dict) -> dict:
    if not protocol and args.json and args.json.exists():  # every run was already there: keep the file's
        protocol = json.loads(args.json.read_text()).get("protocol") or {}
    return {"benchmark": "cooperative", "config": config_record(args, ws), "device": str(device),
            "torch_threads": torch.get_num_threads(), "protocol": protocol, "runs": runs, "summary": summary,
            "markdown": table}
