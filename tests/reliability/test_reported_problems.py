"""Issue 14, problem by problem: each test reproduces what was reported (they all failed before the fix)."""
from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fashion_gui.catalog.demo.builder import DemoConfig, build_demo
from fashion_gui.catalog.images import ImageError
from fashion_gui.catalog.importers import CsvImportOptions, ImportProblems, import_csv
from fashion_gui.cli.main import main
from fashion_gui.engine import Compatible, Manipulate, RequestError, RetrievalEngine
from fashion_gui.inference import preprocess
from fashion_gui.inference.adde_model import ADDEModel, build_head
from fashion_gui.inference.checkpoint import CheckpointError, load_checkpoint
from fashion_gui.reliability.workspaces import TINY_DEMO
from fashion_gui.workspace import Workspace

from reliability_helpers import FullDiskFile, fashion, make_writable, one_line_error, snapshot


def catalog_images(ws: Workspace) -> list[tuple[int, bytes]]:
    """Each catalog item with the bytes of the image it references."""
    from fashion_gui.catalog.store import Catalog

    with Catalog.open(ws.catalog_path) as catalog:
        ids = catalog.ids()
        return [(i, ws.resolve_image(p).read_bytes()) for i, p in zip(ids.tolist(), catalog.image_paths(ids))]


def run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        rc = main(argv)  # a traceback would propagate and fail the test
    return rc, err.getvalue()


# 1. An extreme aspect ratio ------------------------------------------------------------------------
def test_the_letterbox_never_builds_a_canvas_larger_than_its_output(monkeypatch):
    made = []
    real_new = Image.new
    wide = Image.new("RGB", (2400, 100), (10, 20, 30))
    monkeypatch.setattr(preprocess.Image, "new", lambda mode, size, *a, **k: made.append(size) or real_new(mode, size, *a, **k))
    out = preprocess.square_resize(wide, 64)
    assert out.shape == (3, 64, 64) and max(max(s) for s in made) <= 64  # padding to 2400 x 2400 was the bug
    assert (out[:, 0, 0] == 255).all() and (out[:, 32, 32] == (10, 20, 30)).all()  # white bars, centred garment


def test_an_absurd_aspect_ratio_is_refused_with_a_message(tiny, tmp_path):
    path = tmp_path / "strip.png"
    Image.new("RGB", (100_000, 2), (50, 50, 50)).save(path)
    with RetrievalEngine.open(tiny, device="cpu") as engine, pytest.raises(ImageError) as info:
        engine.encode(path)
    assert str(path) in str(info.value) and "aspect ratio of 50,000:1" in str(info.value)


# 2. A checkpoint whose weights and config disagree ------------------------------------------------------
def _mixed_checkpoint(ws: Workspace) -> Path:
    """What a crash between two renames of the old save left: weights of a d = 4 model, the config of d = 8."""
    folder = ws.checkpoints / "adde"
    ckpt = load_checkpoint(folder)
    arch = ckpt.config["architecture"]
    schema_model = ADDEModel.from_checkpoint(ckpt, torch.device("cpu"))[0]
    small = ADDEModel.create(schema_model.schema, d=4, image_size=arch["image_size"])
    torch.save({"model": small.state_dict(), "head": build_head("diagonal", small.encoder).state_dict()},
               folder / "weights.pt")
    config = json.loads((folder / "config.json").read_text())
    config.pop("files", None)  # as the old save wrote it: no hash to compare
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_a_mismatched_checkpoint_is_a_clear_refusal_naming_the_folder(ws):
    folder = _mixed_checkpoint(ws)
    with pytest.raises(CheckpointError) as info:
        ADDEModel.from_checkpoint(load_checkpoint(folder), torch.device("cpu"))
    assert str(folder) in str(info.value) and "does not fit" in str(info.value) and "size mismatch" in str(info.value)
    rc, err = run(["search", "--workspace", str(ws.root), "--item", "1", "--device", "cpu"])
    assert rc == 2 and str(folder) in one_line_error(err, "search") and "fashion train adde" in err


