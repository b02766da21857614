"""ADDE-O on a small demo: trains on a frozen ADDE model, beats its untrained head, exposes the ranking the
engine reproduces, and refuses an ADDE checkpoint other than the one it was trained on."""
import io
import json
import shutil

import numpy as np
import pytest
import torch

from fashion_gui.catalog.store import Catalog, ItemRecord
from fashion_gui.inference.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from fashion_gui.inference.outfit_model import OutfitRetrieval, build_outfit_head, load_outfit_pair
from fashion_gui.methods import get_method
from fashion_gui.training.events import JsonLinesReporter
from fashion_gui.training.outfit import OutfitTrainer, evaluate_outfit_checkpoint, outfit_vcr_metrics
from fashion_gui.training.uigr_eval import ComposedBank, feedback_triplets
from fashion_gui.workspace import Workspace

CPU = torch.device("cpu")


# Compatible colours: pairs of dissimilar colours, so that similarity alone (an untrained head) does not
# find the partner colour; ADDE-O has to learn to bring each pair together.
PALETTES = (("black", "yellow"), ("white", "navy"), ("beige", "purple"), ("grey", "red"), ("blue", "brown"),
            ("burgundy", "green"), ("pink", "olive"))
PALETTE_OF = {colour: i for i, pair in enumerate(PALETTES) for colour in pair}


def palette_outfits(catalog: Catalog, rng: np.random.Generator):
    """Outfits whose pieces share a palette (two dissimilar colours), up to three pieces of different
    categories and products per outfit, within each split."""
    outfits = []
    for split in ("train", "val", "test"):
        ids = catalog.ids(split=split)
        items = [catalog.item(int(i)) for i in ids]
        by_colour: dict[int, list] = {}
        for item in items:
            by_colour.setdefault(PALETTE_OF[item.attributes["colour"]], []).append(item)
        for group in by_colour.values():
            for _ in range(2):  # every item in up to two outfits
                pool = [group[i] for i in rng.permutation(len(group))]
                while len(pool) >= 3:
                    outfit, used = [], set()
                    for item in list(pool):
                        if item.category not in used and all(item.instance_id != o.instance_id for o in outfit):
                            outfit.append(item)
                            used.add(item.category)
                            pool.remove(item)
                        if len(outfit) == 3:
                            break
                    if len(outfit) < 2:
                        break
                    outfits.append((outfit, split))
    return outfits


