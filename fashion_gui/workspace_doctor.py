"""``fashion doctor``: check a workspace and say, for every problem, what is wrong and the command that fixes it.

Checks (Qt-free; the app's Settings > Workspace shows the same report through ``ui/doctor_view.py``):
- the catalog: it opens, SQLite's integrity and foreign-key checks pass;
- every catalog image decodes (``--quick``: headers only);
- every checkpoint loads into its model and matches the catalog's schema; a damaged metrics.json is noted;
- every saved index and gallery-feature cache reads back, matches its manifest and was built for the current
  model and catalog;
- leftovers of killed writers: temporary files whose writer is dead, index data folders no manifest names,
  demo image folders no catalog references, a checkpoint swap cut short.

``fix_workspace`` repairs what needs no decision (it removes leftovers and lock files of killed writers and
puts an interrupted checkpoint swap back) and never touches the files of a writer that is still running; after
a first catalog build that was killed it leaves the folder as it was before.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from fashion_gui.atomic import OLD_SUFFIX, is_stale_temp, recover_dir, remove_path, temp_label
from fashion_gui.catalog.images import ImageError, open_image, probe_image
from fashion_gui.catalog.store import Catalog, CatalogError
from fashion_gui.catalog.writer import catalog_leftovers, catalog_lock
from fashion_gui.workspace import Workspace

Progress = Callable[[str, int, int], None]  # (stage, done, total)
MAX_LISTED_IMAGES = 20  # unreadable images listed one by one; the rest are counted


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a workspace."""

    area: str  # catalog | images | checkpoints | indexes | leftovers
    severity: str  # "error": something does not work or is lost; "warning": repaired automatically or cosmetic
    path: str
    message: str
    fix: str  # the command (or action) that fixes it


@dataclass
class Report:
    workspace: str
    problems: list[Problem] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)  # what was looked at: images, checkpoints, indexes...
    fixed: list[str] = field(default_factory=list)  # what fix_workspace did before the check

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {"workspace": self.workspace, "ok": self.ok, "checked": self.checked, "fixed": self.fixed,
                "problems": [asdict(p) for p in self.problems]}

    def lines(self) -> list[str]:
        """The report as text, one problem per line with its fix below it."""
        out = [f"workspace: {self.workspace}"]
        out += [f"fixed: {line}" for line in self.fixed]
        out.append("checked: " + ", ".join(f"{n} {what}" for what, n in self.checked.items()))
        if self.ok:
            out.append("no problems found")
            return out
        errors = sum(p.severity == "error" for p in self.problems)
        out.append(f"{len(self.problems)} problem(s), {errors} error(s):")
        for p in self.problems:
            out.append(f"  {p.severity.upper():7} [{p.area}] {p.message}")
            out.append(f"          fix: {p.fix}")
        return out


