"""``fashion bench shopper``: the shopper's metric for attribute edits (fashion_gui/evaluation/shopper.py), for
every encoder model of the workspace (and the untrained baseline), in three modes (engine/edits.py):

* ``visual`` -- the engine never reads the gallery's labels (what a user with an unlabelled gallery gets; the
  model's own predictions are allowed); the app's default;
* ``labels`` -- the engine may filter the gallery on the catalog's labels and rank visually (a shop whose
  items carry labels);
* ``paper`` -- ADDE's plain full-space nearest neighbours of r + M i (how edits were ranked before).

Every query is searched exactly as the app searches it: ``engine.search(Manipulate(query, edits), k=10)``
with the app's engine configuration for that mode, over the whole catalog.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from fashion_gui.atomic import atomic_write_json
from fashion_gui.catalog.store import Catalog
from fashion_gui.cli.bench_runs import config_record
from fashion_gui.cli.catalog import add_workspace_arg
from fashion_gui.engine import EngineConfig, Manipulate, RetrievalEngine
from fashion_gui.engine.edits import EDIT_RANKINGS, EditPolicy
from fashion_gui.engine.models import scan_models
from fashion_gui.evaluation.shopper import (
    TOP,
    EditQuery,
    best_others_kept,
    sample_edit_queries,
    score_edit,
    summarise,
)
from fashion_gui.inference.adde_model import ADDEModel, build_head
from fashion_gui.inference.checkpoint import save_checkpoint
from fashion_gui.inference.device import resolve_device
from fashion_gui.inference.preprocess import BatchPreprocessor, ImageBank
from fashion_gui.methods import get_method
from fashion_gui.training.adde import init_memory_from_prototypes
from fashion_gui.workspace import Workspace

MODES = tuple(EDIT_RANKINGS)  # visual, labels, paper
EDIT_KINDS = {"single": 1, "double": 2}
UNTRAINED = "bench-untrained"  # the untrained encoder with a prototype-initialised memory block


def register(bench_sub: argparse._SubParsersAction) -> None:
    b = bench_sub.add_parser("shopper", help="shopper's metric of attribute edits: asked values and category kept")
    add_workspace_arg(b)
    b.add_argument("--models", nargs="*", default=None,
                   help="encoder checkpoints to measure (default: every usable encoder of the workspace)")
    b.add_argument("--untrained", action="store_true", help="add the untrained encoder with a prototype memory")
    b.add_argument("--queries", type=int, default=300, help="queries per edit kind")
    b.add_argument("--seed", type=int, default=0, help="seeds the query sample")
    b.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    b.add_argument("--device", default="auto")
    defaults = EditPolicy()
    b.add_argument("--weight", type=float, default=defaults.weight,
                   help="edit policy: weight of log P(asked values and category) (tuning; default the app's)")
    b.add_argument("--keep-weight", type=float, default=defaults.keep_weight,
                   help="edit policy: weight of the log-probability of the query's other values")
    b.add_argument("--label-keep-weight", type=float, default=defaults.label_keep_weight,
                   help="edit policy, labels mode: weight of the other values the catalog labels share")
    b.add_argument("--json", type=Path, default=None, help="write the figures here")
    b.set_defaults(func=cmd_shopper)


def engine_config(mode: str, encoder: str, **weights: float) -> EngineConfig:
    """The app's engine configuration for a mode, with ``encoder`` as the encoder model (and, for tuning,
    other edit-policy weights than the app's)."""
    return EngineConfig(encoder_model=encoder, edits=EditPolicy(ranking=mode, **weights))


