"""``fashion bench asen``: ASEN, ASEN_v2, ASEN++ and MODC over each, at several labeled fractions and seeds,
with ADDE-C (one attribute's chunk of the ADDE embedding) on the same protocol as a reference row.

Per (network, labeled fraction, seed): the base network is trained (``asen`` / ``asen-v2`` / ``asen-pp``);
MODC over it starts from those weights (its warm-up stage *is* the base network's training: the
instance-level loss only) and runs the supervised stage and the four semi-supervised steps. Rows: the base
network (attribute space); MODC's own attribute space (no prioritizing: what its extra training alone gives);
MODC top1 / top2 with known and with unknown (pseudo-labelled) query labels, with the pseudo-label Acc.
Test split, the catalog's per-attribute query / candidate sets; model selection on val. Every run is
written to the JSON file as soon as it ends; rerunning with the same file skips the runs it already holds.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from fashion_gui.atomic import atomic_write_json
from fashion_gui.catalog.attribute_protocol import attribute_protocol
from fashion_gui.catalog.store import Catalog
from fashion_gui.cli.bench_runs import config_record, previous_runs
from fashion_gui.cli.catalog import add_workspace_arg
from fashion_gui.evaluation.metrics import l2_normalize
from fashion_gui.inference.adde_model import ADDEModel
from fashion_gui.inference.checkpoint import load_checkpoint
from fashion_gui.inference.device import resolve_device
from fashion_gui.inference.preprocess import BatchPreprocessor, load_item_images
from fashion_gui.methods import EvalRequest, get_method
from fashion_gui.training.asen_eval import SplitFeatures, protocol_dict, protocol_ids, retrieval_report
from fashion_gui.workspace import Workspace

NETWORKS = ("asen", "asen-v2", "asen-pp")
REFERENCE_ROW = "adde-c"  # the runs' label of the ADDE-C reference row (ADDE trained, its chunks evaluated)
FIGURES = ("map@100", "map@all", "recall@100")
MODC_ROWS = (("attribute space", "attribute_space"), ("top1, known", "top1_known"), ("top1, unknown", "top1_unknown"),
             ("top2, known", "top2_known"), ("top2, unknown", "top2_unknown"))


def register(cmds: argparse._SubParsersAction) -> None:
    b = cmds.add_parser("asen", help="ASEN / ASEN_v2 / ASEN++ and MODC over them, ADDE-C reference (seeds x fractions)")
    add_workspace_arg(b)
    b.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=NETWORKS)
    b.add_argument("--fractions", nargs="+", type=float, default=[1.0, 0.1], help="labeled fractions")
    b.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    b.add_argument("--epochs", type=int, default=5, help="base-network epochs (= MODC's warm-up)")
    b.add_argument("--supervised-epochs", type=int, default=2, help="MODC supervised-stage epochs")
    b.add_argument("--step-epochs", type=int, default=1, help="epochs of each of MODC's four semi-supervised steps")
    b.add_argument("--adde-epochs", type=int, default=5, help="ADDE stage-1 epochs for the ADDE-C row (0: no row)")
    b.add_argument("--device", default="auto")
    b.add_argument("--json", type=Path, default=None, help="write all runs and the summary here (and resume from it)")
    b.set_defaults(func=cmd_asen)


def _train(ws: Workspace, method: str, values: dict, name: str) -> tuple[Path, float]:
    spec = get_method(method)
    names = {o.name for o in spec.options()}
    config = spec.make_config({k: v for k, v in values.items() if k in names})
    out = ws.checkpoints / name
    start = time.perf_counter()
    spec.create_trainer(ws, out, [], config=config).run()
    return out, time.perf_counter() - start


def _evaluate(ws: Workspace, catalog: Catalog, path: Path, device) -> dict:
    ckpt = load_checkpoint(path, catalog.schema.to_dict())
    return get_method(ckpt.method).evaluate(EvalRequest(ws, catalog, ckpt, "test", device)).metrics


def adde_c(ws: Workspace, catalog: Catalog, path: Path, device) -> dict:
    """ADDE-C on the same protocol: cosine between the L2-normalised attribute chunks of the ADDE embedding."""
    model, _ = ADDEModel.from_checkpoint(load_checkpoint(path, catalog.schema.to_dict()), device)
    protocol = attribute_protocol(catalog, "test")
    ids = protocol_ids(protocol)
    chunks = model.embed(load_item_images(ws, catalog, ids, model.image_size), BatchPreprocessor(device))["chunks"]
    unit = l2_normalize(chunks.reshape(-1, chunks.shape[2])).reshape(chunks.shape)  # (N, A, d)
    feats = SplitFeatures.from_arrays(ids, catalog.labels(ids), unit.astype(np.float32), catalog.schema.names)
    return {"attribute_space": retrieval_report(None, feats, protocol)}


def run_one(ws: Workspace, catalog: Catalog, args: argparse.Namespace, network: str, fraction: float, seed: int,
            device) -> dict:
    tag = f"bench-{network}-l{round(100 * fraction)}-s{seed}"
    common = {"seed": seed, "labeled_fraction": fraction, "device": args.device, "epochs": args.epochs}
    base_path, base_s = _train(ws, network, common, tag)
    # steps 2-4 work on unlabeled images: with every label kept they have nothing to add, and are skipped
    unlabeled_steps = args.step_epochs if fraction < 1 else 0
    modc_values = {**common, "epochs": 0, "init_from": str(base_path), "supervised_epochs": args.supervised_epochs,
                   "ssl_labeled_epochs": args.step_epochs,
                   **{f"{s}_epochs": unlabeled_steps for s in ("ssl_unlabeled", "pseudo_instance", "pseudo_cluster")}}
    modc_path, modc_s = _train(ws, f"modc-{network}", modc_values, f"bench-modc-{network}-l{round(100 * fraction)}-s{seed}")
    return {"base": _evaluate(ws, catalog, base_path, device), "modc": _evaluate(ws, catalog, modc_path, device),
            "train_seconds": {"base": round(base_s, 1), "modc_extra": round(modc_s, 1)}}


def _rows(run: dict) -> dict[str, dict]:
    """Table rows of one run: name -> {figure: value} (Acc for MODC rows)."""
    if run["method"] == REFERENCE_ROW:
        return {"ADDE-C": dict(run["metrics"]["attribute_space"]["overall"])}
    title = {"asen": "ASEN", "asen-v2": "ASEN_v2", "asen-pp": "ASEN++"}[run["method"]]
    out = {title: dict(run["metrics"]["base"]["attribute_space"]["overall"])}
    modc = run["metrics"]["modc"]
    for label, key in MODC_ROWS:
        row = dict(modc[key]["overall"])
        if key != "attribute_space":
            row["acc"] = modc["acc"]["overall"]
        out[f"MODC({title}) {label}"] = row
    return out


def summarise(runs: list[dict], fractions: list[float]) -> tuple[dict, str]:
    summary: dict = {}
    for fraction in fractions:
        per_row: dict[str, list[dict]] = {}
        for run in (r for r in runs if r["fraction"] == fraction):
            for name, figures in _rows(run).items():
                per_row.setdefault(name, []).append(figures)
        summary[str(fraction)] = {
            name: {"seeds": len(vals), **{f: (statistics.mean(v[f] for v in vals),
                                              statistics.stdev(v[f] for v in vals) if len(vals) > 1 else 0.0)
                                          for f in (*FIGURES, "acc") if all(f in v for v in vals)}}
            for name, vals in per_row.items()}
    fracs = [str(f) for f in fractions]
    names = list(dict.fromkeys(n for f in fracs for n in summary[f]))
    head = " | ".join(f"{lab} ({round(100 * float(f))} %)" for f in fracs
                      for lab in ("MAP@100", "MAP@all", "Recall@100", "Acc"))
    lines = [f"| method | seeds | {head} |", "|" + "---|" * (2 + 4 * len(fracs))]
    for name in names:
        cells = [" / ".join(str(summary[f].get(name, {}).get("seeds", 0)) for f in fracs)]
        for f in fracs:
            row = summary[f].get(name, {})
            for fig in (*FIGURES, "acc"):
                cells.append(f"{100 * row[fig][0]:.2f} ± {100 * row[fig][1]:.2f}" if fig in row else "–")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", f"Mean ± std over seeds (seeds = runs per labeled fraction, {' / '.join(fracs)}), in %; test split; per-attribute query / candidate sets of the catalog; "
              "overall = mean over attributes weighted by queries; AP@100 denominator min(R, 100); MAP@all "
              "denominator R; Acc = top-1 pseudo-label accuracy on the evaluated candidates and queries. MODC "
              "starts from the base network's weights (its warm-up) and adds its supervised stage and the "
              "semi-supervised steps (at 100 % only step 1: steps 2-4 need unlabeled images); 'attribute space' = MODC's network ranked without prioritizing. ADDE-C is "
              "trained with all labels (its trainer has no labeled fraction), so its row is at 100 % only."]
    return summary, "\n".join(lines)


def cmd_asen(args: argparse.Namespace) -> int:
    ws = Workspace.at(args.workspace)
    device = resolve_device(args.device)
    runs = previous_runs(args.json) if args.json else []

    def save(summary=None, table=None) -> None:
        if args.json:
            atomic_write_json(args.json, {
                "benchmark": "asen", "config": config_record(args, ws), "protocol": protocol,
                "device": str(device), "torch_threads": torch.get_num_threads(), "runs": runs,
                "summary": summary, "markdown": table})

    with Catalog.open(ws.catalog_path) as catalog:
        protocol = protocol_dict(catalog)
        # the ADDE-C reference row (ADDE's attribute chunks on the same protocol), then every network and MODC
        jobs = [(REFERENCE_ROW, 1.0, s, True) for s in args.seeds if args.adde_epochs > 0 and 1.0 in args.fractions]
        jobs += [(n, f, s, False) for f in args.fractions for s in args.seeds for n in args.networks]
        for method, fraction, seed, reference in jobs:
            if any(r["method"] == method and r["fraction"] == fraction and r["seed"] == seed for r in runs):
                print(f"{method} {fraction} seed {seed}: already in {args.json}, skipped", flush=True)
                continue
            torch.manual_seed(seed)
            if reference:
                path, seconds = _train(ws, "adde", {"seed": seed, "epochs": args.adde_epochs, "manip_epochs": 0,
                                                    "device": args.device}, f"bench-adde-s{seed}")
                result = {"metrics": adde_c(ws, catalog, path, device), "train_seconds": {"base": round(seconds, 1)}}
            else:
                out = run_one(ws, catalog, args, method, fraction, seed, device)
                result = {"metrics": {"base": out["base"], "modc": out["modc"]}, "train_seconds": out["train_seconds"]}
            runs.append({"method": method, "fraction": fraction, "seed": seed, **result})
            shown = ", ".join(f"{n} {v['map@100']:.3f}" for n, v in _rows(runs[-1]).items())
            print(f"{method} {round(100 * fraction)} % seed {seed}: MAP@100 {shown}", flush=True)
            save()
    summary, table = summarise(runs, list(args.fractions))
    print(table)
    save(summary, table)
    return 0
