"""Cooperative embeddings' blocks on hand-computed cases (models/cooperative.py)."""
import math

import pytest
import torch

from models.cooperative import (
    AttributeProxyLoss,
    CategoryProxyLoss,
    CooperativeLoss,
    CooperativeNet,
    CooperativeWeights,
    InstanceProxyLoss,
    MultitaskLoss,
    OrderedProxyRegulariser,
    SubspaceTripletLoss,
    normalize_subspaces,
    rank_kernel,
    subspace_masks,
)


def test_masks_partition_the_superspace():
    masks = subspace_masks(4, 3)
    assert masks.shape == (4, 12)
    assert torch.equal(masks.sum(0), torch.ones(12))  # every dimension in exactly one subspace
    assert torch.equal(masks @ masks.t(), 3 * torch.eye(4))  # n dims each, no overlap
    assert torch.equal(masks[1].nonzero().flatten(), torch.tensor([3, 4, 5]))  # contiguous
    with pytest.raises(ValueError):
        subspace_masks(0, 3)


def test_per_subspace_normalisation():
    f = torch.tensor([[3.0, 4.0, 0.0, 2.0]])
    assert torch.allclose(normalize_subspaces(f, 2), torch.tensor([[0.6, 0.8, 0.0, 1.0]]))


def test_instance_loss_hand_computed():
    loss = InstanceProxyLoss(2, 2)
    with torch.no_grad():
        loss.proxies.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.0]]))
    value = loss(torch.tensor([[0.0, 0.0]]), torch.tensor([0]))  # distances 0 and 1
    assert value.item() == pytest.approx(math.log(1 + math.exp(-1)))


def test_attribute_loss_leaves_missing_values_out():
    loss = AttributeProxyLoss([2, 2], n=1)
    with torch.no_grad():
        loss.proxies[0].copy_(torch.tensor([[0.0], [1.0]]))
        loss.proxies[1].copy_(torch.tensor([[0.0], [2.0]]))
    f = torch.tensor([[0.0, 0.0], [1.0, 2.0]])
    labels = torch.tensor([[0, -1], [1, 1]])  # image 0 has no value for attribute 1
    l0 = math.log(1 + math.exp(-1))  # both images: distances (0, 1) to the right proxy and the other
    l1 = math.log(1 + math.exp(-4))  # image 1 only: distances (4, 0)
    assert loss(f, labels).item() == pytest.approx((l0 + l1) / 2)  # (1/K) sum_k L_Attr_k
    # an attribute nobody in the batch has adds zero (and no NaN)
    assert loss(f, torch.tensor([[0, -1], [1, -1]])).item() == pytest.approx(l0 / 2)


def test_category_proxy_is_the_mean_of_its_instances_and_its_gradient_reaches_them():
    instances = InstanceProxyLoss(3, 2)
    with torch.no_grad():
        instances.proxies.copy_(torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]]))
    loss = CategoryProxyLoss(torch.tensor([0, 0, 1]), num_categories=3)  # category 2 has no instance
    assert torch.allclose(loss.proxies(instances.proxies)[:2], torch.tensor([[1.0, 0.0], [0.0, 2.0]]))
    assert list(loss.parameters()) == []  # derived, not a parameter
    value = loss(torch.tensor([[1.0, 0.5]]), torch.tensor([0]), instances.proxies)  # distances 0.25 and 3.25
    assert value.item() == pytest.approx(math.log(1 + math.exp(-3)))  # the empty category is left out
    value.backward()
    grad = instances.proxies.grad
    assert grad is not None and bool((grad.abs().sum(1) > 0).all())
    assert torch.allclose(grad[0], grad[1])  # both members share c_0's gradient equally


def test_ordered_regulariser_is_zero_when_s_equals_p():
    prior = rank_kernel(4, sigma=1.0)
    assert torch.allclose(prior[0], torch.exp(-torch.tensor([0.0, 1.0, 4.0, 9.0]) / 2))
    reg = OrderedProxyRegulariser(ordered=[1], sizes=[3, 4], sigma=1.0)
    proxies = torch.linalg.cholesky(prior)  # unit rows (P_vv = 1) whose cosine similarities are P
    assert reg([torch.randn(3, 4), proxies]).item() == pytest.approx(0.0, abs=1e-5)
    shuffled = proxies[[2, 0, 3, 1]]  # the same proxies in the wrong order
    assert reg([torch.randn(3, 4), shuffled]).item() > 0.5
    assert OrderedProxyRegulariser([], [3]).forward([torch.randn(3, 4)]).item() == 0.0


