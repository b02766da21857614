"""Manifests, atomic saving, stale-index detection and rebuild."""
import json
import os
from dataclasses import replace

import numpy as np
import pytest

from fashion_gui.index import (
    ExactIndex, HnswIndex, IndexConfig, IndexData, IndexLoadError, IndexManifest, SubspaceIndexSet,
    chunk_slices, hash_checkpoint, load_index, open_or_build, read_manifest, save_index,
)
from fashion_gui.index import persist
from fashion_gui.index.synthetic import synthetic_embeddings

CONFIG = IndexConfig(M=16, ef_construction=80, ef_search=80, search_dim=32, min_candidates=40,
                     exact_threshold=500, num_threads=2)


@pytest.fixture(scope="module")
def data():
    return synthetic_embeddings(800, n_attributes=4, chunk_dim=32, seed=5)


def _expected(**changes):
    base = IndexManifest(name="full", checkpoint_hash="abc123", catalog_version=3, dim=128, config=CONFIG)
    return replace(base, **changes)


def _vectors_fn(data, calls):
    def fn():
        calls.append(1)
        return IndexData(data.ids, data.vectors, data.categories)
    return fn


def test_open_or_build_rebuilds_only_on_mismatch(tmp_path, data):
    folder = tmp_path / "indexes" / "full"
    calls = []
    index, rebuilt = open_or_build(folder, _expected(), _vectors_fn(data, calls))
    assert rebuilt and isinstance(index, HnswIndex) and len(calls) == 1
    stored = json.loads((folder / "manifest.json").read_text())
    assert stored["item_count"] == 800 and stored["kind"] == "hnsw" and stored["format_version"] == 1
    assert stored["checkpoint_hash"] == "abc123" and stored["dim"] == 128 and stored["parameters"]["M"] == 16

    again, rebuilt = open_or_build(folder, _expected(), _vectors_fn(data, calls))
    assert not rebuilt and len(calls) == 1
    q = data.vectors[3]
    np.testing.assert_array_equal(again.search(q, 10).ids, index.search(q, 10).ids)
    _, rebuilt = open_or_build(folder, _expected(item_count=800), _vectors_fn(data, calls))
    assert not rebuilt

    for changed in (_expected(catalog_version=4), _expected(checkpoint_hash="other"),
                    _expected(config=replace(CONFIG, M=12)), _expected(item_count=799)):
        if changed.item_count == 799:
            with pytest.raises(ValueError, match="799"):  # the caller's count disagrees with its vectors
                open_or_build(folder, changed, _vectors_fn(data, calls))
            continue
        stored_manifest, _ = read_manifest(folder)
        assert stored_manifest.differences(changed)
        _, rebuilt = open_or_build(folder, changed, _vectors_fn(data, calls))
        assert rebuilt
    assert read_manifest(folder)[0].config.M == 12


def test_manifest_differences_are_readable():
    saved = _expected().with_saved(800, "hnsw")
    assert saved.differences(_expected()) == []
    reasons = saved.differences(_expected(catalog_version=9, config=replace(CONFIG, ef_search=10)))
    assert any("catalog_version is 3, expected 9" in r for r in reasons)
    assert any("ef_search 80 -> 10" in r for r in reasons)
    assert IndexManifest.from_dict(saved.to_dict()) == saved


def test_other_format_version_or_corrupt_files_trigger_rebuild(tmp_path, data):
    folder = tmp_path / "full"
    calls = []
    open_or_build(folder, _expected(), _vectors_fn(data, calls))
    raw = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps(raw | {"format_version": 99}))
    _, rebuilt = open_or_build(folder, _expected(), _vectors_fn(data, calls))
    assert rebuilt
    data_dir = read_manifest(folder)[1]
    (data_dir / "hnsw.bin").write_bytes(b"truncated")
    with pytest.raises(IndexLoadError):
        load_index(folder)
    _, rebuilt = open_or_build(folder, _expected(), _vectors_fn(data, calls))
    assert rebuilt
    (folder / "manifest.json").write_text("{not json")
    _, rebuilt = open_or_build(folder, _expected(), _vectors_fn(data, calls))
    assert rebuilt and len(calls) == 4


def test_small_catalog_gets_an_exact_index(tmp_path, data):
    index, _ = open_or_build(tmp_path / "small", _expected(),
                             lambda: (data.ids[:100], data.vectors[:100], data.categories[:100]))
    assert isinstance(index, ExactIndex)
    loaded, manifest = load_index(tmp_path / "small")
    assert isinstance(loaded, ExactIndex) and manifest.kind == "exact" and manifest.item_count == 100
    np.testing.assert_array_equal(loaded.categories, data.categories[:100])


def test_subspace_set_round_trip(tmp_path, data):
    expected = _expected(name="attributes", chunks=chunk_slices(4, 32))
    index, rebuilt = open_or_build(tmp_path / "attributes", expected,
                                   lambda: IndexData(data.ids, data.vectors, data.categories))
    assert rebuilt and isinstance(index, SubspaceIndexSet)
    loaded, rebuilt = open_or_build(tmp_path / "attributes", expected, lambda: pytest.fail("must not rebuild"))
    assert not rebuilt and loaded.chunks == expected.chunks
    np.testing.assert_array_equal(loaded.search(data.vectors[9], 5, 2).ids, index.search(data.vectors[9], 5, 2).ids)
    _, rebuilt = open_or_build(tmp_path / "attributes", replace(expected, chunks=chunk_slices(2, 64)),
                               lambda: IndexData(data.ids, data.vectors))
    assert rebuilt


