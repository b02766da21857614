"""``fashion bench composed``: unified UIGR vs independent TGR / VCR models (and ADDE-O) over seeds.

Rows (UIGR paper Table 3 on the workspace's catalog): ``uigr-tirg`` and ``uigr-rtic`` (one unified model
each); ``independent-tirg`` / ``independent-rtic`` (the TGR figures of a ``tgr-only`` model with the VCR figures
of a ``vcr-only`` model, same compositor); ``adde-o`` (VCR only, on the workspace's ADDE checkpoint); with
``--untrained``, ``untrained-tirg``: the unified TIRG model before training (same backbone start).
Columns: R@10, R@50, mAP@50 for TGR and VCR on the test split (UIGR protocol unless --exclude-source), the
mean of the two tasks, VCR R@10 ranking only the target category's items, and the branch accuracy.
Every run is written to the JSON file as soon as it ends; rerunning with the same file skips them.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from fashion_gui.atomic import atomic_write_json
from fashion_gui.catalog.store import Catalog
from fashion_gui.cli.bench_runs import config_record, previous_runs
from fashion_gui.cli.catalog import add_workspace_arg
from fashion_gui.inference.checkpoint import load_checkpoint
from fashion_gui.inference.device import resolve_device
from fashion_gui.inference.preprocess import BatchPreprocessor
from fashion_gui.methods import EvalRequest, get_method
from fashion_gui.methods.outfit import OutfitTrainConfig
from fashion_gui.methods.uigr import UIGRTrainConfig
from fashion_gui.training.uigr_eval import ComposedBank, composed_metrics, feedback_triplets
from fashion_gui.workspace import Workspace

NOTE = ("gallery = every test image (UIGR protocol, source image kept); 'mean' = mean of the TGR and VCR "
        "figures; 'independent' = TGR figures of tgr-only + VCR figures of vcr-only (same compositor); 'VCR in-cat' "
        "ranks only the target category's items (ADDE-O's own protocol); adde-o ranks by its compatibility "
        "distance for the (reference, target) category pair and does not read the caption; train s = wall "
        "seconds per run (both models for 'independent').")
# row -> the registered methods trained for it, each with the option values that make it that row
ROWS: dict[str, tuple[tuple[str, dict], ...]] = {
    "uigr-tirg": (("uigr-tirg", {}),),
    "independent-tirg": (("tgr-only", {"compositor": "tirg"}), ("vcr-only", {"compositor": "tirg"})),
    "uigr-rtic": (("uigr-rtic", {}),),
    "independent-rtic": (("tgr-only", {"compositor": "rtic"}), ("vcr-only", {"compositor": "rtic"})),
    "adde-o": (("adde-o", {}),),
}
UNTRAINED = ("untrained-tirg", "uigr-tirg")  # row name, the method whose initial weights it evaluates
COLUMNS = [  # (label, task, figure)
    ("TGR R@10", "tgr", "R@10"), ("TGR R@50", "tgr", "R@50"), ("TGR mAP@50", "tgr", "mAP@50"),
    ("VCR R@10", "vcr", "R@10"), ("VCR R@50", "vcr", "R@50"), ("VCR mAP@50", "vcr", "mAP@50"),
    ("mean R@10", "mean", "R@10"), ("mean R@50", "mean", "R@50"), ("mean mAP@50", "mean", "mAP@50"),
    ("VCR in-cat R@10", "vcr_in_category", "R@10"), ("branch acc", "branch", "overall"),
]


def register(bench_sub: argparse._SubParsersAction) -> None:
    b = bench_sub.add_parser("composed", help="unified UIGR vs independent TGR/VCR models and ADDE-O over seeds")
    add_workspace_arg(b)
    b.add_argument("--methods", nargs="+", default=list(ROWS), choices=list(ROWS))
    b.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    b.add_argument("--epochs", type=int, default=UIGRTrainConfig.epochs,
                   help="UIGR / TGR-only / VCR-only epochs per run (the per-run budget)")
    b.add_argument("--outfit-epochs", type=int, default=OutfitTrainConfig.epochs, help="ADDE-O epochs per run")
    b.add_argument("--backbone-init", default=UIGRTrainConfig.backbone_init, choices=("auto", "adde", "none"))
    b.add_argument("--train-backbone", action="store_true", help="train the backbone end to end (paper; slow on CPU)")
    b.add_argument("--adde-checkpoint", default="adde", help="ADDE checkpoint for adde-o and --backbone-init")
    b.add_argument("--exclude-source", action="store_true", help="drop the source image from the gallery")
    b.add_argument("--untrained", action="store_true", help="add the untrained unified TIRG model as a row")
    b.add_argument("--device", default="auto")
    b.add_argument("--json", type=Path, default=None, help="write all runs and the summary here (and resume from it)")
    b.set_defaults(func=cmd_composed)


def _options(args: argparse.Namespace, method: str, values: dict, seed: int) -> dict:
    """The benchmark's flags that ``method`` takes (``--outfit-epochs`` is the epochs of the outfit stage)."""
    spec = get_method(method)
    stage_names = {s.name for s in spec.stages}
    epochs = args.outfit_epochs if "outfit" in stage_names else args.epochs
    given = {"seed": seed, "epochs": epochs, "backbone_init": args.backbone_init, "device": args.device,
             "train_backbone": args.train_backbone, "adde_checkpoint": args.adde_checkpoint, **values}
    names = {o.name for o in spec.options()}
    return {k: v for k, v in given.items() if k in names}


