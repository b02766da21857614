"""Hand-computed checks of fashion_gui.evaluation.metrics on tiny arrays (REFERENCE.md definitions).

Log values used below: 1/ln 2 = 1.442695, 1/ln 3 = 0.910239, 1/ln 4 = 0.721348.
"""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from fashion_gui.evaluation import metrics
from fashion_gui.evaluation.metrics import (
    ap_at_k,
    attribute_accuracy,
    dcg,
    instance_recall_at_1,
    instance_recall_at_k,
    map_all,
    map_at_k,
    map_at_k_single_target,
    ndcg_at_k,
    rank_gallery,
    rank_with_source,
    recall_at_k,
    recall_at_k_multi,
    topk_accuracy,
    triplet_accuracy,
    weighted_overall,
)

M = -1  # missing attribute


def test_metrics_module_imports_only_numpy_and_stdlib():
    tree = ast.parse(Path(metrics.__file__).read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module.split(".")[0])
    assert names <= {"__future__", "collections", "typing", "numpy"}


# --- rank_gallery -------------------------------------------------------------------------------------
# Gallery, and its L2-normalised rows:  0:[0,1]  1:[0,-1]  2:[1,0]  3:[0,2]->[0,1]  4:[3,0]->[1,0]
GALLERY = np.array([[0, 1], [0, -1], [1, 0], [0, 2], [3, 0]], dtype=np.float32)
# Query 0 [2,0]->[1,0]: squared distances 2, 2, 0, 2, 0  -> ties {2,4} at 0 and {0,1,3} at 2.
# Query 1 [0,-5]->[0,-1]: squared distances 4, 0, 2, 4, 2 -> 1, then ties {2,4}, then ties {0,3}.
QUERIES = np.array([[2, 0], [0, -5]], dtype=np.float32)


def test_rank_gallery_ties_break_by_lower_gallery_row():
    ranked, dist = rank_gallery(QUERIES, GALLERY, k=5, return_distances=True)
    assert ranked.tolist() == [[2, 4, 0, 1, 3], [1, 2, 4, 0, 3]]
    np.testing.assert_allclose(dist, [[0, 0, 2, 2, 2], [0, 2, 2, 4, 4]], atol=1e-6)


def test_rank_gallery_tie_at_the_cut_off_keeps_the_lowest_rows():
    # k=3 cuts query 0 inside the tie {0,1,3} at distance 2: row 0 wins. k=1 cuts query 0 inside the
    # tie {2,4} at distance 0: row 2 wins. Query 1's top 3 (1, 2, 4) holds its tie {2,4} whole.
    assert rank_gallery(QUERIES, GALLERY, k=3).tolist() == [[2, 4, 0], [1, 2, 4]]
    assert rank_gallery(QUERIES, GALLERY, k=1).tolist() == [[2], [1]]


def test_rank_gallery_reference_kept_or_excluded():
    kept = rank_gallery(QUERIES, GALLERY, k=3, exclude=None)
    assert kept.tolist() == [[2, 4, 0], [1, 2, 4]]
    # Query 0 drops row 2 (its "reference"); query 1 drops nothing (-1).
    dropped = rank_gallery(QUERIES, GALLERY, k=3, exclude=np.array([2, -1]))
    assert dropped.tolist() == [[4, 0, 1], [1, 2, 4]]
    # With a row excluded only 4 rows are available.
    assert rank_gallery(QUERIES, GALLERY, k=4, exclude=np.array([2, 1])).tolist() == [[4, 0, 1, 3], [2, 4, 0, 3]]
    with pytest.raises(ValueError, match="k=5"):
        rank_gallery(QUERIES, GALLERY, k=5, exclude=np.array([2, -1]))
    with pytest.raises(ValueError, match="outside"):
        rank_gallery(QUERIES, GALLERY, k=2, exclude=np.array([5, -1]))


def test_rank_gallery_rejects_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        rank_gallery(np.array([[np.nan, 0.0]]), GALLERY, k=1)
    with pytest.raises(ValueError, match="share D"):
        rank_gallery(np.zeros((1, 3)), GALLERY, k=1)
    with pytest.raises(ValueError, match="k=0"):
        rank_gallery(QUERIES, GALLERY, k=0)


