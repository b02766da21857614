"""SQLite catalog store: ``<workspace>/catalog.sqlite``.

Holds items (id, image path, category, instance id, split, source), the attribute schema, each item's
values (missing allowed), outfits, feedback triplets (TGR / VCR) and manipulation queries. A new catalog
is always built in a temporary file and renamed into place when complete, so an interrupted build or a
failed import never leaves a partial catalog behind. Reads are served from an in-memory table loaded at
open, so label lookups for training and evaluation are numpy indexing, not SQL.
"""
from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fashion_gui.atomic import crash_point, fsync_dir, naming, temp_prefix
from fashion_gui.catalog.schema import MISSING, AttributeSchema

SCHEMA_VERSION = 1
SPLITS = ("train", "val", "test", "query", "gallery")
FEEDBACK_KINDS = ("TGR", "VCR")

_DDL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE categories (
    id INTEGER PRIMARY KEY, position INTEGER NOT NULL UNIQUE, name TEXT NOT NULL UNIQUE);
CREATE TABLE attribute_types (
    id INTEGER PRIMARY KEY, position INTEGER NOT NULL UNIQUE, name TEXT NOT NULL UNIQUE, noun TEXT NOT NULL);
CREATE TABLE attribute_values (
    id INTEGER PRIMARY KEY, type_id INTEGER NOT NULL REFERENCES attribute_types(id),
    position INTEGER NOT NULL, name TEXT NOT NULL, UNIQUE (type_id, position), UNIQUE (type_id, name));
CREATE TABLE type_categories (
    type_id INTEGER NOT NULL REFERENCES attribute_types(id),
    category_id INTEGER NOT NULL REFERENCES categories(id), PRIMARY KEY (type_id, category_id));
CREATE TABLE items (
    id INTEGER PRIMARY KEY, image_path TEXT NOT NULL UNIQUE,
    category_id INTEGER NOT NULL REFERENCES categories(id), instance_id TEXT NOT NULL,
    split TEXT NOT NULL CHECK (split IN ('train', 'val', 'test', 'query', 'gallery')),
    source TEXT NOT NULL DEFAULT '');
CREATE INDEX items_split ON items (split);
CREATE INDEX items_category ON items (category_id);
CREATE INDEX items_instance ON items (instance_id);
CREATE TABLE item_values (
    item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    type_id INTEGER NOT NULL REFERENCES attribute_types(id),
    value_id INTEGER NOT NULL REFERENCES attribute_values(id),
    PRIMARY KEY (item_id, type_id)) WITHOUT ROWID;
CREATE TABLE outfits (
    id INTEGER PRIMARY KEY, style TEXT NOT NULL DEFAULT '',
    split TEXT NOT NULL CHECK (split IN ('train', 'val', 'test', 'query', 'gallery')));
CREATE TABLE outfit_items (
    outfit_id INTEGER NOT NULL REFERENCES outfits(id) ON DELETE CASCADE,
    item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    position INTEGER NOT NULL, PRIMARY KEY (outfit_id, item_id));
CREATE TABLE feedback_triplets (
    id INTEGER PRIMARY KEY,
    reference_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    target_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    text TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('TGR', 'VCR')),
    split TEXT NOT NULL CHECK (split IN ('train', 'val', 'test', 'query', 'gallery')));
CREATE INDEX feedback_kind ON feedback_triplets (kind, split);
CREATE TABLE manipulation_queries (
    id INTEGER PRIMARY KEY,
    reference_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    edits TEXT NOT NULL, target_label TEXT NOT NULL,
    split TEXT NOT NULL CHECK (split IN ('train', 'val', 'test', 'query', 'gallery')));
