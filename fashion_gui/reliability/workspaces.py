"""Small workspaces for the reliability checks: a 60-image demo catalog at 32 px and an untrained ADDE model
(any weights serve to check that commands work; training one would take minutes)."""
from __future__ import annotations

import csv
from pathlib import Path

import torch

from fashion_gui.catalog.demo.builder import DemoConfig, build_demo
from fashion_gui.catalog.importers import RESERVED_COLUMNS
from fashion_gui.catalog.store import Catalog
from fashion_gui.inference.adde_model import ADDEModel, build_head
from fashion_gui.inference.checkpoint import save_checkpoint
from fashion_gui.workspace import Workspace

TINY_DEMO = dict(items=60, views=3, size=32, workers=1)


def untrained_adde(workspace: Workspace, d: int = 8, name: str = "adde", seed: int = 0) -> Path:
    """Save a randomly initialised ADDE model for the workspace's schema as checkpoint ``name``."""
    with Catalog.open(workspace.catalog_path) as catalog:
        schema, version = catalog.schema, catalog.version
    torch.manual_seed(seed)
    model = ADDEModel.create(schema, d=d, image_size=32)
    head = build_head("diagonal", model.encoder)
    return save_checkpoint(workspace.checkpoints / name, method="adde",
                           weights={"model": model.state_dict(), "head": head.state_dict()},
                           config={"architecture": {**model.architecture(), "head": "diagonal"}, "d": d, "seed": seed},
                           schema=schema.to_dict(), catalog_version=version, metrics={"validation": {"seed": seed}})


def tiny_workspace(root: Path, seed: int = 1, d: int = 8, items: int = TINY_DEMO["items"]) -> Workspace:
    """A demo catalog of 60 images (32 px) and an untrained ADDE checkpoint ``adde`` in ``root``."""
    ws = Workspace(Path(root))
    build_demo(ws, DemoConfig(seed=seed, **{**TINY_DEMO, "items": items}))
    untrained_adde(ws, d=d)
    return ws


def catalog_csv(source: Workspace, out: Path, every: int = 1, split: str | None = None) -> Path:
    """A CSV (absolute image paths) describing every ``every``-th item of ``source``'s catalog."""
    with Catalog.open(source.catalog_path) as catalog:
        names = [n for n in catalog.schema.names if n not in RESERVED_COLUMNS]  # the demo's "category" type
        rows = []
        for item in list(catalog.items())[::every]:
            rows.append({"path": str(source.resolve_image(item.image_path)), "category": item.category,
                         "instance_id": item.instance_id, "split": split or item.split,
                         **{n: item.attributes.get(n, "") for n in names}})
    with open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, ["path", "category", "instance_id", "split", *names])
        writer.writeheader()
        writer.writerows(rows)
    return out
