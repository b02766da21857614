"""The workspace's trained models as the engine (and the Settings pane's choosers) see them: every
checkpoint folder, its method's registry entry (what it serves, whether it is an encoder) and, for one
that cannot be used, why. The order is the engine's automatic preference: the methods' registry order,
a checkpoint named after its method first, then the newest."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from fashion_gui.inference.checkpoint import Checkpoint, CheckpointError, list_checkpoints, load_checkpoint
from fashion_gui.methods import get_method, list_methods
from fashion_gui.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass
class ModelInfo:
    """One checkpoint folder of the workspace."""

    name: str                         # the folder name under <workspace>/checkpoints
    method: str                       # "" when unreadable
    serves: tuple[str, ...] = ()      # request kinds (fashion_gui.methods.REQUEST_KINDS)
    encoder: bool = False
    problem: str | None = None        # why it cannot be used here (damaged, another schema, unknown method)
    metrics: dict[str, Any] = field(default_factory=dict)
    checkpoint: Checkpoint | None = field(default=None, repr=False)

    @property
    def usable(self) -> bool:
        return self.problem is None


def scan_models(workspace: Workspace, schema: dict | None) -> list[ModelInfo]:
    """Every checkpoint of the workspace, usable ones in the engine's order of preference, then the others."""
    rank = {name: i for i, name in enumerate(list_methods())}
    found = []
    for newest, folder in enumerate(list_checkpoints(workspace.checkpoints)):
        try:
            ckpt = load_checkpoint(folder, expected_schema=schema)
        except CheckpointError as exc:
            found.append((len(rank), 1, newest, ModelInfo(folder.name, "", problem=str(exc))))
            continue
        try:
            spec = get_method(ckpt.method)
        except ValueError:
            found.append((len(rank), 1, newest, ModelInfo(folder.name, ckpt.method,
                                                          problem=f"method {ckpt.method!r} is not registered")))
            continue
        info = ModelInfo(folder.name, ckpt.method, tuple(spec.serves), spec.encoder, None,
                         dict(ckpt.metrics.get("validation", {})), ckpt)
        found.append((rank[ckpt.method], int(folder.name != ckpt.method), newest, info))
    return [info for *_, info in sorted(found, key=lambda t: t[:3])]
