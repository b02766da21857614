"""Importers: a folder of images plus a CSV (path, category, one column per attribute).

Every row is checked before anything is written; all problems are reported together, each naming its CSV
row (the header is row 1), and the catalog is built in a temporary file, so a bad import leaves no
partial catalog behind. A file that is not a CSV (a folder, another encoding, a malformed row, a schema JSON
of the wrong shape) is refused with a message naming the file and, where there is one, the row.
"""
from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import os
import stat
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from fashion_gui.catalog.images import ImageError, ImageNotFoundError, check_image_path, probe_image
from fashion_gui.catalog.schema import AttributeSchema, AttributeType, SchemaError
from fashion_gui.catalog.store import SPLITS, Catalog, CatalogError, ItemRecord
from fashion_gui.catalog.writer import catalog_writer, drop_derived
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


SQLITE_MAX_ID = 2**63 - 1  # SQLite's INTEGER PRIMARY KEY range


def _check_input_file(path: Path, what: str) -> None:
    """An input file that exists and is a regular file; ImportProblems saying what it is otherwise."""
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ImportProblems(path, [f"{path} is a symbolic link loop; fix or remove the link"]) from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise ImportProblems(path, [f"{path} does not exist; check the path of the {what}"]) from None
        raise ImportProblems(path, [f"{path} cannot be read ({exc.strerror}); check its permissions"]) from None
    except ValueError as exc:  # an embedded NUL byte
        raise ImportProblems(path, [f"{path!r} is not a valid path ({exc})"]) from None
    if stat.S_ISDIR(st.st_mode):
        raise ImportProblems(path, [f"{path} is a folder, not a {what}; give the {what} inside it"])
    if not stat.S_ISREG(st.st_mode):
        raise ImportProblems(path, [f"{path} is not a regular file; give the {what}"])


