import itertools
import json
import math

import pytest
import torch
import torch.nn.functional as F

from models.backbones import create_backbone
from models.compositors import list_compositors
from models.text import Vocabulary
from models.uigr import TASKS, BBCLoss, UIGRConfig, UIGRModel

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

# toy feedback in the style of the UIGR prompt templates (paper Table 4)
COLOURS = ["red", "blue", "black", "white", "green", "yellow"]
ATTRS = [("sleeve", "long"), ("sleeve", "short"), ("pattern", "floral"), ("pattern", "striped"), ("neckline", "v-neck")]
CATEGORIES = ["dress", "shoes", "bag", "skirt", "top", "jacket", "pants"]


def tgr_sentences(colours):
    out = []
    for c in colours:
        out += [f"change colour to {c}", f"is {c}", f"has {c} colour"]
    for a, v in ATTRS:
        out += [f"change {a} to {v}", f"has {v} {a}"]
    return out


def vcr_sentences(pairs):
    out = []
    for ref, tgt in pairs:
        out += [
            f"search a {tgt} that matches this {ref} best",
            f"retrieve a {tgt} having a similar style with current {ref}",
            f"for this {ref}, find a visually compatible {tgt}",
            f"replace this {ref} with a {tgt} that has a consistent style",
        ]
    return out


def tiny_model(tasks=TASKS, compositor="tirg", vocab_size=40, **kw):
    return UIGRModel(
        vocab_size,
        backbone=create_backbone("compact", channels=(4, 8)),
        embed_dim=16,
        word_dim=12,
        text_hidden=12,
        compositor=compositor,
        tasks=tasks,
        branch_hidden=16,
        **kw,
    )


def test_bbc_loss_hand_computed_2x2():
    query = torch.tensor([[1.0, 0.0], [0.0, 3.0]])  # normalised: e1, e2
    target = torch.tensor([[2.0, 0.0], [1.0, 1.0]])  # normalised: e1, (e1 + e2)/sqrt(2)
    c = 1.0 / math.sqrt(2.0)
    # logits [[1, c], [0, c]]; row 0 label 0, row 1 label 1
    expected = (math.log(1.0 + math.exp(c - 1.0)) + math.log(1.0 + math.exp(-c))) / 2.0
    assert BBCLoss()(query, target).item() == pytest.approx(expected, rel=1e-6)
    # scale s multiplies both sides: logits s^2 * cos
    s = 2.0
    expected_s = (math.log(1.0 + math.exp(s * s * (c - 1.0))) + math.log(1.0 + math.exp(-s * s * c))) / 2.0
    assert BBCLoss()(query, target, scale=s).item() == pytest.approx(expected_s, rel=1e-6)


def test_initial_scale_gives_temperature_one_sixteenth():
    torch.manual_seed(0)
    model = tiny_model()
    assert model.scale.item() == 4.0 and model.scale.requires_grad
    query, target = torch.randn(6, 16), torch.randn(6, 16)
    cos = F.normalize(query, dim=1) @ F.normalize(target, dim=1).t()
    by_temperature = F.cross_entropy(cos / 0.0625, torch.arange(6))
    torch.testing.assert_close(model.bbc(query, target, model.scale), by_temperature)
    torch.testing.assert_close(model.bbc.logits(query, target, model.scale), 16.0 * cos)
    torch.testing.assert_close(model.scaled(query), 4.0 * F.normalize(query, dim=1))


def test_unified_model_structure():
    model = tiny_model(compositor="rtic")
    assert set(model.projections) == {"tgr", "vcr"} and set(model.compositors) == {"tgr", "vcr"}
    assert [m.out_features for m in model.branch_classifier if hasattr(m, "out_features")] == [16, 2]
    tgr_ptrs = {p.data_ptr() for p in model.compositors["tgr"].parameters()}
    vcr_ptrs = {p.data_ptr() for p in model.compositors["vcr"].parameters()}
    assert tgr_ptrs.isdisjoint(vcr_ptrs)  # same kind, no shared weights
    assert model.projections["tgr"].weight.data_ptr() != model.projections["vcr"].weight.data_ptr()
    assert type(model.compositors["tgr"]) is type(model.compositors["vcr"])


@pytest.mark.parametrize("compositor", list_compositors())
def test_compose_shapes_and_gallery(compositor):
    torch.manual_seed(0)
    model = tiny_model(compositor=compositor).eval()
    images = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        gallery = model.encode_gallery(images, "vcr")
        assert gallery.shape == (3, 16)
        torch.testing.assert_close(gallery.norm(dim=1), torch.ones(3))
        ids = torch.randint(2, 40, (3, 7))
        lengths = torch.tensor([7, 3, 1])
        out = model(images, ids, lengths)
        assert out.query.shape == (3, 16) and out.task.shape == (3,) and out.branch_logits.shape == (3, 2)
        torch.testing.assert_close(out.query.norm(dim=1), torch.ones(3))


