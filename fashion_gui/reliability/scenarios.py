"""The writers the crash injection kills, each with an old workspace, a writer that makes it new, and the units
that must commit as a whole: checkpoint saves (folder exchange, and the two-rename fallback), index builds,
catalog imports, demo builds, and (random kills only) training."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from fashion_gui import atomic
from fashion_gui.reliability.crash import BROKEN, Scenario, State
from fashion_gui.reliability.workspaces import TINY_DEMO, catalog_csv, tiny_workspace, untrained_adde
from fashion_gui.workspace import Workspace

STATE_BYTES = b"optimizer and epoch state for --resume"


def _sha(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()[:16]


def _open_engine(root: Path, **config) -> None:
    from fashion_gui.engine import EngineConfig, RetrievalEngine

    with RetrievalEngine.open(root, device="cpu", config=EngineConfig(**config)):
        pass


# --- units ---------------------------------------------------------------------------------------------
def checkpoint_unit(root: Path, name: str = "adde", weights: bool = True) -> str:
    """A checkpoint's fingerprint: it loads into its model; its d, weights hash and carried state.pt."""
    import torch

    from fashion_gui.catalog.store import Catalog, CatalogError
    from fashion_gui.inference.adde_model import ADDEModel
    from fashion_gui.inference.checkpoint import CheckpointError, load_checkpoint

    ws = Workspace(Path(root))
    folder = ws.checkpoints / name
    try:
        with Catalog.open(ws.catalog_path) as catalog:
            schema = catalog.schema.to_dict()
        ckpt = load_checkpoint(folder, expected_schema=schema)
        ADDEModel.from_checkpoint(ckpt, torch.device("cpu"))
    except (CheckpointError, CatalogError) as exc:
        return f"{BROKEN}: {exc}"
    state = folder / "state.pt"
    parts = [f"d={ckpt.config['architecture']['d']}", f"state.pt={_sha(state.read_bytes()) if state.is_file() else '-'}"]
    if weights:
        parts.append(f"weights={ckpt.hash[:16]}")
    return " ".join(parts)


def index_units(root: Path) -> State:
    """Every saved index (its manifest, and that its data loads) and the saved index parameters."""
    from fashion_gui.index import IndexLoadError, load_index

    ws = Workspace(Path(root))
    config = ws.indexes / "index_config.json"
    units: State = {"index_config.json": config.read_text() if config.is_file() else "absent"}
    for manifest in sorted(ws.indexes.glob("*/*/manifest.json")):
        unit = f"index {manifest.parent.parent.name}/{manifest.parent.name}"
        try:
            index, saved = load_index(manifest.parent)
            units[unit] = json.dumps(saved.to_dict(), sort_keys=True) + f" items={len(index)}"
        except IndexLoadError as exc:
            units[unit] = f"{BROKEN}: {exc}"
    return units


def catalog_unit(root: Path) -> str:
    """The catalog with the bytes of every image it references (so an old catalog pointing at new images,
    or at missing ones, is caught)."""
    from fashion_gui.catalog.store import Catalog, CatalogError

    ws = Workspace(Path(root))
    try:
        with Catalog.open(ws.catalog_path) as catalog:
            ids = catalog.ids()
            rows = []
            for item_id, rel in zip(ids.tolist(), catalog.image_paths(ids)):
                path = ws.resolve_image(rel)
                rows.append(f"{item_id}:{_sha(path.read_bytes()) if path.is_file() else 'MISSING'}")
            name = catalog.name
    except CatalogError as exc:
        return f"{BROKEN}: {exc}"
    if any(r.endswith("MISSING") for r in rows):
        return f"{BROKEN}: {sum(r.endswith('MISSING') for r in rows)} referenced images are missing"
    return f"{name} items={len(rows)} images={_sha(' '.join(rows).encode())}"


def catalog_state(root: Path) -> State:
    """The catalog unit; its caches may be dropped before a new catalog lands, never kept after it."""
    ws = Workspace(Path(root))
    caches = "present" if any(ws.indexes.glob("*/features.npz")) else "dropped"
    return {"catalog": catalog_unit(root), "caches": caches}


# --- scenarios ---------------------------------------------------------------------------------------
def _checkpoint_prepare(root: Path) -> None:
    ws = tiny_workspace(root, seed=1, d=8)
    (ws.checkpoints / "adde" / "state.pt").write_bytes(STATE_BYTES)  # an interrupted run's resume state


def _force_fallback() -> None:
    atomic._renameat2 = False  # as on a system without renameat2: commit_dir's two renames


def checkpoint_scenario(fallback: bool = False) -> Scenario:
    """Retraining over an existing checkpoint with another --d (the reported mismatch)."""
    return Scenario(
        name="checkpoint save" + (" (two-rename fallback)" if fallback else ""),
        prepare=_checkpoint_prepare,
        write=lambda root: untrained_adde(Workspace(root), d=4, seed=5),
        state=lambda root: {"checkpoint adde": checkpoint_unit(root)},
        child_setup=_force_fallback if fallback else None,
    )