"""


class CatalogError(RuntimeError):
    """A catalog that cannot be opened or a request it cannot answer; the message says what to do."""


@dataclass(frozen=True)
class ItemRecord:
    """An item to add. ``attributes`` maps type name -> value name; absent types are missing."""

    image_path: str
    category: str
    instance_id: str
    split: str
    attributes: dict[str, str] = field(default_factory=dict)
    source: str = ""
    id: int | None = None


@dataclass(frozen=True)
class Item:
    id: int
    image_path: str
    category: str
    instance_id: str
    split: str
    source: str
    attributes: dict[str, str]


@dataclass(frozen=True)
class Outfit:
    id: int
    style: str
    split: str
    item_ids: tuple[int, ...]


@dataclass(frozen=True)
class FeedbackTriplet:
    id: int
    reference_id: int
    target_id: int
    text: str
    kind: str
    split: str


@dataclass(frozen=True)
class ManipulationQuery:
    """ADDE protocol query: ``edits`` type -> new value; ``target_label`` value indices (A,), -1 missing."""

    id: int
    reference_id: int
    edits: dict[str, str]
    target_label: tuple[int, ...]
    split: str


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise CatalogError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")


class Catalog:
    """An open catalog. Use :meth:`open` for an existing file and :meth:`build` to create one atomically."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self.schema = self._read_schema()
        self._load_items()

    # --- opening and creating ----------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike) -> "Catalog":
        path = Path(path)
        if not path.is_file():
            raise CatalogError(
                f"no catalog at {path}; create one with `fashion catalog demo --workspace {path.parent}` "
                f"or `fashion catalog import --workspace {path.parent} ...`"
            )
        try:
            conn = _connect(path)
        except sqlite3.Error as exc:
            raise CatalogError(sqlite_problem(path, exc)) from exc
        try:
            version = _read_meta(conn, "schema_version")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise CatalogError(f"{path} is not a fashion-gui catalog ({exc}); rebuild it or pick another workspace") from exc
        if version is None or not str(version).isdigit() or int(version) != SCHEMA_VERSION:
            conn.close()
            raise CatalogError(
                f"{path} has catalog schema version {version}, this program reads version {SCHEMA_VERSION}; "
                "rebuild the catalog (fashion catalog demo / import) or use a matching fashion-gui version"
            )
        try:
            return cls(conn, path)
        except (sqlite3.Error, ValueError, KeyError, TypeError) as exc:
            conn.close()
            raise CatalogError(f"{path} is damaged ({type(exc).__name__}: {exc}); rebuild the catalog "
                               "(fashion catalog demo --force / import --force)") from exc

    @classmethod
    @contextmanager
    def build(cls, path: str | os.PathLike, schema: AttributeSchema, *, name: str = "",
              overwrite: bool = False, before_commit: Callable[[], None] | None = None) -> Iterator["Catalog"]:
        """Create a catalog in a temporary file; it replaces ``path`` only if the block completes.
        ``before_commit`` runs once the new catalog is complete, just before it replaces the old one (the
        writers drop the old catalog's caches there).

        >>> with Catalog.build(ws / "catalog.sqlite", schema) as cat:
        ...     cat.add_items(records)
        """
        path = Path(path)
        if path.exists() and not overwrite:
            raise CatalogError(f"{path} already exists; pass overwrite (--force) to replace it")
        with naming(path.parent):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=temp_prefix("catalog"), suffix=".sqlite", dir=path.parent)
        os.close(fd)
        tmp_path = Path(tmp)
        conn = _connect(tmp_path)
        try:
            with conn:
                conn.executescript(_DDL)
                _write_schema(conn, schema)
                conn.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [("schema_version", str(SCHEMA_VERSION)), ("catalog_version", "1"), ("name", json.dumps(name))],
                )
            catalog = cls(conn, tmp_path)
            yield catalog
            conn.commit()
            conn.close()
            crash_point("catalog:written")
            if before_commit is not None:
                before_commit()
            with naming(path):
                os.replace(tmp_path, path)
            crash_point("catalog:replaced")
            fsync_dir(path.parent)
            catalog.path = path
        except sqlite3.Error as exc:
            conn.close()
            tmp_path.unlink(missing_ok=True)
            raise CatalogError(sqlite_problem(path, exc)) from exc
        except BaseException:
            conn.close()
            tmp_path.unlink(missing_ok=True)
            raise

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "Catalog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- meta ------------------------------------------------------------------------------------
    @property
    def version(self) -> int:
        """Incremented by every write; indexes store it to detect a stale index."""
        return int(_read_meta(self._conn, "catalog_version") or 0)

    @property
    def name(self) -> str:
        return str(self.get_meta("name", ""))

    def set_meta(self, key: str, value: object) -> None:
        """Store a JSON-serialisable value (e.g. the config a catalog was built with)."""
        if key in ("schema_version", "catalog_version"):
            raise CatalogError(f"{key} is managed by the catalog itself")
        with self._conn:
            self._conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def get_meta(self, key: str, default: object = None) -> object:
        value = _read_meta(self._conn, key)
        return default if value is None else json.loads(value)

    def _bump_version(self) -> None:
        self._conn.execute(
            "UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'catalog_version'"
        )

    # --- writes ----------------------------------------------------------------------------------
    def add_items(self, records: Iterable[ItemRecord]) -> list[int]:
        """Insert items with their attribute values in one transaction; returns the new ids."""
        schema = self.schema
        cat_ids = {name: i for i, name in enumerate(schema.categories)}
        ids: list[int] = []
        with self._conn:
            for rec in records:
                _check_split(rec.split)
                if rec.category not in cat_ids:
                    schema.category_index(rec.category)  # raises with the list of known categories
                cur = self._conn.execute(
                    "INSERT INTO items (id, image_path, category_id, instance_id, split, source)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (rec.id, rec.image_path, cat_ids[rec.category], rec.instance_id, rec.split, rec.source),
                )
                item_id = int(cur.lastrowid)
                label = schema.encode(rec.attributes)
                self._conn.executemany(
                    "INSERT INTO item_values (item_id, type_id, value_id) VALUES (?, ?, ?)",
                    [(item_id, a, self._value_ids[a][int(v)]) for a, v in enumerate(label) if v != MISSING],
                )
                ids.append(item_id)
            self._bump_version()
        self._load_items()
        return ids

    def add_outfit(self, item_ids: Sequence[int], split: str, style: str = "") -> int:
        return self.add_outfits([(item_ids, split, style)])[0]

    def add_outfits(self, outfits: Iterable[tuple[Sequence[int], str, str]]) -> list[int]:
        """Insert ``(item_ids, split, style)`` outfits in one transaction; returns their ids."""
        ids = []
        with self._conn:
            for item_ids, split, style in outfits:
                _check_split(split)
                cur = self._conn.execute("INSERT INTO outfits (style, split) VALUES (?, ?)", (style, split))
                oid = int(cur.lastrowid)
                self._conn.executemany(
                    "INSERT INTO outfit_items (outfit_id, item_id, position) VALUES (?, ?, ?)",
                    [(oid, int(i), p) for p, i in enumerate(item_ids)],
                )
                ids.append(oid)
            self._bump_version()
        return ids

    def add_feedback(self, triplets: Iterable[tuple[int, int, str, str, str]]) -> None:
        """Insert ``(reference_id, target_id, text, kind, split)`` rows."""
        rows = []
        for ref, tgt, text, kind, split in triplets:
            if kind not in FEEDBACK_KINDS:
                raise CatalogError(f"feedback kind must be TGR or VCR, got {kind!r}")
            _check_split(split)
            rows.append((int(ref), int(tgt), text, kind, split))
        with self._conn:
            self._conn.executemany(
                "INSERT INTO feedback_triplets (reference_id, target_id, text, kind, split) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            self._bump_version()

    def add_manipulation_queries(self, queries: Iterable[tuple[int, dict[str, str], str]]) -> None:
        """Insert ``(reference_id, edits, split)``; the target label is the reference's with the edits applied."""
        rows = []
        for ref, edits, split in queries:
            _check_split(split)
            target = self.edited_label(int(ref), edits)
            rows.append((int(ref), json.dumps(edits, sort_keys=True), json.dumps(target.tolist()), split))
        with self._conn:
            self._conn.executemany(
                "INSERT INTO manipulation_queries (reference_id, edits, target_label, split) VALUES (?, ?, ?, ?)",
                rows,
            )
            self._bump_version()

    # --- reads: items and labels -----------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._row

    def ids(self, split: str | None = None, category: str | None = None,
            attributes: dict[str, str] | None = None) -> np.ndarray:
        """Item ids (ascending) filtered by split, category and exact attribute values."""
        mask = np.ones(len(self._ids), dtype=bool)
        if split is not None:
            _check_split(split)
            mask &= self._splits == split
        if category is not None:
            mask &= self._categories == self.schema.category_index(category)
        for name, value in (attributes or {}).items():
            a = self.schema.type_index(name)
            mask &= self._labels[:, a] == self.schema.types[a].index(value)
        return self._ids[mask]

    def item(self, item_id: int) -> Item:
        row = self._conn.execute(
            "SELECT id, image_path, category_id, instance_id, split, source FROM items WHERE id = ?",
            (int(item_id),),
        ).fetchone()
        if row is None:
            raise CatalogError(f"no item with id {item_id} in {self.path}")
        return Item(
            id=row[0], image_path=row[1], category=self.schema.categories[row[2]], instance_id=row[3],
            split=row[4], source=row[5], attributes=self.schema.decode(self._labels[self._row[row[0]]]),
        )

    def items(self, split: str | None = None, category: str | None = None) -> Iterator[Item]:
        """Iterate the items of a split (and category) in id order."""
        for item_id in self.ids(split=split, category=category):
            yield self.item(int(item_id))

    def _rows(self, item_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        try:
            return np.fromiter((self._row[int(i)] for i in item_ids), dtype=np.int64, count=len(item_ids))
        except KeyError as exc:
            raise CatalogError(f"no item with id {exc.args[0]} in {self.path}") from None

    def labels(self, item_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Value indices (N, A), -1 where the item has no value for that type."""
        return self._labels[self._rows(item_ids)].copy()

    def one_hot(self, item_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Concatenated one-hot blocks (N, J); a missing type is an all-zero block (REFERENCE.md)."""
        return self.schema.one_hot(self.labels(item_ids))

    def categories_of(self, item_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Category indices (N,)."""
        return self._categories[self._rows(item_ids)].copy()

    def splits_of(self, item_ids: Sequence[int] | np.ndarray) -> list[str]:
        return [str(self._splits[r]) for r in self._rows(item_ids)]

    def instances_of(self, item_ids: Sequence[int] | np.ndarray) -> list[str]:
        return [self._instances[r] for r in self._rows(item_ids)]

    def image_paths(self, item_ids: Sequence[int] | np.ndarray) -> list[str]:
        return [self._paths[r] for r in self._rows(item_ids)]

    def edited_label(self, item_id: int, edits: dict[str, str]) -> np.ndarray:
        """The item's label with ``edits`` (type -> value) applied; unknown names raise SchemaError."""
        label = self.labels([item_id])[0]
        for name, value in edits.items():
            a = self.schema.type_index(name)
            label[a] = self.schema.types[a].index(value)
        return label

    # --- reads: outfits, feedback, queries -------------------------------------------------------
    def outfits(self, split: str | None = None) -> list[Outfit]:
        sql = "SELECT o.id, o.style, o.split, i.item_id FROM outfits o JOIN outfit_items i ON i.outfit_id = o.id"
        args: tuple = ()
        if split is not None:
            _check_split(split)
            sql, args = sql + " WHERE o.split = ?", (split,)
        grouped: dict[int, list] = {}
        for oid, style, osplit, item_id in self._conn.execute(sql + " ORDER BY o.id, i.position", args):
            grouped.setdefault(oid, [style, osplit, []])[2].append(item_id)
        return [Outfit(oid, s, sp, tuple(items)) for oid, (s, sp, items) in grouped.items()]

    def feedback(self, kind: str | None = None, split: str | None = None) -> list[FeedbackTriplet]:
        clauses, args = [], []
        if kind is not None:
            clauses.append("kind = ?")
            args.append(kind)
        if split is not None:
            _check_split(split)
            clauses.append("split = ?")
            args.append(split)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._conn.execute(
            f"SELECT id, reference_id, target_id, text, kind, split FROM feedback_triplets{where} ORDER BY id", args
        )
        return [FeedbackTriplet(*row) for row in rows]

    def manipulation_queries(self, split: str | None = None) -> list[ManipulationQuery]:
        sql, args = "SELECT id, reference_id, edits, target_label, split FROM manipulation_queries", ()
        if split is not None:
            _check_split(split)
            sql, args = sql + " WHERE split = ?", (split,)
        return [
            ManipulationQuery(qid, ref, json.loads(edits), tuple(json.loads(target)), qsplit)
            for qid, ref, edits, target, qsplit in self._conn.execute(sql + " ORDER BY id", args)
        ]

    def counts(self) -> dict:
        """The figures printed by ``fashion catalog info``."""
        one = lambda sql: int(self._conn.execute(sql).fetchone()[0])  # noqa: E731
        splits = {s: int(n) for s, n in self._conn.execute("SELECT split, COUNT(*) FROM items GROUP BY split")}
        return {
            "items": len(self),
            "categories": len(self.schema.categories),
            "attribute_types": len(self.schema.types),
            "attribute_values": self.schema.total_values,
            "instances": one("SELECT COUNT(DISTINCT instance_id) FROM items"),
            "outfits": one("SELECT COUNT(*) FROM outfits"),
            "manipulation_queries": one("SELECT COUNT(*) FROM manipulation_queries"),
            "feedback_triplets": one("SELECT COUNT(*) FROM feedback_triplets"),
            "feedback_by_kind": {
                k: int(n) for k, n in self._conn.execute("SELECT kind, COUNT(*) FROM feedback_triplets GROUP BY kind")
            },
            "splits": {s: splits[s] for s in SPLITS if s in splits},
        }

    # --- internals -------------------------------------------------------------------------------
    def _read_schema(self) -> AttributeSchema:
        conn = self._conn
        categories = [n for (n,) in conn.execute("SELECT name FROM categories ORDER BY position")]
        types = []
        ordered = set(json.loads(_read_meta(conn, "ordered_types") or "[]"))  # types whose values are ranked
        self._value_ids: list[list[int]] = []
        for type_id, name, noun in conn.execute("SELECT id, name, noun FROM attribute_types ORDER BY position"):
            vals = conn.execute(
                "SELECT id, name FROM attribute_values WHERE type_id = ? ORDER BY position", (type_id,)
            ).fetchall()
            cats = [c for (c,) in conn.execute(
                "SELECT c.name FROM type_categories t JOIN categories c ON c.id = t.category_id"
                " WHERE t.type_id = ? ORDER BY c.position", (type_id,))]
            types.append({"name": name, "values": [v for _, v in vals], "categories": cats, "noun": noun,
                          "ordered": name in ordered})
            self._value_ids.append([vid for vid, _ in vals])
        return AttributeSchema.from_dict({"categories": categories, "types": types})

    def _load_items(self) -> None:
        rows = self._conn.execute(
            "SELECT id, category_id, split, instance_id, image_path FROM items ORDER BY id"
        ).fetchall()
        self._ids = np.array([r[0] for r in rows], dtype=np.int64)
        self._categories = np.array([r[1] for r in rows], dtype=np.int64)
        self._splits = np.array([r[2] for r in rows], dtype=object)
        self._instances = [r[3] for r in rows]
        self._paths = [r[4] for r in rows]
        self._row = {int(i): r for r, i in enumerate(self._ids)}
        self._labels = np.full((len(rows), len(self.schema.types)), MISSING, dtype=np.int64)
        value_pos = {vid: (a, p) for a, vids in enumerate(self._value_ids) for p, vid in enumerate(vids)}
        for item_id, value_id in self._conn.execute("SELECT item_id, value_id FROM item_values"):
            a, p = value_pos[value_id]
            self._labels[self._row[item_id], a] = p


def sqlite_problem(path: Path, exc: sqlite3.Error) -> str:
    """One line for an SQLite error on the catalog at ``path``: what happened and what to do."""
    text = str(exc)
    if "disk is full" in text or "disk full" in text:
        return (f"the disk is full: cannot write the catalog {path}; free some space on that disk and run the "
                "command again (the previous catalog is unchanged)")
    if "readonly" in text or "read-only" in text:
        return f"cannot write the catalog {path}: the folder or file is read-only; make it writable"
    if "unable to open" in text:
        return f"cannot open the catalog {path} ({text}); check that its folder exists and is writable"
    if "malformed" in text or "not a database" in text:
        return f"{path} is damaged ({text}); rebuild the catalog (fashion catalog demo --force / import --force)"
    return f"the catalog {path} failed: SQLite error ({text})"


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), check_same_thread=False)
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _read_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else row[0]


def _write_schema(conn: sqlite3.Connection, schema: AttributeSchema) -> None:
    if schema.ordered_names:  # a meta row, so catalogs written before ordered types read unchanged
        conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", ("ordered_types", json.dumps(schema.ordered_names)))
    conn.executemany(
        "INSERT INTO categories (id, position, name) VALUES (?, ?, ?)",
        [(i, i, c) for i, c in enumerate(schema.categories)],
    )
    value_id = 0
    for a, t in enumerate(schema.types):
        conn.execute("INSERT INTO attribute_types (id, position, name, noun) VALUES (?, ?, ?, ?)",
                     (a, a, t.name, t.noun))
        for p, v in enumerate(t.values):
            conn.execute("INSERT INTO attribute_values (id, type_id, position, name) VALUES (?, ?, ?, ?)",
                         (value_id, a, p, v))
            value_id += 1
        conn.executemany(
            "INSERT INTO type_categories (type_id, category_id) VALUES (?, ?)",
            [(a, schema.categories.index(c)) for c in t.categories],
        )