@pytest.fixture(scope="module")
def outfit_ws(demo_workspace, tmp_path_factory):
    """The 300-image demo's items and images with palette-rule outfits and their VCR triplets, plus a briefly
    trained ADDE model (the checkpoint ADDE-O is tied to)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    ws = Workspace(tmp_path_factory.mktemp("outfit_ws"))
    shutil.copytree(demo_workspace.images, ws.images)
    rng = np.random.default_rng(0)
    with Catalog.open(demo_workspace.catalog_path) as source:
        items = list(source.items())
        with Catalog.build(ws.catalog_path, source.schema, name="palette outfits") as catalog:
            new_ids = dict(zip([i.id for i in items], catalog.add_items(
                ItemRecord(i.image_path, i.category, i.instance_id, i.split, i.attributes) for i in items)))
            outfits = palette_outfits(source, rng)
            catalog.add_outfits([([new_ids[i.id] for i in o], split, "palette") for o, split in outfits])
            catalog.add_feedback([(new_ids[a.id], new_ids[b.id], (f"search a {b.category} that matches this "
                                   f"{a.category} best"), "VCR", split)
                                  for o, split in outfits for a in o for b in o if a is not b])
    get_method("adde").create_trainer(ws, ws.checkpoints / "adde", backbone="compact", d=32, image_size=48,
                                      batch_size=32, lr=2e-3, epochs=2, manip_epochs=0, device="cpu").run()
    yield ws
    torch.set_num_threads(previous)


class ColourChunkTrainer(OutfitTrainer):
    """ADDE-O on ideal attribute chunks: the colour chunk is the one-hot colour, the other chunks are zero.

    A 2-epoch ADDE model on 180 images carries too little colour information to learn from 100 outfits
    (its psi_a overfit the image noise), so the learning test feeds the head chunks that hold exactly the
    information the palette rule needs: it tests the ADDE-O training itself (loss, negatives, attention,
    selection), not the quality of a tiny ADDE model."""

    def chunks(self, bank: ComposedBank) -> torch.Tensor:
        colour = torch.from_numpy(self.catalog.labels(bank.ids)[:, self.schema.type_index("colour")])
        out = torch.zeros(len(bank.ids), len(self.schema.types), self.adde.encoder.d)  # (N, A, d)
        out[torch.arange(len(colour)), self.schema.type_index("colour"), colour] = 1.0
        return out


@pytest.fixture(scope="module")
def trained_outfit(outfit_ws):
    stream = io.StringIO()
    trainer = ColourChunkTrainer(outfit_ws, get_method("adde-o").make_config({"epochs": 30, "seed": 0, "device": "cpu"}),
                                 outfit_ws.checkpoints / "adde-o", [JsonLinesReporter(stream)])
    out = trainer.run()
    return trainer, out, stream.getvalue()


def test_adde_o_beats_its_untrained_head_on_vcr(outfit_ws, trained_outfit):
    trainer, _, _ = trained_outfit
    with Catalog.open(outfit_ws.catalog_path) as catalog:
        bank = ComposedBank(outfit_ws, catalog, "test", 48)
        triplets = feedback_triplets(catalog, bank, "test", "vcr")
    chunks = trainer.chunks(bank).numpy()
    torch.manual_seed(0)
    untrained = OutfitRetrieval(build_outfit_head(trainer.arch), trainer.adde_hash, list(trainer.schema.categories))
    after, before = (outfit_vcr_metrics(m, m.project_chunks(chunks), bank.categories, triplets)["vcr"]
                     for m in (trainer.retrieval(), untrained))
    assert after["queries"] > 50
    # the test split has ~8 items per category: in-category ranking is ADDE-O's protocol
    assert after["in_category"]["R@10"] > before["in_category"]["R@10"] + 0.15, (after, before)
    assert after["in_category"]["mAP@50"] > before["in_category"]["mAP@50"] + 0.05, (after, before)


def test_checkpoint_evaluates_with_its_own_adde_model(outfit_ws, trained_outfit):
    _, out, _ = trained_outfit
    with Catalog.open(outfit_ws.catalog_path) as catalog:
        report = evaluate_outfit_checkpoint(outfit_ws, catalog, load_checkpoint(out, catalog.schema.to_dict()),
                                            "test", CPU)
    assert set(report) == {"vcr"} and report["vcr"]["queries"] > 50
    assert {"R@10", "R@50", "mAP@50"} <= set(report["vcr"]["in_category"])


def test_engine_distance_reproduces_the_trained_head(outfit_ws, trained_outfit):
    _, out, _ = trained_outfit
    ckpt = load_checkpoint(out)
    outfit, _adde = load_outfit_pair(outfit_ws, ckpt, CPU)
    assert ckpt.config["adde_checkpoint_hash"] == load_checkpoint(outfit_ws.checkpoints / "adde").hash
    rng = np.random.default_rng(0)
    chunks = rng.normal(size=(5, 12, 32)).astype(np.float32)  # (N, A_enc, d) raw ADDE chunks
    projected = outfit.project_chunks(chunks)
    assert projected.shape == (5, 12, 32)
    w = outfit.attention(ref_category=3, target_category=8)
    assert w.shape == (12,) and w.sum() == pytest.approx(1.0, abs=1e-5)
    assert not np.allclose(w, outfit.attention(8, 3)), "the attention depends on the ordered category pair"
    d = outfit.distances(projected[0], projected[1:], w)  # (4,)
    normalised = torch.nn.functional.normalize(torch.from_numpy(chunks), dim=2)
    with torch.no_grad():
        expected = outfit.head.distance(normalised[:1].expand(4, -1, -1), normalised[1:],
                                        torch.full((4,), 3), torch.full((4,), 8)).numpy()
    np.testing.assert_allclose(d, expected, rtol=1e-4, atol=1e-5)
    weighted = OutfitRetrieval.weighted(projected, w)  # squared L2 between these = D
    np.testing.assert_allclose(((weighted[1:] - weighted[0]) ** 2).sum(1), expected, rtol=1e-4, atol=1e-5)


def test_progress_and_a_changed_adde_model_is_refused(outfit_ws, trained_outfit, tmp_path):
    _, _, text = trained_outfit
    events = [json.loads(line) for line in text.splitlines()]
    epochs = [e for e in events if e["kind"] == "epoch" and e.get("epoch")]
    assert len(epochs) == 30 and epochs[-1]["losses"]["loss"] < epochs[0]["losses"]["loss"]
    assert events[-1]["kind"] == "done"
    # an ADDE-O head trained on a copy of the ADDE model, whose weights then change
    adde_copy = tmp_path / "adde-copy"
    shutil.copytree(outfit_ws.checkpoints / "adde", adde_copy)
    head_dir = get_method("adde-o").create_trainer(outfit_ws, tmp_path / "adde-o", epochs=1,
                                                   adde_checkpoint=str(adde_copy), device="cpu").run()
    adde = load_checkpoint(adde_copy)  # retrained: new weights, saved with their own config.json
    weights = adde.weights()
    first = next(iter(weights["model"]))
    weights["model"][first] = weights["model"][first] + 1.0
    save_checkpoint(adde_copy, method=adde.method, weights=weights, config=adde.config, schema=adde.schema,
                    catalog_version=adde.catalog_version, metrics=adde.metrics)
    with pytest.raises(CheckpointError, match="another ADDE model"):
        load_outfit_pair(outfit_ws, load_checkpoint(head_dir), CPU)
