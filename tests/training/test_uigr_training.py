"""Composed retrieval training (UIGR, TGR-only, VCR-only) on a small demo: it learns, routes, checkpoints,
resumes and serves the engine interface."""
import io
import json

import numpy as np
import pytest
import torch

from fashion_gui.catalog.demo.builder import DemoConfig, build_demo
from fashion_gui.catalog.store import Catalog
from fashion_gui.inference.checkpoint import load_checkpoint
from fashion_gui.inference.preprocess import BatchPreprocessor
from fashion_gui.training.events import JsonLinesReporter
from fashion_gui.methods import get_method
from fashion_gui.training.uigr import sample_pairs
from fashion_gui.training.uigr_eval import (
    ComposedBank,
    TripletSet,
    composed_metrics,
    feedback_triplets,
)
from fashion_gui.inference.uigr_model import ComposedRetrieval
from fashion_gui.workspace import Workspace

# CPU-small model; random frozen backbone so the test needs no ADDE checkpoint
TINY = {"backbone_init": "none", "image_size": 48, "embed_dim": 64, "word_dim": 32, "text_hidden": 64,
        "batch_size": 32, "device": "cpu"}
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def one_thread():
    """Two threads on a busy 2-core machine slow the GRU down tenfold; one is plenty for these sizes."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def composed_ws(tmp_path_factory, one_thread):
    """A 600-image demo (seed 0): its test split has TGR and VCR triplets (the 300-image one has no VCR there)."""
    ws = Workspace(tmp_path_factory.mktemp("composed_ws"))
    build_demo(ws, DemoConfig(items=600, size=64, seed=0, workers=1))
    return ws


@pytest.fixture(scope="module")
def trained(composed_ws, tmp_path_factory):
    out = tmp_path_factory.mktemp("ckpt") / "uigr-tirg"
    stream = io.StringIO()
    trainer = get_method("uigr-tirg").create_trainer(composed_ws, out, [JsonLinesReporter(stream)], epochs=5, seed=0,
                                                     **TINY)
    trainer.run()
    return trainer, out, stream.getvalue()


def _test_metrics(model: ComposedRetrieval, ws: Workspace) -> dict:
    with Catalog.open(ws.catalog_path) as catalog:
        bank = ComposedBank(ws, catalog, "test", model.image_size)
        trip = {t: feedback_triplets(catalog, bank, "test", t) for t in model.tasks}
        return composed_metrics(model, bank, trip, BatchPreprocessor(CPU))


def _untrained(ws: Workspace, tmp_path) -> ComposedRetrieval:
    return get_method("uigr-tirg").create_trainer(ws, tmp_path / "u", seed=0, **TINY).retrieval()


def test_short_training_beats_the_untrained_model_on_both_tasks(trained, composed_ws, tmp_path):
    _trainer, out, _ = trained
    model = ComposedRetrieval.from_checkpoint(load_checkpoint(out), CPU)
    after, before = _test_metrics(model, composed_ws), _test_metrics(_untrained(composed_ws, tmp_path), composed_ws)
    assert after["tgr"]["queries"] > 50 and after["vcr"]["queries"] > 50
    for task in ("tgr", "vcr"):
        assert after[task]["R@10"] > before[task]["R@10"] + 0.04, (task, after[task], before[task])
    assert after["mean"]["R@10"] == pytest.approx((after["tgr"]["R@10"] + after["vcr"]["R@10"]) / 2)


def test_branch_classifier_separates_tgr_from_vcr_texts(trained, composed_ws, tmp_path):
    _trainer, out, _ = trained
    model = ComposedRetrieval.from_checkpoint(load_checkpoint(out), CPU)
    accuracy = _test_metrics(model, composed_ws)["branch_accuracy"]
    assert accuracy["tgr"] >= 0.95 and accuracy["vcr"] >= 0.95, accuracy
    untrained = _test_metrics(_untrained(composed_ws, tmp_path), composed_ws)["branch_accuracy"]
    assert untrained["overall"] < 0.9, "the untrained classifier is near chance (the test can fail)"
    texts = [model.vcr_text("shoes", "dress"), model.vcr_text("bag"), "change colour to red", "has long sleeves"]
    images = torch.zeros(4, 3, model.image_size, model.image_size, dtype=torch.uint8)
    _, chosen, probs = model.compose(images, texts, BatchPreprocessor(CPU))
    assert chosen == ["vcr", "vcr", "tgr", "tgr"]
    assert probs.shape == (4, 2) and np.allclose(probs.sum(1), 1.0)


def test_checkpoint_round_trip_and_engine_interface(trained, composed_ws):
    trainer, out, _ = trained
    loaded = ComposedRetrieval.from_checkpoint(load_checkpoint(out), CPU)
    live = trainer.retrieval()
    assert loaded.tasks == ("tgr", "vcr") and loaded.image_size == 48
    with Catalog.open(composed_ws.catalog_path) as catalog:
        bank = ComposedBank(composed_ws, catalog, "val", 48)
    images, prep = bank.images[:6], BatchPreprocessor(CPU)
    gallery, reference = loaded.embed_gallery(images, prep), live.embed_gallery(images, prep)
    assert set(gallery) == {"tgr", "vcr"}
    for task in gallery:
        assert gallery[task].shape == (6, 64) and gallery[task].dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(gallery[task], axis=1), 1.0, rtol=1e-5)
        np.testing.assert_allclose(gallery[task], reference[task], atol=1e-6)
    assert not np.allclose(gallery["tgr"], gallery["vcr"]), "each task has its own projection"
    texts = ["change colour to red"] * 3 + ["search a bag that matches this dress best"] * 3
    q, chosen, probs = loaded.compose(images, texts, prep)
    q_live, _, _ = live.compose(images, texts, prep)
    assert q.shape == (6, 64) and len(chosen) == 6 and probs.shape == (6, 2)
    np.testing.assert_allclose(q, q_live, atol=1e-6)
    forced, forced_task, _ = loaded.compose(images, texts, prep, task="vcr")
    assert forced_task == ["vcr"] * 6 and np.allclose(forced[3:], q[3:], atol=1e-6)
    with pytest.raises(ValueError, match="unknown target category"):
        loaded.vcr_text("spaceship")
    with pytest.raises(ValueError, match="training size"):
        loaded.embed_gallery(torch.zeros(2, 3, 64, 64, dtype=torch.uint8), prep)
    config = json.loads((out / "config.json").read_text())
    assert config["config"]["backbone_source"] == "random" and config["config"]["vocabulary"]["tokens"][:2] == [
        "<pad>", "<unk>"]


def test_progress_events_and_checkpoint_contents(trained):
    _, out, text = trained
    events = [json.loads(line) for line in text.splitlines()]
    assert {"start", "step", "epoch", "done"} <= {e["kind"] for e in events}
    epochs = [e for e in events if e["kind"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3, 4, 5] and {e["stage"] for e in epochs} == {"composed"}
    assert epochs[-1]["losses"]["loss"] < epochs[0]["losses"]["loss"]
    assert {"bbc_tgr", "bbc_vcr", "branch_ce"} <= set(epochs[0]["losses"])
    assert all(e["images_per_second"] > 0 for e in epochs)
    assert events[-1]["kind"] == "done" and events[-1]["path"] == str(out)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "metrics.json", "weights.pt"]
    assert "val_tgr_R@10" in json.loads((out / "metrics.json").read_text())["validation"]


def test_independent_baselines_serve_one_task(composed_ws, tmp_path):
    for method, task in (("tgr-only", "tgr"), ("vcr-only", "vcr")):
        spec = get_method(method)
        config = spec.make_config({"compositor": "rtic", "epochs": 1, "seed": 1, **TINY})
        assert spec.default_checkpoint(config) == f"{method}-rtic"
        assert spec.default_checkpoint(spec.make_config({})) == method
        path = spec.create_trainer(composed_ws, tmp_path / method, config=config).run()
        model = ComposedRetrieval.from_checkpoint(load_checkpoint(path), CPU)
        assert model.tasks == (task,) and not model.unified
        images = torch.zeros(2, 3, 48, 48, dtype=torch.uint8)
        _, chosen, probs = model.compose(images, ["is red", "search a bag that matches this dress best"],
                                         BatchPreprocessor(CPU))
        assert chosen == [task, task] and probs[:, ("tgr", "vcr").index(task)].tolist() == [1.0, 1.0]
        assert set(model.embed_gallery(images, BatchPreprocessor(CPU))) == {task}
    with pytest.raises(ValueError, match="compositor cannot be changed for this method"):
        get_method("uigr-tirg").make_config({"compositor": "rtic"})


class _Interrupt(Exception):
    pass


def test_resume_after_an_interruption(composed_ws, tmp_path):
    out = tmp_path / "resumable"
    spec = get_method("uigr-rtic")
    options = dict(epochs=2, seed=2, **TINY)

    def crash_after_first_epoch(event):
        if event.kind == "epoch" and event.epoch == 1:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        spec.create_trainer(composed_ws, out, [crash_after_first_epoch], **options).run()
    assert (out / "state.pt").is_file() and not (out / "weights.pt").exists()
    stream = io.StringIO()
    spec.create_trainer(composed_ws, out, [JsonLinesReporter(stream)], **options).run(resume=True)
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert any("resuming composed retrieval after epoch 1" in e.get("message", "") for e in events)
    assert [e["epoch"] for e in events if e["kind"] == "epoch"] == [2]
    assert (out / "weights.pt").is_file() and not (out / "state.pt").exists()


def test_sample_pairs_use_every_triplet_and_share_the_product():
    rng = np.random.default_rng(0)
    # bank rows 0-5; products: rows 0,1 -> A; 2,3 -> B; 4 -> C; 5 -> D
    product = np.array([0, 0, 1, 1, 2, 3])
    tgr = TripletSet("tgr", np.array([0, 0, 2, 4]), np.array([1, 3, 3, 5]), ["t"] * 4, np.zeros(4, np.int64))
    vcr = TripletSet("vcr", np.array([1, 3, 3, 3, 5]), np.array([4, 4, 5, 0, 2]), ["v"] * 5, np.zeros(5, np.int64))
    rows = sample_pairs(tgr, vcr, product, rng)
    assert set(rows[:, 1][rows[:, 1] >= 0]) == {0, 1, 2, 3} and set(rows[:, 2][rows[:, 2] >= 0]) == {0, 1, 2, 3, 4}
    for ref, t, v in rows:
        if t >= 0:
            assert ref == tgr.ref[t], "the TGR triplet keeps its own reference image"
        if t >= 0 and v >= 0:
            assert product[tgr.ref[t]] == product[vcr.ref[v]], "a paired sample shares one product"
    # product A: 2 TGR, 1 VCR -> 2 samples; B: 1 TGR, 3 VCR -> 3; C: TGR only; D: VCR only
    assert len(rows) == 2 + 3 + 1 + 1
    assert ((rows[:, 1] == -1) | (rows[:, 2] == -1)).sum() == 2


def test_a_batch_without_tgr_rows_still_gives_a_loss():
    from fashion_gui.training.uigr import pad_captions
    from models.backbones import create_backbone
    from models.uigr import UIGRModel

    torch.manual_seed(0)
    model = UIGRModel(30, backbone=create_backbone("compact", channels=(4, 8)), embed_dim=16, word_dim=8,
                      text_hidden=8, compositor="tirg")
    ref = torch.randn(3, model.feature_dim)
    t_ids, t_len = pad_captions([], CPU)
    v_ids, v_len = pad_captions([[2, 3], [4], [5, 6, 7]], CPU)
    assert t_ids.shape[0] == 0 and v_ids.shape == (3, 3) and v_len.tolist() == [2, 1, 3]
    terms = model.unified_loss(ref, t_ids, t_len, ref[:0], v_ids, v_len, torch.randn(3, model.feature_dim),
                               tgr_rows=torch.zeros(0, dtype=torch.long), vcr_rows=torch.arange(3))
    terms.total.backward()
    assert terms.bbc_tgr.item() == 0.0 and terms.bbc_vcr.item() > 0.0 and terms.branch_ce.item() > 0.0
