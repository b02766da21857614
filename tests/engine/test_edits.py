"""The pieces of the shopper's edit ranking (engine/edits.py) on hand-computed cases."""
import numpy as np
import pytest

from fashion_gui.engine.edits import (
    EditPolicy,
    balanced_similarity,
    keep_log_probability,
    label_agreement,
    label_match,
    match_probability,
)


def test_balanced_similarity_weighs_every_subspace_the_same():
    query = np.array([[1.0, 0.0], [0.0, 10.0]])  # chunk 1 is 10x longer: in plain L2 it would dominate
    items = np.array([[[1.0, 0.0], [0.0, -1.0]],   # chunk 0 equal, chunk 1 opposite -> (1 + -1) / 2 = 0
                      [[0.0, 1.0], [0.0, 5.0]]])   # chunk 0 orthogonal, chunk 1 same direction -> 0.5
    both = np.array([True, True])
    np.testing.assert_allclose(balanced_similarity(query, items, both), [0.0, 0.5])
    np.testing.assert_allclose(balanced_similarity(query, items, np.array([True, False])), [1.0, 0.0])


def test_match_and_keep_probabilities_read_the_right_value_columns():
    # two types with 2 and 3 values: columns 0-1 and 2-4
    probs = np.array([[0.9, 0.1, 0.2, 0.7, 0.1],
                      [0.3, 0.7, 0.5, 0.25, 0.25]])
    offsets = [0, 2]
    np.testing.assert_allclose(match_probability(probs, offsets, {0: 1, 1: 1}), [0.1 * 0.7, 0.7 * 0.25])
    np.testing.assert_allclose(match_probability(probs, offsets, {}), [1.0, 1.0])
    np.testing.assert_allclose(keep_log_probability(probs, offsets, {0: 0, 1: 2}),
                               [np.mean(np.log([0.9, 0.1])), np.mean(np.log([0.3, 0.25]))])


def test_label_match_needs_every_value_and_the_category():
    labels = np.array([[1, 2], [1, 0], [1, 2], [-1, 2]])
    cats = np.array([0, 0, 1, 0])
    assert label_match(labels, cats, {0: 1, 1: 2}, 0).tolist() == [True, False, False, False]
    assert label_match(labels, cats, {1: 2}, None).tolist() == [True, False, True, True]


def test_label_agreement_counts_the_query_values_an_item_shares():
    labels = np.array([[1, 2, 0], [1, 0, 0], [-1, 2, 1]])
    np.testing.assert_allclose(label_agreement(labels, {0: 1, 1: 2}), [1.0, 0.5, 0.5])  # -1 (missing) disagrees
    np.testing.assert_allclose(label_agreement(labels, {2: 1}), [0.0, 0.0, 1.0])
    assert label_agreement(labels, {}).tolist() == [0.0, 0.0, 0.0]


def test_an_unknown_ranking_is_refused():
    with pytest.raises(ValueError, match="unknown edit ranking 'magic'.*visual, labels, paper"):
        EditPolicy(ranking="magic")
