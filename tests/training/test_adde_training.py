"""Training the attribute models on a tiny demo workspace: they learn, checkpoint, resume and report."""
import io
import json

import numpy as np
import pytest
import torch

from fashion_gui.catalog.demo.builder import DemoConfig, build_demo
from fashion_gui.catalog.store import Catalog
from fashion_gui.inference.adde_model import ADDEModel
from fashion_gui.inference.checkpoint import CheckpointError, load_checkpoint
from fashion_gui.inference.preprocess import BatchPreprocessor, ImageBank
from fashion_gui.methods import get_method, list_methods
from fashion_gui.training.adde import init_memory_from_prototypes
from fashion_gui.training.adde_eval import full_report, manipulation_metrics
from fashion_gui.training.events import JsonLinesReporter
from fashion_gui.workspace import Workspace

TINY = dict(backbone="compact", d=32, image_size=48, batch_size=32, lr=2e-3, manip_lr=1e-3, device="cpu")


@pytest.fixture(scope="module")
def train_workspace(tmp_path_factory):
    """A 900-image demo catalog: big enough that top-10 over its test gallery is not trivial."""
    ws = Workspace(tmp_path_factory.mktemp("train_ws"))
    build_demo(ws, DemoConfig(items=900, size=64, seed=11, workers=1))
    return ws


@pytest.fixture(scope="module")
def trained(train_workspace, tmp_path_factory):
    out = tmp_path_factory.mktemp("ckpt") / "adde"
    stream = io.StringIO()
    get_method("adde").create_trainer(train_workspace, out, [JsonLinesReporter(stream)], epochs=8, manip_epochs=3,
                                      seed=0, **TINY).run()
    return out, stream.getvalue()


def _test_top10(model, ws, split="test"):
    with Catalog.open(ws.catalog_path) as catalog:
        bank = ImageBank(ws, catalog, split, model.image_size)
        queries = catalog.manipulation_queries(split)
        prep = BatchPreprocessor(torch.device("cpu"))
        return manipulation_metrics(model, bank, queries, prep, ks=(10,), ndcg_ks=())["topk_accuracy"][10]


def test_training_beats_the_untrained_model(trained, train_workspace):
    out, _ = trained
    with Catalog.open(train_workspace.catalog_path) as catalog:
        ckpt = load_checkpoint(out, expected_schema=catalog.schema.to_dict())
        model, _ = ADDEModel.from_checkpoint(ckpt, torch.device("cpu"))
        torch.manual_seed(0)
        untrained = ADDEModel.create(model.schema, backbone="compact", d=32, image_size=48)
        # the baseline: untrained encoder, memory initialised from its own value prototypes
        init_memory_from_prototypes(untrained, ImageBank(train_workspace, catalog, "train", 48),
                                    BatchPreprocessor(torch.device("cpu")))
    trained_top10, untrained_top10 = _test_top10(model, train_workspace), _test_top10(untrained, train_workspace)
    assert trained_top10 > untrained_top10 + 0.10, (trained_top10, untrained_top10)


def test_progress_json_and_checkpoint_contents(trained):
    out, text = trained
    events = [json.loads(line) for line in text.splitlines()]
    kinds = {e["kind"] for e in events}
    assert {"plan", "start", "step", "epoch", "done"} <= kinds
    assert events[0] == {"kind": "plan", "stage_count": 2, "plan": [
        {"name": "attributes", "title": "attribute learning", "epochs": 8},
        {"name": "manipulation", "title": "memory-block manipulation", "epochs": 3}]}
    assert {(e["stage"], e["stage_index"]) for e in events if e["kind"] == "step"} == {("attributes", 1),
                                                                                        ("manipulation", 2)}
    epochs = [e for e in events if e["kind"] == "epoch"]
    assert [e["stage"] for e in epochs] == ["attributes"] * 8 + ["manipulation"] * 3
    assert all("val_attr_acc" in e["metrics"] for e in epochs)
    assert "val_top10" in epochs[-1]["metrics"]
    first, last = epochs[0]["losses"]["cls"], epochs[7]["losses"]["cls"]
    assert last < first, "stage-1 classification loss goes down"
    assert events[-1]["kind"] == "done" and events[-1]["path"] == str(out)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "metrics.json", "weights.pt"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["validation"]["val_attr_acc"] <= 1.0


def test_report_has_every_figure(trained, train_workspace, tmp_path):
    out, _ = trained
    with Catalog.open(train_workspace.catalog_path) as catalog:
        ckpt = load_checkpoint(out, catalog.schema.to_dict())
        model, head = ADDEModel.from_checkpoint(ckpt, torch.device("cpu"))
        bank = ImageBank(train_workspace, catalog, "test", model.image_size)
        report = full_report(model, head, bank, catalog, "test", BatchPreprocessor(torch.device("cpu")),
                             tmp_path / "m.png")
    assert (tmp_path / "m.png").is_file()
    matrix = np.array(report["feature_classifier_matrix"]["values"], dtype=float)
    assert matrix.shape == (12, 12)
    assert report["feature_classifier_matrix"]["mean_diagonal"] > report["feature_classifier_matrix"]["mean_off_diagonal"]
    ndcg = report["manipulation"]["ndcg"]
    assert set(ndcg) == {"ndcg", "ndcg_target", "ndcg_others"}
    assert 0.0 < report["conditional_similarity"]["accuracy"] <= 1.0


def test_checkpoint_for_another_schema_is_refused(trained):
    out, _ = trained
    schema = json.loads((out / "config.json").read_text())["schema"]
    schema["types"] = schema["types"][:-1]
    with pytest.raises(CheckpointError, match="trained on another catalog schema"):
        load_checkpoint(out, expected_schema=schema)
    with pytest.raises(CheckpointError, match="is not a checkpoint"):
        load_checkpoint(out.parent / "nothing-here")


@pytest.mark.parametrize("method", [m for m in list_methods(serves="manipulate") if m != "adde"])
def test_every_attribute_method_trains_a_step(method, demo_workspace, tmp_path):
    path = get_method(method).create_trainer(demo_workspace, tmp_path / method, epochs=1, manip_epochs=1,
                                             triplets_per_epoch=20, seed=1, **TINY).run()
    assert load_checkpoint(path).method == method


class _Interrupt(Exception):
    pass


def test_resume_after_an_interruption(demo_workspace, tmp_path):
    out = tmp_path / "resumable"
    spec = get_method("adde")
    options = dict(epochs=2, manip_epochs=1, triplets_per_epoch=20, seed=2, **TINY)

    def crash_after_first_epoch(event):
        if event.kind == "epoch" and event.epoch == 1:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        spec.create_trainer(demo_workspace, out, [crash_after_first_epoch], **options).run()
    assert (out / "state.pt").is_file() and not (out / "weights.pt").exists()
    stream = io.StringIO()
    spec.create_trainer(demo_workspace, out, [JsonLinesReporter(stream)], **options).run(resume=True)
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert any("resuming attribute learning after epoch 1" in e.get("message", "") for e in events)
    assert [(e["stage"], e["epoch"]) for e in events if e["kind"] == "epoch"] == [("attributes", 2), ("manipulation", 1)]
    assert (out / "weights.pt").is_file() and not (out / "state.pt").exists()
    # the resumed run is the uninterrupted run: same weights (every RNG state travels in state.pt)
    whole = spec.create_trainer(demo_workspace, tmp_path / "whole", **options).run()
    resumed, straight = (torch.load(p / "weights.pt", weights_only=True)["model"] for p in (out, whole))
    assert all(torch.equal(resumed[k], straight[k]) for k in straight)
