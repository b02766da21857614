import math

import pytest
import torch
import torch.nn.functional as F

from models.adde import ADDEEncoder
from models.losses import (
    ADDELossWeights,
    ADDEManipulationLoss,
    AttributeClassificationLoss,
    CompositionalTripletLoss,
    ConsistencyLoss,
    LabelTripletLoss,
    MarginSchedule,
    MemoryOffBlockLoss,
    mine_semi_hard,
    pairwise_squared_distances,
)
from models.memory import MemoryBlock, manipulation_indicator


def test_classification_ce_ignores_missing():
    logits0 = torch.tensor([[0.0, 0.0], [2.0, 0.0], [5.0, -5.0]], requires_grad=True)
    logits1 = torch.tensor([[1.0, 2.0, 3.0]] * 3, requires_grad=True)
    labels = torch.tensor([[0, -1], [1, -1], [-1, -1]])  # type 1 missing everywhere
    loss = AttributeClassificationLoss()([logits0, logits1], labels)
    expected = (math.log(2.0) + math.log(1.0 + math.exp(2.0))) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    assert torch.count_nonzero(logits0.grad[2]) == 0  # the missing row contributes nothing
    assert torch.count_nonzero(logits1.grad) == 0


# 1-D hand case: ids a, a, b, b at positions 0, 1, 1.5, 4
POINTS = torch.tensor([[0.0], [1.0], [1.5], [4.0]])
LABELS = torch.tensor([[0, 1], [0, 1], [1, -1], [1, -1]])


def test_pairwise_squared_distances():
    d = pairwise_squared_distances(POINTS)
    expected = torch.tensor(
        [
            [0.0, 1.0, 2.25, 16.0],
            [1.0, 0.0, 0.25, 9.0],
            [2.25, 0.25, 0.0, 6.25],
            [16.0, 9.0, 6.25, 0.0],
        ]
    )
    assert torch.allclose(d, expected)


def test_semi_hard_mining_picks_the_expected_negatives():
    ids = torch.tensor([0, 0, 1, 1])
    neg = mine_semi_hard(pairwise_squared_distances(POINTS), ids)
    # (0,1): d_ap=1, negatives {2: 2.25, 3: 16} -> closest farther than 1: 2
    # (1,0): d_ap=1, negatives {2: 0.25, 3: 9} -> 3 (2 is closer than the positive)
    # (2,3): d_ap=6.25, negatives {0: 2.25, 1: 0.25} -> none farther: farthest negative 0
    # (3,2): d_ap=6.25, negatives {0: 16, 1: 9} -> 1
    expected = torch.full((4, 4), -1)
    expected[0, 1], expected[1, 0], expected[2, 3], expected[3, 2] = 2, 3, 0, 1
    assert torch.equal(neg, expected)


def test_semi_hard_without_negatives_gives_no_pairs():
    ids = torch.tensor([3, 3, 3])
    neg = mine_semi_hard(pairwise_squared_distances(torch.randn(3, 2)), ids)
    assert (neg == -1).all()


def test_label_triplet_value_and_gradient():
    x = POINTS.clone().requires_grad_(True)
    loss = LabelTripletLoss(margin=2.0, normalize=False)(x, LABELS)
    # active pairs: (0,1): 1 - 2.25 + 2 = 0.75; (2,3): 6.25 - 2.25 + 2 = 6; (1,0), (3,2) clipped
    assert loss.item() == pytest.approx((0.75 + 6.0) / 4)
    loss.backward()
    # d/dx of [(x0-x1)^2 - (x0-x2)^2] + [(x2-x3)^2 - (x2-x0)^2], divided by 4 pairs
    assert torch.allclose(x.grad, torch.tensor([[1.0], [0.5], [-2.75], [1.25]]))


def test_label_triplet_normalises_and_accepts_ids():
    torch.manual_seed(0)
    x = torch.randn(6, 3)
    labels = torch.tensor([[0, 0], [0, 0], [1, 0], [1, 0], [0, 1], [0, 1]])
    loss = LabelTripletLoss(margin=0.5)(x, labels)
    ref = LabelTripletLoss(margin=0.5, normalize=False)(F.normalize(x, dim=1), torch.tensor([0, 0, 1, 1, 2, 2]))
    assert loss.item() == pytest.approx(ref.item())
    same = LabelTripletLoss()(x, torch.zeros(6, 2, dtype=torch.long))
    assert same.item() == 0.0


