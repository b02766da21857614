"""``fashion bench encode``: gallery encoding throughput (issue 16), images per second.

* model only: a backbone on random uint8 batches already in memory (normalisation included), channels_last,
  in float32 and in bfloat16 autocast on the CPU, float16 AMP on CUDA (``--compile`` adds torch.compile);
* end to end: the gallery path itself (``engine/gallery.image_batches``: decode + resize of the workspace's
  catalog images, with ``--workers`` DataLoader processes) feeding the same model.

Each figure is the median over ``--repeats`` timed passes after one warm-up batch.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from fashion_gui.atomic import atomic_write_json
from fashion_gui.catalog.store import Catalog
from fashion_gui.cli.catalog import add_workspace_arg
from fashion_gui.engine.gallery import image_batches
from fashion_gui.inference.device import resolve_device
from fashion_gui.inference.preprocess import BatchPreprocessor
from fashion_gui.workspace import Workspace
from models.backbones import create_backbone, list_backbones

ANCHORS_CPU_2_CORES = {"resnet18 float32 224px": 40.0, "resnet18 bfloat16 224px": 75.0}  # images/s, issue 16


def register(bench_sub: argparse._SubParsersAction) -> None:
    b = bench_sub.add_parser("encode", help="gallery encoding images/s: model only and end to end, fp32/bf16/AMP")
    add_workspace_arg(b)
    b.add_argument("--backbone", default="resnet18", choices=list_backbones())
    b.add_argument("--size", type=int, default=224, help="input side in pixels")
    b.add_argument("--batch", type=int, default=32, help="images per batch")
    b.add_argument("--batches", type=int, default=4, help="timed batches per pass")
    b.add_argument("--repeats", type=int, default=3, help="passes per figure (median)")
    b.add_argument("--precisions", nargs="+", default=None,
                   help="float32 / bfloat16 (CPU), float32 / float16 (CUDA AMP); default: both of the device's")
    b.add_argument("--workers", nargs="+", type=int, default=[0, 1], help="decoding processes, end to end")
    b.add_argument("--compile", action="store_true", help="torch.compile the model (CUDA)")
    b.add_argument("--no-channels-last", dest="channels_last", action="store_false",
                   help="keep NCHW (channels_last is ~1.6x faster for ResNet18 fp32 on this CPU)")
    b.add_argument("--device", default="auto")
    b.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    b.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    b.set_defaults(func=cmd_encode)


def _autocast(device: torch.device, precision: str):
    if precision == "float32":
        return contextlib.nullcontext()
    dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16}[precision]
    return torch.autocast(device.type, dtype=dtype)


def _model(name: str, device: torch.device, compile_model: bool, channels_last: bool) -> torch.nn.Module:
    model = create_backbone(name).to(device).eval()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    if compile_model:
        model = torch.compile(model)
    return model


def _pass(model, prep: BatchPreprocessor, batches, device: torch.device, precision: str) -> tuple[int, float]:
    """(images, seconds) of encoding ``batches`` of uint8 tensors."""
    n, start = 0, time.perf_counter()
    with torch.inference_mode(), _autocast(device, precision):
        for images in batches:
            model(prep(images))
            n += len(images)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n, time.perf_counter() - start


def cmd_encode(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    precisions = args.precisions or (["float32", "float16"] if device.type == "cuda" else ["float32", "bfloat16"])
    prep = BatchPreprocessor(device, channels_last=args.channels_last)
    model = _model(args.backbone, device, args.compile, args.channels_last)
    rng = np.random.default_rng(0)
    batch = torch.from_numpy(rng.integers(0, 256, (args.batch, 3, args.size, args.size), dtype=np.uint8))
    figures: dict = {"benchmark": "encode", "backbone": args.backbone, "size": args.size, "batch": args.batch,
                     "device": str(device), "channels_last": args.channels_last, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                     "torch": torch.__version__, "model_only": {}, "end_to_end": {}}
    for precision in precisions:
        _pass(model, prep, [batch], device, precision)  # warm-up (and compile)
        rates = []
        for _ in range(args.repeats):
            n, s = _pass(model, prep, [batch] * args.batches, device, precision)
            rates.append(n / s)
        figures["model_only"][precision] = round(statistics.median(rates), 1)
        print(f"model only, {precision}: {figures['model_only'][precision]} images/s", flush=True)
    ws = Workspace.at(args.workspace)
    if ws.exists():
        with Catalog.open(ws.catalog_path) as catalog:
            ids = catalog.ids()[: args.batch * args.batches]
            for workers in args.workers:
                for precision in precisions:
                    rates = []
                    for _ in range(args.repeats):
                        loader = image_batches(ws, catalog, ids, args.size, args.batch, workers,
                                               pin_memory=device.type == "cuda")
                        n, s = _pass(model, prep, (images for _ids, images, _bad in loader), device, precision)
                        rates.append(n / s)
                    key = f"{precision}, {workers} decoding worker{'s' if workers != 1 else ''}"
                    figures["end_to_end"][key] = round(statistics.median(rates), 1)
                    print(f"end to end ({len(ids)} catalog images), {key}: {figures['end_to_end'][key]} images/s",
                          flush=True)
    else:
        print(f"no catalog in {ws.root}: end-to-end figures skipped", flush=True)
    if device.type == "cpu" and args.backbone == "resnet18" and args.size == 224:
        figures["anchors_images_per_second"] = ANCHORS_CPU_2_CORES
    if args.json:
        atomic_write_json(args.json, figures)
    print(json.dumps(figures, indent=2))
    return 0
