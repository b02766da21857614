"""What every trainer shares (minGPT's Trainer): the device, the seeds, the catalog, progress callbacks and
the mixed-precision context. ADDE, UIGR and ADDE-O trainers subclass it and build their models after it."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from fashion_gui.catalog.store import Catalog
from fashion_gui.inference.device import resolve_device
from fashion_gui.training.events import Callback, TrainEvent
from fashion_gui.workspace import Workspace


class Trainer:
    """Seeds torch, numpy (``rng``) and a data-order ``generator`` from ``config.seed``, in that order, then
    opens the catalog. ``amp`` stays False unless the subclass turns it on (CUDA only)."""

    stage = ""
    amp = False

    def __init__(self, workspace: Workspace, config: Any, out_dir: Path, callbacks: list[Callback] | None = None) -> None:
        self.workspace, self.config, self.out_dir = workspace, config, Path(out_dir)
        self.callbacks = callbacks or []
        self.device = resolve_device(config.device)
        self.cuda = self.device.type == "cuda"
        torch.manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.catalog = Catalog.open(workspace.catalog_path)
        self.schema = self.catalog.schema

    def emit(self, event: TrainEvent) -> None:
        for cb in self.callbacks:
            cb(event)

    def _autocast(self):
        return torch.autocast("cuda", dtype=torch.float16, enabled=self.amp)
