"""Exporters: write a catalog in the split-file format of ADDE's reference code (REFERENCE.md).

Files written into the output folder (indices are 0-based rows of the split's ``imgs_*.txt``):
- ``imgs_{split}.txt``      image paths (absolute), one per line
- ``labels_{split}.txt``    concatenated one-hot blocks per image (zero block = missing)
- ``attr_num.txt``          number of values per attribute type
- ``ref_{split}.txt``, ``indfull_{split}.txt``, ``gt_{split}.txt`` for val and test: the manipulation
  queries' reference rows, indicator vectors (-1 old value, +1 new value) and target one-hot labels
- ``triplet_train.txt`` (``ref pos neg`` rows) and ``triplet_train_ind.txt`` (indicators): one training
  triplet per train manipulation query, pos has exactly the target label and neg does not
- ``attributes.json``       the schema with names, so the numbers above can be read back
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from fashion_gui.atomic import atomic_write_text
from fashion_gui.catalog.queries import manipulation_queries
from fashion_gui.catalog.schema import MISSING
from fashion_gui.catalog.store import Catalog
from fashion_gui.workspace import Workspace


def _write_lines(path: Path, lines: list[str]) -> None:
    atomic_write_text(path, "\n".join(lines) + ("\n" if lines else ""))


def _rows(matrix: np.ndarray) -> list[str]:
    return [" ".join(str(int(x)) for x in row) for row in matrix]


def indicator(schema, reference: np.ndarray, target: np.ndarray) -> np.ndarray:
    """ADDE's manipulation indicator (J,): -1 at each changed type's old value, +1 at its new value."""
    out = np.zeros(schema.total_values, dtype=np.int64)
    for a, offset in enumerate(schema.offsets):
        if reference[a] != target[a]:
            if reference[a] != MISSING:
                out[offset + reference[a]] = -1
            if target[a] != MISSING:
                out[offset + target[a]] = 1
    return out


def export_adde(workspace: Workspace, out_dir: Path, seed: int = 0) -> dict[str, int]:
    """Write ADDE split files for ``workspace``'s catalog into ``out_dir``; returns lines per file."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    written: dict[str, int] = {}
    with Catalog.open(workspace.catalog_path) as catalog:
        schema = catalog.schema
        _write_lines(out_dir / "attr_num.txt", [str(n) for n in schema.sizes])
        _write_lines(out_dir / "attributes.json", [json.dumps(schema.to_dict(), indent=1)])
        row_of: dict[str, dict[int, int]] = {}
        for split in ("train", "val", "test"):
            ids = catalog.ids(split=split)
            row_of[split] = {int(i): r for r, i in enumerate(ids)}
            paths = [str(workspace.resolve_image(p)) for p in catalog.image_paths(ids)]
            _write_lines(out_dir / f"imgs_{split}.txt", paths)
            _write_lines(out_dir / f"labels_{split}.txt", _rows(catalog.one_hot(ids)))
            written[f"imgs_{split}.txt"] = len(ids)
        for split in ("val", "test"):
            queries = catalog.manipulation_queries(split)
            refs = [row_of[split][q.reference_id] for q in queries]
            ref_labels = catalog.labels([q.reference_id for q in queries]) if queries else np.zeros((0, 0))
            targets = np.array([q.target_label for q in queries], dtype=np.int64).reshape(len(queries), -1)
            _write_lines(out_dir / f"ref_{split}.txt", [str(r) for r in refs])
            _write_lines(out_dir / f"indfull_{split}.txt",
                         _rows([indicator(schema, r, t) for r, t in zip(ref_labels, targets)]))
            _write_lines(out_dir / f"gt_{split}.txt", _rows(schema.one_hot(targets)) if queries else [])
            written[f"ref_{split}.txt"] = len(queries)
        # training triplets: one per train manipulation query
        train_ids = catalog.ids(split="train")
        train_labels = catalog.labels(train_ids)
        by_label: dict[tuple, list[int]] = {}
        for r, lab in enumerate(map(tuple, train_labels.tolist())):
            by_label.setdefault(lab, []).append(r)
        triplets, indicators = [], []
        for ref_id, edits, _ in manipulation_queries(catalog, "train"):
            ref_row = row_of["train"][ref_id]
            target = catalog.edited_label(ref_id, edits)
            positives = by_label[tuple(target.tolist())]
            pos = positives[int(rng.integers(len(positives)))]
            neg = int(rng.integers(len(train_ids)))
            while tuple(train_labels[neg].tolist()) == tuple(target.tolist()):
                neg = int(rng.integers(len(train_ids)))
            triplets.append(f"{ref_row} {pos} {neg}")
            indicators.append(" ".join(str(int(x)) for x in indicator(schema, train_labels[ref_row], target)))
        _write_lines(out_dir / "triplet_train.txt", triplets)
        _write_lines(out_dir / "triplet_train_ind.txt", indicators)
        written["triplet_train.txt"] = len(triplets)
    return written
