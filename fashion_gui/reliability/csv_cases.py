"""Awkward CSV imports: each must import, or be refused with a message naming the file (and the row or line
where there is one), exit status 2, no traceback and no catalog written."""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from fashion_gui.reliability.corpus import png_bomb

HEADER = "path,category,colour,instance_id,split"
SCHEMA = {"categories": ["dress", "shoes"],
          "types": [{"name": "colour", "values": ["blue", "red"], "categories": []}]}


@dataclass(frozen=True)
class CsvCase:
    name: str
    make: Callable[[Path], tuple[Path, list[str]]]  # folder -> (the file named as CSV, extra arguments)
    expect: str  # "import" or "refuse"
    names: tuple[str, ...] = ()  # what the message must contain besides the file (e.g. "row 3")
    names_file: str = "csv"  # "csv" or "schema": which file the message must name


@dataclass
class CsvOutcome:
    name: str
    expect: str
    result: str  # imported | clear | unclear | crashed | wrong
    message: str


def _images(folder: Path) -> None:
    (folder / "img").mkdir(parents=True, exist_ok=True)
    for name, colour in (("a", "red"), ("b", "blue"), ("c", "red")):
        path = folder / "img" / f"{name}.jpg"
        if not path.exists():
            Image.new("RGB", (40, 48), colour).save(path)


def _text(body: str, encoding: str = "utf-8", args: tuple[str, ...] = (), name: str = "items.csv"):
    def make(folder: Path) -> tuple[Path, list[str]]:
        _images(folder)
        path = folder / name
        path.write_bytes(body.encode(encoding))
        return path, list(args)
    return make


def _raw(data: bytes):
    def make(folder: Path) -> tuple[Path, list[str]]:
        _images(folder)
        path = folder / "items.csv"
        path.write_bytes(data)
        return path, []
    return make


def _with_schema(schema_text: str | bytes, body: str = f"{HEADER}\nimg/a.jpg,dress,red,p1,train\n"):
    def make(folder: Path) -> tuple[Path, list[str]]:
        _images(folder)
        path = folder / "items.csv"
        path.write_text(body, encoding="utf-8")
        schema = folder / "schema.json"
        schema.write_bytes(schema_text if isinstance(schema_text, bytes) else schema_text.encode())
        return path, ["--schema", str(schema)]
    return make


def _image_row(prepare: Callable[[Path], None]):
    """A CSV whose second row's image is what ``prepare(folder / 'img' / 'odd.jpg')`` makes."""
    def make(folder: Path) -> tuple[Path, list[str]]:
        _images(folder)
        odd = folder / "img" / "odd.jpg"
        if odd.exists() or odd.is_symlink():
            odd.unlink() if not odd.is_dir() or odd.is_symlink() else odd.rmdir()
        prepare(odd)
        path = folder / "items.csv"
        path.write_text(f"{HEADER}\nimg/a.jpg,dress,red,p1,train\nimg/odd.jpg,dress,blue,p2,test\n")
        return path, []
    return make


def _folder_as_csv(folder: Path) -> tuple[Path, list[str]]:
    path = folder / "a-folder.csv"
    path.mkdir(exist_ok=True)
    return path, []


def _loop_csv(folder: Path) -> tuple[Path, list[str]]:
    path = folder / "loop.csv"
    if not path.is_symlink():
        os.symlink(path.name, path)
    return path, []


GOOD = f"{HEADER}\nimg/a.jpg,dress,red,p1,train\nimg/b.jpg,dress,blue,p2,val\nimg/c.jpg,shoes,red,p3,test\n"


