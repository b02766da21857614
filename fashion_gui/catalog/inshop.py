"""Importer for DeepFashion In-Shop Clothes Retrieval (Liu et al. 2016; the data of cooperative embeddings'
In-Shop Clothes-8).

Reads, from the dataset folder (``Eval/`` and ``Anno/`` subfolders or the files beside each other):

* ``list_eval_partition.txt`` -- a count line, a header, then ``image_name item_id evaluation_status`` with
  status train / query / gallery: the item id is the instance, the status its split;
* ``list_bbox_inshop.txt`` -- ``image_name clothes_type pose_type x_1 y_1 x_2 y_2``: each image is cropped
  to its box (copies under ``<workspace>/images/inshop/``; ``crop=False`` keeps the originals in place);
* optionally ``list_attr_cloth.txt`` (attribute names, with an optional type column 1-5 = texture, fabric,
  shape, part, style) and ``list_attr_items.txt`` (``item_id`` then one 1 / -1 (or 0) per attribute): with
  types, each type is one attribute of the schema whose value is the item's first positive attribute of
  that type (missing when none); without types, every attribute is a type with values no / yes.

The category is the clothes folder of the image path (``img/WOMEN/Dresses/id_.../x.jpg`` -> ``Dresses``), the
gender folder an attribute (``gender``: MEN / WOMEN). In-Shop has no validation split: ``val_fraction`` of
the training items (whole items, by a hash of the id) become one. Problems are reported together, naming
the file and line; nothing is written unless every line reads.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from fashion_gui.catalog.images import ImageError, open_image
from fashion_gui.catalog.importers import ImportProblems
from fashion_gui.catalog.schema import AttributeSchema, AttributeType
from fashion_gui.catalog.store import Catalog, CatalogError, ItemRecord
from fashion_gui.catalog.writer import catalog_writer, drop_derived
from fashion_gui.workspace import Workspace

PARTITION = "list_eval_partition.txt"
BBOX = "list_bbox_inshop.txt"
ATTR_NAMES = "list_attr_cloth.txt"
ATTR_ITEMS = "list_attr_items.txt"
ATTRIBUTE_GROUPS = {1: "texture", 2: "fabric", 3: "shape", 4: "part", 5: "style"}
STATUSES = {"train", "query", "gallery"}
CROP_FOLDER = Path("images") / "inshop"


@dataclass(frozen=True)
class InShopOptions:
    crop: bool = True
    val_fraction: float = 0.1


def find_file(root: Path, name: str, required: bool = True) -> Path | None:
    for candidate in (root / name, root / "Eval" / name, root / "Anno" / name):
        if candidate.is_file():
            return candidate
    if required:
        raise FileNotFoundError(f"{root} has no {name} (looked in {root}, {root / 'Eval'}, {root / 'Anno'})")
    return None


def _lines(path: Path, min_fields: int, problems: list[str]) -> list[tuple[int, list[str]]]:
    """The data lines (after the count and header lines) split on whitespace, with their line numbers."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        problems.append(f"{path} is not UTF-8 text")
        return []
    lines = text.splitlines()
    if len(lines) < 2 or not lines[0].strip().isdigit():
        problems.append(f"{path}: line 1 should be the number of entries, then a header line")
        return []
    rows = []
    for number, line in enumerate(lines[2:], start=3):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < min_fields:
            problems.append(f"{path} line {number}: expected at least {min_fields} fields, got {len(fields)}")
            continue
        rows.append((number, fields))
    if int(lines[0].strip()) != len(rows):
        problems.append(f"{path}: line 1 says {lines[0].strip()} entries, the file has {len(rows)}")
    return rows


def read_partition(path: Path, problems: list[str]) -> list[tuple[str, str, str]]:
    out = []
    for number, (name, item, status, *_) in _lines(path, 3, problems):
        if status not in STATUSES:
            problems.append(f"{path} line {number}: evaluation_status {status!r} is not train, query or gallery")
            continue
        out.append((name, item, status))
    return out


def read_bboxes(path: Path, problems: list[str]) -> dict[str, tuple[int, int, int, int]]:
    out = {}
    for number, fields in _lines(path, 7, problems):
        try:
            x1, y1, x2, y2 = (int(v) for v in fields[3:7])
        except ValueError:
            problems.append(f"{path} line {number}: the box {fields[3:7]} is not four integers")
            continue
        if x2 <= x1 or y2 <= y1:
            problems.append(f"{path} line {number}: empty box ({x1}, {y1}, {x2}, {y2})")
            continue
        out[fields[0]] = (x1, y1, x2, y2)
    return out


