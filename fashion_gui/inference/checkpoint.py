"""Checkpoints: ``<workspace>/checkpoints/<name>/`` with weights, the resolved config and a metrics report.

Layout of one checkpoint folder:
- ``weights.pt``   state dicts of the model parts (``{"encoder": ..., "memory": ...}``)
- ``config.json``  method, resolved training config, the catalog's attribute schema, catalog version, and the
                   sha256 and size of ``weights.pt`` (``files``)
- ``metrics.json`` validation figures of the selected epoch
- ``state.pt``     optimizer and epoch state for ``--resume`` (removed when training completes)

A save commits the folder as a whole: the three files are written into a staged folder next to it (config.json
last, recording the weights' hash), which then replaces the live folder in one step (``atomic.commit_dir``);
other files of the live folder (``state.pt``) are carried over. A crash at any moment leaves the previous
checkpoint or the new one, never weights of one and the config of the other.

Loading refuses, with a message naming the folder and what to do: a checkpoint whose schema does not match
the catalog, a damaged or replaced ``weights.pt`` (its hash differs from config.json's) and weights that do
not fit the model config.json describes (``Checkpoint.load_into``). A damaged ``metrics.json`` only holds
figures: the model still loads, and ``Checkpoint.problems`` says what was wrong.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fashion_gui.atomic import (
    OLD_SUFFIX,
    atomic_write_bytes,
    atomic_write_json,  # noqa: F401  (re-exported: the CLI writes reports with it)
    commit_dir,
    crash_point,
    is_temp_name,
    naming,
    recover_dir,
    remove_path,
    remove_stale_temps,
    stale_temps,
    staged_dir,
    temp_label,
)

if TYPE_CHECKING:  # torch loads where weights are read or written, not to list checkpoints (issue 16)
    import torch
    import torch.nn as nn

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1  # config.json's "files" entry was added without a format change: older readers ignore it
WEIGHTS_FILE = "weights.pt"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
CHECKPOINT_FILES = (WEIGHTS_FILE, CONFIG_FILE, METRICS_FILE)


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
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # config.json's record of weights.pt
    problems: list[str] = field(default_factory=list)  # damaged side files; the model itself loads

    @property
    def retrain_hint(self) -> str:
        """The command that makes this checkpoint again."""
        ws = self.path.parent.parent if self.path.parent.name == "checkpoints" else None
        where = f" --workspace {ws}" if ws is not None else ""
        name = f" --name {self.path.name}" if self.path.name != self.method else ""
        return f"`fashion train {self.method}{where}{name}`"

    def weights(self, map_location: str | torch.device = "cpu") -> dict[str, dict[str, torch.Tensor]]:
        """The state dicts in ``weights.pt``, checked against the hash config.json records."""
        path = self.path / WEIGHTS_FILE
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CheckpointError(f"{path} cannot be read ({exc.strerror or exc}); check the file's permissions "
                                  f"or retrain with {self.retrain_hint}") from exc
        recorded = self.files.get(WEIGHTS_FILE, {}).get("sha256")
        if recorded is not None and hashlib.sha256(data).hexdigest() != recorded:
            raise CheckpointError(
                f"{path} does not match {self.path / CONFIG_FILE} (its sha256 differs from the one recorded at "
                f"the save: the file was damaged or replaced); retrain with {self.retrain_hint}")
        import torch

        try:
            state = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
        except Exception as exc:  # a damaged file makes the unpickler fail in many ways
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(f"{path} is damaged: it is not a PyTorch weights file ({detail[:200]}); "
                                  f"retrain with {self.retrain_hint}") from exc
        if not isinstance(state, dict) or not all(isinstance(v, dict) for v in state.values()):
            raise CheckpointError(f"{path} does not hold model parts (a dict of state dicts); retrain with "
                                  f"{self.retrain_hint}")
        return state

    def load_into(self, module: nn.Module, key: str,
                  weights: dict[str, dict[str, torch.Tensor]] | None = None) -> None:
        """Load part ``key`` of the weights into ``module``; ``CheckpointError`` naming the folder when the
        part is missing or its tensors do not fit the model that config.json describes."""
        weights = self.weights() if weights is None else weights
        if key not in weights:
            raise CheckpointError(f"{self.path / WEIGHTS_FILE} has no {key!r} part (it has "
                                  f"{', '.join(map(repr, weights)) or 'none'}); retrain with {self.retrain_hint}")
        try:
            module.load_state_dict(weights[key])
        except (RuntimeError, KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(
                f"{self.path}: weights.pt does not fit the model config.json describes ({_first_problem(exc)}); "
                f"the folder mixes two saves or was edited; retrain with {self.retrain_hint}") from exc

    @property
    def hash(self) -> str:
        """sha256 of the weights file: indexes record it to notice a changed model."""
        recorded = self.files.get(WEIGHTS_FILE, {}).get("sha256")
        if recorded is not None:
            return str(recorded)
        try:
            return file_sha256(self.path / WEIGHTS_FILE)
        except OSError as exc:
            raise CheckpointError(f"{self.path / WEIGHTS_FILE} cannot be read ({exc.strerror or exc}); "
                                  f"retrain with {self.retrain_hint}") from exc


def _first_problem(exc: BaseException) -> str:
    """The first specific line of a ``load_state_dict`` error ("size mismatch for encoder.x: ...")."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    specific = [line for line in lines if not line.startswith("Error(s) in loading")]
    text = (specific or lines or [type(exc).__name__])[0]
    return text[:300]


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def torch_bytes(obj: Any) -> bytes:
    """``torch.save`` into memory: a write that fails later (disk full) raises a plain OSError naming the
    file, not torch's "unexpected pos" RuntimeError."""
    buffer = io.BytesIO()
    import torch

    torch.save(obj, buffer)
    return buffer.getvalue()


