"""ASEN-family and MODC training on a small demo: every MODC stage beats the untrained network on MAP@100,
pseudo labels improve with training, labels are hidden by product, and the engine serves "similar in" with
prioritized retrieval and pseudo-label notes."""
import numpy as np
import pytest
import torch

from fashion_gui.catalog.attribute_protocol import attribute_protocol
from fashion_gui.catalog.demo.builder import DemoConfig, build_demo
from fashion_gui.catalog.store import Catalog
from fashion_gui.engine import EngineConfig, RetrievalEngine, SimilarIn
from fashion_gui.engine.requests import RequestError
from fashion_gui.inference.asen_model import AttributeSpecificModel, build_network
from fashion_gui.inference.checkpoint import load_checkpoint
from fashion_gui.inference.preprocess import BatchPreprocessor
from fashion_gui.methods import EvalRequest, get_method
from fashion_gui.training.asen import architecture, labeled_products
from fashion_gui.training.asen_eval import SplitFeatures, pseudo_label_accuracy, retrieval_report
from fashion_gui.workspace import Workspace

CPU = torch.device("cpu")
SMALL = {"image_size": 48, "batch_size": 32, "hidden": 32, "dim": 32, "device": "cpu", "seed": 0, "lr": 2e-3,
         "cpu_threads": 1}
MODC = {**SMALL, "epochs": 2, "supervised_epochs": 2, "ssl_labeled_epochs": 1, "ssl_unlabeled_epochs": 1,
        "pseudo_instance_epochs": 1, "pseudo_cluster_epochs": 1, "labeled_fraction": 0.5, "confidence": 0.5}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    ws = Workspace(tmp_path_factory.mktemp("asen_ws"))
    build_demo(ws, DemoConfig(items=450, size=48, seed=2, workers=1))
    adde = get_method("adde")
    adde.create_trainer(ws, ws.checkpoints / "adde", epochs=1, manip_epochs=0, d=16, image_size=48, device="cpu").run()
    spec = get_method("modc-asen")
    config = spec.make_config(MODC)
    events = []
    spec.create_trainer(ws, ws.checkpoints / "modc-asen", [events.append], config=config).run()
    return ws, config, events


def _untrained(ws, config, catalog, split="val"):
    torch.manual_seed(config.seed)
    arch = architecture(config, modc=True)
    model = AttributeSpecificModel(catalog.schema, build_network(arch, tuple(catalog.schema.sizes)), config.image_size,
                                   arch).eval()
    protocol = attribute_protocol(catalog, split)
    return model, SplitFeatures(model, ws, catalog, protocol, BatchPreprocessor(CPU)), protocol


def test_every_stage_beats_the_untrained_network_and_is_visible(trained):
    ws, config, events = trained
    stages = [s.name for s, _ in get_method("modc-asen").stage_epochs(config)]
    assert stages == ["warmup", "supervised", "ssl_labeled", "ssl_unlabeled", "pseudo_instance", "pseudo_cluster"]
    assert [e["name"] for e in next(e for e in events if e.kind == "plan").plan] == stages
    with Catalog.open(ws.catalog_path) as catalog:
        model, feats, protocol = _untrained(ws, config, catalog)
        untrained = retrieval_report(model, feats, protocol)["overall"]["map@100"]
    for stage in stages:
        best = max(e.metrics["val_map@100"] for e in events if e.kind == "epoch" and e.stage == stage)
        assert best > untrained, (stage, best, untrained)
    assert any("pseudo labels:" in (e.message or "") for e in events if e.stage == "pseudo_instance")


def test_pseudo_labels_improve_with_training(trained):
    ws, config, _ = trained
    with Catalog.open(ws.catalog_path) as catalog:
        model, feats, protocol = _untrained(ws, config, catalog)
        before = pseudo_label_accuracy(model, feats, protocol, include_queries=True)["overall"]
        checkpoint = load_checkpoint(ws.checkpoints / "modc-asen")
        report = get_method("modc-asen").evaluate(EvalRequest(ws, catalog, checkpoint, "val", CPU))
    after = report.metrics["acc"]["overall"]
    assert after > before + 0.1, (before, after)
    for key in ("attribute_space", "top1_known", "top1_unknown", "top2_known", "top2_unknown"):
        assert set(report.metrics[key]["overall"]) == {"map@100", "map@all", "recall@100"}
    assert report.protocol["ap_denominator"] == "min(R,K)" and "query_candidate_sets" in report.protocol
    # a known query label beats a guessed one on this protocol
    assert report.metrics["top1_known"]["overall"]["map@100"] >= report.metrics["top1_unknown"]["overall"]["map@100"]


def test_labels_are_hidden_by_product():
    instances = ["a", "a", "b", "c", "c", "d", "e", "f", "g", "h"]
    keep = labeled_products(instances, 0.25, seed=1)
    assert keep[0] == keep[1] and keep[3] == keep[4]
    assert len({p for p, k in zip(instances, keep) if k}) == 2
    assert np.array_equal(keep, labeled_products(instances, 0.25, seed=1))
    assert labeled_products(instances, 1.0, 0).all()


def test_engine_serves_similar_in_with_prioritized_retrieval(trained):
    ws, _, _ = trained
    config = EngineConfig(encoder_model="adde", models={"similar_in": "modc-asen"})
    with RetrievalEngine.open(ws, device="cpu", config=config) as engine:
        query = engine.query_from_item(int(engine.catalog.ids(split="test")[0]))
        plain = engine.search(SimilarIn(query, "colour"), k=10)
        assert len(plain) == 10 and plain.space == "attribute:colour"
        assert all(h.note.startswith("\u2248") for h in plain.hits)  # each hit's pseudo label, "≈red 0.93"
        first = engine.search(SimilarIn(query, "colour", prioritize=1), k=20)
        assert first.note.startswith("same colour ") and "predicted, p = " in first.note
        predicted = first.note.split("same colour ")[1].split(" first")[0]
        tagged = [h.note[1:].rsplit(" ", 1)[0] for h in first.hits]
        n_first = sum(t == predicted for t in tagged)
        assert tagged[:n_first] == [predicted] * n_first  # the predicted value's items come first
        assert np.all(np.diff([h.score for h in first.hits]) <= 1e-6)
        picked_value = next(v for v in engine.schema.type("colour").values if v != predicted)
        picked = engine.search(SimilarIn(query, "colour", prioritize=2, value=picked_value), k=20)
        assert picked.requested == {"colour": picked_value} and "you picked" in picked.note
        assert all(h.matches["colour"] == (h.attributes.get("colour") == picked_value) for h in picked.hits)
        with pytest.raises(RequestError, match="no value"):
            engine.search(SimilarIn(query, "colour", prioritize=1, value="plaid"))
        with pytest.raises(RequestError, match="prioritized"):  # ADDE-C has no pseudo labels
            RetrievalEngine.open(ws, device="cpu", config=EngineConfig(encoder_model="adde")).search(
                SimilarIn(query, "colour", prioritize=1))
