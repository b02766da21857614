"""The demo catalog carries the structure every method is tested on."""
from collections import defaultdict
from itertools import combinations

import numpy as np
import pytest
from PIL import Image

from fashion_gui.catalog.demo.builder import DemoConfig, build_demo
from fashion_gui.catalog.demo.outfits import ACCENT_PAIRS
from fashion_gui.catalog.demo.schema import BOTTOMS, DEMO_SCHEMA, NEUTRALS, TOPS, allowed_values
from fashion_gui.catalog.schema import MISSING
from fashion_gui.catalog.store import Catalog, CatalogError
from fashion_gui.workspace import Workspace


@pytest.fixture(scope="module")
def cat(demo_workspace):
    with Catalog.open(demo_workspace.catalog_path) as catalog:
        yield catalog


def test_schema_is_rich_enough():
    assert len(DEMO_SCHEMA.categories) >= 10
    assert len(DEMO_SCHEMA.types) >= 8
    assert DEMO_SCHEMA.total_values >= 60
    assert len(DEMO_SCHEMA.type("colour").values) >= 12
    for pair in [("navy", "blue"), ("beige", "white")]:
        assert set(pair) <= set(DEMO_SCHEMA.type("colour").values)


def test_counts_and_every_image_is_there(cat, demo_workspace):
    counts = cat.counts()
    assert counts["items"] == 300 and counts["instances"] == 100
    assert set(counts["splits"]) == {"train", "val", "test"}
    assert counts["outfits"] > 10 and counts["manipulation_queries"] > 50
    assert counts["feedback_by_kind"]["TGR"] > 50 and counts["feedback_by_kind"]["VCR"] > 50
    for path in cat.image_paths(cat.ids()):
        with Image.open(demo_workspace.resolve_image(path)) as im:
            assert im.size == (64, 64) and im.mode == "RGB"


def test_attributes_apply_only_where_they_make_sense(cat):
    ids = cat.ids()
    labels, cats = cat.labels(ids), cat.categories_of(ids)
    for label, c in zip(labels, cats):
        category = DEMO_SCHEMA.categories[c]
        for a, t in enumerate(DEMO_SCHEMA.types):
            if t.applies_to(category):
                assert label[a] != MISSING and t.values[label[a]] in allowed_values(category, t.name)
            else:
                assert label[a] == MISSING


def test_splits_are_by_instance(cat):
    split_of = defaultdict(set)
    for item in cat.items():
        split_of[item.instance_id].add(item.split)
    assert all(len(s) == 1 for s in split_of.values())
    views = defaultdict(int)
    for inst in cat.instances_of(cat.ids()):
        views[inst] += 1
    assert set(views.values()) == {3}, "every product has several photographs"


def test_every_manipulation_query_has_a_target_in_its_gallery(cat):
    queries = cat.manipulation_queries()
    assert {q.split for q in queries} == {"val", "test"}
    for split in ("val", "test"):
        gallery = {tuple(r) for r in cat.labels(cat.ids(split=split)).tolist()}
        for q in (q for q in queries if q.split == split):
            assert q.target_label in gallery
            ref = cat.labels([q.reference_id])[0]
            changed = [DEMO_SCHEMA.types[a].name for a in np.nonzero(ref != np.array(q.target_label))[0]]
            assert changed == list(q.edits)
            assert cat.item(q.reference_id).split == split


def test_tgr_texts_mention_the_changed_attributes(cat):
    triplets = cat.feedback(kind="TGR")
    assert {t.split for t in triplets} == {"train", "val", "test"}
    n_changes = defaultdict(int)
    for t in triplets:
        ref, tgt = cat.item(t.reference_id), cat.item(t.target_id)
        assert ref.category == tgt.category and ref.split == tgt.split == t.split
        changes = {k: v for k, v in tgt.attributes.items() if ref.attributes.get(k) != v}
        n_changes[len(changes)] += 1
        assert len(changes) <= 2
        for name, value in changes.items():
            word = DEMO_SCHEMA.type(name).noun if value == "none" else value
            assert word in t.text, (t.text, changes)
    assert n_changes[1] > 0 and n_changes[2] > 0


