"""``fashion train METHOD`` and ``fashion eval METHOD``."""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from fashion_gui.atomic import ensure_writable
from fashion_gui.catalog.store import Catalog
from fashion_gui.cli.catalog import add_workspace_arg
from fashion_gui.evaluation.report import adde_protocol, report_dict
from fashion_gui.inference.preprocess import ImageBank
from fashion_gui.training.adde_eval import full_report
from fashion_gui.inference.adde_model import ADDEModel
from fashion_gui.inference.checkpoint import atomic_write_json, load_checkpoint
from fashion_gui.inference.preprocess import BatchPreprocessor
from fashion_gui.inference.device import DEVICE_CHOICES, resolve_device
from fashion_gui.training.events import JsonLinesReporter, TqdmReporter
from fashion_gui.training.outfit import (
    OUTFIT_METHODS,
    evaluate_outfit_checkpoint,
    outfit_protocol,
)
from fashion_gui.training.registry import get_method, list_methods
from fashion_gui.training.uigr import (
    COMPOSED_METHODS,
    COMPOSITOR_CHOICES,
    PAPER_SIZES,
    default_checkpoint_name,
)
from fashion_gui.training.uigr_eval import (
    composed_protocol,
    evaluate_composed_checkpoint,
    summary_line,
)
from fashion_gui.workspace import Workspace

# config fields exposed as flags: flag name -> (field, type, help)
TRAIN_FLAGS = {
    "--epochs": ("epochs", int, "stage-1 epochs (attribute learning)"),
    "--manip-epochs": ("manip_epochs", int, "stage-2 epochs (memory manipulation)"),
    "--backbone": ("backbone", str, "compact | alexnet | resnet18 | resnet50"),
    "--backbone-weights": ("backbone_weights", str, "local state-dict file for the backbone"),
    "--d": ("d", int, "attribute chunk size (ADDE: 340)"),
    "--image-size": ("image_size", int, "training resolution in pixels"),
    "--batch-size": ("batch_size", int, "images per batch"),
    "--lr": ("lr", float, "stage-1 learning rate"),
    "--manip-lr": ("manip_lr", float, "stage-2 learning rate"),
    "--seed": ("seed", int, "random seed"),
    # composed retrieval (uigr-tirg | uigr-rtic | tgr-only | vcr-only) and adde-o
    "--compositor": ("compositor", str, "tgr-only / vcr-only compositor: tirg (default) | rtic"),
    "--embed-dim": ("embed_dim", int, "UIGR feature size (CPU default 256; paper 512)"),
    "--word-dim": ("word_dim", int, "UIGR word-embedding size (CPU default 128; paper 512)"),
    "--text-hidden": ("text_hidden", int, "UIGR Bi-GRU hidden size per direction (CPU default 256; paper 1024)"),
    "--word-vectors": ("word_vectors", str, "GloVe-style word-vector file initialising the word embeddings"),
    "--backbone-init": ("backbone_init", str, "UIGR backbone start: auto | adde (the ADDE checkpoint's) | none"),
    "--adde-checkpoint": ("adde_checkpoint", str, "ADDE checkpoint (name or path) for adde-o / --backbone-init"),
    "--margin": ("margin", float, "adde-o ranking-loss margin (paper 0.3)"),
    "--cpu-threads": ("cpu_threads", int, "UIGR: torch threads on CPU (default 1; 0 = torch's default)"),
}
BOOL_FLAGS = {  # flag -> (field, value when given, help)
    "--train-backbone": ("train_backbone", True, "UIGR: train the backbone end to end (paper) instead of frozen"),
}