def csv_cases() -> list[CsvCase]:
    cases = [
        CsvCase("plain", _text(GOOD), "import"),
        CsvCase("byte-order mark", _text("\ufeff" + GOOD), "import"),
        CsvCase("CRLF line ends", _text(GOOD.replace("\n", "\r\n")), "import"),
        CsvCase("quoted newline in a cell", _text(f'{HEADER}\n"img/a.jpg",dress,red,"p\n1",train\n'), "import"),
        CsvCase("short rows (missing trailing cells)", _text(f"{HEADER}\nimg/a.jpg,dress,red\n"), "import"),
        CsvCase("blank lines", _text(f"{HEADER}\n\nimg/a.jpg,dress,red,p1,train\n\n\n"), "import"),
        CsvCase("valid schema", _with_schema(json.dumps(SCHEMA)), "import"),
        # the reported crashes
        CsvCase("row with more fields than the header", _text(f"{HEADER}\nimg/a.jpg,dress,red,p1,train,extra,more\n"),
                "refuse", ("row 2",)),
        CsvCase("field over the csv module's limit", _text(f'{HEADER}\nimg/a.jpg,dress,"{"x" * 200_000}",p1,train\n'),
                "refuse", ("row 2",)),
        CsvCase("id too large for SQLite", _text(f"id,{HEADER}\n99999999999999999999999,img/a.jpg,dress,red,p1,train\n"),
                "refuse", ("row 2", "too large")),
        CsvCase("schema JSON: a list", _with_schema("[1, 2, 3]"), "refuse", ("wrong shape",), "schema"),
        CsvCase("schema JSON: no types", _with_schema('{"categories": ["dress"]}'), "refuse", ("wrong shape",), "schema"),
        CsvCase("schema JSON: types not a list", _with_schema('{"categories": ["dress"], "types": 3}'), "refuse",
                ("wrong shape",), "schema"),
        CsvCase("schema JSON: a type without values",
                _with_schema('{"categories": ["dress"], "types": [{"name": "colour"}]}'), "refuse", ("wrong shape",),
                "schema"),
        CsvCase("schema JSON: unknown category in a type",
                _with_schema('{"categories": ["dress"], "types": [{"name": "c", "values": ["x"], "categories": ["hat"]}]}'),
                "refuse", ("hat",), "schema"),
        CsvCase("schema JSON: invalid JSON", _with_schema('{"categories": ["dress",]'), "refuse", ("not valid JSON", "line 1"),
                "schema"),
        CsvCase("schema JSON: Latin-1", _with_schema('{"categories": ["robe d\'été"], "types": []}'.encode("latin-1")),
                "refuse", ("UTF-8",), "schema"),
        CsvCase("schema JSON: missing", lambda f: (_text(GOOD)(f)[0], ["--schema", str(f / "nope.json")]), "refuse",
                ("does not exist",), "schema"),
        CsvCase("schema JSON: a folder", lambda f: (_text(GOOD)(f)[0], ["--schema", str(f / "img")]), "refuse",
                ("folder",), "schema"),
        CsvCase("Latin-1 CSV", _text(f"{HEADER}\nimg/a.jpg,dress,red,p1,train\nimg/b.jpg,robe d'été,blue,p2,val\n",
                                     "latin-1"), "refuse", ("line 3", "UTF-8")),
        CsvCase("a folder given as the CSV", _folder_as_csv, "refuse", ("folder",)),
        CsvCase("a symbolic-link loop as the CSV", _loop_csv, "refuse", ("loop",)),
        CsvCase("a missing CSV", lambda f: (f / "missing.csv", []), "refuse", ("does not exist",)),
        # other malformed files
        CsvCase("empty file", _raw(b""), "refuse", ("missing column",)),
        CsvCase("header only", _text(f"{HEADER}\n"), "refuse", ("no rows",)),
        CsvCase("missing required columns", _text("file,colour\nimg/a.jpg,red\n"), "refuse", ("missing column",)),
        CsvCase("duplicate column", _text("path,category,colour,colour\nimg/a.jpg,dress,red,blue\n"), "refuse",
                ("row 1", "twice")),
        CsvCase("unnamed column", _text("path,category,,colour\nimg/a.jpg,dress,x,red\n"), "refuse",
                ("row 1", "no name")),
        CsvCase("NUL bytes", _raw(f"{HEADER}\nimg/a.jpg,dr\0ess,red,p1,train\n".encode()), "refuse", ("row 2",)),
        CsvCase("binary garbage", _raw(bytes(range(256)) * 40), "refuse", ()),
        CsvCase("unterminated quote", _text(f'{HEADER}\nimg/a.jpg,"dress,red,p1,train\n'), "refuse", ()),
        CsvCase("negative id", _text(f"id,{HEADER}\n-4,img/a.jpg,dress,red,p1,train\n"), "refuse", ("row 2",)),
        CsvCase("non-numeric id", _text(f"id,{HEADER}\nabc,img/a.jpg,dress,red,p1,train\n"), "refuse", ("row 2",)),
        CsvCase("unicode digits as id", _text(f"id,{HEADER}\n\u0663,img/a.jpg,dress,red,p1,train\n"), "refuse", ("row 2",)),
        CsvCase("duplicate ids", _text(f"id,{HEADER}\n1,img/a.jpg,dress,red,p1,train\n1,img/b.jpg,dress,blue,p2,test\n"),
                "refuse", ("row 3",)),
        CsvCase("duplicate paths", _text(f"{HEADER}\nimg/a.jpg,dress,red,p1,train\nimg/a.jpg,dress,blue,p2,test\n"),
                "refuse", ("row 3",)),
        CsvCase("unknown split", _text(f"{HEADER}\nimg/a.jpg,dress,red,p1,holdout\n"), "refuse", ("row 2", "holdout")),
        CsvCase("empty path", _text(f"{HEADER}\n,dress,red,p1,train\n"), "refuse", ("row 2",)),
        CsvCase("unknown value with a schema", _with_schema(json.dumps(SCHEMA), f"{HEADER}\nimg/a.jpg,dress,green,p1,train\n"),
                "refuse", ("row 2", "green"), "csv"),
        CsvCase("unknown category with a schema", _with_schema(json.dumps(SCHEMA), f"{HEADER}\nimg/a.jpg,hat,red,p1,train\n"),
                "refuse", ("row 2", "hat"), "csv"),
        CsvCase("NUL byte in a path", _text(f"{HEADER}\nimg/a\\0.jpg,dress,red,p1,train\n".replace("\\0", "\0")),
                "refuse", ("row 2",)),
        # images the rows point at
        CsvCase("image missing", _text(f"{HEADER}\nimg/nope.jpg,dress,red,p1,train\n"), "refuse", ("row 2", "not found")),
        CsvCase("image zero bytes", _image_row(lambda p: p.write_bytes(b"")), "refuse", ("row 3",)),
        CsvCase("image truncated", _image_row(lambda p: p.write_bytes((p.parent / "a.jpg").read_bytes()[:200])),
                "refuse", ("row 3",)),
        CsvCase("image random bytes", _image_row(lambda p: p.write_bytes(os.urandom(3000))), "refuse", ("row 3",)),
        CsvCase("image is a folder", _image_row(lambda p: p.mkdir()), "refuse", ("row 3", "folder")),
        CsvCase("image decompression bomb", _image_row(lambda p: p.write_bytes(png_bomb(60_000, 60_000))), "refuse",
                ("row 3",)),
        CsvCase("image with an extreme aspect ratio",
                _image_row(lambda p: Image.new("RGB", (50_000, 2)).save(p, "PNG")), "refuse", ("row 3", "aspect")),
        CsvCase("unicode image names", _text(f"{HEADER}\nimg/a.jpg,dress,red,p1,train\n"), "import"),
    ]
    if sys.platform != "win32":
        cases += [
            CsvCase("image is a symbolic-link loop", _image_row(lambda p: os.symlink(p.name, p)), "refuse",
                    ("row 3", "loop")),
            CsvCase("image is a broken link", _image_row(lambda p: os.symlink("gone.jpg", p)), "refuse", ("row 3",)),
            CsvCase("image is a link to a valid file", _image_row(lambda p: os.symlink("c.jpg", p)), "import"),
            CsvCase("two rows, one file (through a link)", _image_row(lambda p: os.symlink("a.jpg", p)), "refuse",
                    ("row 3", "same image file")),
        ]
    return cases


