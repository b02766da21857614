import pytest
import torch

from models.outfit import OutfitCompatibilityHead, OutfitRankingLoss


def identity_head(num_categories=3, num_attributes=2, d=2, **kw):
    head = OutfitCompatibilityHead(num_categories, num_attributes, d=d, attention_hidden=4, **kw)
    with torch.no_grad():
        for psi in head.psi:
            psi.weight.copy_(torch.eye(d))
            psi.bias.zero_()
        for p in head.kappa.parameters():
            p.zero_()  # uniform attention 1/A
    return head


def test_table1_shapes():
    head = OutfitCompatibilityHead(num_categories=11, num_attributes=5, d=340)
    assert head.kappa[0].in_features == 22 and head.kappa[0].out_features == 256
    assert head.kappa[2].out_features == 5
    assert len(head.psi) == 5 and all(p.in_features == p.out_features == 340 for p in head.psi)


def test_attention_sums_to_one():
    torch.manual_seed(0)
    head = OutfitCompatibilityHead(num_categories=4, num_attributes=3, d=5)
    weights = head.attention(torch.tensor([0, 1, 3, 2]), torch.tensor([1, 2, 0, 2]))
    assert weights.shape == (4, 3)
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(4))
    assert (weights > 0).all()
    with pytest.raises(ValueError, match="category indices"):
        head.attention(torch.tensor([0, 4]), torch.tensor([1, 1]))


def test_attention_depends_on_the_category_pair():
    torch.manual_seed(0)
    head = OutfitCompatibilityHead(num_categories=4, num_attributes=3, d=5)
    w = head.attention(torch.tensor([0, 1]), torch.tensor([1, 0]))
    assert not torch.allclose(w[0], w[1])  # (top -> shoes) differs from (shoes -> top)


def test_distance_and_ranking_loss_hand_case():
    head = identity_head()
    with torch.no_grad():
        head.kappa[2].bias.copy_(torch.tensor([0.0, torch.log(torch.tensor(3.0))]))  # kappa = (1/4, 3/4)
    ref = torch.tensor([[[0.0, 0.0], [0.0, 0.0]]])  # (1, A=2, d=2)
    pos = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])  # type distances 1, 1
    neg = torch.tensor([[[2.0, 0.0], [0.0, 0.0]]])  # type distances 4, 0
    cats = torch.tensor([0]), torch.tensor([2])
    torch.testing.assert_close(head.attention(*cats), torch.tensor([[0.25, 0.75]]))
    d_pos = head.distance(ref, pos, *cats)
    d_neg = head.distance(ref, neg, *cats)
    assert d_pos.item() == pytest.approx(0.25 * 1 + 0.75 * 1)
    assert d_neg.item() == pytest.approx(0.25 * 4 + 0.75 * 0)
    loss = OutfitRankingLoss()  # margin 0.3
    assert loss.margin == 0.3
    assert loss(d_pos, d_neg).item() == pytest.approx(max(0.0, 1.0 - 1.0 + 0.3))
    # a clearly separated triplet costs nothing; the mean runs over the batch
    two = loss(torch.tensor([1.0, 0.0]), torch.tensor([1.0, 5.0]))
    assert two.item() == pytest.approx((0.3 + 0.0) / 2)


def test_plain_distance_switch():
    head = identity_head(squared=False)
    ref = torch.zeros(1, 2, 2)
    tgt = torch.tensor([[[3.0, 4.0], [0.0, 2.0]]])
    d = head.distance(ref, tgt, torch.tensor([0]), torch.tensor([1]))
    assert d.item() == pytest.approx(0.5 * 5.0 + 0.5 * 2.0)


def test_weighted_embedding_reproduces_the_distance():
    torch.manual_seed(0)
    head = OutfitCompatibilityHead(num_categories=3, num_attributes=4, d=6)
    x, y = torch.randn(5, 4, 6), torch.randn(5, 4, 6)
    rc, tc = torch.tensor([0, 1, 2, 0, 1]), torch.tensor([1, 2, 0, 2, 0])
    ex, ey = head.weighted_embedding(x, rc, tc), head.weighted_embedding(y, rc, tc)
    assert ex.shape == (5, 24)
    torch.testing.assert_close((ex - ey).pow(2).sum(dim=1), head.distance(x, y, rc, tc))


def test_attribute_indices_select_chunks_from_the_full_encoder():
    head = identity_head(num_attributes=2, attribute_indices=[3, 0])
    chunks = torch.arange(4 * 2, dtype=torch.float32).view(1, 4, 2)  # (1, A_enc=4, d=2)
    torch.testing.assert_close(head.select(chunks), chunks[:, [3, 0]])
    torch.testing.assert_close(head.select(chunks.flatten(1)), chunks[:, [3, 0]])
    with pytest.raises(ValueError, match="attribute_indices"):
        OutfitCompatibilityHead(3, 2, d=2, attribute_indices=[0])


def test_training_step_moves_negative_away():
    torch.manual_seed(0)
    head = OutfitCompatibilityHead(num_categories=3, num_attributes=2, d=4)
    ref, pos, neg = torch.randn(8, 2, 4), torch.randn(8, 2, 4), torch.randn(8, 2, 4)
    rc, tc = torch.randint(0, 3, (8,)), torch.randint(0, 3, (8,))
    loss_fn = OutfitRankingLoss()
    opt = torch.optim.SGD(head.parameters(), lr=0.1)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = loss_fn(head(ref, pos, rc, tc), head(ref, neg, rc, tc))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
