"""Text feedback and compatible items through the engine, with a small UIGR model and an ADDE-O head."""
import shutil

import numpy as np
import pytest

from fashion_gui.engine import (
    Compatible,
    EngineConfig,
    Manipulate,
    RequestError,
    RetrievalEngine,
    TextFeedback,
)
from fashion_gui.inference.checkpoint import load_checkpoint, save_checkpoint
from fashion_gui.workspace import Workspace


@pytest.fixture(scope="module")
def composed_ws(composed_workspace):
    return composed_workspace  # tests here only read it (the engine writes indexes/, which is fine)


@pytest.fixture(scope="module")
def engine(composed_ws):
    with RetrievalEngine.open(composed_ws, device="cpu") as eng:
        yield eng


def _query(engine, category="t-shirt"):
    item_id = int(engine.catalog.ids(split="test", category=category)[0])
    return engine.query_from_item(item_id)


def test_text_feedback_routes_through_the_branch_classifier(engine):
    assert engine.can(TextFeedback) and engine.can(Compatible)
    q = _query(engine)
    new = next(v for v in engine.schema.type("colour").values if v != q.attributes["colour"])
    results = engine.search(TextFeedback(q, f"change colour to {new}"), k=10)
    assert results.space == "tgr" and "TGR" in results.note
    assert results.requested == {"colour": new} and q.item_id not in results.ids and len(results) == 10
    assert all(h.matches == {"colour": h.attributes.get("colour") == new} for h in results.hits)

    vcr = engine.search(TextFeedback(q, f"search a shoes that matches this {q.category} best"), k=10)
    assert vcr.space == "vcr" and "VCR" in vcr.note
    assert vcr.requested == {"category": "shoes"}
    # a compatible item is another garment: the VCR branch finds shoes far more often than chance
    share = np.mean(engine.catalog.categories_of(engine.gallery.ids) == engine.category_index("shoes"))
    assert np.mean([h.category == "shoes" for h in vcr.hits]) > share + 0.2


def test_compatible_items_come_from_the_target_category(engine):
    q = _query(engine)
    results = engine.search(Compatible(q, "shoes"), k=8)
    assert results.space == "vcr" and "search a shoes that matches this t-shirt best" in results.note
    assert len(results) == 8 and all(h.category == "shoes" and h.matches == {"category": True} for h in results.hits)
    scores = [h.score for h in results.hits]
    assert scores == sorted(scores, reverse=True)


def test_compatible_through_adde_o(composed_ws):
    with RetrievalEngine.open(composed_ws, device="cpu", config=EngineConfig(models={"compatible": "adde-o"})) as eng:
        assert eng.describe()["models"]["compatible"] == "adde-o"
        q = _query(eng)
        results = eng.search(Compatible(q, "trousers"), k=6)
        assert results.space == "outfit" and all(h.category == "trousers" for h in results.hits)
        scores = [h.score for h in results.hits]
        assert scores == sorted(scores, reverse=True)
        assert len(set(results.ids)) == 6 and q.item_id not in results.ids


def test_an_adde_o_head_of_another_attribute_model_is_not_used(composed_ws, tmp_path):
    ws = Workspace(tmp_path / "ws")
    shutil.copytree(composed_ws.root, ws.root, ignore=shutil.ignore_patterns("indexes", "uigr-tirg"))
    adde = load_checkpoint(ws.checkpoints / "adde")
    state = adde.weights()
    first = next(k for k, v in state["model"].items() if v.is_floating_point())
    state["model"][first] = state["model"][first] + 0.01  # another attribute model, same schema (retrained)
    save_checkpoint(adde.path, method=adde.method, weights=state, config=adde.config, schema=adde.schema,
                    catalog_version=adde.catalog_version, metrics=adde.metrics)
    with RetrievalEngine.open(ws, device="cpu") as eng:
        assert not eng.can(Compatible) and not eng.can(TextFeedback)


def test_composed_request_errors(engine):
    q = _query(engine)
    with pytest.raises(RequestError, match="feedback text is empty"):
        engine.search(TextFeedback(q, "   "))
    with pytest.raises(RequestError, match="unknown category 'hats'"):
        engine.search(Compatible(q, "hats"))
    assert engine.search(Manipulate(q, {}), k=3).space == "full"  # the attribute side is unchanged
