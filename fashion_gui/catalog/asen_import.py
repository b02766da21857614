"""Import (and export) the ASEN data format: FashionAI, DARN and DeepFashion attribute splits as the ASEN
code distributes them (REFERENCE.md, "Dataset formats"):

* ``meta.json``: ``ATTRIBUTES`` (ordered names) and ``ATTRIBUTES_VALUES`` (name -> ordered value names);
* ``filenames_{train,valid,test}.txt``: one image path per line (relative to the dataset folder); a file
  index ``fid`` is a 0-based line number of its split's file;
* ``label_train.txt``: lines ``fid a v [a v ...]`` (attribute index, value index pairs);
* ``{query,candidate}_{valid,test}.txt``: lines ``fid a v``: the evaluation protocol, stored in the catalog
  as its per-attribute query / candidate sets (``catalog/attribute_protocol.py``).

Every image becomes one catalog item of one category (``garment``; the ASEN datasets have none) and its own
product; ``valid`` is the catalog's ``val`` split. Every problem is collected and reported together, naming
the file and line, before anything is written.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from fashion_gui.catalog.attribute_protocol import AttributeQueries, attribute_protocol, store_protocol
from fashion_gui.catalog.images import ImageError, probe_image
from fashion_gui.catalog.importers import ImportProblems
from fashion_gui.catalog.schema import AttributeSchema, AttributeType
from fashion_gui.catalog.store import Catalog, CatalogError, ItemRecord
from fashion_gui.catalog.writer import catalog_writer, drop_derived
from fashion_gui.workspace import Workspace

CATEGORY = "garment"
SPLITS = {"train": "train", "valid": "val", "test": "test"}  # ASEN file suffix -> catalog split
EVAL_SPLITS = ("valid", "test")


def _lines(path: Path, problems: list[str], required: bool = True) -> list[str]:
    if not path.is_file():
        if required:
            problems.append(f"{path}: missing (an ASEN dataset folder has meta.json, filenames_*.txt, "
                            "label_train.txt, query_* and candidate_* files)")
        return []
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path}: cannot be read ({exc})")
        return []


def read_meta(folder: Path, problems: list[str]) -> AttributeSchema | None:
    path = folder / "meta.json"
    if not path.is_file():
        problems.append(f"{path}: missing; it names the attributes (ATTRIBUTES) and their values (ATTRIBUTES_VALUES)")
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        names = [str(n) for n in meta["ATTRIBUTES"]]
        types = tuple(AttributeType(n, tuple(str(v) for v in meta["ATTRIBUTES_VALUES"][n])) for n in names)
        return AttributeSchema(categories=(CATEGORY,), types=types)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        problems.append(f"{path}: not an ASEN meta file ({type(exc).__name__}: {exc}); it needs ATTRIBUTES and "
                        "ATTRIBUTES_VALUES")
        return None


def _triples(path: Path, lines: list[str], n_files: int, schema: AttributeSchema, problems: list[str],
             pairs: bool = False) -> list[tuple[int, int, int, int]]:
    """Lines ``fid a v`` (or ``fid a v a v ...`` with ``pairs``) -> (line number, fid, a, v), checked."""
    out = []
    for number, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts:
            continue
        bad = len(parts) < 3 or (len(parts) - 1) % 2 or (not pairs and len(parts) != 3)
        try:
            values = [int(p) for p in parts]
        except ValueError:
            bad = True
        if bad:
            problems.append(f"{path} line {number}: expected \"fid attribute value\"{' pairs' if pairs else ''}, "
                            f"got {line!r}")
            continue
        fid = values[0]
        if not 0 <= fid < n_files:
            problems.append(f"{path} line {number}: file index {fid} is not a line of its filenames file "
                            f"({n_files} lines)")
            continue
        for a, v in zip(values[1::2], values[2::2]):
            if not 0 <= a < len(schema.types):
                problems.append(f"{path} line {number}: attribute index {a} out of range (meta.json has "
                                f"{len(schema.types)})")
            elif not 0 <= v < len(schema.types[a].values):
                problems.append(f"{path} line {number}: value {v} out of range for {schema.types[a].name} "
                                f"({len(schema.types[a].values)} values)")
            else:
                out.append((number, fid, a, v))
    return out


def read_asen(folder: Path, check_images: bool = True):
    """-> (schema, records, protocol rows ``{split: {attr: {"queries": [(split, fid)], "candidates": [...]}}}``)."""
    folder = Path(folder)
    problems: list[str] = []
    if not folder.is_dir():
        raise ImportProblems(folder, [f"{folder}: not a folder (pass the ASEN dataset folder)"])
    schema = read_meta(folder, problems)
    if schema is None:
        raise ImportProblems(folder, problems)
    files = {s: [ln.strip() for ln in _lines(folder / f"filenames_{s}.txt", problems) if ln.strip()] for s in SPLITS}
    labels: dict[tuple[str, int], dict[str, str]] = {}

    def assign(split: str, path: Path, number: int, fid: int, a: int, v: int) -> None:
        attrs = labels.setdefault((split, fid), {})
        name, value = schema.types[a].name, schema.types[a].values[v]
        if attrs.get(name, value) != value:
            problems.append(f"{path} line {number}: file {fid} has {name} {value!r} here and {attrs[name]!r} elsewhere")
        attrs[name] = value

    path = folder / "label_train.txt"
    for number, fid, a, v in _triples(path, _lines(path, problems), len(files["train"]), schema, problems, pairs=True):
        assign("train", path, number, fid, a, v)
    protocol: dict[str, dict[str, dict[str, list]]] = {}
    for split in EVAL_SPLITS:
        for role in ("query", "candidate"):
            path = folder / f"{role}_{split}.txt"
            for number, fid, a, v in _triples(path, _lines(path, problems), len(files[split]), schema, problems):
                assign(split, path, number, fid, a, v)
                per = protocol.setdefault(SPLITS[split], {}).setdefault(schema.types[a].name,
                                                                         {"queries": [], "candidates": []})
                per["queries" if role == "query" else "candidates"].append((split, fid))
    records = []
    for split, names in files.items():
        for fid, name in enumerate(names):
            image = folder / name
            if check_images:
                try:
                    probe_image(image)
                except ImageError as exc:
                    problems.append(f"{folder / f'filenames_{split}.txt'} line {fid + 1}: {exc}")
                    continue
            records.append(ItemRecord(image_path=str(image.resolve()), category=CATEGORY,
                                      instance_id=f"{split}/{fid}", split=SPLITS[split],
                                      attributes=labels.get((split, fid), {}), source=f"{split}:{fid}"))
    if problems:
        raise ImportProblems(folder, problems)
    return schema, records, protocol


def import_asen(workspace: Workspace, folder: Path, *, force: bool = False, check_images: bool = True) -> dict:
    """Build ``workspace``'s catalog from an ASEN dataset folder, with its query / candidate protocol."""
    schema, records, protocol = read_asen(Path(folder), check_images)
    if workspace.exists() and not force:
        raise CatalogError(f"{workspace.catalog_path} already exists; pass --force to replace it")
    with catalog_writer(workspace):
        with Catalog.build(workspace.catalog_path, schema, name=Path(folder).name, overwrite=force,
                           before_commit=lambda: drop_derived(workspace)) as catalog:
            ids = catalog.add_items(records)
            item = {tuple(r.source.split(":")): i for r, i in zip(records, ids)}
            stored = {split: {name: AttributeQueries(
                name, np.array([item[(s, str(f))] for s, f in sets["queries"] if (s, str(f)) in item], dtype=np.int64),
                np.array([item[(s, str(f))] for s, f in sets["candidates"] if (s, str(f)) in item], dtype=np.int64))
                for name, sets in per.items()} for split, per in protocol.items()}
            store_protocol(catalog, stored, f"the dataset's query / candidate files ({os.path.realpath(folder)})")
            catalog.set_meta("import", {"format": "asen", "source": os.path.realpath(folder)})
            counts = catalog.counts()
    return counts


