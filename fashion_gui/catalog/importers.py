"""Importers: a folder of images plus a CSV (path, category, one column per attribute).

Every row is checked before anything is written; all problems are reported together, each naming its CSV
row (the header is row 1), and the catalog is built in a temporary file, so a bad import leaves no
partial catalog behind.
"""
from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from fashion_gui.catalog.schema import AttributeSchema, AttributeType, SchemaError
from fashion_gui.catalog.store import SPLITS, Catalog, ItemRecord
from fashion_gui.workspace import Workspace

RESERVED_COLUMNS = ("path", "category", "id", "instance_id", "split")
MAX_LISTED_PROBLEMS = 20


class ImportProblems(ValueError):
    """Everything wrong with an input file, one line per offending row."""

    def __init__(self, source: Path, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[:MAX_LISTED_PROBLEMS]
        more = len(problems) - len(shown)
        lines = "\n".join(f"  - {p}" for p in shown) + (f"\n  ... and {more} more" if more else "")
        super().__init__(f"cannot import {source}: {len(problems)} problem(s), nothing was written\n{lines}")


@dataclass(frozen=True)
class CsvImportOptions:
    """How to read the CSV.

    images_root:  folder the ``path`` column is relative to (default: the CSV's folder)
    schema_path:  a JSON schema (AttributeSchema.to_dict) to validate values against; without it the
                  schema is inferred (values sorted, a type applies to the categories where it occurs)
    split_fractions: train/val/test fractions by instance when the CSV has no ``split`` column
    check_images: open every image to catch unreadable files (slow for very large catalogs)
    """

    images_root: Path | None = None
    schema_path: Path | None = None
    split_fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)
    check_images: bool = True


def _split_for(instance_id: str, fractions: tuple[float, float, float]) -> str:
    """Deterministic split by a hash of the instance id (all photos of an instance share a split)."""
    u = int(hashlib.sha1(instance_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "train" if u < fractions[0] else "val" if u < fractions[0] + fractions[1] else "test"


def _infer_schema(rows: list[dict[str, str]], attribute_columns: list[str]) -> AttributeSchema:
    categories = tuple(sorted({r["category"] for r in rows if r["category"]}))
    types = []
    for col in attribute_columns:
        values = sorted({r[col] for r in rows if r[col]})
        if not values:
            continue
        cats = {r["category"] for r in rows if r[col]}
        types.append(AttributeType(col, tuple(values), () if cats == set(categories) else tuple(sorted(cats))))
    return AttributeSchema(categories=categories, types=tuple(types))


def read_csv(csv_path: Path, options: CsvImportOptions) -> tuple[AttributeSchema, list[ItemRecord]]:
    """Parse and validate; raises ImportProblems listing every bad row."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise ImportProblems(csv_path, [f"{csv_path} does not exist"])
    with csv_path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        rows = [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in reader]
    missing = [c for c in ("path", "category") if c not in header]
    if missing:
        raise ImportProblems(csv_path, [
            f"missing column(s) {', '.join(missing)}; the header has: {', '.join(header) or '(empty)'}; "
            "required: path, category; optional: id, instance_id, split; every other column is an attribute"
        ])
    if not rows:
        raise ImportProblems(csv_path, ["the CSV has a header but no rows"])
    attribute_columns = [h for h in header if h not in RESERVED_COLUMNS]

    problems: list[str] = []
    if options.schema_path is not None:
        schema = AttributeSchema.from_dict(json.loads(Path(options.schema_path).read_text()))
        unknown_cols = [c for c in attribute_columns if c not in schema.names]
        if unknown_cols:
            problems.append(f"columns {unknown_cols} are not attribute types of the schema {schema.names}")
    else:
        schema = _infer_schema(rows, attribute_columns)

    root = Path(options.images_root) if options.images_root else csv_path.parent
    ids = Counter(r.get("id", "") for r in rows if r.get("id"))
    paths = Counter(r["path"] for r in rows)
    records = []
    for n, row in enumerate(rows, start=2):
        where = f"row {n} ({row['path'] or 'no path'})"
        if not row["path"]:
            problems.append(f"{where}: empty path")
            continue
        if paths[row["path"]] > 1:
            problems.append(f"{where}: duplicate path, listed {paths[row['path']]} times")
        item_id = None
        if row.get("id"):
            if not row["id"].isdigit():
                problems.append(f"{where}: id {row['id']!r} is not a non-negative integer")
            elif ids[row["id"]] > 1:
                problems.append(f"{where}: duplicate id {row['id']}")
            else:
                item_id = int(row["id"])
        if row["category"] not in schema.categories:
            problems.append(f"{where}: unknown category {row['category']!r}; known: {', '.join(schema.categories)}")
        attributes = {}
        for col in attribute_columns:
            value = row[col]
            if not value or col not in schema.names:
                continue
            try:
                schema.type(col).index(value)
                attributes[col] = value
            except SchemaError as exc:
                problems.append(f"{where}: {exc}")
        split = row.get("split") or ""
        instance = row.get("instance_id") or row["path"]
        if split and split not in SPLITS:
            problems.append(f"{where}: unknown split {split!r}; use one of {', '.join(SPLITS)}")
        image = (root / row["path"]).resolve()
        if not image.is_file():
            problems.append(f"{where}: image file not found at {image}")
        elif options.check_images:
            try:
                with Image.open(image) as im:
                    im.verify()
            except (UnidentifiedImageError, OSError, SyntaxError) as exc:
                problems.append(f"{where}: unreadable image {image}: {exc}")
        records.append(ItemRecord(
            image_path=str(image), category=row["category"], instance_id=instance,
            split=split or _split_for(instance, options.split_fractions), attributes=attributes,
            source=csv_path.name, id=item_id,
        ))
    if problems:
        raise ImportProblems(csv_path, problems)
    return schema, records


def import_csv(workspace: Workspace, csv_path: Path, options: CsvImportOptions = CsvImportOptions(),
               *, force: bool = False) -> dict:
    """Build ``workspace``'s catalog from a CSV; returns the catalog counts."""
    schema, records = read_csv(Path(csv_path), options)
    with Catalog.build(workspace.catalog_path, schema, name=Path(csv_path).stem, overwrite=force) as catalog:
        catalog.add_items(records)
        catalog.set_meta("import", {"format": "csv", "source": str(Path(csv_path).resolve())})
        counts = catalog.counts()
    return counts
