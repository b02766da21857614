import math

import pytest
import torch
import torch.nn.functional as F

from models.adde import ADDEEncoder
from models.grl import (
    GradientReversal,
    GRLDisentanglementLoss,
    NClassifierHead,
    NxNClassifierHead,
    adaptive_reversal_weight,
    feature_classifier_accuracy,
    grad_reverse,
)


def test_grl_is_identity_forward_and_negates_gradient():
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    c = torch.tensor([0.5, 2.0, -1.0])
    y = grad_reverse(x)
    assert torch.equal(y, x)
    (y * c).sum().backward()
    assert torch.allclose(x.grad, -c)


@pytest.mark.parametrize("lam", [0.5, 2.0])
def test_grl_scales_gradient_by_minus_lambda(lam):
    x = torch.tensor([1.0, -2.0], requires_grad=True)
    layer = GradientReversal(lam)
    (layer(x) ** 2).sum().backward()  # plain gradient would be 2x
    assert torch.allclose(x.grad, -lam * 2 * x.detach())
    assert "lambda_" in repr(layer)


def test_adaptive_reversal_weight_value_and_no_gradient():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor([3.0, 1.0], requires_grad=True)
    l_cls = (a ** 2).sum()  # 5
    l_rev = (b ** 2).sum()  # 10
    w_rev = adaptive_reversal_weight(l_cls, l_rev, w_cls=0.2, beta=0.1)
    assert not w_rev.requires_grad
    assert w_rev.item() == pytest.approx(0.1 * 0.2 * 5.0 / 10.0)
    (w_rev * l_rev).backward()
    assert a.grad is None  # nothing flows into L_cls through the weight
    assert torch.allclose(b.grad, w_rev * 2 * b.detach())  # the weight acts as a constant


def _head_inputs():
    torch.manual_seed(0)
    chunks = torch.randn(5, 3, 4, requires_grad=True)  # (B, A, d)
    labels = torch.tensor([[0, 1, 2], [1, 0, -1], [1, 3, 0], [0, 2, 1], [-1, 1, 2]])
    return chunks, labels


def test_n_classifier_pathways_follow_eq2():
    chunks, _ = _head_inputs()
    head = NClassifierHead(d=4, attribute_sizes=[2, 4, 3])
    out = head(chunks)
    assert [lg.shape for lg in out.logits] == [(5, 2), (5, 4), (5, 3)]
    assert sorted(out.reversed_logits) == [(j, n) for j in range(3) for n in range(3) if j != n]
    for (j, n), lg in out.reversed_logits.items():
        # classifier n applied to feature j on its own (not summed / concatenated)
        assert torch.allclose(lg, head.classifiers[n](chunks[:, j]))
    assert head.classifier(0, 2) is head.classifier(1, 2) is head.classifiers[2]


def test_reversed_pathway_reverses_feature_gradient_but_trains_classifier_normally():
    chunks, labels = _head_inputs()
    head = NClassifierHead(d=4, attribute_sizes=[2, 4, 3])
    F.cross_entropy(head(chunks).reversed_logits[(0, 1)], labels[:, 1]).backward()
    grl_feature_grad = chunks.grad.clone()
    grl_weight_grad = head.classifiers[1].weight.grad.clone()

    chunks.grad = None
    head.zero_grad()
    F.cross_entropy(head.classifiers[1](chunks[:, 0]), labels[:, 1]).backward()
    assert torch.allclose(grl_feature_grad[:, 0], -chunks.grad[:, 0])
    assert torch.count_nonzero(grl_feature_grad[:, 1:]) == 0
    assert torch.allclose(grl_weight_grad, head.classifiers[1].weight.grad)


def test_grl_lambda_reaches_the_head():
    chunks, labels = _head_inputs()
    head = NClassifierHead(d=4, attribute_sizes=[2, 4, 3], grl_lambda=0.25)
    F.cross_entropy(head(chunks).reversed_logits[(2, 0)], labels[:, 0].clamp_min(0)).backward()
    reversed_grad = chunks.grad[:, 2].clone()
    chunks.grad = None
    F.cross_entropy(head.classifiers[0](chunks[:, 2]), labels[:, 0].clamp_min(0)).backward()
    assert torch.allclose(reversed_grad, -0.25 * chunks.grad[:, 2])