def register(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("train", help="train a model on a workspace")
    t.add_argument("method", choices=list_methods(), help="; ".join(list_methods()))
    add_workspace_arg(t)
    for flag, (_, typ, help_) in TRAIN_FLAGS.items():
        choices = COMPOSITOR_CHOICES if flag == "--compositor" else None
        choices = ("auto", "adde", "none") if flag == "--backbone-init" else choices
        t.add_argument(flag, type=typ, default=None, choices=choices, help=help_)
    for flag, (_, _, help_) in BOOL_FLAGS.items():
        t.add_argument(flag, action="store_true", help=help_)
    t.add_argument("--paper-sizes", action="store_true",
                   help="UIGR: the paper's sizes " + ", ".join(f"{k}={v}" for k, v in PAPER_SIZES.items()))
    t.add_argument("--pretrained", action="store_true", help="ImageNet weights via torchvision (downloads)")
    t.add_argument("--device", default="auto", help=f"{' | '.join(DEVICE_CHOICES)} (or cuda:N)")
    t.add_argument("--no-amp", action="store_true", help="disable mixed precision on CUDA")
    t.add_argument("--name", default=None, help="checkpoint folder name (default: the method)")
    t.add_argument("--resume", action="store_true", help="continue from the checkpoint folder's state.pt")
    t.add_argument("--progress-json", action="store_true", help="one JSON object per line on stdout (for the app)")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("eval", help="evaluate a trained model in the papers' terms")
    e.add_argument("method", help="method name (its checkpoint folder) or a checkpoint path")
    add_workspace_arg(e)
    e.add_argument("--split", default="test", choices=("val", "test"))
    e.add_argument("--exclude-reference", action="store_true",
                   help="drop the reference (source) image from the gallery; ADDE and UIGR keep it (the default), "
                        "TIRG / RTIC drop it")
    e.add_argument("--oracle-branch", action="store_true",
                   help="unified UIGR models: use each query's own branch instead of the branch classifier's choice")
    e.add_argument("--device", default="auto")
    e.add_argument("--json", type=Path, default=None, help="write the report here (default: <workspace>/reports)")
    e.set_defaults(func=cmd_eval)


def train_config(method, args: argparse.Namespace):
    """The method's config from the command line; a flag the method does not use is an error."""
    fields = {f.name for f in dataclasses.fields(method.config_cls)}
    given = {flag: (field, getattr(args, flag[2:].replace("-", "_"))) for flag, (field, _, _) in TRAIN_FLAGS.items()}
    given = {flag: fv for flag, fv in given.items() if fv[1] is not None}
    given |= {flag: (field, value) for flag, (field, value, _) in BOOL_FLAGS.items()
              if getattr(args, flag[2:].replace("-", "_"))}
    if args.pretrained:
        given["--pretrained"] = ("pretrained", True)
    if args.no_amp:
        given["--no-amp"] = ("amp", False)
    unused = [flag for flag, (field, _) in given.items() if field not in fields]
    if args.paper_sizes and not set(PAPER_SIZES) <= fields:
        unused.append("--paper-sizes")
    if unused:
        raise ValueError(f"{', '.join(unused)} do(es) not apply to method {args.method}; see fashion train --help")
    values = {"method": args.method, "device": args.device}
    if args.paper_sizes:
        values |= PAPER_SIZES
    values |= {field: value for field, value in given.values()}
    return method.config_cls(**values)


def cmd_train(args: argparse.Namespace) -> int:
    ws = Workspace.at(args.workspace)
    method = get_method(args.method)
    config = train_config(method, args)
    callbacks = [JsonLinesReporter(sys.stdout)] if args.progress_json else [TqdmReporter()]
    default_name = default_checkpoint_name(args.method, getattr(config, "compositor", ""))
    out_dir = ws.checkpoints / (args.name or default_name)
    ensure_writable(out_dir)  # a read-only workspace is refused before the training, not after it
    trainer = method.trainer_cls(ws, config, out_dir, callbacks)
    path = trainer.run(resume=args.resume)
    if not args.progress_json:
        print(f"checkpoint: {path}")
    return 0


def resolve_checkpoint(ws: Workspace, name: str) -> Path:
    path = Path(name)
    return path if path.is_dir() else ws.checkpoints / name


def cmd_eval(args: argparse.Namespace) -> int:
    ws = Workspace.at(args.workspace)
    device = resolve_device(args.device)
    with Catalog.open(ws.catalog_path) as catalog:
        ckpt = load_checkpoint(resolve_checkpoint(ws, args.method), expected_schema=catalog.schema.to_dict())
        if ckpt.method in COMPOSED_METHODS or ckpt.method in OUTFIT_METHODS:
            return eval_composed(args, ws, catalog, ckpt, device)
        model, head = ADDEModel.from_checkpoint(ckpt, device)
        bank = ImageBank(ws, catalog, args.split, model.image_size)
        out_json = args.json or ws.reports / f"eval-{ckpt.path.name}-{args.split}.json"
        png = out_json.with_suffix(".matrix.png")
        metrics = full_report(model, head, bank, catalog, args.split, BatchPreprocessor(device), png,
                              reference_in_gallery=not args.exclude_reference)
    report = report_dict(f"attribute-manipulation ({ckpt.method})", metrics,
                         adde_protocol(reference_in_gallery=not args.exclude_reference),
                         split=args.split, checkpoint=str(ckpt.path), method=ckpt.method)
    atomic_write_json(out_json, report)
    m = metrics.get("manipulation", {})
    top = m.get("topk_accuracy", {})
    ndcg30 = {k: v.get(30) for k, v in m.get("ndcg", {}).items()}
    print(f"{ckpt.method} on {args.split}: attribute accuracy {metrics['attribute_accuracy']['mean']:.3f}; "
          f"manipulation top-10/30/50 {top.get(10, float('nan')):.3f}/{top.get(30, float('nan')):.3f}/"
          f"{top.get(50, float('nan')):.3f} over {m.get('queries', 0)} queries; NDCG@30 {ndcg30}; "
          f"feature x classifier off-diagonal {metrics['feature_classifier_matrix']['mean_off_diagonal']:.3f}; "
          f"ADDE-C triplet accuracy {metrics['conditional_similarity']['accuracy']:.3f}")
    print(f"report: {out_json}")
    return 0



def eval_composed(args: argparse.Namespace, ws: Workspace, catalog: Catalog, ckpt, device) -> int:
    """UIGR figures (R@10, R@50, mAP@50 for TGR and VCR, their mean, branch accuracy) with the protocol stated."""
    source_in_gallery = not args.exclude_reference
    routing = "oracle" if args.oracle_branch else "classifier"
    if ckpt.method in OUTFIT_METHODS:
        metrics = evaluate_outfit_checkpoint(ws, catalog, ckpt, args.split, device,
                                             source_in_gallery=source_in_gallery)
        protocol, task = outfit_protocol(source_in_gallery, args.split), "outfit complementary retrieval (ADDE-O)"
    else:
        metrics = evaluate_composed_checkpoint(ws, catalog, ckpt, args.split, device,
                                               source_in_gallery=source_in_gallery, routing=routing)
        protocol = composed_protocol(source_in_gallery, routing, args.split)
        task = f"composed retrieval ({ckpt.method}, {ckpt.config.get('compositor', '')})"
    out_json = args.json or ws.reports / f"eval-{ckpt.path.name}-{args.split}.json"
    atomic_write_json(out_json, report_dict(task, metrics, protocol, split=args.split, checkpoint=str(ckpt.path),
                                            method=ckpt.method))
    kept = "kept in" if source_in_gallery else "removed from"
    name = "UIGR protocol" if source_in_gallery else "TIRG/RTIC protocol"
    print(f"{ckpt.method} on {args.split} ({name}: source image {kept} the gallery; whole-split gallery"
          f"{'; branch classifier routing' if routing == 'classifier' else '; oracle routing'}): "
          f"{summary_line(metrics)}")
    print(f"report: {out_json}")
    return 0