def atomic_torch_save(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, torch_bytes(obj))


def _write_json(path: Path, data: Any) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _carry_over(folder: Path, staged: Path) -> None:
    """Files of the live folder that are not part of a checkpoint (``state.pt``) go into the new one."""
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if path.name in CHECKPOINT_FILES or is_temp_name(path.name):
            continue
        target = staged / path.name
        with naming(path):
            if path.is_dir():
                shutil.copytree(path, target, symlinks=True)
                continue
            try:
                os.link(path, target)
            except OSError:  # no hard links here (another filesystem, FAT): a copy
                shutil.copy2(path, target)


def save_checkpoint(folder: Path, *, method: str, weights: dict[str, dict[str, torch.Tensor]],
                    config: dict[str, Any], schema: dict[str, Any], catalog_version: int,
                    metrics: dict[str, Any]) -> Path:
    """Write the checkpoint and commit the folder as a whole (module docstring); returns ``folder``."""
    folder = Path(folder)
    recover_dir(folder)  # a swap that a crash cut short: the previous checkpoint first
    remove_stale_temps(folder.parent, label=folder.name)  # staged folders of saves that were killed
    remove_stale_temps(folder.parent, label=folder.name + OLD_SUFFIX)
    data = torch_bytes({k: {n: t.detach().cpu() for n, t in v.items()} for k, v in weights.items()})
    staged = staged_dir(folder)
    try:
        with naming(folder):  # a failed write (disk full) names the checkpoint, not the staged folder
            (staged / WEIGHTS_FILE).write_bytes(data)
            crash_point("checkpoint:weights")
            _write_json(staged / METRICS_FILE, metrics)
            crash_point("checkpoint:metrics")
            _carry_over(folder, staged)
            crash_point("checkpoint:carried")
            _write_json(staged / CONFIG_FILE, {
                "format": CHECKPOINT_FORMAT, "method": method, "config": config, "schema": schema,
                "catalog_version": catalog_version,
                "files": {WEIGHTS_FILE: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}},
            })
            crash_point("checkpoint:config")
        commit_dir(staged, folder)
    except BaseException:
        if staged.exists():
            remove_path(staged)
        raise
    return folder