def test_rank_gallery_blocks_match_a_brute_force_stable_sort(monkeypatch):
    rng = np.random.default_rng(0)
    gallery = rng.normal(size=(30, 8))
    gallery[10:15] = gallery[0:5]                # duplicate rows: exactly equal distances
    queries = rng.normal(size=(7, 8))
    qn = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    gn = gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
    brute = ((qn[:, None, :] - gn[None, :, :]) ** 2).sum(-1)
    expected = np.argsort(brute, axis=1, kind="stable")[:, :12]
    monkeypatch.setattr(metrics, "_DISTANCE_BLOCK_ELEMENTS", 60)  # 2 query rows per block
    np.testing.assert_array_equal(rank_gallery(queries, gallery, k=12), expected)


# --- ADDE top-K accuracy ------------------------------------------------------------------------------
# Gallery labels (A=2): g0 [0, M], g1 [0, 1], g2 [1, M], g3 [1, 1]
G_LABELS = np.array([[0, M], [0, 1], [1, M], [1, 1]])


def test_topk_accuracy_missing_equals_missing_but_not_present():
    targets = np.array([[0, M], [1, 1]])
    ranked = np.array([[1, 0, 2],    # g1 [0,1] != [0,M] (present vs missing); g0 [0,M] == target -> hit at 2
                       [2, 0, 3]])   # g2 [1,M] != [1,1]; g0 no; g3 [1,1] == target -> hit at 3
    # @1: 0/2 = 0; @2: 1/2; @3: 2/2
    assert topk_accuracy(ranked, G_LABELS, targets, ks=(1, 2, 3)) == {1: 0.0, 2: 0.5, 3: 1.0}
    with pytest.raises(ValueError, match="outside 1..3"):
        topk_accuracy(ranked, G_LABELS, targets)  # default ks (10..50) need 50 results per query


def test_topk_accuracy_reference_in_gallery_vs_excluded():
    # Row 0 is the reference (label [0,0]); the query (manipulated reference) still lies closest to it.
    feats = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    labels = np.array([[0, 0], [1, 0], [1, 1]])
    query, target = np.array([[1.0, 0.05]]), np.array([[1, 0]])
    # cos to row 0 = 0.99875, to row 1 = 0.99815, to row 2 = 0.04994 -> kept: [0, 1, 2]
    kept = rank_gallery(query, feats, k=2)
    assert kept.tolist() == [[0, 1]]
    assert topk_accuracy(kept, labels, target, ks=(1, 2)) == {1: 0.0, 2: 1.0}
    dropped = rank_gallery(query, feats, k=2, exclude=np.array([0]))
    assert dropped.tolist() == [[1, 2]]
    assert topk_accuracy(dropped, labels, target, ks=(1, 2)) == {1: 1.0, 2: 1.0}


# --- ADDE NDCG ----------------------------------------------------------------------------------------
def test_dcg_uses_the_natural_log_like_the_reference():
    # (2^1-1)/ln 2 + (2^1-1)/ln 3 = 1.442695 + 0.910239 = 2.352934 (log2 would give 1 + 0.630930)
    np.testing.assert_allclose(dcg(np.array([1.0, 1.0])), [1.442695, 2.352934], atol=1e-6)


def test_ndcg_perfect_list_is_one_for_every_k():
    ranked = np.array([[0, 0, 0], [0, 0, 0]])
    out = ndcg_at_k(ranked, G_LABELS, np.array([[0, M], [0, M]]), np.array([0, 1]))
    for name in ("ndcg", "ndcg_target", "ndcg_others"):
        assert out[name] == pytest.approx({1: 1.0, 2: 1.0, 3: 1.0})


