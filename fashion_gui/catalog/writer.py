"""Replacing a workspace's catalog (``fashion catalog demo``, ``fashion catalog import``): one writer at a time,
the leftovers of killed writers removed, and the caches of the old catalog dropped before the new one lands.

The commit point of every catalog writer is the rename of ``catalog.sqlite`` (``Catalog.build``): everything
the new catalog references is in place before it, and nothing the old catalog references is removed until
after it. So a crash at any moment leaves the old workspace or the new one, whole.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from fashion_gui.atomic import crash_point, is_stale_temp, naming, remove_path, remove_stale_temps, temp_prefix
from fashion_gui.locks import WriterLock
from fashion_gui.workspace import Workspace

log = logging.getLogger(__name__)

CATALOG_LOCK = ".catalog.lock"
LOCK_WAIT_SECONDS = 2.0  # a second writer is refused after this (a check by `fashion doctor` only takes a moment)
DEMO_IMAGE_PREFIX = "demo-"  # images/demo-<build>/: the images of one demo build


def catalog_lock(workspace: Workspace) -> WriterLock:
    return WriterLock(workspace.root / CATALOG_LOCK, "catalog build")


@contextlib.contextmanager
def catalog_writer(workspace: Workspace) -> Iterator[None]:
    """Hold the workspace's catalog lock (a second writer is refused, naming the first) and remove what killed
    writers left behind (their temporary files, demo images no catalog references)."""
    with naming(workspace.root):
        workspace.root.mkdir(parents=True, exist_ok=True)
    with catalog_lock(workspace).held(wait=LOCK_WAIT_SECONDS):
        for path in catalog_leftovers(workspace, locked=True):
            log.info("removing %s, left by a catalog build that was killed", path)
            remove_path(path)
        try:
            yield
        finally:
            if not workspace.exists() and workspace.images.is_dir() and not any(workspace.images.iterdir()):
                workspace.images.rmdir()  # a first build that failed leaves the folder as it found it


def catalog_leftovers(workspace: Workspace, locked: bool = False) -> list[Path]:
    """Temporary files of dead catalog writers, and (only when no writer can be running: ``locked``, or the
    lock is free) demo image folders that the catalog does not reference."""
    found = [p for p in _entries(workspace.root) if is_stale_temp(p)]
    found += [p for p in _entries(workspace.images) if is_stale_temp(p)]
    found += [p for p in _entries(workspace.indexes) if is_stale_temp(p)]
    if not locked and catalog_lock(workspace).held_elsewhere():
        return found
    referenced = referenced_image_folders(workspace)
    if referenced is not None:
        found += [p for p in _entries(workspace.images)
                  if p.is_dir() and p.name.startswith(DEMO_IMAGE_PREFIX) and p.name not in referenced]
    return found


def _entries(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def referenced_image_folders(workspace: Workspace) -> set[str] | None:
    """Names of the ``images/`` sub-folders the catalog's image paths use; None when there is no readable
    catalog (then nothing under images/ may be judged unreferenced)."""
    from fashion_gui.catalog.store import Catalog, CatalogError

    if not workspace.exists():
        return None
    try:
        with Catalog.open(workspace.catalog_path) as catalog:
            paths = catalog.image_paths(catalog.ids())
    except CatalogError:
        return None
    out = set()
    for p in paths:
        parts = Path(p).parts
        if len(parts) >= 3 and parts[0] == "images":
            out.add(parts[1])
    return out


def drop_derived(workspace: Workspace) -> None:
    """Just before a complete new catalog replaces the old one: remove the gallery features and indexes built
    for the old one (``indexes/<model>/``; the saved index parameters stay), so no cache of the old catalog is
    ever used for the new one. A crash after this leaves the old catalog without caches, which the next open
    rebuilds; a failed build (an exception) never gets here."""
    for folder in _entries(workspace.indexes):
        if folder.is_dir() and not folder.name.startswith("."):
            doomed = folder.with_name(f"{temp_prefix('stale-' + folder.name.replace('-', '_'))}{uuid.uuid4().hex[:8]}")
            with naming(folder):
                os.rename(folder, doomed)
            crash_point("catalog:derived_dropped")
            shutil.rmtree(doomed, ignore_errors=False)


def remove_old_images(workspace: Workspace, keep: str) -> None:
    """After the commit: everything under ``images/`` but the new build's folder ``keep`` (and live writers'
    temporary files) belonged to the old catalog, as the whole folder did before."""
    for path in _entries(workspace.images):
        if path.name == keep or (path.name.startswith(".tmp-") and not is_stale_temp(path)):
            continue
        remove_path(path)
    remove_stale_temps(workspace.root)