def read_schema(schema_path: Path) -> AttributeSchema:
    """A JSON attribute schema (``AttributeSchema.to_dict``); ImportProblems naming the file when it is not one."""
    schema_path = Path(schema_path)
    _check_input_file(schema_path, "schema JSON file")
    try:
        data = json.loads(schema_path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ImportProblems(schema_path, [f"{schema_path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} "
                                           f"at offset {exc.start}); save it as UTF-8 JSON"]) from None
    except json.JSONDecodeError as exc:
        raise ImportProblems(schema_path, [f"{schema_path} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                                           f"column {exc.colno}"]) from None
    shape = ('expected {"categories": [names...], "types": [{"name": ..., "values": [...], "categories": '
             '[...]}...]} (the attributes.json `fashion catalog export` writes)')
    try:
        if not isinstance(data, dict):
            raise TypeError(f"the top level is a JSON {type(data).__name__}")
        if not isinstance(data.get("categories"), list) or not isinstance(data.get("types"), list):
            raise KeyError("categories and types must be lists")
        for t in data["types"]:
            if not isinstance(t, dict) or not isinstance(t.get("name"), str) or not isinstance(t.get("values"), list):
                raise TypeError(f"attribute type {t!r} needs a name and a list of values")
        return AttributeSchema.from_dict(data)
    except SchemaError as exc:
        raise ImportProblems(schema_path, [f"{schema_path}: {exc}"]) from None
    except (KeyError, TypeError, ValueError) as exc:
        detail = exc.args[0] if exc.args else type(exc).__name__
        raise ImportProblems(schema_path, [f"{schema_path} has the wrong shape ({detail}); {shape}"]) from None


def _decode(csv_path: Path) -> str:
    data = csv_path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ImportProblems(csv_path, [
            f"line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); save the CSV as UTF-8 (in a "
            "spreadsheet: \"CSV UTF-8\"), e.g. `iconv -f latin1 -t utf-8`"]) from None


def _rows(csv_path: Path, problems: list[str]) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header and ``(CSV row number, {column: cell})`` rows; malformed rows become problems."""
    reader = csv.reader(io.StringIO(_decode(csv_path), newline=""), strict=True)
    try:
        header = [h.strip() for h in next(reader, [])]
    except csv.Error as exc:
        raise ImportProblems(csv_path, [f"row 1 (the header): {exc}"]) from None
    rows = []
    line_start = 2
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(f"row {line_start}: {exc}; check the quoting (a quote may be unclosed, or a field too "
                            "long)")
            line_start = reader.line_num + 1
            continue
        number, line_start = line_start, reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue  # blank line
        if any("\0" in c for c in cells):
            problems.append(f"row {number}: contains a NUL byte; is this really a CSV text file?")
            continue
        if len(cells) > len(header):
            problems.append(f"row {number}: {len(cells)} fields but the header has {len(header)}; "
                            "quote fields that contain commas")
            continue
        cells = cells + [""] * (len(header) - len(cells))
        rows.append((number, {h: c.strip() for h, c in zip(header, cells)}))
    return header, rows


def read_csv(csv_path: Path, options: CsvImportOptions) -> tuple[AttributeSchema, list[ItemRecord]]:
    """Parse and validate; raises ImportProblems listing every bad row (or naming the bad file)."""
    csv_path = Path(csv_path)
    _check_input_file(csv_path, "CSV file")
    problems: list[str] = []
    header, rows = _rows(csv_path, problems)
    missing = [c for c in ("path", "category") if c not in header]
    if missing:
        raise ImportProblems(csv_path, [
            f"missing column(s) {', '.join(missing)}; the header has: {', '.join(header) or '(empty)'}; "
            "required: path, category; optional: id, instance_id, split; every other column is an attribute"
        ])
    unnamed = [str(i + 1) for i, h in enumerate(header) if not h]
    repeated = sorted({h for h in header if h and header.count(h) > 1})
    if unnamed or repeated:
        parts = ([f"column(s) {', '.join(unnamed)} have no name"] if unnamed else []) + (
            [f"column(s) {', '.join(repeated)} appear twice"] if repeated else [])
        raise ImportProblems(csv_path, [f"row 1 (the header): {'; '.join(parts)}"])
    if not rows and not problems:
        raise ImportProblems(csv_path, ["the CSV has a header but no rows"])
    attribute_columns = [h for h in header if h not in RESERVED_COLUMNS]

    if options.schema_path is not None:
        schema = read_schema(Path(options.schema_path))
        unknown_cols = [c for c in attribute_columns if c not in schema.names]
        if unknown_cols:
            problems.append(f"columns {unknown_cols} are not attribute types of the schema {schema.names}")
    else:
        try:
            schema = _infer_schema([r for _, r in rows], attribute_columns)
        except SchemaError as exc:
            raise ImportProblems(csv_path, problems + [str(exc)]) from None

    root = Path(options.images_root) if options.images_root else csv_path.parent
    ids = Counter(r.get("id", "") for _, r in rows if r.get("id"))
    paths = Counter(r["path"] for _, r in rows)
    records = []
    first_row_of: dict[str, int] = {}  # resolved image file -> the row that names it first
    for n, row in rows:
        where = f"row {n} ({row['path'] or 'no path'})"
        if not row["path"]:
            problems.append(f"{where}: empty path")
            continue
        if paths[row["path"]] > 1:
            problems.append(f"{where}: duplicate path, listed {paths[row['path']]} times")
        item_id = None
        if row.get("id"):
            if not row["id"].isascii() or not row["id"].isdigit():
                problems.append(f"{where}: id {row['id']!r} is not a non-negative integer")
            elif int(row["id"]) > SQLITE_MAX_ID:
                problems.append(f"{where}: id {row['id']} is too large (the largest is {SQLITE_MAX_ID})")
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
        image = root / row["path"]
        try:
            if options.check_images:
                probe_image(image)
            else:
                check_image_path(image)
            resolved = os.path.realpath(image)
        except ImageNotFoundError:
            problems.append(f"{where}: image file not found at {image}")
            continue
        except ImageError as exc:
            problems.append(f"{where}: unreadable image {exc}")
            continue
        if resolved in first_row_of and paths[row["path"]] == 1:
            problems.append(f"{where}: the same image file as row {first_row_of[resolved]} ({resolved}); "
                            "a catalog item needs its own file")
        first_row_of.setdefault(resolved, n)
        records.append(ItemRecord(
            image_path=resolved, category=row["category"], instance_id=instance,
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
    if workspace.exists() and not force:
        raise CatalogError(f"{workspace.catalog_path} already exists; pass --force to replace it")
    with catalog_writer(workspace):
        # the old catalog's gallery features and indexes must not serve this one: dropped just before it lands
        with Catalog.build(workspace.catalog_path, schema, name=Path(csv_path).stem, overwrite=force,
                           before_commit=lambda: drop_derived(workspace)) as catalog:
            catalog.add_items(records)
            catalog.set_meta("import", {"format": "csv", "source": os.path.realpath(csv_path)})
            counts = catalog.counts()
    return counts