def test_ndcg_hand_case_relevances_one_half_zero():
    # Target [0, M], manipulated type 0.
    labels = np.array([[0, M],   # both types match (missing == missing): rel 1,   target 1, others 1
                       [0, 1],   # type 0 matches, type 1 present vs missing:  rel 0.5, target 1, others 0
                       [1, 0]])  # nothing matches:                            rel 0,   target 0, others 0
    out = ndcg_at_k(np.array([[0, 1, 2]]), labels, np.array([[0, M]]), np.array([0]))
    # ideal DCG@2 = 1.442695 + 0.910239 = 2.352934; @3 = 2.352934 + 0.721348 = 3.074282
    # rel: DCG@2 = 1.442695 + (2^0.5 - 1) / ln 3 = 1.442695 + 0.414214 * 0.910239 = 1.819729
    #      @1 = 1;  @2 = 1.819729 / 2.352934 = 0.773387;  @3 = 1.819729 / 3.074282 = 0.591920
    assert out["ndcg"] == pytest.approx({1: 1.0, 2: 0.773387, 3: 0.591920}, abs=1e-6)
    # target [1, 1, 0]: @2 = 1;  @3 = 2.352934 / 3.074282 = 0.765361
    assert out["ndcg_target"] == pytest.approx({1: 1.0, 2: 1.0, 3: 0.765361}, abs=1e-6)
    # others [1, 0, 0]: @2 = 1.442695 / 2.352934 = 0.613147;  @3 = 1.442695 / 3.074282 = 0.469279
    assert out["ndcg_others"] == pytest.approx({1: 1.0, 2: 0.613147, 3: 0.469279}, abs=1e-6)


def test_ndcg_ideal_is_a_perfect_list_not_the_sorted_relevances():
    # No gallery item matches the target on type 1: relevances [0.5, 0.5]. A sorted-relevance ideal
    # would give 1; the pinned ideal (all ones) gives (2^0.5 - 1) * (1/ln2 + 1/ln3) / (1/ln2 + 1/ln3)
    # = sqrt(2) - 1 = 0.414214.
    labels = np.array([[0, 1], [0, 2]])
    out = ndcg_at_k(np.array([[0, 1]]), labels, np.array([[0, 0]]), np.array([1]), ks=(2,))
    assert out["ndcg"][2] == pytest.approx(0.414214, abs=1e-6)
    assert out["ndcg_target"][2] == 0.0  # type 1 never matches
    assert out["ndcg_others"][2] == 1.0  # type 0 always matches


def test_ndcg_averages_over_queries_and_defaults_to_every_k():
    labels = np.array([[0, M], [0, 1], [1, 0]])
    ranked = np.array([[0, 1, 2], [0, 0, 0]])  # query 0 = the hand case above, query 1 perfect
    out = ndcg_at_k(ranked, labels, np.array([[0, M], [0, M]]), np.array([0, 0]))
    assert sorted(out["ndcg"]) == [1, 2, 3]
    # @3: (0.591920 + 1) / 2 = 0.795960
    assert out["ndcg"][3] == pytest.approx(0.795960, abs=1e-6)


def test_ndcg_others_is_nan_with_a_single_attribute_type():
    out = ndcg_at_k(np.array([[0, 1]]), np.array([[0], [1]]), np.array([[0]]), np.array([0]), ks=(2,))
    assert out["ndcg"][2] == pytest.approx(1.442695 / 2.352934, abs=1e-6)  # relevances [1, 0]
    assert np.isnan(out["ndcg_others"][2])


def test_ndcg_rejects_a_changed_type_out_of_range():
    with pytest.raises(ValueError, match="changed_type"):
        ndcg_at_k(np.array([[0]]), G_LABELS, np.array([[0, 0]]), np.array([2]))