def test_compose_routes_each_sample_to_its_branch():
    torch.manual_seed(0)
    model = tiny_model().eval()
    feats = torch.randn(4, 8)
    ids, lengths = torch.randint(2, 40, (4, 5)), torch.tensor([5, 4, 3, 2])
    with torch.no_grad():
        tgr = model.compose(feats, ids, lengths, task="tgr").query
        vcr = model.compose(feats, ids, lengths, task="vcr").query
        mixed = model.compose(feats, ids, lengths, task=torch.tensor([0, 1, 0, 1]))
        auto = model.compose(feats, ids, lengths)
        expected_choice = model.classify_branch(model.encode_text(ids, lengths)).argmax(dim=1)
    torch.testing.assert_close(mixed.query[[0, 2]], tgr[[0, 2]])
    torch.testing.assert_close(mixed.query[[1, 3]], vcr[[1, 3]])
    assert torch.equal(auto.task, expected_choice)
    for row, task in enumerate(auto.task.tolist()):
        torch.testing.assert_close(auto.query[row], (tgr if task == 0 else vcr)[row])
    assert not torch.allclose(tgr, vcr)
    with pytest.raises(ValueError, match="task indices"):
        model.compose(feats, ids, lengths, task=torch.tensor([0, 2, 0, 1]))


def test_branch_classifier_separates_tgr_from_vcr():
    torch.manual_seed(0)
    pairs = list(itertools.permutations(CATEGORIES, 2))
    train_pairs, test_pairs = pairs[::2], pairs[1::2]
    train_tgr, test_tgr = tgr_sentences(COLOURS[:4]), [f"change colour to {c}" for c in COLOURS[4:]] + [
        "has floral sleeve", "change neckline to long", f"is {COLOURS[5]}"]
    train_vcr, test_vcr = vcr_sentences(train_pairs), vcr_sentences(test_pairs[:5])
    vocab = Vocabulary.build(train_tgr + train_vcr)
    model = tiny_model(vocab_size=len(vocab))
    texts = train_tgr + train_vcr
    labels = torch.tensor([0] * len(train_tgr) + [1] * len(train_vcr))
    ids, lengths = vocab.encode_batch(texts)
    params = list(model.text_encoder.parameters()) + list(model.branch_classifier.parameters())
    opt = torch.optim.Adam(params, lr=1e-2)
    for _ in range(100):
        opt.zero_grad()
        loss = model.branch_loss(ids, lengths, labels)
        loss.backward()
        opt.step()
    model.eval()
    held_out = test_tgr + test_vcr
    assert not set(held_out) & set(texts)
    test_ids, test_lengths = vocab.encode_batch(held_out)
    with torch.no_grad():
        pred = model.choose_branch(model.encode_text(test_ids, test_lengths))
    expected = torch.tensor([0] * len(test_tgr) + [1] * len(test_vcr))
    assert (pred == expected).float().mean().item() == 1.0


