"""ASEN / ASEN_v2 / ASEN++ and MODC's blocks: attention, shapes over the registry, losses on hand-computed
cases, prioritized ranking on a hand-made case."""
import math

import numpy as np
import pytest
import torch

from models.asen import CosineTripletLoss, attention_box, create_asen, crop, list_asen
from models.modc import ClusterLoss, MODCNet, prioritized_order, simsiam_loss


def test_registry_lists_the_three_networks():
    assert list_asen() == ["asen", "asen_v2", "asen_pp"]
    with pytest.raises(ValueError, match="unknown attribute network"):
        create_asen("asen3", 4)


@pytest.mark.parametrize("name", list_asen())
def test_shapes_unit_norm_and_attention_sums_to_one_and_follows_the_attribute(name):
    torch.manual_seed(0)
    net = create_asen(name, 5, hidden=16, dim=24).eval()
    x = torch.randn(3, 3, 48, 48)
    out0 = net(x, torch.zeros(3, dtype=torch.long))
    out3 = net(x, torch.full((3,), 3, dtype=torch.long))
    expected = {"asen": 24, "asen_v2": net.dim, "asen_pp": 48}[name]
    assert out0.embedding.shape == (3, expected) and net.dim == expected
    assert torch.allclose(out0.embedding.norm(dim=1), torch.ones(3), atol=1e-5)
    assert out0.attention.shape == (3, 6, 6)  # compact stage3 at 48 px: 48 / 8
    assert torch.allclose(out0.attention.sum((1, 2)), torch.ones(3), atol=1e-5)
    assert (out0.attention - out3.attention).abs().max() > 1e-4  # the attribute moves the attention
    assert (out0.embedding - out3.embedding).abs().max() > 1e-4


def test_asen_v2_has_no_final_fc_and_pp_fuses_0_6_0_4():
    v2 = create_asen("asen_v2", 3, hidden=16, dim=24)
    assert v2.dim == v2.branch.backbone.feature_channels("stage3")
    pp = create_asen("asen_pp", 3, hidden=16, dim=8).eval()
    x = torch.randn(2, 3, 48, 48)
    a = pp(x, torch.tensor([0, 1]))
    b = pp(x.flip(0), torch.tensor([0, 1]))
    fused = (a.embedding * b.embedding).sum(1)
    parts = (0.6 * (a.parts["global"] * b.parts["global"]).sum(1) + 0.4 * (a.parts["local"] * b.parts["local"]).sum(1))
    assert torch.allclose(fused, parts, atol=1e-5)


def test_attention_box_covers_the_peak_and_crop_resamples():
    att = torch.zeros(1, 4, 4)
    att[0, 1, 2] = 0.7
    att[0, 2, 2] = 0.3  # >= 0.4 * 0.7: inside
    att[0, 0, 0] = 0.1  # below: outside
    box = attention_box(att, 0.4)
    cx, cy, half = box[0, :3].tolist()
    assert cx == pytest.approx(0.25) and cy == pytest.approx(0.0) and half == pytest.approx(0.5)
    image = torch.arange(16.0).view(1, 1, 4, 4).repeat(1, 3, 1, 1)
    full = crop(image, torch.tensor([[0.0, 0.0, 1.0, 0.0]]), 4)
    assert torch.allclose(full, image, atol=1e-5)  # the whole image is itself


def test_cosine_triplet_loss_hand_computed():
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    p = torch.tensor([[1.0, 1.0], [1.0, 0.0]])  # cos 1/sqrt2, 1
    n = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # cos 1, 0
    loss = CosineTripletLoss(0.2)(a, p, n)
    expected = (max(0, 1 - 1 / math.sqrt(2) + 0.2) + max(0, 0 - 1 + 0.2)) / 2
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_cluster_loss_hand_computed():
    loss = ClusterLoss([2, 3], dim=2, scale=2.0)
    with torch.no_grad():
        loss.centres.copy_(torch.tensor([[1.0, 0], [0, 1], [1, 0], [0, 1], [-1, 0]]))
    emb = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    attr, value = torch.tensor([0, 1]), torch.tensor([0, 2])
    logits = loss.logits(emb, attr)
    assert logits[0, 2].item() == float("-inf")  # attribute 0 has two values only
    # row 0: cos to its centres (1, 0) -> CE = -log(e^2 / (e^2 + e^0)); row 1: cos (0, 1, 0), value 2
    ce0 = -math.log(math.exp(2) / (math.exp(2) + 1))
    ce1 = -math.log(1 / (1 + math.exp(2) + 1))
    assert loss(emb, attr, value).item() == pytest.approx((ce0 + ce1) / 2, abs=1e-5)
    assert loss(emb, attr, value, torch.tensor([1.0, 0.0])).item() == pytest.approx(ce0, abs=1e-5)


