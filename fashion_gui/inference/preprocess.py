"""Catalog images as tensors: decoded once into uint8 ``(N, 3, S, S)``, normalised per batch on the device.

Images are resized to ``S`` on their longer side and letterboxed onto a white square (catalog backdrop);
unreadable images raise an error naming the catalog item, so a broken file never silently becomes a black
square.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from PIL import Image

from fashion_gui.catalog.images import ImageError, open_image
from fashion_gui.catalog.store import Catalog
from fashion_gui.workspace import Workspace

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def square_resize(image: Image.Image, size: int) -> np.ndarray:
    """Scale the longer side to ``size`` (aspect ratio kept), then centre on a white square -> uint8 (3, size, size).

    Resizing before padding keeps the work at ``size`` x ``size`` pixels whatever the aspect ratio (padding
    first would build a square canvas as wide as the image's longer side)."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    w, h = image.size
    if (w, h) != (size, size):
        scale = size / max(w, h)
        nw, nh = max(1, min(size, round(w * scale))), max(1, min(size, round(h * scale)))
        image = image.resize((nw, nh), Image.BILINEAR)
        if (nw, nh) != (size, size):
            canvas = Image.new("RGB", (size, size), (255, 255, 255))
            canvas.paste(image, ((size - nw) // 2, (size - nh) // 2))
            image = canvas
    return np.asarray(image, dtype=np.uint8).transpose(2, 0, 1)


def load_item_images(workspace: Workspace, catalog: Catalog, item_ids: Sequence[int], size: int,
                     progress: Callable[[int, int], None] | None = None, threads: int = 4) -> torch.Tensor:
    """Decode the items' images into a uint8 tensor ``(N, 3, size, size)``."""
    paths = [workspace.resolve_image(p) for p in catalog.image_paths(item_ids)]
    out = np.empty((len(paths), 3, size, size), dtype=np.uint8)

    def load(i: int) -> int:
        try:
            out[i] = square_resize(open_image(paths[i], max_side=size), size)
        except ImageError as exc:
            raise ImageError(f"catalog item {int(item_ids[i])}: {exc}") from None
        return i

    done = 0
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in pool.map(load, range(len(paths))):
            done += 1
            if progress and (done % 256 == 0 or done == len(paths)):
                progress(done, len(paths))
    return torch.from_numpy(out)


class BatchPreprocessor:
    """uint8 batch -> normalised float on ``device``, with light augmentation when training.

    Augmentation: horizontal flip and a random translation of up to ``shift`` of the side (padding
    with the white backdrop); both keep every attribute label valid.
    """

    def __init__(self, device: torch.device, channels_last: bool = False, shift: float = 0.06) -> None:
        self.device = device
        self.channels_last = channels_last
        self.shift = shift
        self.mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)

    def __call__(self, images: torch.Tensor, train: bool = False,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        x = images.to(self.device, non_blocking=True).float().div_(255.0)  # (B, 3, S, S)
        if train:
            x = self._augment(x, generator)
        x = (x - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def _augment(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        b, _, s, _ = x.shape
        flip = torch.rand(b, generator=generator) < 0.5
        x[flip.to(x.device)] = x[flip.to(x.device)].flip(-1)
        pad = int(round(self.shift * s))
        if pad:
            padded = torch.nn.functional.pad(x, (pad, pad, pad, pad), value=1.0)  # (B, 3, S+2p, S+2p)
            offsets = torch.randint(0, 2 * pad + 1, (b, 2), generator=generator)
            x = torch.stack([padded[i, :, oy:oy + s, ox:ox + s] for i, (oy, ox) in enumerate(offsets.tolist())])
        return x


class ImageBank:
    """The catalog images of a split, decoded once: id -> row of a uint8 tensor."""

    def __init__(self, workspace: Workspace, catalog: Catalog, split: str, size: int) -> None:
        self.ids = catalog.ids(split=split)
        if len(self.ids) == 0:
            raise ValueError(f"the catalog has no {split!r} items; build the demo or import a dataset with splits")
        self.labels = catalog.labels(self.ids)  # (N, A)
        self.images = load_item_images(workspace, catalog, self.ids, size)  # (N, 3, S, S) uint8
        self.row = {int(i): r for r, i in enumerate(self.ids)}