class _Checker:
    def __init__(self, workspace: Workspace, images: bool, progress: Progress | None) -> None:
        self.ws, self.decode_images, self.progress = workspace, images, progress
        self.report = Report(str(workspace.root))
        self.cmd_ws = f"--workspace {workspace.root}"
        self.fix_leftovers = f"fashion doctor {self.cmd_ws} --fix"

    def add(self, area: str, severity: str, path: Path | str, message: str, fix: str) -> None:
        self.report.problems.append(Problem(area, severity, str(path), message, fix))

    # --- catalog and images ------------------------------------------------------------------------
    def rebuild_command(self, catalog: Catalog | None) -> str:
        if catalog is not None and catalog.get_meta("demo_config") is not None:
            return f"fashion catalog demo {self.cmd_ws} --force"
        source = (catalog.get_meta("import") or {}).get("source") if catalog is not None else None
        return f"fashion catalog import {self.cmd_ws} {source or 'items.csv'} --force"

    def catalog(self) -> Catalog | None:
        path = self.ws.catalog_path
        if not path.is_file():
            self.add("catalog", "error", path, f"{self.ws.root} has no catalog.sqlite",
                     f"fashion catalog demo {self.cmd_ws} (or fashion catalog import {self.cmd_ws} items.csv)")
            return None
        try:
            catalog = Catalog.open(path)
        except CatalogError as exc:
            self.add("catalog", "error", path, str(exc), f"fashion catalog demo {self.cmd_ws} --force "
                     f"(or fashion catalog import {self.cmd_ws} items.csv --force)")
            return None
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                quick = [row[0] for row in conn.execute("PRAGMA quick_check")]
                dangling = conn.execute("PRAGMA foreign_key_check").fetchall()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            quick, dangling = [f"cannot run SQLite's checks: {exc}"], []
        if quick != ["ok"]:
            self.add("catalog", "error", path, f"{path} is damaged: {'; '.join(quick[:3])}", self.rebuild_command(catalog))
        if dangling:
            self.add("catalog", "error", path, f"{path} has {len(dangling)} row(s) pointing at missing items "
                     f"(first: table {dangling[0][0]})", self.rebuild_command(catalog))
        self.report.checked["catalog items"] = len(catalog)
        return catalog

    def images(self, catalog: Catalog) -> None:
        ids = catalog.ids()
        paths = catalog.image_paths(ids)
        bad: list[tuple[int, str]] = []
        for n, (item_id, rel) in enumerate(zip(ids.tolist(), paths), start=1):
            try:
                if self.decode_images:
                    open_image(self.ws.resolve_image(rel), max_side=32)
                else:
                    probe_image(self.ws.resolve_image(rel))
            except ImageError as exc:
                bad.append((item_id, str(exc)))
            if self.progress and (n % 256 == 0 or n == len(ids)):
                self.progress("images", n, len(ids))
        self.report.checked["images"] = len(ids)
        if not bad:
            return
        fix = (self.rebuild_command(catalog) if catalog.get_meta("demo_config") is not None else
               f"replace or re-save the files, then fashion index build {self.cmd_ws} (until then they are left "
               "out of the search)")
        for item_id, why in bad[:MAX_LISTED_IMAGES]:
            self.add("images", "error", why.split(": ")[0], f"catalog item {item_id}: {why}", fix)
        if len(bad) > MAX_LISTED_IMAGES:
            self.add("images", "error", self.ws.images, f"... and {len(bad) - MAX_LISTED_IMAGES} more unreadable "
                     "catalog images", fix)

    # --- checkpoints -------------------------------------------------------------------------------
    def checkpoints(self, catalog: Catalog | None) -> dict[str, str]:
        """Check every checkpoint; returns folder name -> weights hash of those that load."""
        from fashion_gui.inference.checkpoint import CheckpointError, load_checkpoint

        loaded: dict[str, str] = {}
        folders = sorted(p for p in _entries(self.ws.checkpoints) if p.is_dir() and not p.name.startswith("."))
        schema = catalog.schema.to_dict() if catalog is not None else None
        for folder in folders:
            has = {name: (folder / name).is_file() for name in ("weights.pt", "config.json", "state.pt")}
            if not has["weights.pt"] and not has["config.json"]:
                continue  # an interrupted first training (state.pt only) or an unrelated folder
            try:
                ckpt = load_checkpoint(folder, expected_schema=schema)
                _load_model(ckpt)
            except CheckpointError as exc:
                self.add("checkpoints", "error", folder, str(exc), _checkpoint_fix(str(exc), folder, self.cmd_ws))
                continue
            loaded[folder.name] = ckpt.hash
            for problem in ckpt.problems:
                self.add("checkpoints", "warning", folder / "metrics.json", problem, ckpt.retrain_hint.strip("`"))
        self.report.checked["checkpoints"] = len(folders)
        return loaded

    # --- indexes -----------------------------------------------------------------------------------
    def indexes(self, catalog: Catalog | None, hashes: dict[str, str]) -> None:
        from fashion_gui.index import IndexLoadError, load_index, read_manifest
        from fashion_gui.index.persist import build_lock, unreferenced

        build = f"fashion index build {self.cmd_ws}"
        count = 0
        for model_dir in sorted(p for p in _entries(self.ws.indexes) if p.is_dir() and not p.name.startswith(".")):
            features = model_dir / "features.npz"
            if features.is_file():
                try:
                    with np.load(features, allow_pickle=False) as data:
                        json.loads(str(data["key"]))
                        _ = data["ids"].shape
                except (OSError, ValueError, KeyError) as exc:
                    self.add("indexes", "warning", features, f"{features} cannot be read ({exc}); the gallery will "
                             "be encoded again", build)
            for index_dir in sorted(p for p in _entries(model_dir) if p.is_dir() and not p.name.startswith(".")):
                if not (index_dir / "manifest.json").is_file():
                    continue
                count += 1
                try:
                    manifest, data_dir = read_manifest(index_dir)
                    load_index(index_dir)
                except IndexLoadError as exc:
                    self.add("indexes", "error", index_dir, f"index {index_dir} cannot be used: {exc}", build)
                    continue
                model_hash = hashes.get(model_dir.name)
                if model_hash is not None and manifest.checkpoint_hash != model_hash:
                    self.add("indexes", "warning", index_dir, f"index {index_dir} was built for another version of "
                             f"the model {model_dir.name} (the next search rebuilds it)", build)
                elif catalog is not None and manifest.catalog_version != catalog.version:
                    self.add("indexes", "warning", index_dir, f"index {index_dir} is behind the catalog (version "
                             f"{manifest.catalog_version}, the catalog is at {catalog.version}; the next search "
                             "updates it)", build)
                if not build_lock(index_dir).held_elsewhere():
                    for debris in unreferenced(index_dir, keep=data_dir.name):
                        if not debris.name.startswith(".tmp-"):
                            self.add("leftovers", "warning", debris, f"{debris}: index data no manifest names (a "
                                     "build that was killed)", self.fix_leftovers)
        self.report.checked["indexes"] = count

    # --- leftovers of killed writers -----------------------------------------------------------------
    def leftovers(self) -> None:
        for path in _stale_everywhere(self.ws):
            label = temp_label(path.name) or ""
            if label.endswith(OLD_SUFFIX) and not (path.parent / label[: -len(OLD_SUFFIX)]).exists():
                self.add("leftovers", "error", path, f"the checkpoint {label[: -len(OLD_SUFFIX)]} is missing: a save "
                         f"was cut short while swapping folders; its previous version is in {path}",
                         self.fix_leftovers)
            else:
                kind = "folder" if path.is_dir() else "file"
                self.add("leftovers", "warning", path, f"{path}: a temporary {kind} left by a writer that was "
                         "killed", self.fix_leftovers)
        if not catalog_lock(self.ws).held_elsewhere():
            for path in catalog_leftovers(self.ws):
                if path.parent == self.ws.images and not path.name.startswith("."):
                    self.add("leftovers", "warning", path, f"{path}: demo images no catalog references (a build "
                             "that was killed or replaced)", self.fix_leftovers)


