"""Real gallery features for ``fashion bench query`` (issue 16): a workspace's cached features, or a large
demo catalog rendered at small size and encoded with a trained model of another workspace."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from fashion_gui.catalog.store import Catalog
from fashion_gui.workspace import Workspace

FEATURES_FILE = "features.npz"
LARGE_DEMO_SIZE = 64  # px: the default models train at 64 px, so nothing is lost


def _encoder_name(ws: Workspace, model: str | None) -> str:
    """``model``, or the encoder the engine would choose (the first usable one in registry order)."""
    if model is not None:
        return model
    from fashion_gui.engine.models import scan_models

    with Catalog.open(ws.catalog_path) as catalog:
        schema = catalog.schema.to_dict()
    found = [m for m in scan_models(ws, schema) if m.usable and m.encoder]
    if not found:
        raise ValueError(f"{ws.root} has no usable encoder model; train one with `fashion train adde -w {ws.root}`")
    return found[0].name


def workspace_features(root: Path, model: str | None) -> tuple[np.ndarray, np.ndarray, int, str]:
    """(embeddings (N, D), categories (N,), attribute types, description) from the workspace's feature cache."""
    ws = Workspace.at(root)
    name = _encoder_name(ws, model)
    path = ws.indexes / name / FEATURES_FILE
    if not path.is_file():
        raise ValueError(f"{path} does not exist: encode the gallery first with `fashion index build -w {ws.root} "
                         f"--model {name}`")
    with np.load(path, allow_pickle=False) as data:
        key = next((k for k in data.files if k.endswith("embedding")), None)
        if key is None:
            raise ValueError(f"{path} holds no embedding array (arrays: {', '.join(data.files)})")
        vectors, ids = np.asarray(data[key], dtype=np.float32), np.asarray(data["ids"])
    with Catalog.open(ws.catalog_path) as catalog:
        categories = catalog.categories_of(ids).astype(np.int32)
        attributes = len(catalog.schema.types)
    return vectors, categories, attributes, f"real features of {name} on {ws.root} ({len(ids)} items)"


def large_demo_features(root: Path, items: int, demo_dir: Path | None, model: str | None,
                        seed: int = 1) -> tuple[np.ndarray, np.ndarray, int, str]:
    """Render an ``items``-image demo catalog (64 px) into ``demo_dir`` unless it is there already, encode it
    with the model of workspace ``root`` (copied in), and return its features as :func:`workspace_features`."""
    from fashion_gui.catalog.demo.builder import DemoConfig, build_demo
    from fashion_gui.engine import EngineConfig, RetrievalEngine

    source = Workspace.at(root)
    name = _encoder_name(source, model)
    folder = demo_dir or Path(tempfile.gettempdir()) / f"fashion-large-demo-{items}"
    large = Workspace(folder)
    if not large.exists():
        print(f"rendering {items} demo items at {LARGE_DEMO_SIZE} px into {folder} (kept for the next run)", flush=True)
        build_demo(large, DemoConfig(items=items, size=LARGE_DEMO_SIZE, seed=seed))
    if not (large.checkpoints / name).is_dir():
        large.checkpoints.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source.checkpoints / name, large.checkpoints / name)
    print(f"encoding the gallery with {name} (cached in {large.indexes / name})", flush=True)
    with RetrievalEngine.open(large, device="auto", config=EngineConfig(encoder_model=name)):
        pass
    vectors, categories, attributes, _ = workspace_features(folder, name)
    return vectors, categories, attributes, (f"real features: {name} (trained on {source.root}) encoding a "
                                             f"{items}-item demo catalog (seed {seed}) rendered at "
                                             f"{LARGE_DEMO_SIZE} px")