def _index_prepare(root: Path) -> None:
    tiny_workspace(root, seed=1, d=8)
    _open_engine(root)  # features and indexes with the default parameters


def index_scenario() -> Scenario:
    """``fashion index build --ef-search 91``: new parameters, so every index is rebuilt and saved."""
    def write(root: Path) -> None:
        from fashion_gui.cli.main import main

        if main(["index", "build", "--workspace", str(root), "--ef-search", "91", "--device", "cpu"]) != 0:
            raise RuntimeError("index build failed")

    return Scenario("index build", _index_prepare, write, index_units,
                    argv=lambda root: ["index", "build", "--workspace", str(root), "--ef-search", "91",
                                       "--device", "cpu"])


def _import_sources(root: Path) -> tuple[Path, Path, Path]:
    base = Path(root).parent
    return base / "source-images", base / "items-a.csv", base / "items-b.csv"


def _import_prepare(root: Path) -> None:
    """An imported catalog (CSV A), its model and indexes; CSV B (every other item, another split) waits."""
    from fashion_gui.catalog.importers import CsvImportOptions, import_csv
    from fashion_gui.catalog.store import Catalog

    source_root, csv_a, csv_b = _import_sources(root)
    if not source_root.exists():
        source = tiny_workspace(source_root, seed=3)
        catalog_csv(source, csv_a)
        catalog_csv(source, csv_b, every=2)
        with Catalog.open(source.catalog_path) as catalog:
            (source_root.parent / "schema.json").write_text(json.dumps(catalog.schema.to_dict()))
    ws = Workspace(Path(root))
    import_csv(ws, csv_a, CsvImportOptions(schema_path=source_root.parent / "schema.json"))
    untrained_adde(ws, d=8)
    _open_engine(root)


def import_scenario() -> Scenario:
    """``fashion catalog import --force`` of another CSV over an imported catalog."""
    def argv(root: Path) -> list[str]:
        _, _, csv_b = _import_sources(root)
        return ["catalog", "import", "--workspace", str(root), str(csv_b), "--force",
                "--schema", str(Path(root).parent / "schema.json")]

    def write(root: Path) -> None:
        from fashion_gui.cli.main import main

        if main(argv(root)) != 0:
            raise RuntimeError("import failed")

    return Scenario("catalog import", _import_prepare, write, catalog_state, argv=argv, rule=consistent)


def _demo_prepare(root: Path) -> None:
    tiny_workspace(root, seed=1, d=8)
    _open_engine(root)


def demo_scenario() -> Scenario:
    """``fashion catalog demo --force`` with another seed over a demo workspace with a model and indexes."""
    def argv(root: Path) -> list[str]:
        return ["catalog", "demo", "--workspace", str(root), "--force", "--quiet", "--seed", "2",
                "--items", str(TINY_DEMO["items"]), "--size", str(TINY_DEMO["size"]), "--workers", "1"]

    def write(root: Path) -> None:
        from fashion_gui.cli.main import main

        if main(argv(root)) != 0:
            raise RuntimeError("demo build failed")

    return Scenario("demo build", _demo_prepare, write, catalog_state, argv=argv, rule=consistent)


def train_scenario() -> Scenario:
    """``fashion train adde --d 4`` over a d = 8 checkpoint (random kills only: training takes seconds)."""
    def argv(root: Path) -> list[str]:
        return ["train", "adde", "--workspace", str(root), "--epochs", "1", "--manip-epochs", "1", "--d", "4",
                "--image-size", "32", "--batch-size", "16", "--device", "cpu", "--progress-json"]

    def write(root: Path) -> None:
        from fashion_gui.cli.main import main

        if main(argv(root)) != 0:
            raise RuntimeError("training failed")

    def prepare(root: Path) -> None:
        ws = tiny_workspace(root, seed=1, d=8, items=180)  # enough validation items for the trainer's metrics
        (ws.checkpoints / "adde" / "state.pt").write_bytes(STATE_BYTES)

    return Scenario("train", prepare, write,
                    lambda root: {"checkpoint adde": checkpoint_unit(root, weights=False).split(" state.pt")[0]},
                    argv=argv)


def crash_scenarios() -> list[Scenario]:
    return [checkpoint_scenario(), checkpoint_scenario(fallback=True), index_scenario(), import_scenario(),
            demo_scenario()]


def consistent(state: State, new: State) -> str:
    """Cross-unit rule of the catalog writers: the old catalog's caches never sit next to the new catalog."""
    if "caches" in state and state.get("catalog") == new.get("catalog") and state["caches"] == "present":
        return "the gallery features of the old catalog are still there with the new catalog"
    return ""


def fresh(base: Path) -> Path:
    """An empty scenario folder."""
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    return base