def test_nxn_head_has_one_classifier_per_pair():
    chunks, labels = _head_inputs()
    head = NxNClassifierHead(d=4, attribute_sizes=[2, 4, 3])
    assert len(head.off_diagonal) == 6
    assert head.classifier(0, 2) is not head.classifier(1, 2)
    assert head.classifier(2, 2) is head.classifiers[2]
    out = head(chunks)
    assert torch.allclose(out.reversed_logits[(0, 2)], head.classifier(0, 2)(chunks[:, 0]))
    assert out.reversed_logits[(1, 2)].shape == (5, 3)
    F.cross_entropy(out.reversed_logits[(1, 2)], labels[:, 2].clamp_min(0)).backward()
    assert head.classifier(1, 2).weight.grad is not None
    assert head.classifiers[2].weight.grad is None


def test_heads_share_the_encoder_predictors():
    enc = ADDEEncoder([2, 3], backbone="compact", d=8)
    for cls in (NClassifierHead, NxNClassifierHead):
        head = cls.from_encoder(enc)
        assert head.classifiers is enc.classifiers


def test_no_grl_ablation_drops_the_off_diagonal_pathways():
    chunks, labels = _head_inputs()
    head = NClassifierHead(d=4, attribute_sizes=[2, 4, 3], no_grl=True)
    out = head(chunks)
    assert out.reversed_logits == {}
    loss = GRLDisentanglementLoss(w_cls=0.5)(out, labels)
    assert loss.rev.item() == 0.0 and loss.w_rev.item() == 0.0
    assert loss.total.item() == pytest.approx(0.5 * loss.cls.item())
    assert len(head.cross_logits(chunks)) == 3  # Fig. 5 still computable


def test_grl_loss_balances_reversed_term_to_beta_times_cls():
    chunks, labels = _head_inputs()
    out = NClassifierHead(d=4, attribute_sizes=[2, 4, 3])(chunks)
    loss = GRLDisentanglementLoss(w_cls=0.2, beta=0.1)(out, labels)
    expected_cls = sum(
        F.cross_entropy(out.logits[n][labels[:, n] >= 0], labels[:, n][labels[:, n] >= 0]) for n in range(3)
    )
    assert loss.cls.item() == pytest.approx(expected_cls.item(), rel=1e-5)
    # w_rev * L_rev == beta * w_cls * L_cls in value (Eq. 5)
    assert loss.total.item() == pytest.approx(0.2 * loss.cls.item() * 1.1, rel=1e-5)
    assert not loss.w_rev.requires_grad
    loss.total.backward()
    assert chunks.grad is not None

    fixed = GRLDisentanglementLoss(w_cls=1.0, adaptive=False, w_rev=0.3)(out, labels)
    assert fixed.total.item() == pytest.approx(fixed.cls.item() + 0.3 * fixed.rev.item(), rel=1e-5)


def test_feature_classifier_accuracy_hand_case():
    labels = torch.tensor([[0, 2], [1, -1], [1, 0], [-1, 1]])  # sizes [2, 3]
    # feature 0 -> classifier 0: predicts [0, 1, 0, 1]: rows 0..2 labelled -> correct 0, 1 -> 2/3
    f0_c0 = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    # feature 0 -> classifier 1: predicts [2, 2, 2, 2]: rows 0, 2, 3 labelled -> 1/3
    f0_c1 = torch.tensor([[0.0, 0.0, 1.0]] * 4)
    # feature 1 -> classifier 0: predicts [1, 1, 1, 1] -> 2/3
    f1_c0 = torch.tensor([[0.0, 1.0]] * 4)
    # feature 1 -> classifier 1: predicts [2, 0, 0, 1] -> 3/3
    f1_c1 = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    acc = feature_classifier_accuracy([[f0_c0, f0_c1], [f1_c0, f1_c1]], labels)
    expected = torch.tensor([[2 / 3, 1 / 3], [2 / 3, 1.0]])
    assert torch.allclose(acc, expected)


def test_feature_classifier_accuracy_nan_without_labels_and_from_head():
    chunks, labels = _head_inputs()
    head = NClassifierHead(d=4, attribute_sizes=[2, 4, 3])
    with torch.no_grad():
        grid = head.cross_logits(chunks)
    labels = labels.clone()
    labels[:, 1] = -1
    acc = feature_classifier_accuracy(grid, labels)
    assert acc.shape == (3, 3)
    assert torch.isnan(acc[:, 1]).all()
    assert not torch.isnan(acc[:, 0]).any()
    assert math.isfinite(acc[2, 2].item())