def run_case(case: CsvCase, folder: Path) -> CsvOutcome:
    """Import ``case`` into a fresh workspace through ``fashion catalog import`` (in-process)."""
    from fashion_gui.cli.main import main

    folder.mkdir(parents=True, exist_ok=True)
    csv_path, extra = case.make(folder)
    workspace = folder / "ws"
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            rc = main(["catalog", "import", "--workspace", str(workspace), str(csv_path), *extra])
        except Exception as exc:
            return CsvOutcome(case.name, case.expect, "crashed", f"{type(exc).__name__}: {exc}")
    message = err.getvalue().strip()
    if rc == 0:
        return CsvOutcome(case.name, case.expect, "imported" if case.expect == "import" else "wrong", message)
    named = str(extra[extra.index("--schema") + 1]) if case.names_file == "schema" else str(csv_path)
    clear = (rc == 2 and message.startswith("fashion catalog: error: ") and named in message
             and all(part in message for part in case.names) and "Traceback" not in message
             and not (workspace / "catalog.sqlite").exists())
    if case.expect == "import":
        return CsvOutcome(case.name, case.expect, "wrong", message)
    return CsvOutcome(case.name, case.expect, "clear" if clear else "unclear", message[:500])


def run_cases(base: Path) -> list[CsvOutcome]:
    return [run_case(case, Path(base) / f"case-{i:02d}") for i, case in enumerate(csv_cases())]
