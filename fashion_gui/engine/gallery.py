"""Gallery features: every catalog image encoded once per model and cached (CONVENTIONS 3, CLIP4Cir).

``<workspace>/indexes/<model>/features.npz`` holds the item ids and one array per feature (ADDE: the raw
embedding, the predicted values and their probabilities). It is keyed by the checkpoint hash and image
size, not by the catalog version: when items are added, only the new ones are encoded; removed items are
dropped. Images that cannot be decoded are skipped and reported, so one broken file never stops the
engine. The cache is written atomically (temp file + rename).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from fashion_gui.atomic import atomic_open
from fashion_gui.catalog.images import ImageError, open_image
from fashion_gui.catalog.store import Catalog
from fashion_gui.inference.preprocess import square_resize
from fashion_gui.workspace import Workspace

log = logging.getLogger(__name__)

FEATURES_FORMAT = 2  # 2: attribute encoders also keep every value's probability
EncodeFn = Callable[[torch.Tensor], dict[str, np.ndarray]]  # uint8 (B, 3, S, S) -> arrays with B rows
Progress = Callable[[int, int], None]


@dataclass
class GalleryFeatures:
    """Per-item arrays aligned with ``ids`` (ascending catalog ids that decoded)."""

    ids: np.ndarray  # (N,) int64
    arrays: dict[str, np.ndarray]
    skipped: dict[int, str] = field(default_factory=dict)  # item id -> why its image was not usable
    encoded: int = 0  # how many items this call encoded (0 = everything came from the cache)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    @cached_property
    def row(self) -> dict[int, int]:
        """Item id -> row of the arrays (built once)."""
        return {int(i): r for r, i in enumerate(self.ids.tolist())}

    def rows_of(self, item_ids) -> np.ndarray:
        """Rows of these ids; KeyError names an id not in the gallery."""
        return np.fromiter((self.row[int(i)] for i in item_ids), dtype=np.int64, count=len(item_ids))


def decode_images(paths: list[Path], item_ids: np.ndarray, size: int
                  ) -> tuple[np.ndarray, torch.Tensor, dict[int, str]]:
    """Decode files -> (ids that decoded, uint8 (n, 3, S, S), {id: error} for the others)."""
    good, images, bad = [], [], {}
    for item_id, path in zip(item_ids.tolist(), paths):
        try:
            images.append(square_resize(open_image(path, max_side=size), size))
            good.append(item_id)
        except ImageError as exc:
            bad[int(item_id)] = str(exc)
    stacked = np.stack(images) if images else np.zeros((0, 3, size, size), np.uint8)
    return np.asarray(good, dtype=np.int64), torch.from_numpy(stacked), bad


class ImageBatches(torch.utils.data.Dataset):
    """Batch ``b`` = the decoded ``b``-th slice of the items (for a DataLoader whose workers decode)."""

    def __init__(self, paths: list[Path], item_ids: np.ndarray, size: int, batch: int) -> None:
        self.paths, self.item_ids, self.size, self.batch = paths, np.asarray(item_ids, np.int64), size, batch

    def __len__(self) -> int:
        return (len(self.item_ids) + self.batch - 1) // self.batch

    def __getitem__(self, b: int) -> tuple[np.ndarray, torch.Tensor, dict[int, str]]:
        rows = slice(b * self.batch, (b + 1) * self.batch)
        return decode_images(self.paths[rows], self.item_ids[rows], self.size)


def _as_is(sample):
    return sample


def image_batches(workspace: Workspace, catalog: Catalog, item_ids: np.ndarray, size: int, batch: int,
                  workers: int = 0, pin_memory: bool = False):
    """(ids, uint8 images, errors) per batch of ``item_ids``, decoded by ``workers`` DataLoader processes
    (0: here, in order) while the caller encodes; ``pin_memory`` for a fast copy to a CUDA device."""
    paths = [workspace.resolve_image(p) for p in catalog.image_paths(item_ids)]
    dataset = ImageBatches(paths, item_ids, size, batch)
    if workers <= 0 and not pin_memory:
        return (dataset[b] for b in range(len(dataset)))
    return iter(torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=max(workers, 0),
                                            pin_memory=pin_memory, collate_fn=_as_is,
                                            prefetch_factor=2 if workers > 0 else None))


def open_features(path: Path, key: dict, workspace: Workspace, catalog: Catalog, item_ids: np.ndarray,
                  size: int, encode: EncodeFn, batch: int = 256, progress: Progress | None = None,
                  workers: int = 0, pin_memory: bool = False) -> GalleryFeatures:
    """Features of ``item_ids`` from the cache at ``path`` (if built for ``key``), encoding what is missing."""
    item_ids = np.unique(np.asarray(item_ids, dtype=np.int64))
    cached = _read(path, key)
    have_ids = cached.ids if cached is not None else np.zeros(0, np.int64)
    keep = np.isin(have_ids, item_ids)
    todo = item_ids[~np.isin(item_ids, have_ids)]
    parts_ids = [have_ids[keep]]
    parts = {name: [arr[keep]] for name, arr in cached.arrays.items()} if cached is not None else {}
    skipped: dict[int, str] = {}
    batches = image_batches(workspace, catalog, todo, size, batch, workers, pin_memory) if len(todo) else ()
    for start, (ids, images, bad) in zip(range(0, len(todo), batch), batches):
        skipped.update(bad)
        if len(ids):
            out = encode(images)
            for name, arr in out.items():
                parts.setdefault(name, []).append(np.asarray(arr))
            parts_ids.append(ids)
        if progress:
            progress(min(start + batch, len(todo)), len(todo))
    for item_id, why in skipped.items():
        log.warning("catalog item %d left out of the gallery: %s", item_id, why)
    ids = np.concatenate(parts_ids)
    if not parts and len(ids) == 0:
        raise ImageError("no catalog image could be decoded, so there is nothing to search; "
                         "check the workspace's images folder")
    order = np.argsort(ids, kind="stable")
    arrays = {name: np.concatenate(chunks)[order] for name, chunks in parts.items()}
    features = GalleryFeatures(ids[order], arrays, skipped, encoded=len(todo) - len(skipped))
    if len(todo) or len(have_ids) != int(keep.sum()):
        _write(path, key, features)
    return features


def _read(path: Path, key: dict) -> GalleryFeatures | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            stored = json.loads(str(data["key"]))
            if stored != json.loads(json.dumps(key)):
                log.info("re-encoding the gallery: %s was made by another model", path)
                return None
            arrays = {name[2:]: data[name] for name in data.files if name.startswith("a_")}
            ids = data["ids"].astype(np.int64)
    except (OSError, ValueError, KeyError) as exc:
        log.warning("re-encoding the gallery: cannot read %s (%s)", path, exc)
        return None
    if any(len(a) != len(ids) for a in arrays.values()):
        log.warning("re-encoding the gallery: %s has arrays of different lengths", path)
        return None
    return GalleryFeatures(ids, arrays)


def _write(path: Path, key: dict, features: GalleryFeatures) -> None:
    payload = {f"a_{name}": arr for name, arr in features.arrays.items()}
    with atomic_open(path, "wb") as fh:
        np.savez(fh, key=np.array(json.dumps(key)), ids=features.ids, **payload)


def feature_key(kind: str, checkpoint_hash: str, image_size: int) -> dict:
    return {"format": FEATURES_FORMAT, "kind": kind, "checkpoint_hash": checkpoint_hash, "image_size": int(image_size)}
