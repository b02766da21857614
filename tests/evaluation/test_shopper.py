"""The shopper's metric on hand-made catalogs (fashion_gui/evaluation/shopper.py)."""
import numpy as np
import pytest

from fashion_gui.evaluation.shopper import EditQuery, sample_edit_queries, score_edit, summarise

# types: 0 = category (skipped by the metric), 1 = colour, 2 = sleeve (-1: does not apply)
LABELS = np.array([
    [0, 0, 1],   # row 0: dress, colour 0, sleeve 1  <- the query
    [0, 2, 1],   # row 1: dress, colour 2 (asked), sleeve 1 (kept)
    [0, 2, 0],   # row 2: dress, colour 2 (asked), sleeve 0
    [1, 2, -1],  # row 3: shoes, colour 2: asked value, wrong category
    [0, 1, 1],   # row 4: dress, colour 1
    [0, 2, 1],   # row 5: dress, colour 2 (asked), sleeve 1
])
CATEGORIES = LABELS[:, 0]


def test_precision_counts_asked_value_and_category_over_min_10_r():
    q = EditQuery(row=0, edits={1: 2})
    # R = 3 relevant items (rows 1, 2, 5); the first 3 results are judged
    s = score_edit([1, 3, 2, 4, 5], q, LABELS, CATEGORIES, skip_types=[0])
    assert s.available == 3 and s.precision == pytest.approx(2 / 3)
    # others kept: sleeve only (category skipped, colour edited) over the top 5 shown: rows 1, 3(-1), 2, 4, 5
    assert s.others_kept == pytest.approx(np.mean([1, 0, 0, 1, 1]))
    assert score_edit([5, 2, 1, 3], q, LABELS, CATEGORIES, [0]).precision == 1.0


def test_double_edit_needs_both_values():
    q = EditQuery(row=0, edits={1: 2, 2: 0})  # red and sleeve 0: only row 2
    s = score_edit([1, 2, 5], q, LABELS, CATEGORIES, [0])
    assert s.available == 1 and s.precision == 0.0
    assert score_edit([2, 1], q, LABELS, CATEGORIES, [0]).precision == 1.0


def test_sampled_queries_always_have_an_answer_in_their_category():
    rng = np.random.default_rng(0)
    labels = np.random.default_rng(1).integers(0, 4, size=(200, 4))
    labels[:, 0] = np.random.default_rng(2).integers(0, 3, size=200)  # category
    cats = labels[:, 0]
    for n in (1, 2):
        queries = sample_edit_queries(labels, cats, n, 50, rng, skip_types=[0])
        assert len(queries) == 50 and len({q.row for q in queries}) == 50
        for q in queries:
            assert len(q.edits) == n and 0 not in q.edits
            assert all(labels[q.row, a] != v for a, v in q.edits.items())
            s = score_edit([], q, labels, cats, [0])
            assert s.available >= 1  # some other item of the category has the asked values
            assert s.precision == 0.0  # no results: every judged place is a miss


def test_summary_means():
    q = EditQuery(0, {1: 2})
    scores = [score_edit([1, 2, 5], q, LABELS, CATEGORIES, [0]), score_edit([3, 4, 1], q, LABELS, CATEGORIES, [0])]
    out = summarise(scores)
    assert out["queries"] == 2 and out["score"] == pytest.approx((1.0 + 1 / 3) / 2)


def test_best_others_kept_picks_the_relevant_items_closest_to_the_query():
    from fashion_gui.evaluation.shopper import best_others_kept

    q = EditQuery(row=0, edits={1: 2})
    # relevant rows 1, 2, 5 keep sleeve 1, 0, 1; fewer than 10 relevant: then the best others (row 4 keeps it,
    # row 3 is another category with sleeve missing)
    expected = np.mean([1, 1, 0, 1, 0])
    assert best_others_kept(q, LABELS, CATEGORIES, [0]) == pytest.approx(expected)