def _load_model(ckpt) -> None:
    """Build the checkpoint's model on the CPU and load its weights (CheckpointError when they do not fit)."""
    from fashion_gui.inference.adde_model import ADDEModel
    from fashion_gui.inference.outfit_model import OutfitRetrieval
    from fashion_gui.inference.uigr_model import ComposedRetrieval

    if "adde_checkpoint_hash" in ckpt.config:
        OutfitRetrieval.from_checkpoint(ckpt, "cpu")
    elif "vocabulary" in ckpt.config:
        ComposedRetrieval.from_checkpoint(ckpt, "cpu")
    else:
        ADDEModel.from_checkpoint(ckpt, "cpu")


def _checkpoint_fix(message: str, folder: Path, cmd_ws: str) -> str:
    import re

    found = re.search(r"`(fashion train [^`]+)`", message)
    if found:
        return found.group(1)
    return f"fashion train METHOD {cmd_ws} --name {folder.name} (or delete {folder})"


def _entries(folder: Path) -> list[Path]:
    try:
        return sorted(Path(folder).iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def _stale_everywhere(ws: Workspace) -> list[Path]:
    """Temporary files and folders of dead writers in every folder of the workspace a writer uses."""
    folders = [ws.root, ws.images, ws.checkpoints, ws.indexes, ws.reports]
    folders += [p for p in _entries(ws.checkpoints) if p.is_dir() and not p.name.startswith(".")]
    for model_dir in [p for p in _entries(ws.indexes) if p.is_dir() and not p.name.startswith(".")]:
        folders.append(model_dir)
        folders += [p for p in _entries(model_dir) if p.is_dir() and not p.name.startswith(".")]
    return [p for folder in folders for p in _entries(folder) if is_stale_temp(p)]


def check_workspace(workspace: Workspace | str | Path, images: bool = True,
                    progress: Progress | None = None) -> Report:
    """Check ``workspace`` (module docstring). ``images``: decode every image (else read headers only)."""
    ws = workspace if isinstance(workspace, Workspace) else Workspace.at(workspace)
    checker = _Checker(ws, images, progress)
    if not ws.root.is_dir():
        checker.add("catalog", "error", ws.root, f"{ws.root} is not a folder",
                    f"fashion catalog demo --workspace {ws.root}")
        return checker.report
    catalog = checker.catalog()
    try:
        if catalog is not None:
            checker.images(catalog)
        hashes = checker.checkpoints(catalog)
        checker.indexes(catalog, hashes)
        checker.leftovers()
    finally:
        if catalog is not None:
            catalog.close()
    return checker.report


def fix_workspace(workspace: Workspace | str | Path) -> list[str]:
    """Repair what needs no decision: remove leftovers of dead writers (temporary files, unreferenced index
    data and demo images) and put an interrupted checkpoint swap back. Returns what was done, in words."""
    from fashion_gui.index import read_manifest
    from fashion_gui.index.base import IndexLoadError
    from fashion_gui.index.persist import build_lock, unreferenced
    from fashion_gui.locks import BusyError

    ws = workspace if isinstance(workspace, Workspace) else Workspace.at(workspace)
    done: list[str] = []
    for path in _stale_everywhere(ws):
        label = temp_label(path.name) or ""
        if label.endswith(OLD_SUFFIX) and path.is_dir():
            target = path.parent / label[: -len(OLD_SUFFIX)]
            if recover_dir(target):
                done.append(f"put back the checkpoint {target} (a save had been cut short)")
                continue
        if path.exists():
            remove_path(path)
            done.append(f"removed {path}")
    for model_dir in [p for p in _entries(ws.indexes) if p.is_dir() and not p.name.startswith(".")]:
        for index_dir in [p for p in _entries(model_dir) if (p / "manifest.json").is_file()]:
            try:
                _, data_dir = read_manifest(index_dir)
                with build_lock(index_dir).held(wait=0):
                    for debris in unreferenced(index_dir, keep=data_dir.name, locked=True):
                        remove_path(debris)
                        done.append(f"removed {debris}")
            except (IndexLoadError, BusyError):
                continue  # unreadable (a build fixes it) or being built right now
    try:
        with catalog_lock(ws).held(wait=0):
            for path in catalog_leftovers(ws, locked=True):
                remove_path(path)
                done.append(f"removed {path}")
    except BusyError as exc:  # the running build removes them itself when it ends
        done.append(f"left the demo images alone: {exc}")
    locks = [catalog_lock(ws), *(build_lock(p) for p in ws.indexes.glob("*/*") if p.is_dir())]
    for lock in locks:  # the lock file of a writer that was killed (a live one holds its lock)
        if lock.path.is_file() and not lock.held_elsewhere():
            lock.path.unlink(missing_ok=True)
            done.append(f"removed {lock.path}, the lock file of a writer that was killed")
    if not ws.exists() and ws.images.is_dir() and not any(ws.images.iterdir()):
        ws.images.rmdir()  # what a first catalog build that was killed leaves: the folder as it was
        done.append(f"removed the empty {ws.images}")
    return done