def test_compositional_triplet_value_and_gradient():
    a = torch.tensor([[0.0, 0.0], [0.0, 0.0]], requires_grad=True)
    p = torch.tensor([[3.0, 4.0], [0.0, 1.0]], requires_grad=True)
    n = torch.tensor([[0.0, 1.0], [0.0, 3.0]], requires_grad=True)
    loss = CompositionalTripletLoss(margin=0.5, normalize=False)(a, p, n)
    # sample 0: 5 - 1 + 0.5 = 4.5; sample 1: 1 - 3 + 0.5 < 0 -> 0 (plain, not squared, distances)
    assert loss.item() == pytest.approx(2.25, abs=1e-4)
    loss.backward()
    assert torch.allclose(a.grad[0], torch.tensor([-0.3, 0.1]), atol=1e-4)  # descent: toward p, away from n
    assert torch.allclose(p.grad[0], torch.tensor([0.3, 0.4]), atol=1e-4)  # descent: p toward a
    assert torch.allclose(n.grad[0], torch.tensor([0.0, -0.5]), atol=1e-4)  # descent: n away from a
    assert torch.count_nonzero(a.grad[1]) == 0


def _hand_memory():
    mem = MemoryBlock([2, 1], d=1)  # M is (2, 3): chunk 0 <- values 0, 1; chunk 1 <- value 2
    with torch.no_grad():
        mem.weight.copy_(torch.tensor([[1.0, 2.0, 9.0], [-7.0, 8.0, 3.0]]))
    return mem


def test_consistency_loss_hand_case():
    mem = _hand_memory()
    emb = torch.tensor([[10.0, 13.0], [0.0, 0.0]])
    labels = torch.tensor([[1, 0], [-1, -1]])
    # row 0: M onehot = col 1 + col 2 = [11, 11] -> |10-11| + |13-11| = 3; row 1: zero prototype -> 0
    loss = ConsistencyLoss()(emb, labels, mem)
    assert loss.item() == pytest.approx(3.0 / 4)


def test_memory_off_block_l1_hand_case():
    mem = _hand_memory()
    loss = MemoryOffBlockLoss()(mem)
    assert loss.item() == pytest.approx(9.0 + 7.0 + 8.0)
    loss.backward()
    expected = torch.tensor([[0.0, 0.0, 1.0], [-1.0, 1.0, 0.0]])  # sign of off-block entries only
    assert torch.equal(mem.weight.grad, expected)


def test_margin_schedule_and_weights():
    sched = MarginSchedule()
    assert [sched(e) for e in (0, 9)] == [0.5, 0.5]
    assert sched(10) == pytest.approx(0.6)
    assert sched(29) == pytest.approx(0.7)
    w = ADDELossWeights()
    assert (w.cls, w.lt, w.ct, w.c, w.mem) == (0.2, 1.0, 1.0, 1.0, 0.4)
    assert w.combine({"cls": 1.0, "mem": 1.0}) == pytest.approx(0.6)
    with pytest.raises(ValueError, match="unknown loss term"):
        w.combine({"triplet": 1.0})


def test_manipulation_loss_combines_all_terms():
    torch.manual_seed(0)
    sizes = [2, 3]
    enc = ADDEEncoder(sizes, backbone="compact", d=4)
    mem = MemoryBlock(sizes, d=4)
    feats = torch.randn(12, enc.backbone.out_dim)
    ref, pos, neg = (enc.forward_features(f) for f in feats.split(4))
    labels_ref = torch.tensor([[0, 0], [1, 2], [0, -1], [1, 1]])
    labels_pos = labels_ref.clone()
    labels_pos[:, 1] = torch.tensor([1, 0, 2, 2])
    labels_neg = torch.tensor([[1, 1], [0, 0], [1, 2], [0, 0]])
    i = manipulation_indicator(labels_ref, [{1: int(v)} for v in labels_pos[:, 1]], sizes)
    manipulated = mem.manipulate(ref.embedding, i)
    loss_fn = ADDEManipulationLoss(margin=0.5)
    loss_fn.margin = 0.7
    assert loss_fn.label_triplet.margin == loss_fn.compositional_triplet.margin == 0.7
    terms = loss_fn(ref, pos, neg, manipulated, enc.classify(manipulated), labels_ref, labels_pos, labels_neg, mem)
    expected = 0.2 * terms.cls + terms.lt + terms.ct + terms.c + 0.4 * terms.mem
    assert terms.total.item() == pytest.approx(expected.item(), rel=1e-6)
    assert terms.mem.item() == 0.0  # fresh memory is block diagonal
    terms.total.backward()
    assert mem.weight.grad is not None and enc.learners[0][0].weight.grad is not None