# 3. A crash during `fashion catalog demo --force` ------------------------------------------------------
def test_a_crash_at_the_catalog_rename_of_a_demo_rebuild_keeps_the_old_workspace_whole(ws):
    old = catalog_images(ws)
    real_replace = os.replace

    def die_at_the_catalog(src, dst, *a, **k):
        if str(dst).endswith("catalog.sqlite"):
            os.kill(os.getpid(), signal.SIGKILL)
        return real_replace(src, dst, *a, **k)

    pid = os.fork()
    if pid == 0:  # the writer, killed just before its catalog lands
        try:
            os.replace = die_at_the_catalog
            build_demo(ws, DemoConfig(seed=2, **TINY_DEMO), force=True)
        finally:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status)
    assert catalog_images(ws) == old  # the old catalog still points at its own images, all there


# 4. Operating-system errors reach the user as one clear line ---------------------------------------------
def test_index_build_in_a_read_only_workspace_is_one_line_and_changes_nothing(ws):
    shutil.rmtree(ws.indexes)
    ws.indexes.mkdir()
    before = snapshot(ws.root)
    try:
        proc = fashion("index", "build", "--workspace", str(ws.root), "--device", "cpu", readonly_root=ws.root)
    finally:
        make_writable(ws.root)
    assert proc.returncode == 2
    line = one_line_error(proc.stderr, "index")
    assert str(ws.indexes) in line and ("permission denied" in line or "read-only" in line)
    assert snapshot(ws.root) == before


def test_a_full_disk_during_training_is_one_line_naming_the_checkpoint(ws, monkeypatch):
    from fashion_gui import atomic

    real_fdopen = os.fdopen
    monkeypatch.setattr(atomic.os, "fdopen", lambda fd, *a, **k: FullDiskFile(real_fdopen(fd, *a, **k)))
    rc, err = run(["train", "adde", "--workspace", str(ws.root), "--epochs", "1", "--manip-epochs", "0", "--d", "4",
                   "--image-size", "32", "--batch-size", "16", "--device", "cpu", "--progress-json"])
    line = one_line_error(err, "train")
    assert rc == 2 and "the disk is full" in line and str(ws.checkpoints / "adde") in line
    monkeypatch.undo()
    assert load_checkpoint(ws.checkpoints / "adde").config["architecture"]["d"] == 8  # the old model is intact


def test_a_symbolic_link_loop_as_the_query_is_one_line(ws, tmp_path):
    loop = tmp_path / "loop.jpg"
    os.symlink(loop.name, loop)
    rc, err = run(["search", "--workspace", str(ws.root), "--image", str(loop), "--device", "cpu"])
    assert rc == 2 and str(loop) in one_line_error(err, "search") and "symbolic link loop" in err


# 5. CSV importer crashes ------------------------------------------------------------------------------------
@pytest.fixture
def shop(tmp_path):
    (tmp_path / "img").mkdir()
    Image.new("RGB", (32, 40), "red").save(tmp_path / "img" / "a.jpg")
    return tmp_path


@pytest.mark.parametrize("body, where", [
    ("path,category,colour\nimg/a.jpg,dress,red,extra,more\n", "row 2: 5 fields but the header has 3"),
    (f'path,category,colour\nimg/a.jpg,dress,"{"x" * 140_000}"\n', "row 2: field larger than field limit"),
    ("id,path,category\n99999999999999999999,img/a.jpg,dress\n", "row 2 (img/a.jpg): id 99999999999999999999 is too large"),
])
def test_malformed_rows_are_problems_naming_the_row(shop, tmp_path, body, where):
    (shop / "items.csv").write_text(body)
    with pytest.raises(ImportProblems) as info:
        import_csv(Workspace(tmp_path / "ws"), shop / "items.csv")
    assert where in str(info.value) and str(shop / "items.csv") in str(info.value)