def untrained_checkpoint(ws: Workspace, catalog: Catalog, device: torch.device, seed: int = 0) -> str:
    """Save the untrained encoder (ADDE architecture, default options) with its memory block initialised from
    its own value prototypes (as ``fashion bench attributes --untrained``) as a checkpoint folder."""
    spec = get_method("adde")
    config = spec.make_config({"seed": seed})
    torch.manual_seed(seed)
    model = ADDEModel.create(catalog.schema, backbone=config.backbone, d=config.d, image_size=config.image_size).to(device)
    init_memory_from_prototypes(model, ImageBank(ws, catalog, "train", config.image_size), BatchPreprocessor(device))
    head = build_head("diagonal", model.encoder)
    save_checkpoint(ws.checkpoints / UNTRAINED, method=spec.name,
                    weights={"model": model.state_dict(), "head": head.state_dict()},
                    config={**spec.config_dict(config), "architecture": {**model.architecture(), "head": "diagonal"}},
                    schema=catalog.schema.to_dict(), catalog_version=catalog.version, metrics={"validation": {}})
    return UNTRAINED


def run_model(ws: Workspace, name: str, mode: str, queries: dict[str, list[EditQuery]], ids: np.ndarray,
              labels: np.ndarray, categories: np.ndarray, skip: list[int], device: str,
              weights: dict[str, float] | None = None) -> dict:
    """The figures of one model in one mode, per edit kind."""
    out = {}
    with RetrievalEngine.open(ws, device=device, config=engine_config(mode, name, **(weights or {}))) as engine:
        schema = engine.schema
        row_of = {int(i): r for r, i in enumerate(ids.tolist())}
        for kind, qs in queries.items():
            scores, seconds = [], []
            for q in qs:
                query = engine.query_from_item(int(ids[q.row]))
                edits = {schema.types[a].name: schema.types[a].values[v] for a, v in q.edits.items()}
                start = time.perf_counter()
                results = engine.search(Manipulate(query, edits), k=TOP)
                seconds.append(time.perf_counter() - start)
                scores.append(score_edit([row_of[i] for i in results.ids], q, labels, categories, skip))
            out[kind] = {**summarise(scores), "search_ms_p50": round(1e3 * float(np.median(seconds)), 2)}
    return out


def cmd_shopper(args: argparse.Namespace) -> int:
    ws = Workspace.at(args.workspace)
    device = resolve_device(args.device)
    with Catalog.open(ws.catalog_path) as catalog:
        ids = catalog.ids()
        labels, categories = catalog.labels(ids), catalog.categories_of(ids)
        schema = catalog.schema
        skip = [schema.type_index("category")] if "category" in schema.names else []
        rng = np.random.default_rng(args.seed)
        queries = {kind: sample_edit_queries(labels, categories, n, args.queries, rng, skip)
                   for kind, n in EDIT_KINDS.items()}
        models = args.models if args.models is not None else [m.name for m in scan_models(ws, schema.to_dict())
                                 if m.usable and m.encoder and not m.name.startswith("bench-untrained")]
        if args.untrained:
            models = [untrained_checkpoint(ws, catalog, device), *models]
    # the most "others kept" a perfect score allows on these queries (from the catalog's labels alone)
    oracle = {kind: float(np.nanmean([best_others_kept(q, labels, categories, skip) for q in qs]))
              for kind, qs in queries.items()}
    print("best others kept with every result relevant: " + "; ".join(f"{k} {v:.3f}" for k, v in oracle.items()))
    weights = {"weight": args.weight, "keep_weight": args.keep_weight, "label_keep_weight": args.label_keep_weight}
    figures: dict[str, dict] = {}
    for name in models:
        for mode in args.modes:
            result = run_model(ws, name, mode, queries, ids, labels, categories, skip, str(device), weights)
            figures.setdefault(name, {})[mode] = result
            print(f"{name} [{mode}]: " + "; ".join(
                f"{kind} score {r['score']:.3f}, others kept {r['others_kept']:.3f} ({r['queries']} queries)"
                for kind, r in result.items()), flush=True)
    payload = {"benchmark": "shopper", "config": config_record(args, ws), "device": str(device),
               "metric": "score = precision@min(10, R) of items with the asked values and the query's category; "
                         "others_kept = mean fraction of the query's other attributes kept in the top 10",
               "best_others_kept_with_a_perfect_score": oracle, "figures": figures}
    if args.json:
        atomic_write_json(args.json, payload)
    print(json.dumps(figures, indent=2))
    return 0
