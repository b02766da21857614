"""Checkpoints: ``<workspace>/checkpoints/<name>/`` with weights, the resolved config and a metrics report.

Layout of one checkpoint folder:
- ``weights.pt``   state dicts of the model parts (``{"encoder": ..., "memory": ...}``)
- ``config.json``  method, resolved training config, the catalog's attribute schema, catalog version
- ``metrics.json`` validation figures of the selected epoch (and test figures after ``fashion eval``)
- ``state.pt``     optimizer and epoch state for ``--resume`` (removed when training completes)

Every file is written to a temporary name and renamed, so an interrupted save keeps the previous file.
Loading refuses, with a clear message, a checkpoint whose schema does not match the catalog.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fashion_gui.atomic import atomic_open, atomic_write_json

CHECKPOINT_FORMAT = 1


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, damaged, or made for another catalog."""


@dataclass
class Checkpoint:
    path: Path
    method: str
    config: dict[str, Any]
    schema: dict[str, Any]
    metrics: dict[str, Any]
    catalog_version: int

    def weights(self, map_location: str | torch.device = "cpu") -> dict[str, dict[str, torch.Tensor]]:
        try:
            return torch.load(self.path / "weights.pt", map_location=map_location, weights_only=True)
        except (OSError, RuntimeError, EOFError) as exc:
            raise CheckpointError(f"{self.path / 'weights.pt'} cannot be read ({exc}); retrain with fashion train") from exc

    @property
    def hash(self) -> str:
        """sha256 of the weights file: indexes record it to notice a changed model."""
        return file_sha256(self.path / "weights.pt")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def atomic_torch_save(path: Path, obj: Any) -> None:
    with atomic_open(path, "wb") as fh:
        torch.save(obj, fh)


def save_checkpoint(folder: Path, *, method: str, weights: dict[str, dict[str, torch.Tensor]],
                    config: dict[str, Any], schema: dict[str, Any], catalog_version: int,
                    metrics: dict[str, Any]) -> Path:
    """Write weights first, then config, then metrics; each atomically."""
    folder = Path(folder)
    atomic_torch_save(folder / "weights.pt", {k: {n: t.detach().cpu() for n, t in v.items()} for k, v in weights.items()})
    atomic_write_json(folder / "config.json", {
        "format": CHECKPOINT_FORMAT, "method": method, "config": config, "schema": schema,
        "catalog_version": catalog_version,
    })
    atomic_write_json(folder / "metrics.json", metrics)
    return folder


def load_checkpoint(folder: Path, expected_schema: dict[str, Any] | None = None) -> Checkpoint:
    """Read a checkpoint's config; refuse it if its attribute schema differs from ``expected_schema``."""
    folder = Path(folder)
    config_path = folder / "config.json"
    if not config_path.is_file() or not (folder / "weights.pt").is_file():
        raise CheckpointError(
            f"{folder} is not a checkpoint (needs config.json and weights.pt); train one with "
            "`fashion train METHOD --workspace ...`"
        )
    try:
        meta = json.loads(config_path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{config_path} is damaged ({exc}); retrain the model") from exc
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{folder} has checkpoint format {meta.get('format')}, expected {CHECKPOINT_FORMAT}")
    if expected_schema is not None and meta.get("schema") != expected_schema:
        theirs = [t["name"] for t in meta.get("schema", {}).get("types", [])]
        ours = [t["name"] for t in expected_schema.get("types", [])]
        detail = (f"its attribute types are {theirs}, the catalog's are {ours}" if theirs != ours
                  else "the attribute values or categories differ")
        raise CheckpointError(
            f"{folder} was trained on another catalog schema ({detail}); retrain it on this workspace "
            "with `fashion train` or open the workspace it belongs to"
        )
    metrics_path = folder / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    return Checkpoint(path=folder, method=meta["method"], config=meta["config"], schema=meta["schema"],
                      metrics=metrics, catalog_version=int(meta.get("catalog_version", 0)))


def list_checkpoints(checkpoints_dir: Path) -> list[Path]:
    """Checkpoint folders under ``<workspace>/checkpoints``, newest first."""
    if not Path(checkpoints_dir).is_dir():
        return []
    found = [p for p in Path(checkpoints_dir).iterdir() if (p / "config.json").is_file() and (p / "weights.pt").is_file()]
    return sorted(found, key=lambda p: (p / "weights.pt").stat().st_mtime, reverse=True)
