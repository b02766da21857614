"""``fashion bench attributes``: train and evaluate the attribute methods over several seeds (README table)."""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from fashion_gui.catalog.store import Catalog
from fashion_gui.cli.bench_runs import config_record, previous_runs
from fashion_gui.cli.catalog import add_workspace_arg
from fashion_gui.atomic import atomic_write_json
from fashion_gui.inference.adde_model import ADDEModel, build_head
from fashion_gui.inference.checkpoint import load_checkpoint
from fashion_gui.inference.device import resolve_device
from fashion_gui.inference.preprocess import BatchPreprocessor, ImageBank
from fashion_gui.methods import get_method, list_methods
from fashion_gui.methods.adde import AttributeTrainConfig
from fashion_gui.training.adde import init_memory_from_prototypes
from fashion_gui.training.adde_eval import full_report
from fashion_gui.workspace import Workspace

COLUMNS = [  # (label, path into the eval report)
    ("top-10", ("manipulation", "topk_accuracy", 10)),
    ("top-30", ("manipulation", "topk_accuracy", 30)),
    ("top-50", ("manipulation", "topk_accuracy", 50)),
    ("NDCG@30", ("manipulation", "ndcg", "ndcg", 30)),
    ("NDCG_target@30", ("manipulation", "ndcg", "ndcg_target", 30)),
    ("NDCG_others@30", ("manipulation", "ndcg", "ndcg_others", 30)),
    ("attr acc", ("attribute_accuracy", "mean")),
    ("off-diag", ("feature_classifier_matrix", "mean_off_diagonal")),
    ("ADDE-C", ("conditional_similarity", "accuracy")),
]


def register(bench_sub: argparse._SubParsersAction) -> None:
    b = bench_sub.add_parser("attributes", help="train + evaluate ADDE-M / GRL / no-GRL over seeds; markdown table")
    add_workspace_arg(b)
    attribute_methods = list_methods(serves="manipulate")
    b.add_argument("--methods", nargs="+", default=attribute_methods, choices=attribute_methods)
    b.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    b.add_argument("--epochs", type=int, default=AttributeTrainConfig.epochs)
    b.add_argument("--manip-epochs", type=int, default=AttributeTrainConfig.manip_epochs)
    b.add_argument("--image-size", type=int, default=AttributeTrainConfig.image_size)
    b.add_argument("--backbone", default=AttributeTrainConfig.backbone)
    b.add_argument("--d", type=int, default=AttributeTrainConfig.d)
    b.add_argument("--device", default="auto")
    b.add_argument("--untrained", action="store_true",
                   help="add a row for the untrained encoder with a prototype-initialised memory")
    b.add_argument("--json", type=Path, default=None, help="write all runs and the summary here")
    b.set_defaults(func=cmd_attributes)


def _get(report: dict, path: tuple) -> float:
    node = report
    for key in path:
        node = node[key] if key in node else node[str(key)]
    return float(node)


def _throughput(events: list) -> float:
    rates = [e.images_per_second for e in events if e.kind == "epoch" and e.stage == "attributes"]
    return statistics.mean(rates) if rates else float("nan")


def cmd_attributes(args: argparse.Namespace) -> int:
    ws = Workspace.at(args.workspace)
    device = resolve_device(args.device)
    rows = (["untrained"] if args.untrained else []) + list(args.methods)
    runs = previous_runs(args.json) if args.json else []
    for method in rows:
        for seed in args.seeds:
            if any(r["method"] == method and r["seed"] == seed for r in runs):
                print(f"{method} seed {seed}: already in {args.json}, skipped", flush=True)
                continue
            events: list = []
            start = time.perf_counter()
            with Catalog.open(ws.catalog_path) as catalog:
                if method == "untrained":
                    torch.manual_seed(seed)
                    model = ADDEModel.create(catalog.schema, backbone=args.backbone, d=args.d,
                                             image_size=args.image_size).to(device)
                    head = build_head("diagonal", model.encoder).to(device)
                    train = ImageBank(ws, catalog, "train", args.image_size)
                    init_memory_from_prototypes(model, train, BatchPreprocessor(device))
                else:
                    out = ws.checkpoints / f"bench-{method}-s{seed}"
                    get_method(method).create_trainer(
                        ws, out, [events.append], seed=seed, epochs=args.epochs, manip_epochs=args.manip_epochs,
                        image_size=args.image_size, backbone=args.backbone, d=args.d, device=args.device).run()
                    ckpt = load_checkpoint(out, catalog.schema.to_dict())
                    model, head = ADDEModel.from_checkpoint(ckpt, device)
                seconds = time.perf_counter() - start
                bank = ImageBank(ws, catalog, "test", model.image_size)
                report = full_report(model, head, bank, catalog, "test", BatchPreprocessor(device), None)
            row = {label: _get(report, path) for label, path in COLUMNS}
            runs.append({"method": method, "seed": seed, "train_seconds": round(seconds, 1),
                         "train_images_per_second": round(_throughput(events), 1), "metrics": row})
            print(f"{method} seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items())
                  + f" ({seconds:.0f} s)", flush=True)
            if args.json:  # after every run, so an interrupted benchmark resumes where it stopped
                atomic_write_json(args.json, _payload(args, ws, device, runs, None, None))
    summary = {}
    for method in rows:
        mine = [r for r in runs if r["method"] == method]
        summary[method] = {label: (statistics.mean(r["metrics"][label] for r in mine),
                                   statistics.stdev(r["metrics"][label] for r in mine) if len(mine) > 1 else 0.0)
                           for label, _ in COLUMNS}
        summary[method]["train images/s"] = (statistics.mean(r["train_images_per_second"] for r in mine), 0.0)
    header = "| method | " + " | ".join(label for label, _ in COLUMNS) + " |"
    lines = [header, "|" + "---|" * (len(COLUMNS) + 1)]
    for method, cols in summary.items():
        lines.append(f"| {method} | " + " | ".join(f"{cols[label][0]:.3f} ± {cols[label][1]:.3f}"
                                                   for label, _ in COLUMNS) + " |")
    table = "\n".join(lines)
    print(table)
    if args.json:
        atomic_write_json(args.json, _payload(args, ws, device, runs, summary, table))
    return 0


def _payload(args: argparse.Namespace, ws: Workspace, device, runs: list, summary, table) -> dict:
    return {"config": config_record(args, ws),
            "device": str(device), "torch_threads": torch.get_num_threads(),
            "runs": runs, "summary": summary, "markdown": table}