def _quintuplet_batch(batch=4, feature_dim=8, vocab_size=40):
    g = torch.Generator().manual_seed(1)
    ref, tgr_target, vcr_target = (torch.randn(batch, feature_dim, generator=g) for _ in range(3))
    tgr_ids = torch.randint(2, vocab_size // 2, (batch, 5), generator=g)
    vcr_ids = torch.randint(vocab_size // 2, vocab_size, (batch, 8), generator=g)
    tgr_len = torch.tensor([5, 4, 3, 5])[:batch]
    vcr_len = torch.tensor([8, 7, 8, 6])[:batch]
    return ref, tgr_ids, tgr_len, tgr_target, vcr_ids, vcr_len, vcr_target


def test_unified_loss_terms_match_their_definition():
    torch.manual_seed(0)
    model = tiny_model().eval()
    ref, tgr_ids, tgr_len, tgr_t, vcr_ids, vcr_len, vcr_t = _quintuplet_batch()
    with torch.no_grad():
        terms = model.unified_loss(ref, tgr_ids, tgr_len, tgr_t, vcr_ids, vcr_len, vcr_t)
        torch.testing.assert_close(terms.total, terms.bbc_tgr + terms.bbc_vcr + terms.branch_ce)
        torch.testing.assert_close(terms.bbc_tgr, model.task_loss(ref, tgr_ids, tgr_len, tgr_t, "tgr"))
        torch.testing.assert_close(terms.bbc_vcr, model.task_loss(ref, vcr_ids, vcr_len, vcr_t, "vcr"))
        ce = model.branch_loss(tgr_ids, tgr_len, torch.zeros(4, dtype=torch.long)) + model.branch_loss(
            vcr_ids, vcr_len, torch.ones(4, dtype=torch.long))
        torch.testing.assert_close(terms.branch_ce, ce)


def test_overfit_tiny_batch_halves_the_unified_loss():
    torch.manual_seed(0)
    model = tiny_model(compositor="rtic")
    batch = _quintuplet_batch()
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    first = None
    for _ in range(60):
        opt.zero_grad()
        terms = model.unified_loss(*batch)
        terms.total.backward()
        opt.step()
        first = terms.total.item() if first is None else first
    with torch.no_grad():
        final = model.unified_loss(*batch).total.item()
    assert final < 0.5 * first, (first, final)


def test_single_task_independent_baseline():
    torch.manual_seed(0)
    model = tiny_model(tasks=("vcr",))
    assert list(model.projections) == ["vcr"] and list(model.compositors) == ["vcr"]
    assert model.branch_classifier is None and not model.unified
    ref, _, _, _, vcr_ids, vcr_len, vcr_t = _quintuplet_batch()
    loss = model.task_loss(ref, vcr_ids, vcr_len, vcr_t, "vcr")
    loss.backward()
    model.eval()
    with torch.no_grad():
        out = model.compose(ref, vcr_ids, vcr_len)
    assert out.task.tolist() == [0, 0, 0, 0] and out.branch_logits is None
    with pytest.raises(ValueError, match="not part of this model"):
        model.project(ref, "tgr")
    with pytest.raises(RuntimeError, match="task_loss"):
        model.unified_loss(*_quintuplet_batch())
    with pytest.raises(ValueError, match="tasks must be"):
        tiny_model(tasks=("outfit",))


def test_config_round_trip_builds_the_same_model():
    config = UIGRConfig(vocab_size=30, backbone="compact", embed_dim=16, word_dim=8, text_hidden=8,
                        compositor="tirg", tasks=("tgr",), branch_hidden=8)
    restored = UIGRConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert restored == config
    a, b = UIGRModel.from_config(config), UIGRModel.from_config(restored)
    assert a.state_dict().keys() == b.state_dict().keys()
    assert a.tasks == ("tgr",) and a.text_encoder.gru.hidden_size == 8
    with pytest.raises(ValueError, match="unknown UIGRConfig field"):
        UIGRConfig.from_dict({"vocab_size": 3, "colour": "red"})
    defaults = UIGRConfig()
    assert (defaults.embed_dim, defaults.text_hidden, defaults.init_scale, defaults.tasks) == (512, 1024, 4.0, TASKS)


@pytest.mark.parametrize("device", DEVICES)
def test_uigr_on_device(device):
    torch.manual_seed(0)
    model = tiny_model().to(device)
    batch = [t.to(device) for t in _quintuplet_batch()]
    terms = model.unified_loss(*batch)
    terms.total.backward()
    assert terms.total.device.type == device
    model.eval()
    with torch.no_grad():
        out = model.compose(batch[0], batch[1], batch[2])
    assert out.query.device.type == device and out.task.device.type == device


def test_unified_loss_with_partial_pairs_matches_the_per_task_losses():
    """Rows with only one kind of triplet: each BBC runs over its own rows, the CE over every caption."""
    torch.manual_seed(0)
    model = tiny_model().eval()
    ref, tgr_ids, tgr_len, tgr_t, vcr_ids, vcr_len, vcr_t = _quintuplet_batch()
    t_rows, v_rows = torch.tensor([0, 1, 3]), torch.tensor([1, 2])
    with torch.no_grad():
        terms = model.unified_loss(ref, tgr_ids[t_rows], tgr_len[t_rows], tgr_t[t_rows], vcr_ids[v_rows],
                                   vcr_len[v_rows], vcr_t[v_rows], tgr_rows=t_rows, vcr_rows=v_rows)
        torch.testing.assert_close(terms.bbc_tgr, model.task_loss(ref[t_rows], tgr_ids[t_rows], tgr_len[t_rows],
                                                                  tgr_t[t_rows], "tgr"))
        torch.testing.assert_close(terms.bbc_vcr, model.task_loss(ref[v_rows], vcr_ids[v_rows], vcr_len[v_rows],
                                                                  vcr_t[v_rows], "vcr"))
        ce = model.branch_loss(tgr_ids[t_rows], tgr_len[t_rows], torch.zeros(3, dtype=torch.long)) + \
            model.branch_loss(vcr_ids[v_rows], vcr_len[v_rows], torch.ones(2, dtype=torch.long))
        torch.testing.assert_close(terms.branch_ce, ce)
        single = model.unified_loss(ref, tgr_ids[t_rows], tgr_len[t_rows], tgr_t[t_rows], vcr_ids[:1], vcr_len[:1],
                                    vcr_t[:1], tgr_rows=t_rows, vcr_rows=torch.tensor([2]))
        assert single.bbc_vcr.item() == 0.0, "one VCR row has no in-batch negative: no BBC term"
    with pytest.raises(ValueError, match="select"):
        model.unified_loss(ref, tgr_ids, tgr_len, tgr_t, vcr_ids[v_rows], vcr_len[v_rows], vcr_t[v_rows],
                           tgr_rows=t_rows, vcr_rows=v_rows)
