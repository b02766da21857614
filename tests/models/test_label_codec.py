import pytest
import torch

from models.labels import label_tuple_ids, labels_to_onehot, onehot_to_labels, value_offsets


def test_value_offsets():
    assert value_offsets([2, 3, 1]) == [0, 2, 5, 6]
    with pytest.raises(ValueError, match="type 1"):
        value_offsets([2, 0])


def test_onehot_has_zero_block_for_missing_and_round_trips():
    labels = torch.tensor([[1, 0], [-1, 2], [0, -1]])
    onehot = labels_to_onehot(labels, [2, 3])
    expected = torch.tensor(
        [
            [0, 1, 1, 0, 0],
            [0, 0, 0, 0, 1],
            [1, 0, 0, 0, 0],
        ],
        dtype=torch.float32,
    )
    assert torch.equal(onehot, expected)
    assert torch.equal(onehot_to_labels(onehot, [2, 3]), labels)


def test_out_of_range_label_names_row_and_type():
    with pytest.raises(ValueError, match="row 1, attribute type 1"):
        labels_to_onehot(torch.tensor([[0, 0], [1, 3]]), [2, 3])
    with pytest.raises(ValueError, match="shape"):
        labels_to_onehot(torch.tensor([[0, 0, 0]]), [2, 3])


def test_two_hot_block_is_rejected():
    with pytest.raises(ValueError, match="2 hot values"):
        onehot_to_labels(torch.tensor([[1.0, 1.0, 0.0]]), [2, 1])


def test_label_tuple_ids_are_exact():
    labels = torch.tensor([[0, 1], [1, 0], [0, 1], [-1, 1], [1, -1], [-1, 1]])
    ids = label_tuple_ids(labels)
    assert ids[0] == ids[2]
    assert ids[3] == ids[5]
    distinct = {int(ids[i]) for i in (0, 1, 3, 4)}
    assert len(distinct) == 4