def test_vcr_triplets_pair_pieces_of_one_outfit(cat):
    pieces = defaultdict(set)
    for outfit in cat.outfits():
        for a, b in combinations(outfit.item_ids, 2):
            pieces[a].add(b)
            pieces[b].add(a)
    vcr = cat.feedback(kind="VCR")
    for t in vcr:
        ref, tgt = cat.item(t.reference_id), cat.item(t.target_id)
        assert t.target_id in pieces[t.reference_id]
        assert ref.category != tgt.category
        assert ref.category in t.text and tgt.category in t.text
    assert any(any(v in t.text for v in cat.item(t.target_id).attributes.values()
                   if v not in (cat.item(t.target_id).category,)) for t in vcr)


def _harmony_violations(items) -> list[str]:
    colours = [i.attributes["colour"] for i in items]
    accents = set(colours) - set(NEUTRALS)
    bad = []
    if len(accents) > 2 or (len(accents) == 2 and frozenset(accents) not in ACCENT_PAIRS):
        bad.append("accents")
    if sum(i.attributes.get("pattern", "solid") != "solid" for i in items) > 1:
        bad.append("patterns")
    return bad


def test_outfits_follow_slots_style_and_harmony(cat):
    outfits = cat.outfits()
    for outfit in outfits:
        items = [cat.item(i) for i in outfit.item_ids]
        cats = [i.category for i in items]
        assert "shoes" in cats
        assert ("dress" in cats) != (any(c in TOPS for c in cats) and any(c in BOTTOMS for c in cats))
        assert len(set(cats)) == len(cats)
        assert _harmony_violations(items) == []
        assert len({i.split for i in items}) == 1 and outfit.style


def test_compatibility_is_not_trivial(cat):
    """Random sets of the same slots break the harmony rule often, so it has to be learned."""
    rng = np.random.default_rng(0)
    by_cat = defaultdict(list)
    for item in cat.items():
        by_cat[item.category].append(item)
    violations = 0
    for _ in range(200):
        pieces = [by_cat[c][rng.integers(len(by_cat[c]))] for c in ("t-shirt", "trousers", "shoes", "bag")]
        violations += bool(_harmony_violations(pieces))
    assert 0.2 < violations / 200 < 0.95


def test_rebuild_refused_without_force(demo_workspace):
    with pytest.raises(CatalogError, match="--force"):
        build_demo(demo_workspace, DemoConfig(items=60, size=48, workers=1))


def _snapshot(ws: Workspace):
    with Catalog.open(ws.catalog_path) as c:
        ids = c.ids()
        pixels = [np.asarray(Image.open(ws.resolve_image(p))) for p in c.image_paths(ids)]
        return c.labels(ids), [f.text for f in c.feedback()], [o.item_ids for o in c.outfits()], pixels


def test_renderer_and_catalog_are_deterministic(tmp_path):
    config = DemoConfig(items=60, views=2, size=48, seed=3, workers=1)
    a, b = Workspace(tmp_path / "a"), Workspace(tmp_path / "b")
    build_demo(a, config)
    build_demo(b, DemoConfig(items=60, views=2, size=48, seed=3, workers=2))
    la, ta, oa, pa = _snapshot(a)
    lb, tb, ob, pb = _snapshot(b)
    np.testing.assert_array_equal(la, lb)
    assert ta == tb and oa == ob
    assert all(np.array_equal(x, y) for x, y in zip(pa, pb))
    c = Workspace(tmp_path / "c")
    build_demo(c, DemoConfig(items=60, views=2, size=48, seed=4, workers=1))
    lc, *_ = _snapshot(c)
    assert not np.array_equal(la, lc)
