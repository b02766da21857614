"""Every registered method, through the one contract: it trains an epoch on a tiny demo catalog, evaluates in
its paper's terms, opens in the engine and answers every request kind it declares; a kind that no model of
the workspace serves is refused with the methods that would serve it. A new method is tested here by
registering it."""
import shutil

import numpy as np
import pytest
import torch

from fashion_gui.catalog.demo.builder import DemoConfig, build_demo
from fashion_gui.catalog.store import Catalog
from fashion_gui.engine import (
    AttributeValues,
    CategoryQuery,
    Compatible,
    EngineConfig,
    Manipulate,
    NotAvailableError,
    RetrievalEngine,
    SimilarIn,
    TextFeedback,
)
from fashion_gui.inference.checkpoint import load_checkpoint
from fashion_gui.methods import REQUEST_KINDS, EvalRequest, get_method, list_methods, methods_serving
from fashion_gui.workspace import Workspace

CPU = torch.device("cpu")
# one budget for every method: each takes the values of its own options (a method ignores the others)
TINY = {"epochs": 1, "manip_epochs": 1, "triplets_per_epoch": 30, "d": 16, "image_size": 48, "batch_size": 32,
        "embed_dim": 32, "word_dim": 16, "text_hidden": 32, "device": "cpu", "seed": 3}


def _request(kind: str, engine: RetrievalEngine, query):
    """A request of each kind a shopper can make, on the query garment."""
    if kind == "manipulate":
        colour = next(v for v in engine.schema.type("colour").values if v != query.attributes.get("colour"))
        return Manipulate(query, {"colour": colour})
    if kind == "similar_in":
        return SimilarIn(query, "pattern")
    if kind == "text":
        return TextFeedback(query, "change colour to red")
    if kind == "compatible":
        return Compatible(query, "shoes" if query.category != "shoes" else "bag")
    if kind == "attribute_values":  # no picture: the query garment is not part of the request
        return AttributeValues({"colour": "red", "pattern": "solid"})
    if kind == "category":
        return CategoryQuery("coat")
    return None  # "paths": engine.path / engine.typicality


@pytest.fixture(scope="module")
def base_ws(tmp_path_factory) -> Workspace:
    """A 600-item demo whose val and test splits have outfits and both kinds of feedback, with a tiny ADDE
    model in checkpoints/adde (ADDE-O and the composed models' backbones build on it); read only."""
    ws = Workspace(tmp_path_factory.mktemp("methods_ws"))
    build_demo(ws, DemoConfig(items=600, size=64, seed=0, workers=1))
    spec = get_method("adde")
    spec.create_trainer(ws, ws.checkpoints / "adde",
                        **{o.name: TINY[o.name] for o in spec.options() if o.name in TINY}).run()
    return ws


@pytest.mark.parametrize("name", list_methods())
def test_method_trains_evaluates_and_serves_what_it_declares(name, base_ws, tmp_path):
    spec = get_method(name)
    ws = Workspace(tmp_path / "ws")
    # the workspace's ADDE model stays (ADDE-O and the composed models' backbone build on it)
    shutil.copytree(base_ws.root, ws.root, ignore=shutil.ignore_patterns("indexes"))
    options = {o.name: TINY[o.name] for o in spec.options() if o.name in TINY}
    config = spec.make_config(options)
    folder = ws.checkpoints / f"test-{spec.default_checkpoint(config)}"
    events = []
    path = spec.create_trainer(ws, folder, [events.append], config=config).run()
    assert [e.stage for e in events if e.kind == "epoch"] == [s.name for s, n in spec.stage_epochs(config)
                                                               for _ in range(n)]
    with Catalog.open(ws.catalog_path) as catalog:
        ckpt = load_checkpoint(path, expected_schema=catalog.schema.to_dict())
        assert ckpt.method == name and ckpt.metrics["validation"]["train_seconds"] > 0
        report = spec.evaluate(EvalRequest(ws, catalog, ckpt, "test", CPU))
    assert report.metrics and report.summary and report.protocol

    models = {} if spec.encoder else {kind: folder.name for kind in spec.serves}
    encoder = folder.name if spec.encoder else "adde"
    with RetrievalEngine.open(ws, device="cpu", config=EngineConfig(encoder_model=encoder, models=models)) as engine:
        info = engine.describe()
        assert info["encoder_model"] == encoder
        query = engine.query_from_item(int(engine.catalog.ids(split="test", category="dress")[0]))
        for kind in spec.serves:
            assert info["models"][kind] == folder.name, (kind, info["models"])
            if kind == "paths":
                path_result = engine.path(query.item_id, target_category="shoes")
                assert path_result.hits[0].item_id == query.item_id and path_result.hits[-1].category == "shoes"
                continue
            request = _request(kind, engine, query)
            results = engine.search(request, k=8)
            assert len(results) == 8
            assert request.query is None or query.item_id not in results.ids
            assert np.all(np.diff([h.score for h in results.hits]) <= 1e-6), "best first"
        # no other checkpoint of the workspace serves these: refused, naming the methods that would
        others = {m.name for m in (ws.checkpoints.iterdir())} - {folder.name, "adde"}
        assert not others
        for kind in set(REQUEST_KINDS) - set(spec.serves) - set(get_method("adde").serves):
            request = _request(kind, engine, query)
            with pytest.raises(NotAvailableError, match=f"fashion train {methods_serving(kind)[0]}"):
                engine.search(request)