def test_a_latin1_csv_names_the_file_and_the_line(shop, tmp_path):
    (shop / "items.csv").write_bytes("path,category\nimg/a.jpg,robe d'été\n".encode("latin-1"))
    with pytest.raises(ImportProblems) as info:
        import_csv(Workspace(tmp_path / "ws"), shop / "items.csv")
    assert str(shop / "items.csv") in str(info.value) and "line 2: not UTF-8" in str(info.value)


@pytest.mark.parametrize("schema, expected", [
    ('{"categories": ["dress"], "types": [', "is not valid JSON"),
    ('{"categories": ["dress"]}', "has the wrong shape"),
    ('[["dress"]]', "has the wrong shape"),
])
def test_a_bad_schema_json_names_the_schema_file(shop, tmp_path, schema, expected):
    (shop / "items.csv").write_text("path,category\nimg/a.jpg,dress\n")
    (shop / "schema.json").write_text(schema)
    with pytest.raises(ImportProblems) as info:
        import_csv(Workspace(tmp_path / "ws"), shop / "items.csv", CsvImportOptions(schema_path=shop / "schema.json"))
    assert f"{shop / 'schema.json'} {expected}" in str(info.value)


def test_a_folder_given_as_the_csv_says_it_is_a_folder(shop, tmp_path):
    with pytest.raises(ImportProblems) as info:
        import_csv(Workspace(tmp_path / "ws"), shop / "img")
    assert "is a folder, not a CSV file" in str(info.value) and "does not exist" not in str(info.value)


# 6. Damaged checkpoint files ----------------------------------------------------------------------------------
def test_random_bytes_in_weights_are_refused_naming_the_file(ws):
    weights = ws.checkpoints / "adde" / "weights.pt"
    weights.write_bytes(np.random.default_rng(0).bytes(5000))
    rc, err = run(["search", "--workspace", str(ws.root), "--item", "1", "--device", "cpu"])
    assert rc == 2 and str(weights) in one_line_error(err, "search")


def test_a_damaged_metrics_file_does_not_block_the_model(ws):
    metrics = ws.checkpoints / "adde" / "metrics.json"
    metrics.write_text('{"validation": {"val_attr_acc": 0.5')
    with RetrievalEngine.open(ws, device="cpu") as engine:
        assert len(engine.search(Manipulate(engine.query_from_item(1), {}), k=3).hits) == 3
        ckpt = engine.encoder.checkpoint
        assert ckpt.metrics == {} and str(metrics) in ckpt.problems[0]


# 7. Temporary files of killed writers -------------------------------------------------------------------------
def test_a_killed_demo_build_leaves_nothing_after_the_next_build(ws):
    from fashion_gui.catalog.demo import builder

    real_render = builder.render_products

    def render_then_die(*args, **kwargs):
        names = real_render(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
        return names

    pid = os.fork()
    if pid == 0:
        try:
            builder.render_products = render_then_die
            build_demo(ws, DemoConfig(seed=2, **TINY_DEMO), force=True)
        finally:
            os._exit(3)
    os.waitpid(pid, 0)
    leftovers = [p for folder in (ws.root, ws.images) for p in folder.iterdir() if p.name.startswith((".images-", ".tmp-"))]
    assert leftovers  # up to 190 images each in the report
    build_demo(ws, DemoConfig(seed=2, **TINY_DEMO), force=True)
    assert [p for folder in (ws.root, ws.images) for p in folder.iterdir() if p.name.startswith((".images-", ".tmp-"))] == []


# 8. Unknown category; concurrent index builds ---------------------------------------------------------------
def test_an_unknown_category_in_a_compatible_search_is_named(tiny):
    with RetrievalEngine.open(tiny, device="cpu") as engine, pytest.raises(RequestError) as info:
        engine.search(Compatible(engine.query_from_item(1), "hats"))
    assert "unknown category 'hats'" in str(info.value) and "not available" not in str(info.value)