def export_asen(catalog: Catalog, out: Path, relative_to: Path | None = None) -> None:
    """Write the catalog in the ASEN format (the inverse of :func:`import_asen`); image paths as stored, or
    relative to ``relative_to`` when they lie under it."""
    out = Path(out)

    def shown(path: str) -> str:
        if relative_to is not None and os.path.isabs(path):
            rel = os.path.relpath(path, Path(relative_to).resolve())
            return path if rel.startswith("..") else Path(rel).as_posix()
        return path

    out.mkdir(parents=True, exist_ok=True)
    schema = catalog.schema
    meta = {"ATTRIBUTES": list(schema.names), "ATTRIBUTES_NUM": {t.name: len(t.values) for t in schema.types},
            "ATTRIBUTES_VALUES": {t.name: list(t.values) for t in schema.types}}
    (out / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    fid: dict[int, int] = {}
    for suffix, split in SPLITS.items():
        ids = catalog.ids(split=split)
        fid.update({int(i): n for n, i in enumerate(ids.tolist())})
        (out / f"filenames_{suffix}.txt").write_text("".join(f"{shown(p)}\n" for p in catalog.image_paths(ids)), encoding="utf-8")
        if split == "train":
            labels = catalog.labels(ids)
            lines = [" ".join([str(n)] + [f"{a} {v}" for a, v in enumerate(row) if v >= 0])
                     for n, row in enumerate(labels.tolist()) if (np.asarray(row) >= 0).any()]
            (out / "label_train.txt").write_text("".join(f"{ln}\n" for ln in lines), encoding="utf-8")
    for suffix in EVAL_SPLITS:
        protocol = attribute_protocol(catalog, SPLITS[suffix])
        for role, key in (("query", "queries"), ("candidate", "candidates")):
            lines = []
            for name, q in protocol.items():
                a = schema.type_index(name)
                ids = getattr(q, key)
                for i, v in zip(ids.tolist(), catalog.labels(ids)[:, a].tolist() if len(ids) else []):
                    lines.append(f"{fid[int(i)]} {a} {v}")
            (out / f"{role}_{suffix}.txt").write_text("".join(f"{ln}\n" for ln in lines), encoding="utf-8")