# --- attribute and triplet accuracy -------------------------------------------------------------------
def test_attribute_accuracy_ignores_missing_labels():
    pred = np.array([[0, 1, 2], [1, 1, 0], [0, 0, 1]])
    labels = np.array([[0, M, M], [1, 0, M], [1, M, M]])
    out = attribute_accuracy(pred, labels)
    # type 0: 0==0, 1==1, 0!=1 -> 2/3; type 1: only row 1, 1!=0 -> 0/1; type 2: no label -> NaN
    np.testing.assert_allclose(out.per_type, [2 / 3, 0.0, np.nan])
    assert out.mean == pytest.approx((2 / 3 + 0.0) / 2)   # macro over labelled types = 1/3
    assert out.pooled == pytest.approx(2 / 4)            # 2 correct of 4 labelled pairs
    empty = attribute_accuracy(np.zeros((2, 1), int), np.full((2, 1), M))
    assert np.isnan(empty.mean) and np.isnan(empty.pooled)


def test_triplet_accuracy_counts_ties_as_failures():
    # 0.1 < 0.2 success; 0.5 == 0.5 tie -> failure; 0.3 > 0.1 failure -> 1/3
    assert triplet_accuracy(np.array([0.1, 0.5, 0.3]), np.array([0.2, 0.5, 0.1])) == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        triplet_accuracy(np.array([]), np.array([]))


# --- UIGR ---------------------------------------------------------------------------------------------
UIGR_RANKED = np.array([[3, 1, 2], [0, 2, 1], [4, 0, 2]])
UIGR_TARGET = np.array([3, 1, 1])  # target ranks: 1, 3, absent


def test_recall_at_k_single_target():
    # @1: only query 0 -> 1/3; @2: 1/3; @3: queries 0 and 1 -> 2/3
    assert recall_at_k(UIGR_RANKED, UIGR_TARGET, ks=(1, 2, 3)) == pytest.approx({1: 1 / 3, 2: 1 / 3, 3: 2 / 3})


def test_map_at_k_single_target_is_truncated_reciprocal_rank():
    # @3: (1/1 + 1/3 + 0) / 3 = 4/9; @2: the rank-3 target falls outside -> (1 + 0 + 0) / 3
    assert map_at_k_single_target(UIGR_RANKED, UIGR_TARGET, k=3) == pytest.approx(4 / 9)
    assert map_at_k_single_target(UIGR_RANKED, UIGR_TARGET, k=2) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="outside 1..3"):
        map_at_k_single_target(UIGR_RANKED, UIGR_TARGET)  # the default k=50 needs 50 results


def test_rank_with_source_in_gallery_or_removed():
    gallery = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])  # row 0 = source, row 1 = target
    query, source, target = np.array([[0.9, 0.1]]), np.array([0]), np.array([1])
    # cos(query, source) = 0.99388 > cos(query, target) = 0.86136 > cos(query, row 2) = 0.11043
    kept = rank_with_source(query, gallery, source, k=2)  # UIGR default: source stays
    assert kept.tolist() == [[0, 1]]
    assert recall_at_k(kept, target, ks=(1, 2)) == {1: 0.0, 2: 1.0}
    assert map_at_k_single_target(kept, target, k=2) == 0.5
    removed = rank_with_source(query, gallery, source, k=2, source_in_gallery=False)  # TIRG/RTIC/CoSMo
    assert removed.tolist() == [[1, 2]]
    assert recall_at_k(removed, target, ks=(1,)) == {1: 1.0}
    assert map_at_k_single_target(removed, target, k=2) == 1.0


# --- ASEN / MODC --------------------------------------------------------------------------------------
REL = np.array([
    [1, 0, 1, 0, 1, 1, 1],  # R=5; top 4 hits at ranks 1, 3 -> precision sum 1/1 + 2/3 = 5/3, hits = 2
    [0, 1, 0, 0, 0, 0, 0],  # R=1; hit at rank 2 -> precision sum 1/2, hits = 1
    [0, 0, 0, 0, 0, 0, 0],  # R=0 -> AP 0 by definition
    [0, 0, 0, 0, 1, 0, 0],  # R=1 but no hit in the top 4 -> AP 0 for every denominator
], dtype=bool)


