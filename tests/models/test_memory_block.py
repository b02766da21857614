import pytest
import torch

from models.memory import MemoryBlock, apply_edits, manipulation_indicator

SIZES = [2, 3]  # J = 5
D = 2  # M is (4, 5)


def _hand_memory():
    """Prototype of value v of type a = chunk a of column offset_a + v; off-block entries zero."""
    mem = MemoryBlock(SIZES, d=D)
    w = torch.zeros(4, 5)
    w[0:2, 0] = torch.tensor([1.0, 2.0])  # type 0 value 0
    w[0:2, 1] = torch.tensor([3.0, 5.0])  # type 0 value 1
    w[2:4, 2] = torch.tensor([10.0, 20.0])  # type 1 value 0
    w[2:4, 3] = torch.tensor([30.0, 50.0])  # type 1 value 1
    w[2:4, 4] = torch.tensor([70.0, 110.0])  # type 1 value 2
    with torch.no_grad():
        mem.weight.copy_(w)
    return mem


def test_block_diagonal_structure():
    mem = MemoryBlock(SIZES, d=D)
    expected = torch.zeros(4, 5, dtype=torch.bool)
    expected[0:2, 0:2] = True
    expected[2:4, 2:5] = True
    assert torch.equal(mem.block_mask, expected)
    assert mem.weight.shape == (4, 5) and mem.weight.requires_grad
    assert torch.count_nonzero(mem.weight[~expected]) == 0  # off-block starts at zero
    assert torch.count_nonzero(mem.weight[expected]) == expected.sum()
    assert "block_mask" not in mem.state_dict()  # derived from the sizes, not saved


def test_init_from_prototypes_sets_means():
    mem = MemoryBlock(SIZES, d=D)
    with torch.no_grad():
        mem.weight.fill_(7.0)  # off-block must be cleared by the init
    before_unused = mem.weight[2:4, 4].clone()
    chunks = torch.tensor(
        [
            [[1.0, 1.0], [0.0, 2.0]],
            [[3.0, 5.0], [4.0, 6.0]],
            [[2.0, 0.0], [8.0, 0.0]],
            [[9.0, 9.0], [2.0, 2.0]],
        ]
    )  # (N=4, A=2, d=2)
    labels = torch.tensor([[0, 1], [0, 0], [1, 1], [-1, 0]])
    empty = mem.init_from_prototypes(chunks, labels)
    assert empty == [(1, 2)]
    w = mem.weight.detach()
    assert torch.allclose(w[0:2, 0], torch.tensor([2.0, 3.0]))  # mean of images 0, 1
    assert torch.allclose(w[0:2, 1], torch.tensor([2.0, 0.0]))  # image 2 (image 3 is missing type 0)
    assert torch.allclose(w[2:4, 2], torch.tensor([3.0, 4.0]))  # images 1, 3
    assert torch.allclose(w[2:4, 3], torch.tensor([4.0, 1.0]))  # images 0, 2
    assert torch.equal(w[2:4, 4], before_unused)  # no image has type 1 value 2
    assert torch.count_nonzero(w[~mem.block_mask]) == 0
    assert torch.equal(mem.prototype(1, 0), w[2:4, 2])
    # flattened (N, A*d) embeddings give the same result
    mem2 = MemoryBlock(SIZES, d=D)
    mem2.init_from_prototypes(chunks.flatten(1), labels)
    assert torch.allclose(mem2.weight[mem2.block_mask][:4], mem.weight[mem.block_mask][:4])


def test_single_edit_is_r_minus_old_plus_new():
    mem = _hand_memory()
    ref = torch.tensor([0, 1])
    i = manipulation_indicator(ref, {1: 2}, SIZES)
    assert torch.equal(i, torch.tensor([0.0, 0.0, 0.0, -1.0, 1.0]))
    r = torch.tensor([[0.5, -0.5, 1.0, 1.0]])
    out = mem.manipulate(r, i.unsqueeze(0))
    p_old, p_new = torch.tensor([30.0, 50.0]), torch.tensor([70.0, 110.0])
    expected = r.clone()
    expected[0, 2:4] += p_new - p_old
    assert torch.allclose(out, expected)
    assert torch.allclose(out, torch.tensor([[0.5, -0.5, 41.0, 61.0]]))


def test_multi_edit_and_chunk_shaped_input():
    mem = _hand_memory()
    i = manipulation_indicator(torch.tensor([0, 1]), {0: 1, 1: 0}, SIZES)
    assert torch.equal(i, torch.tensor([-1.0, 1.0, 1.0, -1.0, 0.0]))
    r = torch.zeros(1, 2, 2)  # (B, A, d)
    out = mem.manipulate(r, i)
    assert out.shape == (1, 2, 2)
    assert torch.allclose(out[0, 0], torch.tensor([3.0 - 1.0, 5.0 - 2.0]))
    assert torch.allclose(out[0, 1], torch.tensor([10.0 - 30.0, 20.0 - 50.0]))


def test_edit_on_missing_type_adds_only_and_removal_subtracts_only():
    mem = _hand_memory()
    ref = torch.tensor([[-1, 1], [0, 2], [1, 1]])
    edits = [{0: 1}, {1: -1}, {0: 1}]  # add to missing; remove; no-op (already 1)
    i = manipulation_indicator(ref, edits, SIZES)
    assert torch.equal(
        i,
        torch.tensor(
            [
                [0.0, 1.0, 0.0, 0.0, 0.0],
                [0.0, 0.0, 0.0, 0.0, -1.0],
                [0.0, 0.0, 0.0, 0.0, 0.0],
            ]
        ),
    )
    out = mem.manipulate(torch.zeros(3, 4), i)
    assert torch.allclose(out[0], torch.tensor([3.0, 5.0, 0.0, 0.0]))
    assert torch.allclose(out[1], torch.tensor([0.0, 0.0, -70.0, -110.0]))
    assert torch.count_nonzero(out[2]) == 0
    assert torch.equal(apply_edits(ref, edits), torch.tensor([[1, 1], [0, -1], [1, 1]]))


def test_indicator_rejects_bad_edits():
    ref = torch.tensor([0, 1])
    with pytest.raises(ValueError, match="type 1 to value 3"):
        manipulation_indicator(ref, {1: 3}, SIZES)
    with pytest.raises(ValueError, match="attribute type 2"):
        manipulation_indicator(ref, {2: 0}, SIZES)
    with pytest.raises(ValueError, match="one per row"):
        manipulation_indicator(torch.tensor([[0, 1], [1, 1]]), [{0: 1}], SIZES)


def test_prototypes_of_labels_sum_the_value_columns():
    mem = _hand_memory()
    out = mem.prototypes(torch.tensor([[1, 2], [-1, 0]]))
    assert torch.allclose(out, torch.tensor([[3.0, 5.0, 70.0, 110.0], [0.0, 0.0, 10.0, 20.0]]))
    with pytest.raises(ValueError, match="5 entries"):
        mem(torch.zeros(1, 4))