@pytest.mark.parametrize("crash_point", ["writing_files", "before_manifest_commit"])
def test_interrupted_save_leaves_previous_index_usable(tmp_path, data, monkeypatch, crash_point):
    folder = tmp_path / "full"
    old_manifest = save_index(_build(data, 600), folder, _expected(catalog_version=1))
    q = data.vectors[5]
    before = load_index(folder)[0].search(q, 10)

    class Crash(BaseException):
        """Stands in for the process dying: not an Exception, so nothing catches it on the way out."""

    if crash_point == "writing_files":
        def partial_save(self, directory):
            np.save(os.path.join(directory, "vectors.npy"), np.zeros((3, 3)))
            raise Crash()
        monkeypatch.setattr(HnswIndex, "save", partial_save)
    else:
        real_replace = os.replace

        def crash_on_manifest(src, dst):
            if str(dst).endswith("manifest.json"):
                raise Crash()
            return real_replace(src, dst)
        monkeypatch.setattr(persist.os, "replace", crash_on_manifest)
    monkeypatch.setattr(persist.shutil, "rmtree", lambda *a, **k: None)  # a dead process cleans nothing up

    with pytest.raises(Crash):
        save_index(_build(data, 800), folder, _expected(catalog_version=2))
    monkeypatch.undo()
    assert any(p.name.startswith((".tmp-", "data-")) and p.name != read_manifest(folder)[1].name
               for p in folder.iterdir())  # debris of the interrupted save

    index, manifest = load_index(folder)
    assert manifest == old_manifest and len(index) == 600
    np.testing.assert_array_equal(index.search(q, 10).ids, before.ids)
    _, rebuilt = open_or_build(folder, _expected(catalog_version=1), lambda: pytest.fail("must not rebuild"))
    assert not rebuilt

    save_index(_build(data, 800), folder, _expected(catalog_version=2))  # the next save removes the debris
    leftovers = [p.name for p in folder.iterdir() if p.name != "manifest.json"]
    assert leftovers == [read_manifest(folder)[1].name]
    assert len(load_index(folder)[0]) == 800


def _build(data, n):
    index = HnswIndex(128, CONFIG)
    index.build(data.ids[:n], data.vectors[:n], data.categories[:n])
    return index


def test_save_after_add_and_reload(tmp_path, data):
    index = _build(data, 700)
    index.add(data.ids[700:], data.vectors[700:], data.categories[700:])
    manifest = save_index(index, tmp_path / "full", _expected(catalog_version=5))
    assert manifest.item_count == 800
    loaded, _ = load_index(tmp_path / "full")
    for i in (0, 750, 799):
        assert loaded.search(data.vectors[i], 1).ids[0] == i
    loaded.add([10_000], data.vectors[:1])  # a loaded graph can grow too
    assert len(loaded) == 801


def test_hash_checkpoint(tmp_path):
    f = tmp_path / "model.pt"
    f.write_bytes(b"weights")
    h = hash_checkpoint(f)
    assert len(h) == 64 and h == hash_checkpoint(f)
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "a.pt").write_bytes(b"1")
    first = hash_checkpoint(folder)
    (folder / "a.pt").write_bytes(b"2")
    assert hash_checkpoint(folder) != first
    with pytest.raises(FileNotFoundError):
        hash_checkpoint(tmp_path / "missing")


def test_open_or_update_adds_new_catalog_items_without_a_rebuild(tmp_path, data, monkeypatch):
    folder = tmp_path / "full"
    first = IndexData(data.ids[:700], data.vectors[:700], data.categories[:700])
    index, manifest, how = persist.open_or_update(folder, _expected(catalog_version=1), lambda: first)
    assert how == "built" and manifest.item_count == 700 and manifest.kind == "hnsw"
    # same catalog version: loaded as saved, the data function is never called
    _, _, how = persist.open_or_update(folder, _expected(catalog_version=1), lambda: pytest.fail("rebuilt"))
    assert how == "loaded"

    builds = []
    monkeypatch.setattr(persist, "build_index", lambda *a: builds.append(a) or pytest.fail("full rebuild"))
    full = IndexData(data.ids, data.vectors, data.categories)
    index, manifest, how = persist.open_or_update(folder, _expected(catalog_version=2), lambda: full)
    assert how == "updated" and manifest.item_count == 800 and manifest.catalog_version == 2
    assert index.search(data.vectors[750], 1).ids[0] == 750  # a new item is found
    assert read_manifest(folder)[0].catalog_version == 2  # and the update was saved
    assert not builds


def test_open_or_update_rebuilds_when_items_were_removed_or_recategorised(tmp_path, data):
    folder = tmp_path / "full"
    persist.open_or_update(folder, _expected(catalog_version=1), lambda: IndexData(data.ids, data.vectors, data.categories))
    fewer = IndexData(data.ids[1:], data.vectors[1:], data.categories[1:])
    index, _, how = persist.open_or_update(folder, _expected(catalog_version=2), lambda: fewer)
    assert how == "built" and 0 not in set(index.ids.tolist())
    moved = data.categories[1:].copy()
    moved[5] = (moved[5] + 1) % (moved.max() + 1)
    index, _, how = persist.open_or_update(folder, _expected(catalog_version=3),
                                           lambda: IndexData(data.ids[1:], data.vectors[1:], moved))
    assert how == "built"
    # another model (checkpoint hash) is never extended, only rebuilt
    _, _, how = persist.open_or_update(folder, _expected(catalog_version=3, checkpoint_hash="other"),
                                       lambda: IndexData(data.ids[1:], data.vectors[1:], moved))
    assert how == "built"