def read_attributes(names_path: Path, items_path: Path, problems: list[str]
                    ) -> tuple[list[AttributeType], dict[str, dict[str, str]]]:
    """Attribute types and each item's values (see the module docstring)."""
    names: list[tuple[str, int | None]] = []
    for _, fields in _lines(names_path, 1, problems):
        if len(fields) > 1 and fields[-1].isdigit() and int(fields[-1]) in ATTRIBUTE_GROUPS:
            names.append((" ".join(fields[:-1]), int(fields[-1])))
        else:
            names.append((" ".join(fields), None))
    grouped = bool(names) and all(g is not None for _, g in names)
    values: dict[str, dict[str, str]] = {}
    for number, fields in _lines(items_path, 1 + len(names), problems):
        item, flags = fields[0], fields[1:1 + len(names)]
        if any(f not in ("1", "-1", "0") for f in flags):
            problems.append(f"{items_path} line {number}: attribute labels must be 1, -1 or 0")
            continue
        item_values: dict[str, str] = {}
        for (name, group), flag in zip(names, flags):
            if grouped:
                if flag == "1":
                    item_values.setdefault(ATTRIBUTE_GROUPS[group], name)
            else:
                item_values[name] = "yes" if flag == "1" else "no"
        values[item] = item_values
    if grouped:
        types = [AttributeType(ATTRIBUTE_GROUPS[g], tuple(n for n, gg in names if gg == g))
                 for g in sorted({g for _, g in names})]
    else:
        types = [AttributeType(n, ("no", "yes")) for n, _ in names]
    return types, values


def _category_and_gender(image_name: str) -> tuple[str, str] | None:
    parts = Path(image_name).parts
    if len(parts) < 4 or parts[0] != "img":
        return None
    return parts[2], parts[1]


def _val(item_id: str, fraction: float) -> bool:
    return int(hashlib.sha1(item_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < fraction


def read_inshop(root: Path, options: InShopOptions = InShopOptions()
                ) -> tuple[AttributeSchema, list[ItemRecord], dict[str, tuple[int, int, int, int]]]:
    """The schema, the items and the boxes of an In-Shop folder; ImportProblems lists everything wrong."""
    root = Path(root)
    problems: list[str] = []
    partition_path = find_file(root, PARTITION)
    partition = read_partition(partition_path, problems)
    bbox_path = find_file(root, BBOX, required=options.crop)
    boxes = read_bboxes(bbox_path, problems) if bbox_path is not None else {}
    names_path, items_path = find_file(root, ATTR_NAMES, False), find_file(root, ATTR_ITEMS, False)
    types, item_values = (read_attributes(names_path, items_path, problems)
                          if names_path is not None and items_path is not None else ([], {}))
    categories: list[str] = []
    genders: set[str] = set()
    records = []
    for name, item, status in partition:
        cg = _category_and_gender(name)
        if cg is None:
            problems.append(f"{partition_path}: {name!r} is not img/<gender>/<category>/<item>/<file>")
            continue
        if options.crop and name not in boxes:
            problems.append(f"{bbox_path}: no box for {name}")
            continue
        category, gender = cg
        if category not in categories:
            categories.append(category)
        genders.add(gender)
        split = "val" if status == "train" and _val(item, options.val_fraction) else status
        path = (CROP_FOLDER / name).as_posix() if options.crop else str((root / name).resolve())
        records.append(ItemRecord(path, category, item, split, {"gender": gender, **item_values.get(item, {})},
                                  source=name))
    if not records and not problems:
        problems.append(f"{partition_path} lists no images")
    if problems:
        raise ImportProblems(partition_path, problems)
    schema = AttributeSchema(tuple(categories), (AttributeType("gender", tuple(sorted(genders))), *types))
    return schema, records, boxes


def import_inshop(workspace: Workspace, root: Path, options: InShopOptions = InShopOptions(), *,
                  force: bool = False) -> dict:
    """Build ``workspace``'s catalog from an In-Shop folder (crops written first); returns the counts."""
    schema, records, boxes = read_inshop(Path(root), options)
    if workspace.exists() and not force:
        raise CatalogError(f"{workspace.catalog_path} already exists; pass --force to replace it")
    with catalog_writer(workspace):
        if options.crop:
            for rec in records:
                crop_image(Path(root) / rec.source, workspace.root / rec.image_path, boxes[rec.source])
        with Catalog.build(workspace.catalog_path, schema, name="inshop", overwrite=force,
                           before_commit=lambda: drop_derived(workspace)) as catalog:
            catalog.add_items(records)
            catalog.set_meta("import", {"format": "inshop", "source": os.path.realpath(root)})
            counts = catalog.counts()
    return counts


def crop_image(source: Path, target: Path, box: tuple[int, int, int, int]) -> None:
    """The box of ``source`` (clamped to the image) saved as ``target`` (JPEG, written then renamed)."""
    try:
        image = open_image(source)
    except ImageError as exc:
        raise ImageError(f"In-Shop image {source}: {exc}") from None
    x1, y1, x2, y2 = box
    w, h = image.size
    cropped = image.crop((max(0, x1), max(0, y1), min(w, x2), min(h, y2))).convert("RGB")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    cropped.save(tmp, format="JPEG", quality=95)
    os.replace(tmp, target)


__all__ = ["InShopOptions", "import_inshop", "read_inshop"]