def test_cooperative_loss_sums_the_weighted_terms():
    torch.manual_seed(0)
    weights = CooperativeWeights(instance=1.0, attribute=0.5, category=2.0, reg=0.5, order=0.3)
    loss = CooperativeLoss([3, 2], n=2, instance_category=torch.tensor([0, 1, 1]), num_categories=2,
                           weights=weights, ordered=[0])
    f = torch.randn(4, 4)
    inst, labels, cat = torch.tensor([0, 1, 2, 0]), torch.tensor([[0, 1], [2, -1], [1, 0], [0, 0]]), torch.tensor([0, 1, 1, 0])
    total, logs = loss(f, inst, labels, cat)
    expected = (loss.instance(f, inst) + 0.5 * loss.attribute(f, labels)
                + 2.0 * loss.category(f, cat, loss.instance.proxies) + 0.5 * f.pow(2).sum(1).mean()
                + 0.3 * loss.order(list(loss.attribute.proxies)))
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)
    assert set(logs) == {"ins", "attr", "cat", "reg", "order"}
    only = CooperativeLoss([3, 2], 2, torch.tensor([0, 1, 1]), 2, CooperativeWeights(1.0, 0.0, 0.0, 0.0, 0.0))
    assert set(only(f, inst, labels, cat)[1]) == {"ins"}


def test_fixed_proxies_do_not_require_grad():
    loss = CooperativeLoss([3], 2, torch.tensor([0, 1]), 2, CooperativeWeights(), learn_instance=False,
                           learn_attribute=False)
    assert not any(p.requires_grad for p in loss.proxy_parameters())


def test_network_layouts_and_query_prototypes():
    net = CooperativeNet([3, 2], num_categories=2, n=4, layout="concat")
    assert net.blocks == 4 and net.dim == 16
    assert net.space_mask("attribute", 1).nonzero().flatten().tolist() == [4, 5, 6, 7]
    assert net.space_mask("instance").nonzero().flatten().tolist() == [8, 9, 10, 11]
    assert net.space_mask("category").nonzero().flatten().tolist() == [12, 13, 14, 15]
    shared = CooperativeNet([3, 2], 2, n=4, layout="shared")
    assert shared.space_mask("attribute", 0).sum() == shared.dim
    vectors = torch.arange(3 * 16, dtype=torch.float32).reshape(3, 16)
    net.set_queries(vectors, torch.tensor([[0, 1], [0, -1], [2, 1]]), torch.tensor([1, 1, 0]))
    expected = vectors[[0, 1]].mean(0) * net.space_mask("attribute", 0)
    assert torch.allclose(net.value_queries[0], expected)
    assert net.value_seen.tolist() == [True, False, True, False, True]
    assert torch.allclose(net.category_queries[1], vectors[:2].mean(0) * net.space_mask("category"))
    with pytest.raises(ValueError, match="layout"):
        CooperativeNet([2], 1, layout="other")


def test_baseline_losses_run_and_use_their_labels():
    torch.manual_seed(0)
    f = torch.randn(6, 12, requires_grad=True)
    inst, labels, cat = torch.tensor([0, 0, 1, 1, 2, 2]), torch.tensor([[0, 1], [0, -1], [1, 0]] * 2), torch.tensor([0, 0, 1, 1, 0, 0])
    mt = MultitaskLoss(12, [2, 2], 2, triplet_weight=1.0)
    total, logs = mt(f, inst, labels, cat)
    assert set(logs) == {"attr", "cat", "triplet"} and total.item() > 0
    total.backward()
    assert all(h.weight.grad is not None for h in mt.heads)
    tri = SubspaceTripletLoss(num_attributes=2, n=3)
    total, logs = tri(f, inst, labels, cat)  # 2 attribute blocks + instance + category = 4 x 3 dims
    assert set(logs) == {"attr", "ins", "cat"} and torch.isfinite(total)