def test_ap_at_k_denominators_differ_when_r_exceeds_k_and_hits_fall_short():
    # row 0: min(R,K) = 4 -> (5/3)/4 = 5/12; R = 5 -> (5/3)/5 = 1/3; hits = 2 -> (5/3)/2 = 5/6
    # row 1: every denominator is 1 -> 1/2
    np.testing.assert_allclose(ap_at_k(REL, 4), [5 / 12, 0.5, 0.0, 0.0])
    np.testing.assert_allclose(ap_at_k(REL, 4, denominator="min(R,K)"), [5 / 12, 0.5, 0.0, 0.0])
    np.testing.assert_allclose(ap_at_k(REL, 4, denominator="R"), [1 / 3, 0.5, 0.0, 0.0])
    np.testing.assert_allclose(ap_at_k(REL, 4, denominator="hits"), [5 / 6, 0.5, 0.0, 0.0])
    # mean with the pinned denominator: (5/12 + 1/2 + 0 + 0) / 4 = 11/48
    assert map_at_k(REL, 4) == pytest.approx(11 / 48)
    with pytest.raises(ValueError, match="denominator"):
        ap_at_k(REL, 4, denominator="K")


def test_ap_at_k_on_a_truncated_list_needs_n_relevant():
    top4 = REL[:1, :4]  # [1, 0, 1, 0]: only 2 of the 5 relevant candidates visible
    np.testing.assert_allclose(ap_at_k(top4, 4, n_relevant=np.array([5])), [5 / 12])
    np.testing.assert_allclose(ap_at_k(top4, 4, denominator="R", n_relevant=np.array([5])), [1 / 3])
    with pytest.raises(ValueError, match="n_relevant"):
        ap_at_k(top4, 4, n_relevant=np.array([1]))


def test_map_all_uses_denominator_r_over_the_full_ranking():
    # row 0 hits at ranks 1,3,5,6,7: (1 + 2/3 + 3/5 + 4/6 + 5/7) / 5 = 3.647619 / 5 = 0.729524
    assert map_all(REL[:1]) == pytest.approx(0.729524, abs=1e-6)
    # with the R=0 row counted as 0: 0.729524 / 2 = 0.364762
    assert map_all(REL[[0, 2]]) == pytest.approx(0.364762, abs=1e-6)


def test_recall_at_k_multi():
    # K=4: row 0 2/5, row 1 1/1, row 2 R=0 -> 0, row 3 0/1 -> (0.4 + 1 + 0 + 0) / 4 = 0.35
    assert recall_at_k_multi(REL, 4) == pytest.approx(0.35)
    assert recall_at_k_multi(REL[:1], 7) == 1.0


def test_weighted_overall_weights_by_query_count():
    # (0.5 * 100 + 0.8 * 300) / 400 = 290 / 400 = 0.725
    assert weighted_overall({"colour": 0.5, "pattern": 0.8}, {"pattern": 300, "colour": 100}) == pytest.approx(0.725)
    assert weighted_overall([0.5, 0.8], [100, 300]) == pytest.approx(0.725)
    with pytest.raises(ValueError, match="different attributes"):
        weighted_overall({"colour": 0.5}, {"pattern": 3})
    with pytest.raises(ValueError, match="positive total"):
        weighted_overall([0.5], [0])


# --- cooperative embeddings ---------------------------------------------------------------------------
def test_instance_recall():
    queries = np.array(["a", "b", "c"])
    ranked = np.array([["a", "x"], ["x", "b"], ["y", "z"]])
    # @1: only "a" -> 1/3; @2: "a" and "b" -> 2/3; "c" has no gallery image -> miss
    assert instance_recall_at_1(queries, ranked) == pytest.approx(1 / 3)
    assert instance_recall_at_k(queries, ranked, ks=(1, 2)) == pytest.approx({1: 1 / 3, 2: 2 / 3})
    assert instance_recall_at_1(np.array([7, 8]), np.array([[7], [7]])) == 0.5


def test_empty_query_sets_are_refused():
    with pytest.raises(ValueError, match="no queries"):
        topk_accuracy(np.zeros((0, 3), int), G_LABELS, np.zeros((0, 2), int), ks=(1,))
    with pytest.raises(ValueError, match="Q >= 1"):
        ap_at_k(np.zeros((0, 3), bool), 2)
