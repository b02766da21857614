"""``fashion train METHOD`` and ``fashion eval METHOD``, both driven by the method registry.

Every method's options come from its config dataclass (``fashion_gui/methods``): ``fashion train adde --help``
lists them with their help texts and choices. ``--config run.json`` gives option values as a JSON object
(what the app's Training tab writes); flags given on the command line override it.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from fashion_gui.atomic import atomic_write_json, ensure_writable
from fashion_gui.catalog.store import Catalog
from fashion_gui.cli.catalog import add_workspace_arg
from fashion_gui.evaluation.report import report_dict
from fashion_gui.inference.checkpoint import load_checkpoint
from fashion_gui.inference.device import resolve_device
from fashion_gui.methods import EvalRequest, MethodSpec, Option, get_method, list_methods
from fashion_gui.training.events import JsonLinesReporter, TqdmReporter
from fashion_gui.workspace import Workspace

ARG_TYPES = {"int": int, "float": float, "str": str, "path": str, "ints": int, "strs": str}


def register(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("train", help="train a model on a workspace (`fashion train METHOD --help`: its options)",
                       description="Train a registered method; each method has its own options.")
    methods = t.add_subparsers(dest="method", required=True, metavar="METHOD")
    for name in list_methods():
        add_method_parser(methods, get_method(name))

    e = sub.add_parser("eval", help="evaluate a trained model in its paper's terms")
    e.add_argument("method", help="checkpoint folder name under <workspace>/checkpoints, or a checkpoint path")
    add_workspace_arg(e)
    e.add_argument("--split", default="test", choices=("val", "test"))
    e.add_argument("--exclude-reference", action="store_true",
                   help="drop the reference (source) image from the gallery; ADDE and UIGR keep it (the default), "
                        "TIRG / RTIC drop it")
    e.add_argument("--oracle-branch", action="store_true",
                   help="models that route queries between tasks: use each query's own task instead of the "
                        "branch classifier's choice")
    e.add_argument("--device", default="auto")
    e.add_argument("--json", type=Path, default=None, help="write the report here (default: <workspace>/reports)")
    e.set_defaults(func=cmd_eval)


def add_method_parser(methods: argparse._SubParsersAction, spec: MethodSpec) -> None:
    p = methods.add_parser(spec.name, help=spec.description, description=f"{spec.description} ({spec.paper}).")
    add_workspace_arg(p)
    opts = p.add_argument_group("options of this method (default: the config's; see also --config)")
    for opt in spec.options():
        add_option(opts, opt)
    p.add_argument("--config", type=Path, default=None,
                   help="JSON object of option values (keys as the option names with underscores)")
    if spec.presets:
        p.add_argument("--preset", choices=list(spec.presets), default=None,
                       help="; ".join(f"{k}: {', '.join(f'{n}={v}' for n, v in vals.items())}"
                                      for k, vals in spec.presets.items()))
    p.add_argument("--name", default=None, help="checkpoint folder name (default: the method's)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint folder's state.pt")
    p.add_argument("--progress-json", action="store_true", help="one JSON object per line on stdout (for the app)")
    p.set_defaults(func=cmd_train, spec=spec)


def add_option(group, opt: Option) -> None:
    """One flag per option, defaulting to None so that only the flags given override ``--config``."""
    help_ = f"{opt.help} (default: {_shown(opt.default)})"
    dest = opt.name
    if opt.kind == "bool":
        group.add_argument(opt.flag, dest=dest, action=argparse.BooleanOptionalAction, default=None, help=help_)
    elif opt.kind in ("ints", "strs"):
        group.add_argument(opt.flag, dest=dest, nargs="*", type=ARG_TYPES[opt.kind], default=None, help=help_)
    else:
        group.add_argument(opt.flag, dest=dest, type=ARG_TYPES[opt.kind], default=None, choices=opt.choices,
                           help=help_)


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return " ".join(map(str, value)) or "none"
    return str(value)


def read_config_file(path: Path) -> dict[str, Any]:
    """A ``--config`` file: a JSON object of option values."""
    try:
        values = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"--config {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"--config {path} is not a readable JSON file ({exc})") from None
    if not isinstance(values, dict):
        raise ValueError(f"--config {path} must hold a JSON object of option values, not {type(values).__name__}")
    return values


def train_config(spec: MethodSpec, args: argparse.Namespace) -> Any:
    """The method's config: defaults < --preset < --config file < flags; the entry's fixed values last."""
    values = read_config_file(args.config) if args.config else {}
    values |= {o.name: getattr(args, o.name) for o in spec.options() if getattr(args, o.name, None) is not None}
    source = f"--config {args.config}" if args.config else "the command line"
    return spec.make_config(values, preset=getattr(args, "preset", None), source=source)


def cmd_train(args: argparse.Namespace) -> int:
    ws = Workspace.at(args.workspace)
    spec: MethodSpec = args.spec
    config = train_config(spec, args)
    callbacks = [JsonLinesReporter(sys.stdout)] if args.progress_json else [TqdmReporter()]
    out_dir = ws.checkpoints / (args.name or spec.default_checkpoint(config))
    ensure_writable(out_dir.parent)  # a read-only workspace is refused before the training, not after it
    path = spec.create_trainer(ws, out_dir, callbacks, config=config).run(resume=args.resume)
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
        spec = get_method(ckpt.method)
        out_json = args.json or ws.reports / f"eval-{ckpt.path.name}-{args.split}.json"
        report = spec.evaluate(EvalRequest(ws, catalog, ckpt, args.split, device,
                                           reference_in_gallery=not args.exclude_reference,
                                           oracle_routing=args.oracle_branch,
                                           out_png=out_json.with_suffix(".matrix.png")))
    atomic_write_json(out_json, report_dict(report.task, report.metrics, report.protocol, split=args.split,
                                            checkpoint=str(ckpt.path), method=ckpt.method))
    print(f"{ckpt.method} on {args.split} {report.summary}" if report.summary.startswith("(")
          else f"{ckpt.method} on {args.split}: {report.summary}")
    print(f"report: {out_json}")
    return 0
