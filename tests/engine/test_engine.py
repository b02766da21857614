"""The retrieval engine on a tiny trained demo workspace: requests, exclusions, errors, indexes, paths."""
import io
import shutil

import numpy as np
import pytest
from PIL import Image

from fashion_gui.catalog.images import ImageError
from fashion_gui.catalog.store import Catalog, ItemRecord
from fashion_gui.engine import (
    Compatible,
    EngineConfig,
    EngineError,
    Manipulate,
    NotAvailableError,
    RequestError,
    RetrievalEngine,
    SimilarIn,
    TextFeedback,
)
from fashion_gui.engine.edits import EditPolicy
from fashion_gui.engine.config import load_index_config, save_index_config
from fashion_gui.index import IndexConfig, UnreachableError
from fashion_gui.workspace import Workspace


@pytest.fixture(scope="module")
def engine(trained_workspace):
    with RetrievalEngine.open(trained_workspace, device="cpu") as eng:
        yield eng


def _queries(engine, n=40):
    """Test-split catalog items as queries (the model never trained on them)."""
    ids = engine.catalog.ids(split="test")
    return [engine.query_from_item(int(i)) for i in ids[:: max(1, len(ids) // n)][:n]]


def _base_rate(engine, name, value):
    labels = engine.catalog.labels(engine.gallery.ids)
    return float(np.mean(labels[:, engine.schema.type_index(name)] == engine.schema.type(name).index(value)))


def _colour_edits(engine):
    """Test-split queries, each with a colour the gallery has many items of, other than its own."""
    colours = engine.schema.type("colour").values
    labels = engine.catalog.labels(engine.gallery.ids)
    counts = np.bincount(labels[:, engine.schema.type_index("colour")], minlength=len(colours))
    for q in _queries(engine):
        order = [colours[i] for i in np.argsort(-counts, kind="stable") if colours[i] != q.attributes["colour"]]
        yield q, order[0] if q.item_id % 2 else order[1]


def test_a_colour_edit_gives_that_colour_in_the_same_garment(engine):
    """"This, but red": the default (visual) ranking reads only the model's predictions of the gallery."""
    k = 5
    got_colour, same_category, base = [], [], []
    for q, new in _colour_edits(engine):
        results = engine.search(Manipulate(q, {"colour": new}), k=k)
        assert len(results) == k and q.item_id not in results.ids
        assert results.requested == {"colour": new, "category": q.category}
        for h in results.hits:  # the chips agree with the catalog
            assert h.matches == {"colour": h.attributes.get("colour") == new, "category": h.category == q.category}
        got_colour.append(np.mean([h.matches["colour"] for h in results.hits]))
        same_category.append(np.mean([h.matches["category"] for h in results.hits]))
        base.append(_base_rate(engine, "colour", new))
    assert np.mean(same_category) > 0.7, np.mean(same_category)  # this tiny model's category classifier errs
    assert np.mean(got_colour) > 0.6 and np.mean(got_colour) > 5 * np.mean(base), (np.mean(got_colour), np.mean(base))


def test_the_papers_ranking_is_adde_plain_nearest_neighbours(trained_workspace, engine):
    """ADDE's protocol (ranking "paper"): the new colour several times its base rate, the rest kept, but
    neither the category nor the colour is enforced."""
    got_colour, base, kept, chance = [], [], [], []
    config = EngineConfig(edits=EditPolicy(ranking="paper"))
    with RetrievalEngine.open(trained_workspace, device="cpu", config=config) as paper:
        for q, new in _colour_edits(paper):
            results = paper.search(Manipulate(q, {"colour": new}), k=5)
            assert results.requested == {"colour": new} and q.item_id not in results.ids
            moved = paper.encoder.model.manipulate(q.embedding[None], q.labels[None],
                                                   paper.encoder.edited_labels(q, {"colour": new})[None])[0]
            assert results.ids == [i for i in paper.encoder.full_index.search(moved, 6).ids.tolist()
                                   if i != q.item_id][:5]
            got_colour.append(np.mean([h.matches["colour"] for h in results.hits]))
            base.append(_base_rate(paper, "colour", new))
            others = [a for a in q.attributes if a != "colour"]
            kept.append(np.mean([np.mean([h.attributes.get(a) == q.attributes[a] for a in others])
                                 for h in results.hits]))
            chance.append(np.mean([_base_rate(paper, a, q.attributes[a]) for a in others]))
    assert np.mean(got_colour) > 3 * np.mean(base), (np.mean(got_colour), np.mean(base))
    assert np.mean(kept) > np.mean(chance) + 0.2, (np.mean(kept), np.mean(chance))


def _label_matches(eng, q, name: str, value: str) -> np.ndarray:
    """Ids of the other items of q's category whose catalog label of ``name`` is ``value``."""
    ids = eng.gallery.ids
    mask = ((eng.catalog.categories_of(ids) == eng.category_index(q.category))
            & (eng.catalog.labels(ids)[:, eng.schema.type_index(name)] == eng.schema.type(name).index(value)))
    return ids[mask & (ids != q.item_id)]


def _labels_kept(eng, q, edited: str, ids) -> np.ndarray:
    """Per item: the fraction of q's other labelled attributes (not the edited one, not the category) it shares."""
    labels, own = eng.catalog.labels(np.asarray(ids)), eng.catalog.labels(np.array([q.item_id]))[0]
    others = [a for a, t in enumerate(eng.schema.types) if t.name not in (edited, "category") and own[a] >= 0]
    return np.mean(labels[:, others] == own[others], axis=1)


def test_catalog_labels_ranking_gives_only_matches_and_says_when_none_exist(trained_workspace):
    config = EngineConfig(edits=EditPolicy(ranking="labels"))
    with RetrievalEngine.open(trained_workspace, device="cpu", config=config) as eng:
        for q, new in list(_colour_edits(eng))[:10]:
            results = eng.search(Manipulate(q, {"colour": new}), k=5)
            available = np.sum((eng.catalog.categories_of(eng.gallery.ids) == eng.category_index(q.category))
                               & (eng.catalog.labels(eng.gallery.ids)[:, eng.schema.type_index("colour")]
                                  == eng.schema.type("colour").index(new)))
            n = min(5, int(available))
            assert all(h.matched_all for h in results.hits[:n])
            assert results.alternatives_from == (None if n == 5 else n)
            # the matches that keep most of the query's other values come first (their labels say so)
            if n:
                kept = _labels_kept(eng, q, "colour", results.ids[:n])
                best = _labels_kept(eng, q, "colour", _label_matches(eng, q, "colour", new))
                assert kept.mean() == pytest.approx(np.sort(best)[::-1][:n].mean()), (kept, best)
        # a colour no item of the query's category has: the nearest alternatives, with a notice
        labels, cats = eng.catalog.labels(eng.gallery.ids), eng.catalog.categories_of(eng.gallery.ids)
        a = eng.schema.type_index("colour")
        q = _queries(eng, 1)[0]
        have = set(labels[cats == eng.category_index(q.category), a].tolist())
        missing = next(v for i, v in enumerate(eng.schema.type("colour").values) if i not in have)
        results = eng.search(Manipulate(q, {"colour": missing}), k=5)
        assert results.alternatives_from == 0 and "no item has colour " + missing in results.note
        assert len(results) == 5 and all(h.category == q.category and not h.matches["colour"] for h in results.hits)


def test_edits_move_results_and_several_combine(engine):
    q = _queries(engine, 1)[0]
    plain = engine.search(Manipulate(q, {}), k=20)
    new = next(v for v in engine.schema.type("colour").values if v != q.attributes["colour"])
    edited = engine.search(Manipulate(q, {"colour": new}), k=20)
    assert plain.ids != edited.ids
    pattern = next(v for v in engine.schema.type("pattern").values if v != q.attributes.get("pattern"))
    both = engine.search(Manipulate(q, {"colour": new, "pattern": pattern}), k=20)
    assert set(both.requested) == {"colour", "pattern", "category"}
    assert all(set(h.matches) == {"colour", "pattern", "category"} for h in both.hits)
    assert both.ids != edited.ids


def test_category_restriction(engine):
    q = _queries(engine, 1)[0]
    results = engine.search(Manipulate(q, {}, category="shoes"), k=5)
    assert results.hits and all(h.category == "shoes" for h in results.hits)


def test_similar_in_an_attribute_ranks_that_value_first(engine):
    agree, chance = [], []
    for q in _queries(engine, 20):
        if "pattern" not in q.attributes:
            continue
        results = engine.search(SimilarIn(q, "pattern"), k=10)
        assert results.space == "subspace:pattern" and q.item_id not in results.ids
        agree.append(np.mean([h.matches["pattern"] for h in results.hits]))
        chance.append(_base_rate(engine, "pattern", q.attributes["pattern"]))
    assert np.mean(agree) > np.mean(chance) + 0.2, (np.mean(agree), np.mean(chance))


def test_unknown_attribute_value_or_category_is_a_clear_error(engine):
    q = _queries(engine, 1)[0]
    with pytest.raises(RequestError, match="unknown value 'rouge'.*known values: black"):
        engine.search(Manipulate(q, {"colour": "rouge"}))
    with pytest.raises(RequestError, match="unknown attribute 'hue'"):
        engine.search(Manipulate(q, {"hue": "red"}))
    with pytest.raises(RequestError, match="unknown attribute"):
        engine.search(SimilarIn(q, "hue"))
    with pytest.raises(RequestError, match="unknown category 'hats'"):
        engine.search(Manipulate(q, {}, category="hats"))
    with pytest.raises(RequestError, match="k must be"):
        engine.search(Manipulate(q, {}), k=0)


def test_text_and_compatible_need_a_composed_model(engine):
    q = _queries(engine, 1)[0]
    assert not engine.can(TextFeedback) and not engine.can(Compatible)
    with pytest.raises(NotAvailableError, match="not available with this model.*fashion train uigr"):
        engine.search(TextFeedback(q, "change colour to red"))
    with pytest.raises(NotAvailableError, match="not available with this model"):
        engine.search(Compatible(q, "shoes"))


def test_encoding_a_catalog_path_gives_that_item(engine):
    item_id = int(engine.catalog.ids(split="test")[3])
    path = engine.workspace.resolve_image(engine.catalog.image_paths([item_id])[0])
    q = engine.encode(path)
    assert q.item_id == item_id
    assert item_id not in engine.search(Manipulate(q, {}), k=10).ids


def _png(image: Image.Image, fmt="PNG", **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kw)
    return buf.getvalue()


def test_uploaded_images_of_every_mode_are_encoded(engine):
    item_id = int(engine.catalog.ids(split="test")[0])
    rgb = Image.open(engine.workspace.resolve_image(engine.catalog.image_paths([item_id])[0])).convert("RGB")
    variants = {
        "rgba": _png(rgb.convert("RGBA")),
        "grey": _png(rgb.convert("L")),
        "cmyk": _png(rgb.convert("CMYK"), "JPEG"),
        "16bit": _png(Image.fromarray(np.asarray(rgb.convert("L"), np.uint16) * 257)),
    }
    reference = engine.query_from_item(item_id)
    for name, data in variants.items():
        q = engine.encode(data)
        assert q.item_id is None and q.image is not None, name
        assert q.embedding.shape == reference.embedding.shape and np.isfinite(q.embedding).all(), name
        assert set(q.predicted) == set(engine.schema.names)
        assert q.category in engine.schema.categories
        # types that do not apply to the predicted category are left missing
        for t in engine.schema.types:
            assert (t.name in q.attributes) == t.applies_to(q.category)
        results = engine.search(Manipulate(q, {}), k=5)
        assert len(results) == 5
    # the colour version of the item is its own nearest neighbour
    q = engine.encode(rgb)
    assert engine.search(Manipulate(q, {}), k=1).ids == [item_id]


def test_exif_rotation_is_applied(engine):
    item_id = int(engine.catalog.ids(split="test")[0])
    rgb = Image.open(engine.workspace.resolve_image(engine.catalog.image_paths([item_id])[0])).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": the stored pixels are rotated the other way
    rotated = rgb.transpose(Image.Transpose.ROTATE_90)
    upright = engine.encode(_png(rotated, "JPEG", exif=exif, quality=95))
    plain = engine.encode(_png(rgb, "JPEG", quality=95))
    sideways = engine.encode(_png(rotated, "JPEG", quality=95))
    cos = lambda a, b: float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))  # noqa: E731
    assert cos(upright.embedding, plain.embedding) > cos(sideways.embedding, plain.embedding)


def test_bad_images_give_clear_errors(engine, tmp_path):
    good = _png(Image.new("RGB", (64, 64), (200, 30, 30)))
    with pytest.raises(ImageError, match="damaged or truncated"):
        engine.encode(good[: len(good) // 2])
    with pytest.raises(ImageError, match="not an image file"):
        engine.encode(b"this is not an image")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ImageError, match="not an image file"):
        engine.encode(tmp_path / "notes.txt")
    with pytest.raises(ImageError, match="file not found"):
        engine.encode(tmp_path / "missing.jpg")
    huge = Image.new("1", (10_000, 9_000))  # 90 M pixels, a small file: the decompression-bomb guard
    with pytest.raises(ImageError, match="larger than the"):
        engine.encode(_png(huge))


def test_style_path_between_items_and_to_a_category(engine):
    ids = engine.gallery.ids
    graph = engine.graph()
    comp = graph.components[graph.nodes_of(ids)]
    a, b = (int(i) for i in ids[comp == comp[0]][[0, -1]])
    path = engine.path(a, b)
    assert path.ids[0] == a and path.ids[-1] == b and len(path.steps) == len(path.ids) - 1
    assert path.largest_step == int(np.argmax(path.steps))
    to_shoes = engine.path(a, target_category="shoes")
    assert to_shoes.hits[-1].category == "shoes" and to_shoes.target_category == "shoes"
    typical = engine.typicality("shoes")
    assert list(typical.distances) == sorted(typical.distances)
    assert {h.category for h in typical.hits} == {"shoes"}
    colour_path = engine.path(a, target_category="shoes", space="colour")
    assert colour_path.space == "colour" and colour_path.hits[-1].category == "shoes"
    with pytest.raises(RequestError, match="either a target item or a target category"):
        engine.path(a)
    with pytest.raises(RequestError, match="unknown attribute"):
        engine.path(a, b, space="hue")
    if graph.n_components > 1:
        other = int(ids[comp != comp[0]][0])
        with pytest.raises(UnreachableError, match="different connected components"):
            engine.path(a, other)


@pytest.fixture
def workspace_copy(trained_workspace, tmp_path):
    ws = Workspace(tmp_path / "ws")
    shutil.copytree(trained_workspace.root, ws.root, ignore=shutil.ignore_patterns("indexes"))
    return ws


def _index_status(eng) -> dict[str, str]:
    """The encoder's indexes ("<checkpoint>/full", ".../subspaces") by short name -> loaded | updated | built."""
    return {name.split("/")[-1]: ix["status"] for name, ix in eng.describe()["indexes"].items()}


def test_indexes_are_reused_updated_with_new_items_and_rebuilt_on_a_new_model(workspace_copy):
    ws = workspace_copy
    with RetrievalEngine.open(ws, device="cpu") as eng:
        assert _index_status(eng) == {"full": "built", "subspaces": "built"} and eng.gallery.encoded == len(eng.gallery.ids)
        n = len(eng.gallery.ids)
        source = eng.catalog.item(int(eng.catalog.ids(split="test")[0]))
    with RetrievalEngine.open(ws, device="cpu") as eng:
        assert _index_status(eng) == {"full": "loaded", "subspaces": "loaded"} and eng.gallery.encoded == 0
    # a new catalog item: only it is encoded, the indexes are extended, and it is found
    shutil.copy(ws.resolve_image(source.image_path), ws.images / "new.jpg")
    with Catalog.open(ws.catalog_path) as catalog:
        (new_id,) = catalog.add_items([ItemRecord("images/new.jpg", source.category, "new-product", "test",
                                                  source.attributes)])
    with RetrievalEngine.open(ws, device="cpu", config=EngineConfig(edits=EditPolicy(ranking="paper"))) as eng:
        assert _index_status(eng) == {"full": "updated", "subspaces": "updated"}
        assert eng.gallery.encoded == 1 and len(eng.gallery.ids) == n + 1
        q = eng.query_from_item(source.id)
        assert eng.search(Manipulate(q, {}), k=1).ids == [new_id]  # the index's nearest: its duplicate image
    # other index parameters: rebuilt, and remembered for the workspace
    save_index_config(ws, IndexConfig(ef_search=64))
    assert load_index_config(ws).ef_search == 64
    with RetrievalEngine.open(ws, device="cpu") as eng:
        assert _index_status(eng)["full"] == "built" and eng.ctx.indexes["adde/full"][0].config.ef_search == 64


def test_a_broken_gallery_image_is_skipped_and_reported(workspace_copy):
    ws = workspace_copy
    with Catalog.open(ws.catalog_path) as catalog:
        victim = int(catalog.ids()[5])
        path = ws.resolve_image(catalog.image_paths([victim])[0])
    path.write_bytes(path.read_bytes()[:100])
    with RetrievalEngine.open(ws, device="cpu") as eng:
        assert victim in eng.gallery.skipped and "damaged or truncated" in eng.gallery.skipped[victim]
        assert victim not in set(eng.gallery.ids.tolist())
        assert eng.describe()["skipped_images"] == 1
        with pytest.raises(ImageError):
            eng.query_from_item(victim)  # it cannot be a query either, with the same clear message


def test_workspace_problems_are_clear(tmp_path, workspace_copy):
    with pytest.raises(EngineError, match="no catalog.sqlite"):
        RetrievalEngine.open(tmp_path / "nowhere", device="cpu")
    shutil.rmtree(workspace_copy.checkpoints / "adde")
    with pytest.raises(EngineError, match="no usable attribute model.*fashion train adde"):
        RetrievalEngine.open(workspace_copy, device="cpu")


def test_a_checkpoint_of_another_schema_is_refused(workspace_copy):
    import json

    config = workspace_copy.checkpoints / "adde" / "config.json"
    meta = json.loads(config.read_text())
    meta["schema"]["types"][1]["values"].append("gold")
    config.write_text(json.dumps(meta))
    with pytest.raises(EngineError, match="another catalog schema"):
        RetrievalEngine.open(workspace_copy, device="cpu")
    with pytest.raises(Exception, match="another catalog schema"):
        RetrievalEngine.open(workspace_copy, device="cpu", config=EngineConfig(encoder_model="adde"))
