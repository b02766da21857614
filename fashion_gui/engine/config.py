"""What the engine loads and how it searches (torch-free, so the app's settings can hold it before torch loads)."""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from fashion_gui.atomic import atomic_write_json
from fashion_gui.engine.edits import EditPolicy
from fashion_gui.engine.requests import EngineError
from fashion_gui.index.config import IndexConfig
from fashion_gui.methods.registry import REQUEST_KINDS
from fashion_gui.workspace import Workspace

INDEX_CONFIG_FILE = "index_config.json"


@dataclass(frozen=True)
class EngineConfig:
    """What the engine loads and how it searches; the settings pane edits these."""

    encoder_model: str | None = None  # checkpoint folder of the encoder model; None: automatic (the first
    #                                   usable encoder in registry order, one named after its method first)
    models: Mapping[str, str] = field(default_factory=dict)  # request kind -> checkpoint folder serving it;
    #                                   a kind left out: the encoder if it serves it, else automatic
    edits: EditPolicy = EditPolicy()  # how edits are ranked: visual (default), labels or paper (engine/edits.py)
    gallery_split: str | None = None  # search one split only; None: the whole catalog
    index: IndexConfig | None = None  # None: the workspace's saved parameters (index_config.json), else defaults
    graph_k: int = 5  # neighbours per item in the style-path graph (cooperative embeddings: 5)
    connect_graph: bool = True  # join the graph's islands by their shortest edges (knn_graph.bridge_components)
    encode_batch: int = 256  # images per batch when encoding the gallery
    encode_workers: int = 0  # processes decoding gallery images while the model encodes (fashion bench encode)
    category_vote: int = 10  # neighbours voting on an uploaded image's category (no category classifier)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.models) - set(REQUEST_KINDS))
        if unknown:
            raise ValueError(f"EngineConfig.models: unknown request kinds {unknown}; known: {', '.join(REQUEST_KINDS)}")


def load_index_config(ws: Workspace) -> IndexConfig:
    """The workspace's index parameters (``<workspace>/indexes/index_config.json``), or the defaults."""
    path = ws.indexes / INDEX_CONFIG_FILE
    if not path.is_file():
        return IndexConfig()
    try:
        return IndexConfig.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        raise EngineError(f"{path} is not a valid index configuration ({exc}); fix or delete it") from exc


def save_index_config(ws: Workspace, config: IndexConfig) -> None:
    """Remember index parameters for this workspace (atomic write); the next open rebuilds to match."""
    atomic_write_json(ws.indexes / INDEX_CONFIG_FILE, config.to_dict())