def _throughput(events: list) -> float:
    rates = [e.images_per_second for e in events if e.kind == "epoch" and e.images_per_second]
    return statistics.mean(rates) if rates else float("nan")


def _train_eval(ws: Workspace, catalog: Catalog, method: str, options: dict, device,
                source_in_gallery: bool) -> tuple[dict, dict]:
    spec = get_method(method)
    config = spec.make_config(options)
    out = ws.checkpoints / f"bench-{spec.default_checkpoint(config)}-s{config.seed}"
    events: list = []
    start = time.perf_counter()
    spec.create_trainer(ws, out, [events.append], config=config).run()
    seconds = time.perf_counter() - start
    ckpt = load_checkpoint(out, catalog.schema.to_dict())
    report = spec.evaluate(EvalRequest(ws, catalog, ckpt, "test", device, reference_in_gallery=source_in_gallery))
    return report.metrics, {"train_seconds": round(seconds, 1), "train_images_per_second": round(_throughput(events), 1)}


def _untrained(ws: Workspace, catalog: Catalog, args: argparse.Namespace, seed: int, device, source_in_gallery: bool):
    method = UNTRAINED[1]
    trainer = get_method(method).create_trainer(ws, ws.checkpoints / "bench-untrained", [],
                                                **_options(args, method, {}, seed))
    model = trainer.retrieval()
    bank = ComposedBank(ws, catalog, "test", model.image_size)
    trip = {t: feedback_triplets(catalog, bank, "test", t) for t in model.tasks}
    return composed_metrics(model, bank, trip, BatchPreprocessor(device), source_in_gallery=source_in_gallery)


def run_row(ws: Workspace, catalog: Catalog, args: argparse.Namespace, row: str, seed: int, device) -> dict:
    """Train and evaluate the row's methods; a row of several single-task models takes each task's figures
    from the model that trained it (the "independent" rows of UIGR Table 3)."""
    keep = not args.exclude_source
    if row == UNTRAINED[0]:
        return {"metrics": _untrained(ws, catalog, args, seed, device, keep), "train_seconds": 0.0}
    parts = ROWS[row]
    results = [_train_eval(ws, catalog, m, _options(args, m, values, seed), device, keep) for m, values in parts]
    if len(results) == 1:
        metrics, info = results[0]
        return {"metrics": metrics, **info}
    metrics = {task: m[task] for m, _ in results for task in ("tgr", "vcr") if task in m}
    metrics["mean"] = {k: float(np.mean([metrics["tgr"][k], metrics["vcr"][k]])) for k in ("R@10", "R@50", "mAP@50")}
    infos = {f"{m}-{v.get('compositor', '')}".rstrip("-"): info for (m, v), (_, info) in zip(parts, results)}
    return {"metrics": metrics, "train_seconds": round(sum(i["train_seconds"] for i in infos.values()), 1),
            "parts": infos}


