"""Saving and opening indexes under ``<workspace>/indexes/<name>/`` atomically, rebuilding stale ones.

Layout of one index folder::

    <name>/manifest.json     IndexManifest + "data": the name of the folder holding the files
    <name>/data-<hex>/       the index files (vectors.npy, ids.npy, categories.npy, hnsw.bin, ...)
    <name>/knn-k5.npz        kNN graphs for style paths (knn_graph.py), keyed by the manifest

A save writes a temporary folder ``.tmp-*`` next to the live data, fsyncs it, renames it to a fresh
``data-<hex>`` and only then replaces ``manifest.json`` (write to a temp file, fsync, ``os.replace``):
the manifest replacement is the single commit point, so a crash at any moment leaves either the previous
index or the new one, complete. Folders no manifest points to are removed by the next successful save.

One writer at a time per index folder: building, updating and saving hold ``<name>/.lock`` (locks.py), so two
``fashion index build`` runs on one workspace never remove each other's folders; the second one says that
another build is running, waits for it, and then uses what it built. Reading needs no lock.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple, Union

import numpy as np

from fashion_gui.atomic import (
    TMP_PREFIX,
    atomic_write_json,
    crash_point,
    is_stale_temp,
    make_temp_dir,
    naming,
    remove_path,
    writer_pid,
)
from fashion_gui.index.base import IndexLoadError, VectorIndex, fsync_dir, fsync_tree
from fashion_gui.index.exact import ExactIndex
from fashion_gui.index.hnsw import HnswIndex
from fashion_gui.index.manifest import FORMAT_VERSION, MANIFEST_NAME, IndexManifest
from fashion_gui.index.subspaces import SubspaceIndexSet
from fashion_gui.locks import BusyError, WriterLock

log = logging.getLogger(__name__)

AnyIndex = Union[VectorIndex, SubspaceIndexSet]
KINDS: dict[str, type] = {"exact": ExactIndex, "hnsw": HnswIndex, "subspaces": SubspaceIndexSet}
DATA_PREFIX = "data-"
LOCK_NAME = ".lock"
LOCK_WAIT_SECONDS = 600.0  # how long a build waits for another build of the same index before giving up


class IndexData(NamedTuple):
    """What ``vectors_fn`` returns: item ids (N,), vectors (N, D) and optional category indices (N,)."""

    ids: np.ndarray
    vectors: np.ndarray
    categories: np.ndarray | None = None


def build_index(data: IndexData, manifest: IndexManifest) -> AnyIndex:
    """A new index for ``manifest``: subspace set when it has chunks, else exact below the threshold."""
    config = manifest.config
    if manifest.chunks is not None:
        index: AnyIndex = SubspaceIndexSet(manifest.chunks, config=config)
    elif len(data.ids) < config.exact_threshold:
        index = ExactIndex(manifest.dim, config)
    else:
        index = HnswIndex(manifest.dim, config)
    index.build(data.ids, data.vectors, data.categories)
    return index


def build_lock(directory: str | os.PathLike) -> WriterLock:
    """The lock one writer of the index in ``directory`` holds (module docstring)."""
    return WriterLock(Path(directory) / LOCK_NAME, "index build")


def save_index(index: AnyIndex, directory: str | os.PathLike, manifest: IndexManifest) -> IndexManifest:
    """Save atomically (module docstring); returns the manifest written (item count and kind filled in)."""
    directory = Path(directory)
    with naming(directory):
        directory.mkdir(parents=True, exist_ok=True)
    with build_lock(directory).held(wait=LOCK_WAIT_SECONDS):
        final = manifest.with_saved(len(index), index.kind)
        tmp = make_temp_dir(directory, "data")
        data_dir = directory / f"{DATA_PREFIX}{uuid.uuid4().hex[:12]}"
        committed = False
        try:
            with naming(tmp):
                index.save(tmp)
                fsync_tree(tmp)
            crash_point("index:data_written")
            with naming(data_dir):
                os.rename(tmp, data_dir)
            fsync_dir(directory)
            crash_point("index:data_renamed")
            _write_manifest(directory, final, data_dir.name)
            committed = True
        finally:
            if not committed:  # an exception (not a crash): leave the previous index exactly as it was
                shutil.rmtree(tmp, ignore_errors=True)
                shutil.rmtree(data_dir, ignore_errors=True)
        _remove_unreferenced(directory, keep=data_dir.name)
    return final


def _write_manifest(directory: Path, manifest: IndexManifest, data_name: str) -> None:
    atomic_write_json(directory / MANIFEST_NAME, manifest.to_dict() | {"data": data_name})


def unreferenced(directory: Path, keep: str, locked: bool = False) -> list[Path]:
    """Data folders the manifest does not name, and temporary files of dead writers: debris of builds
    that a crash cut short (a live writer's temporary files are never listed). ``locked``: the caller holds
    the build lock, so no writer of this process is saving here either."""
    out = []
    for path in sorted(Path(directory).iterdir()):
        if path.name.startswith(DATA_PREFIX) and path.name != keep:
            out.append(path)
        elif path.name.startswith(TMP_PREFIX):
            ours = locked and writer_pid(path.name) == os.getpid()  # no save of ours runs while we hold the lock
            if ours or is_stale_temp(path):
                out.append(path)
    return out


def _remove_unreferenced(directory: Path, keep: str) -> None:
    """Call with the build lock held: no other writer of this index is alive."""
    for path in unreferenced(directory, keep, locked=True):
        remove_path(path)


def read_manifest(directory: str | os.PathLike) -> tuple[IndexManifest, Path]:
    """The saved manifest and the data folder it names; :class:`IndexLoadError` when unusable."""
    path = Path(directory) / MANIFEST_NAME
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexLoadError(f"no index saved in {directory}") from None
    except (OSError, ValueError) as exc:
        raise IndexLoadError(f"cannot read {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise IndexLoadError(f"{path} is not a JSON object")
    if raw.get("format_version") != FORMAT_VERSION:
        raise IndexLoadError(f"{path} has index format {raw.get('format_version')!r}, this program "
                             f"reads format {FORMAT_VERSION}")
    try:
        manifest = IndexManifest.from_dict(raw)
    except ValueError as exc:
        raise IndexLoadError(f"{path}: {exc}") from exc
    data = raw.get("data")
    if not isinstance(data, str) or not data.startswith(DATA_PREFIX) or "/" in data or "\\" in data:
        raise IndexLoadError(f"{path} names no valid data folder ({data!r})")
    return manifest, Path(directory) / data


def load_index(directory: str | os.PathLike, *, memmap: bool | None = None) -> tuple[AnyIndex, IndexManifest]:
    """Open a saved index; :class:`IndexLoadError` when anything is missing or unreadable. ``memmap``
    overrides the saved choice of mapping the vectors from disk (IndexConfig.memmap)."""
    manifest, data_dir = read_manifest(directory)
    if memmap is not None:
        manifest = replace(manifest, config=replace(manifest.config, memmap=memmap))
    return _load_data(manifest, data_dir), manifest


def _load_data(manifest: IndexManifest, data_dir: Path) -> AnyIndex:
    cls = KINDS.get(manifest.kind or "")
    if cls is None:
        raise IndexLoadError(f"unknown index kind {manifest.kind!r} in {data_dir.parent / MANIFEST_NAME}")
    if not data_dir.is_dir():
        raise IndexLoadError(f"index data folder {data_dir} is missing")
    index = cls.load(data_dir, manifest.dim, manifest.config)
    if manifest.item_count is not None and len(index) != manifest.item_count:
        raise IndexLoadError(f"{data_dir} holds {len(index)} items, its manifest says {manifest.item_count}")
    return index


def open_or_build(directory: str | os.PathLike, expected: IndexManifest,
                  vectors_fn: Callable[[], IndexData | tuple]) -> tuple[AnyIndex, bool]:
    """The saved index when its manifest matches ``expected``, else a fresh build (saved atomically).

    Returns ``(index, rebuilt)``. The manifest is compared before any index file is read, so a stale
    index is never loaded; ``vectors_fn`` is called only when a rebuild is needed.
    """
    index, _, how = open_or_update(directory, expected, vectors_fn, incremental=False)
    return index, how != "loaded"


INCREMENTAL_FIELDS = ("catalog_version", "item_count")  # differences that an add() can repair


def open_or_update(directory: str | os.PathLike, expected: IndexManifest,
                   data_fn: Callable[[], IndexData | tuple],
                   incremental: bool = True) -> tuple[AnyIndex, IndexManifest, str]:
    """The saved index when its manifest matches ``expected``; with ``incremental``, a saved index that is
    only behind the catalog (new items, same model and parameters) is extended with ``add()``; else a
    fresh build. Every change is saved atomically before the index is returned.

    ``data_fn`` returns the whole current gallery and is called only when the saved index does not match.
    The update is used only when every saved item is still in it with the same category; otherwise (items
    removed or changed) the index is rebuilt. Returns ``(index, saved manifest, how)`` with ``how`` one
    of ``"loaded"``, ``"updated"``, ``"built"``. A stale index is never searched.
    """
    directory = Path(directory)
    loaded = _load_matching(directory, expected)  # no lock needed to read a saved index
    if loaded is not None:
        return loaded
    with naming(directory):
        directory.mkdir(parents=True, exist_ok=True)
    with build_lock(directory).held(wait=LOCK_WAIT_SECONDS):
        loaded = _load_matching(directory, expected)  # another build may have made it while we waited
        if loaded is not None:
            return loaded
        return _update_or_build(directory, expected, data_fn, incremental)


def _load_matching(directory: Path, expected: IndexManifest) -> tuple[AnyIndex, IndexManifest, str] | None:
    try:
        stored, data_dir = read_manifest(directory)
        if not stored.differences(expected):
            stored = stored.opened_as(expected)
            index = _load_data(stored, data_dir)
            _tidy(directory, data_dir.name)
            return index, stored, "loaded"
    except IndexLoadError:
        return None
    return None


def _tidy(directory: Path, keep: str) -> None:
    """Remove debris of a build a crash cut short, when no build is running; a workspace that cannot be
    written (read-only) is simply read."""
    if not unreferenced(directory, keep):
        return
    lock = build_lock(directory)
    try:
        lock.acquire(wait=0)
    except (BusyError, OSError) as exc:
        log.info("leaving the debris in %s for later: %s", directory, exc)
        return
    try:
        _remove_unreferenced(directory, keep)
    finally:
        lock.release()


def _update_or_build(directory: Path, expected: IndexManifest, data_fn: Callable[[], IndexData | tuple],
                     incremental: bool) -> tuple[AnyIndex, IndexManifest, str]:
    reasons: list[str]
    stored: IndexManifest | None = None
    try:
        stored, data_dir = read_manifest(directory)
        reasons = stored.differences(expected)
    except IndexLoadError as exc:
        reasons = [str(exc)]
    data = IndexData(*data_fn())
    if expected.item_count is not None and len(data.ids) != expected.item_count:
        raise ValueError(f"the data function gave {len(data.ids)} items for index {expected.name!r}, "
                         f"the expected manifest says {expected.item_count}")
    if incremental and stored is not None and _only_behind(stored, expected):
        try:
            index = _load_data(stored.opened_as(expected), data_dir)
        except IndexLoadError as exc:
            log.info("rebuilding index %s: %s", expected.name, exc)
        else:
            new_rows = _new_rows(index, data)
            if new_rows is not None:
                if len(new_rows):
                    index.add(data.ids[new_rows], data.vectors[new_rows],
                              None if data.categories is None else data.categories[new_rows])
                log.info("index %s: added %d new items", expected.name, len(new_rows))
                return index, save_index(index, directory, expected), "updated"
            log.info("rebuilding index %s: catalog items were removed or changed", expected.name)
    else:
        log.info("building index %s in %s: %s", expected.name, directory, "; ".join(reasons))
    index = build_index(data, expected)
    return index, save_index(index, directory, expected), "built"


def _only_behind(stored: IndexManifest, expected: IndexManifest) -> bool:
    """True when the manifests differ only in what adding items changes."""
    fields = {name: getattr(expected, name) for name in INCREMENTAL_FIELDS}
    return not replace(stored, **fields).differences(expected)


def _new_rows(index: AnyIndex, data: IndexData) -> np.ndarray | None:
    """Rows of ``data`` missing from ``index``, or None when the index holds items ``data`` lacks (or
    holds them under another category), so that only a rebuild is correct."""
    old_ids = np.asarray(index.ids, dtype=np.int64)
    present = np.isin(data.ids, old_ids)
    if int(present.sum()) != len(old_ids):
        return None
    if data.categories is not None:
        target = index.subspace(0) if isinstance(index, SubspaceIndexSet) else index
        order = np.argsort(old_ids)
        pos = order[np.searchsorted(old_ids[order], data.ids[present])]
        if not np.array_equal(np.asarray(target.categories)[pos], np.asarray(data.categories)[present]):
            return None
    return np.flatnonzero(~present)
