"""What the app checks and cleans in a workspace folder, without Qt: whether a folder can be opened, which
trained models it holds (and whether they fit its catalog), what "Create the demo" runs, and the leftovers
of a cancelled catalog build. The settings pane and the app's start call these; tests call them directly.
"""
from __future__ import annotations

import dataclasses
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fashion_gui.catalog.store import Catalog, CatalogError
from fashion_gui.engine.models import ModelInfo, scan_models
from fashion_gui.inference.checkpoint import CheckpointError, load_checkpoint
from fashion_gui.methods import get_method
from fashion_gui.workspace import Workspace
from fashion_gui.workspace_doctor import fix_workspace

# headline validation figure of a checkpoint: metrics key -> short label (first present wins)
HEADLINES = (("val_top10", "manip. top-10"), ("val_score", "val. score"),
             ("val_vcr_in_category_R@10", "VCR R@10"), ("val_attr_acc", "attr. acc."))


@dataclass
class DemoRecipe:
    """What "Create the demo..." runs: ``fashion catalog demo`` with these flags, then (when the pane's
    "train an attribute model" box is ticked, as for imports) ``fashion train`` with these option values
    (a run.json; empty = the method's defaults) so the engine can open."""

    catalog_flags: list[str] = field(default_factory=lambda: ["--workers", "1"])  # one process: a cancel
    #                                                       leaves no orphaned render workers behind
    train_method: str = "adde"
    train_values: dict[str, Any] = field(default_factory=dict)


def headline(info: ModelInfo) -> str:
    """The checkpoint's headline validation figure, e.g. "manip. top-10 0.42"."""
    for key, label in HEADLINES:
        value = info.metrics.get(key)
        if isinstance(value, (int, float)):
            return f"{label} {value:.2f}"
    return "no validation figures"


def model_tooltip(info: ModelInfo) -> str:
    """What a chooser's tooltip says: the problem, else the method's description and the figures."""
    if info.problem:
        return info.problem
    lines = [f"{info.name}: {get_method(info.method).description}"]
    lines += [f"{k} = {v:.4g}" for k, v in info.metrics.items() if isinstance(v, (int, float))]
    return "\n".join(lines)


def catalog_schema(ws: Workspace) -> dict | None:
    """The catalog's attribute schema as a dict; None when the catalog cannot be read."""
    try:
        with Catalog.open(ws.catalog_path) as catalog:
            return catalog.schema.to_dict()
    except (CatalogError, sqlite3.Error, OSError):
        return None


def list_models(ws: Workspace) -> list[ModelInfo]:
    """The workspace's checkpoints in the engine's order of preference (``engine.models.scan_models``),
    each checked against the catalog's attribute schema. One made for another catalog keeps its problem but
    is told by its method, so a chooser can list it (not choosable) where that method's models go."""
    return [_with_method(ws, info) if info.problem and not info.method else info
            for info in scan_models(ws, catalog_schema(ws))]


def _with_method(ws: Workspace, info: ModelInfo) -> ModelInfo:
    """``info`` with the method its config names (read without the schema check), if it can be read."""
    try:
        spec = get_method(load_checkpoint(ws.checkpoints / info.name).method)
    except (CheckpointError, ValueError):  # damaged, or a method this program does not know: as it was
        return info
    return dataclasses.replace(info, method=spec.name, serves=tuple(spec.serves), encoder=spec.encoder)


def workspace_problem(ws: Workspace) -> str | None:
    """Why ``ws`` cannot be opened, in words a person can act on; None when it can."""
    if not ws.root.is_dir():
        return f"{ws.root} does not exist."
    if not ws.exists():
        return (f"{ws.root} is not a workspace: it has no catalog.sqlite.\nPick a folder made by "
                "\"Create the demo\" or \"Import a CSV\", or create one there.")
    try:
        Catalog.open(ws.catalog_path).close()
    except (CatalogError, sqlite3.Error, OSError) as exc:
        return f"The workspace {ws.root} cannot be opened:\n{exc}"
    return None


def remove_build_leftovers(folder: Path) -> list[str]:
    """After a cancelled or failed catalog build in a folder that was empty: what the killed builder left
    (temporary images and catalog files, its lock), removed as ``fashion doctor --fix`` does (never a live
    writer's files). Returns what was done, in words."""
    return fix_workspace(Workspace(Path(folder)))