def test_simsiam_loss_is_minus_one_when_aligned_and_stops_gradients():
    z = torch.randn(4, 8, requires_grad=True)
    p = z.detach().clone().requires_grad_(True)
    loss = simsiam_loss(p, z, p, z)
    assert loss.item() == pytest.approx(-1.0, abs=1e-5)
    loss.backward()
    assert z.grad is None or torch.all(z.grad == 0)


def test_modc_pseudo_labels_and_class_space_shapes():
    net = MODCNet("asen", [2, 3], hidden=8, dim=6, universal_dim=8, class_dim=4).eval()
    x = torch.randn(2, 3, 32, 32)
    maps = net.feature_maps(x)
    out = net.attribute_space(maps, torch.tensor([0, 1]), x)
    values, conf = net.pseudo_labels(out.embedding, torch.tensor([0, 1]))
    assert values.shape == (2, 2) and (values[0] < 2).all() and (values[1] < 3).all()
    assert torch.all(conf[:, 0] >= conf[:, 1])
    z, p = net.universal(maps)
    assert z.shape == p.shape == (2, 8)
    c = net.class_space(out.embedding, net.class_index(torch.tensor([0, 1]), torch.tensor([1, 2])))
    assert c.shape == (2, 4) and torch.allclose(c.norm(dim=1), torch.ones(2), atol=1e-5)


def test_prioritized_order_hand_made_case():
    # six candidates; pseudo labels and similarities chosen by hand
    attr_sim = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    pseudo = np.array([2, 1, 1, 0, 2, 1])
    sim_class1 = np.array([0.0, 0.1, 0.9, 0.0, 0.0, 0.5])  # class-1 space: 2 > 5 > 1
    sim_class2 = np.array([0.2, 0.0, 0.0, 0.0, 0.8, 0.0])  # class-2 space: 4 > 0
    # top1, class 1 (the query's label or pseudo label): 2, 5, 1 first, then the rest by attribute similarity
    assert prioritized_order(attr_sim, [sim_class1], pseudo, [1]).tolist() == [2, 5, 1, 0, 3, 4]
    # top2 (classes 1 then 2): 2, 5, 1, then 4, 0, then 3
    assert prioritized_order(attr_sim, [sim_class1, sim_class2], pseudo, [1, 2]).tolist() == [2, 5, 1, 4, 0, 3]
    # a class no candidate has: plain attribute-space order
    assert prioritized_order(attr_sim, [sim_class1], pseudo, [7]).tolist() == [0, 1, 2, 3, 4, 5]
    with pytest.raises(ValueError):
        prioritized_order(attr_sim, [sim_class1], pseudo, [1, 2])


def test_prioritized_ranking_known_versus_pseudo_query_label():
    """Known label (1) vs a wrong pseudo label (0): the known one puts the relevant items first."""
    from fashion_gui.evaluation.metrics import ap_at_k
    labels = np.array([1, 1, 0, 0, 1])
    pseudo = np.array([1, 1, 0, 0, 0])
    attr_sim = np.array([0.1, 0.2, 0.9, 0.8, 0.3])
    same = np.zeros(5)
    known = prioritized_order(attr_sim, [same], pseudo, [1])
    guessed = prioritized_order(attr_sim, [same], pseudo, [0])
    rel_known, rel_guessed = labels[known] == 1, labels[guessed] == 1
    assert ap_at_k(rel_known[None], 100)[0] > ap_at_k(rel_guessed[None], 100)[0]


def test_resnet_backbone_cut_after_layer3():
    """The papers' setting: ResNet feature maps after layer3 (stride 16); resnet18 keeps the test fast."""
    net = create_asen("asen", 4, backbone="resnet18", stage="layer3", hidden=16, dim=8).eval()
    out = net(torch.randn(2, 3, 64, 64), torch.tensor([1, 2]))
    assert out.attention.shape == (2, 4, 4) and net.branch.backbone.feature_channels("layer3") == 256