def _read_metrics(folder: Path) -> tuple[dict[str, Any], list[str]]:
    """metrics.json, or ``{}`` and a problem when it is damaged (it only holds figures)."""
    path = folder / METRICS_FILE
    if not path.is_file():
        return {}, []
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(metrics, dict):
            raise ValueError(f"a JSON {type(metrics).__name__}, not an object")
    except (OSError, ValueError) as exc:
        problem = (f"{path} is damaged ({str(exc).splitlines()[0][:200]}); the model still works, only its "
                   f"validation figures are lost; retraining writes them again")
        log.warning("%s", problem)
        return {}, [problem]
    return metrics, []


def load_checkpoint(folder: Path, expected_schema: dict[str, Any] | None = None) -> Checkpoint:
    """Read a checkpoint's config; refuse it if its attribute schema differs from ``expected_schema``."""
    folder = Path(folder)
    if not folder.exists():
        try:
            recover_dir(folder)
        except OSError as exc:
            raise CheckpointError(f"{folder} is missing: a save was interrupted, and its previous version cannot "
                                  f"be put back ({exc.strerror}); run `fashion doctor --workspace "
                                  f"{folder.parent.parent} --fix` where the workspace is writable") from exc
    config_path = folder / CONFIG_FILE
    if not config_path.is_file() or not (folder / WEIGHTS_FILE).is_file():
        raise CheckpointError(
            f"{folder} is not a checkpoint (needs config.json and weights.pt); train one with "
            "`fashion train METHOD --workspace ...`"
        )
    try:
        meta = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{config_path} is damaged ({str(exc).splitlines()[0][:200]}); retrain the model "
                              "with `fashion train`") from exc
    if not isinstance(meta, dict):
        raise CheckpointError(f"{config_path} is damaged (not a JSON object); retrain the model with `fashion train`")
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{folder} has checkpoint format {meta.get('format')}, expected {CHECKPOINT_FORMAT}")
    shapes = (("method", str), ("config", dict), ("schema", dict))
    bad = [key for key, kind in shapes if not isinstance(meta.get(key), kind)]
    files = meta.get("files", {})
    if not isinstance(files, dict) or not all(isinstance(v, dict) for v in files.values()):
        bad.append("files")
    if bad:
        raise CheckpointError(f"{config_path} is damaged (missing or malformed: {', '.join(bad)}); retrain the "
                              "model with `fashion train`")
    if expected_schema is not None and meta["schema"] != expected_schema:
        theirs = [t.get("name") for t in meta["schema"].get("types", []) if isinstance(t, dict)]
        ours = [t["name"] for t in expected_schema.get("types", [])]
        detail = (f"its attribute types are {theirs}, the catalog's are {ours}" if theirs != ours
                  else "the attribute values or categories differ")
        raise CheckpointError(
            f"{folder} was trained on another catalog schema ({detail}); retrain it on this workspace "
            "with `fashion train` or open the workspace it belongs to"
        )
    metrics, problems = _read_metrics(folder)
    try:
        catalog_version = int(meta.get("catalog_version", 0))
    except (TypeError, ValueError):
        raise CheckpointError(f"{config_path} is damaged (catalog_version {meta.get('catalog_version')!r}); "
                              "retrain the model with `fashion train`") from None
    return Checkpoint(path=folder, method=meta["method"], config=meta["config"], schema=meta["schema"],
                      metrics=metrics, catalog_version=catalog_version, files=files, problems=problems)


def list_checkpoints(checkpoints_dir: Path) -> list[Path]:
    """Checkpoint folders under ``<workspace>/checkpoints``, newest first (temporary folders left out)."""
    checkpoints_dir = Path(checkpoints_dir)
    if not checkpoints_dir.is_dir():
        return []
    for old in stale_temps(checkpoints_dir):  # a swap a crash cut short: put the previous folder back
        label = temp_label(old.name) or ""
        if label.endswith(OLD_SUFFIX) and old.is_dir():
            try:
                recover_dir(checkpoints_dir / label[: -len(OLD_SUFFIX)])
            except OSError as exc:
                log.warning("cannot put back %s: %s", old, exc)
    found = [p for p in checkpoints_dir.iterdir()
             if not p.name.startswith(".") and (p / CONFIG_FILE).is_file() and (p / WEIGHTS_FILE).is_file()]
    return sorted(found, key=lambda p: (p / WEIGHTS_FILE).stat().st_mtime, reverse=True)