def _value(metrics: dict, task: str, figure: str) -> float | None:
    if task == "vcr_in_category":
        node = metrics.get("vcr", {}).get("in_category", {})
    elif task == "branch":
        node = metrics.get("branch_accuracy", {})
    else:
        node = metrics.get(task, {})
    value = node.get(figure)
    return None if value is None else float(value)


def summarise(runs: list[dict], rows: list[str]) -> tuple[dict, str]:
    summary: dict = {}
    for row in rows:
        mine = [r for r in runs if r["method"] == row]
        if not mine:
            continue
        cols = {}
        for label, task, figure in COLUMNS:
            values = [v for r in mine if (v := _value(r["metrics"], task, figure)) is not None]
            if values:
                cols[label] = (statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0)
        cols["train s"] = (statistics.mean(r["train_seconds"] for r in mine), 0.0)
        summary[row] = {"seeds": len(mine), **cols}
    header = "| method | " + " | ".join(label for label, _, _ in COLUMNS) + " | train s |"
    lines = [header, "|" + "---|" * (len(COLUMNS) + 2)]
    for row, cols in summary.items():
        cells = [f"{cols[label][0]:.3f} ± {cols[label][1]:.3f}" if label in cols else "–" for label, _, _ in COLUMNS]
        lines.append(f"| {row} | " + " | ".join(cells) + f" | {cols['train s'][0]:.0f} |")
    lines += ["", f"Mean ± std over seeds; test split; {NOTE}"]
    return summary, "\n".join(lines)


def cmd_composed(args: argparse.Namespace) -> int:
    ws = Workspace.at(args.workspace)
    device = resolve_device(args.device)
    rows = ([UNTRAINED[0]] if args.untrained else []) + list(args.methods)
    runs = previous_runs(args.json) if args.json else []
    with Catalog.open(ws.catalog_path) as catalog:
        for row in rows:
            for seed in args.seeds:
                if any(r["method"] == row and r["seed"] == seed for r in runs):
                    print(f"{row} seed {seed}: already in {args.json}, skipped", flush=True)
                    continue
                torch.manual_seed(seed)
                result = run_row(ws, catalog, args, row, seed, device)
                runs.append({"method": row, "seed": seed, **result})
                shown = {label: v for label, task, fig in COLUMNS if (v := _value(result["metrics"], task, fig)) is not None}
                print(f"{row} seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in shown.items())
                      + f" ({result['train_seconds']:.0f} s)", flush=True)
                if args.json:
                    atomic_write_json(args.json, _payload(args, ws, device, runs, None, None))
    summary, table = summarise(runs, rows)
    print(table)
    if args.json:
        atomic_write_json(args.json, _payload(args, ws, device, runs, summary, table))
    return 0


def _payload(args: argparse.Namespace, ws: Workspace, device, runs: list, summary, table) -> dict:
    return {"benchmark": "composed", "config": config_record(args, ws),
            "protocol": {"split": "test", "source_in_gallery": not args.exclude_source,
                         "gallery": "every test image (no category filter); 'VCR in-cat' ranks the target "
                                    "category's items only; ADDE-O uses the category pair, not the caption",
                         "independent": "TGR figures of tgr-only + VCR figures of vcr-only (same compositor)",
                         "selection": "best validation epoch (never the test split)"},
            "device": str(device), "torch_threads": torch.get_num_threads(),
            "runs": runs, "summary": summary, "markdown": table}
