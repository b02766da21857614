"""Retrieval metrics with the definitions pinned in REFERENCE.md, as pure numpy functions.

Every protocol choice on which the peers' reference code disagrees is an explicit keyword argument whose
default is the pinned one; ``fashion_gui.evaluation.report`` writes the chosen values into every report.

Conventions shared by all functions:
- ``ranked`` is ``(Q, K)`` int gallery row indices, best first (``rank_gallery``'s output).
- Labels are value indices ``(N, A)`` int with -1 = missing (``catalog.schema``). Comparing value indices
  is the same as comparing ADDE's one-hot blocks: two missing (all-zero) blocks are equal, and a missing
  block never equals a present value.
- Metrics averaged over queries raise ``ValueError`` for an empty query set instead of returning NaN.

Sections: ADDE attribute manipulation (Hou et al., "Learning Attribute-Driven Disentangled
Representations for Interactive Fashion Retrieval", ICCV 2021), UIGR (Han et al., "UIGR: Unified
Interactive Garment Retrieval", CVPRW 2022), ASEN / MODC attribute-specific retrieval (Ma et al., AAAI 2020;
Dong et al., TIP 2021), cooperative embeddings (instance recall).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

ADDE_KS: tuple[int, ...] = (10, 20, 30, 40, 50)
UIGR_KS: tuple[int, ...] = (10, 50)
AP_DENOMINATORS: tuple[str, ...] = ("min(R,K)", "R", "hits")

# Query rows per block of the (Q, G) distance matrix, sized so one block stays near 256 MB.
_DISTANCE_BLOCK_ELEMENTS = 1 << 25


# --- input checks -------------------------------------------------------------------------------------
def _as_ranked(ranked: np.ndarray) -> np.ndarray:
    ranked = np.asarray(ranked)
    if ranked.ndim != 2 or not np.issubdtype(ranked.dtype, np.integer):
        raise ValueError(f"ranked must be a (Q, K) integer array of gallery rows, got {ranked.dtype} {ranked.shape}")
    if ranked.shape[0] == 0:
        raise ValueError("no queries: ranked has 0 rows, so the metric is undefined")
    return ranked


def _check_ks(ks: Sequence[int], depth: int, what: str = "ranked") -> tuple[int, ...]:
    ks = tuple(int(k) for k in ks)
    if not ks:
        raise ValueError("ks is empty; pass at least one cut-off K")
    bad = [k for k in ks if k < 1 or k > depth]
    if bad:
        raise ValueError(f"cut-offs {bad} are outside 1..{depth}: {what} holds only {depth} results per query")
    return ks


def _as_labels(labels: np.ndarray, name: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"{name} must be (N, A) integer value indices (-1 = missing), got {labels.dtype} {labels.shape}"
        )
    if labels.size and labels.min() < -1:
        raise ValueError(f"{name} holds {labels.min()}; value indices are >= 0 and -1 marks a missing attribute")
    return labels


def _check_rows(ranked: np.ndarray, n_gallery: int) -> None:
    if ranked.size and (ranked.min() < 0 or ranked.max() >= n_gallery):
        raise ValueError(f"ranked holds gallery rows outside 0..{n_gallery - 1}")


def _as_relevance(relevant_sorted: np.ndarray) -> np.ndarray:
    rel = np.asarray(relevant_sorted)
    if rel.ndim != 2 or rel.shape[0] == 0:
        raise ValueError(f"relevant_sorted must be a (Q, G) boolean array with Q >= 1, got shape {rel.shape}")
    if rel.dtype != bool:
        if not np.isin(rel, (0, 1)).all():
            raise ValueError("relevant_sorted must be boolean (or 0/1): True where the ranked candidate is relevant")
        rel = rel.astype(bool)
    return rel


# --- ranking ------------------------------------------------------------------------------------------
def l2_normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Rows divided by their L2 norm; an all-zero row stays zero (its norm is clamped to ``eps``)."""
    x = np.asarray(x)
    dtype = np.result_type(x.dtype, np.float32)
    x = x.astype(dtype, copy=False)
    norms = np.linalg.norm(x, axis=1, keepdims=True)                        # (N, 1)
    return x / np.maximum(norms, eps)


def _topk_stable(dist: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k smallest entries of each row of ``dist`` (C, G), equal distances ordered by column index."""
    kth = np.partition(dist, k - 1, axis=1)[:, k - 1 : k]                   # (C, 1)
    rows, cols = np.nonzero(dist <= kth)                                    # every candidate, ties included
    vals = dist[rows, cols]
    order = np.lexsort((cols, vals, rows))                                  # by row, then distance, then index
    rows, cols, vals = rows[order], cols[order], vals[order]
    counts = np.bincount(rows, minlength=dist.shape[0])                     # (C,) each >= k
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    take = starts[:, None] + np.arange(k)                                   # (C, k)
    return cols[take], vals[take]


def rank_gallery(
    queries: np.ndarray,
    gallery: np.ndarray,
    k: int,
    exclude: np.ndarray | None = None,
    *,
    return_distances: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Top-k gallery rows per query by exact L2 distance between L2-normalised vectors.

    ADDE protocol (REFERENCE.md "ADDE"): gallery and queries are L2-normalised and searched exhaustively
    (faiss IndexFlatL2 in the reference code); squared distances, smaller is better. Equal distances are
    ordered by gallery row (lower first), so the ranking is deterministic. A tie means bit-equal computed
    distances (e.g. duplicate gallery rows); vectors equal only up to rounding (a scaled copy) may come
    in either order.

    ``exclude`` is the "reference kept in the gallery or not" switch: ``None`` (the pinned ADDE protocol)
    keeps every gallery row; otherwise a ``(Q,)`` int array naming one gallery row per query to drop
    (e.g. the reference image), -1 for none.

    queries (Q, D), gallery (G, D) -> indices (Q, k) int64 [, squared distances (Q, k)].
    """
    queries, gallery = np.asarray(queries), np.asarray(gallery)
    if queries.ndim != 2 or gallery.ndim != 2 or queries.shape[1] != gallery.shape[1]:
        raise ValueError(f"queries (Q, D) and gallery (G, D) must share D, got {queries.shape} and {gallery.shape}")
    if not (np.isfinite(queries).all() and np.isfinite(gallery).all()):
        raise ValueError("queries or gallery hold NaN or inf; check the encoder output before ranking")
    n_query, n_gallery = queries.shape[0], gallery.shape[0]
    if exclude is not None:
        exclude = np.asarray(exclude, dtype=np.int64)
        if exclude.shape != (n_query,):
            raise ValueError(
                f"exclude must have shape ({n_query},) (one gallery row or -1 per query), got {exclude.shape}"
            )
        if exclude.size and (exclude.min() < -1 or exclude.max() >= n_gallery):
            raise ValueError(f"exclude holds rows outside -1..{n_gallery - 1}")
    available = n_gallery - (1 if exclude is not None and (exclude >= 0).any() else 0)
    if not 1 <= k <= available:
        raise ValueError(f"k={k} must be in 1..{available} ({n_gallery} gallery rows, excluded rows not counted)")

    q = l2_normalize(queries)                                               # (Q, D)
    g = l2_normalize(gallery)                                               # (G, D)
    dtype = np.result_type(q.dtype, g.dtype)
    q, g = q.astype(dtype, copy=False), g.astype(dtype, copy=False)
    g_sq = np.einsum("gd,gd->g", g, g)                                      # (G,)
    out_idx = np.empty((n_query, k), dtype=np.int64)
    out_dist = np.empty((n_query, k), dtype=dtype)
    block = max(1, _DISTANCE_BLOCK_ELEMENTS // max(n_gallery, 1))
    for start in range(0, n_query, block):
        qb = q[start : start + block]                                       # (C, D)
        dist = np.einsum("cd,cd->c", qb, qb)[:, None] + g_sq[None, :] - 2.0 * (qb @ g.T)  # (C, G)
        if exclude is not None:
            ex = exclude[start : start + block]
            hit = np.nonzero(ex >= 0)[0]
            dist[hit, ex[hit]] = np.inf
        idx, d = _topk_stable(dist, k)
        out_idx[start : start + block], out_dist[start : start + block] = idx, d
    return (out_idx, out_dist) if return_distances else out_idx


# --- ADDE: attribute manipulation ---------------------------------------------------------------------
def _type_matches(ranked: np.ndarray, gallery_labels: np.ndarray, target_labels: np.ndarray) -> np.ndarray:
    """matches[q, i, a] = gallery item ranked[q, i] has the target's value (or both miss) on type a."""
    n_attr = gallery_labels.shape[1]
    if target_labels.shape != (ranked.shape[0], n_attr):
        raise ValueError(f"target_labels must have shape ({ranked.shape[0]}, {n_attr}), got {target_labels.shape}")
    _check_rows(ranked, gallery_labels.shape[0])
    out = np.empty(ranked.shape + (n_attr,), dtype=bool)                    # (Q, K, A)
    for a in range(n_attr):
        out[:, :, a] = gallery_labels[:, a][ranked] == target_labels[:, a][:, None]
    return out


def topk_accuracy(
    ranked: np.ndarray,
    gallery_labels: np.ndarray,
    target_labels: np.ndarray,
    ks: Sequence[int] = ADDE_KS,
) -> dict[int, float]:
    """ADDE top-K accuracy (REFERENCE.md "ADDE"; paper Sec. 4): a query hits at K if ANY of its top K
    items has a full label vector exactly equal to the target label vector (missing == missing).

    ranked (Q, K), gallery_labels (G, A), target_labels (Q, A) -> {K: fraction of queries that hit}.
    """
    ranked = _as_ranked(ranked)
    gallery_labels = _as_labels(gallery_labels, "gallery_labels")
    target_labels = _as_labels(target_labels, "target_labels")
    ks = _check_ks(ks, ranked.shape[1])
    exact = _type_matches(ranked, gallery_labels, target_labels).all(axis=2)  # (Q, K)
    first_hit_seen = np.logical_or.accumulate(exact, axis=1)                # (Q, K): a hit at rank <= i
    return {k: float(first_hit_seen[:, k - 1].mean()) for k in ks}


def dcg(scores: np.ndarray) -> np.ndarray:
    """Cumulative DCG over a ranked list, ADDE's definition: DCG@K = sum_{i<K} (2^{s_i} - 1) / ln(i + 2).

    The natural logarithm is what ADDE's reference code uses (``compute_DCG`` in
    amzn/fashion-attribute-disentanglement ``src/utils.py`` calls ``np.log``). The base cancels in NDCG
    (DCG and the ideal DCG share the discount) but not in a raw DCG value.

    scores (..., K) in [0, 1] -> (..., K), entry K-1 is DCG@K.
    """
    scores = np.asarray(scores, dtype=np.float64)
    discount = np.log(np.arange(scores.shape[-1], dtype=np.float64) + 2.0)  # (K,): ln 2, ln 3, ...
    return np.cumsum((np.power(2.0, scores) - 1.0) / discount, axis=-1)


def ndcg_at_k(
    ranked: np.ndarray,
    gallery_labels: np.ndarray,
    target_labels: np.ndarray,
    changed_type: np.ndarray,
    ks: Sequence[int] | None = None,
) -> dict[str, dict[int, float]]:
    """ADDE NDCG@K, NDCG_target@K and NDCG_others@K (REFERENCE.md "ADDE"; reference ``src/eval.py``).

    For the item at rank i: rel_i = fraction of attribute types whose block equals the target's (two
    missing blocks are equal, missing vs present is not); target_i = match on the manipulated type
    ``changed_type[q]``; others_i = mean match over the other A-1 types. NDCG@K = DCG@K(s) / DCG@K(ones):
    the ideal is a list of K perfect items, NOT the sorted actual relevances, so a query whose gallery
    holds no perfect item cannot reach 1. DCG uses ln(i + 2) as in the reference (see ``dcg``).
    With A == 1 there are no other types and ``ndcg_others`` is NaN.

    ``ks`` defaults to every K from 1 to ranked.shape[1] (the pinned protocol ranks 50, so K = 1..50).
    Returns {"ndcg": {K: mean}, "ndcg_target": {K: mean}, "ndcg_others": {K: mean}} over queries.
    """
    ranked = _as_ranked(ranked)
    gallery_labels = _as_labels(gallery_labels, "gallery_labels")
    target_labels = _as_labels(target_labels, "target_labels")
    ks = _check_ks(range(1, ranked.shape[1] + 1) if ks is None else ks, ranked.shape[1])
    n_query, n_attr = ranked.shape[0], gallery_labels.shape[1]
    changed_type = np.asarray(changed_type, dtype=np.int64)
    if changed_type.shape != (n_query,) or changed_type.min() < 0 or changed_type.max() >= n_attr:
        raise ValueError(f"changed_type must be ({n_query},) attribute-type indices in 0..{n_attr - 1}")

    match = _type_matches(ranked, gallery_labels, target_labels)           # (Q, K, A)
    n_match = match.sum(axis=2)                                             # (Q, K)
    target = match[np.arange(n_query), :, changed_type].astype(np.float64)  # (Q, K)
    rel = n_match / n_attr                                                  # (Q, K)
    others = (n_match - target) / (n_attr - 1) if n_attr > 1 else np.full(rel.shape, np.nan)
    ideal = dcg(np.ones(ranked.shape[1]))                                   # (K,)
    out: dict[str, dict[int, float]] = {}
    for name, scores in (("ndcg", rel), ("ndcg_target", target), ("ndcg_others", others)):
        per_query = dcg(scores) / ideal                                     # (Q, K)
        out[name] = {k: float(per_query[:, k - 1].mean()) for k in ks}
    return out


class AttributeAccuracy(NamedTuple):
    """Attribute prediction accuracy: per type (NaN where a type has no labelled sample), the mean over
    types with labels (macro), and the accuracy pooled over all labelled (sample, type) pairs (micro,
    what ADDE's ``train_attr_pred.py`` reports)."""

    per_type: np.ndarray  # (A,)
    mean: float
    pooled: float


def attribute_accuracy(pred: np.ndarray, labels: np.ndarray) -> AttributeAccuracy:
    """Accuracy of predicted value indices against labels, ignoring missing labels (-1), as ADDE's
    classification evaluation does (REFERENCE.md "ADDE", stage 1). pred (N, A), labels (N, A).

    ``mean`` and ``pooled`` are NaN when no label at all is present.
    """
    pred = np.asarray(pred)
    labels = _as_labels(labels, "labels")
    if pred.shape != labels.shape:
        raise ValueError(f"pred {pred.shape} and labels {labels.shape} must have the same (N, A) shape")
    present = labels != -1                                                  # (N, A)
    correct = (pred == labels) & present                                    # (N, A)
    n_present = present.sum(axis=0)                                         # (A,)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_type = np.where(n_present > 0, correct.sum(axis=0) / np.maximum(n_present, 1), np.nan)
    has = n_present > 0
    mean = float(per_type[has].mean()) if has.any() else float("nan")
    pooled = float(correct.sum() / present.sum()) if present.any() else float("nan")
    return AttributeAccuracy(per_type=per_type, mean=mean, pooled=pooled)


def triplet_accuracy(d_ap: np.ndarray, d_an: np.ndarray) -> float:
    """Conditional-similarity triplet accuracy (ADDE-C, Veit et al.'s protocol): the fraction of triplets
    whose anchor-positive distance is strictly smaller than the anchor-negative distance. A tie
    (d_ap == d_an) counts as a failure, so a collapsed embedding scores 0, not 0.5.

    d_ap (N,), d_an (N,) distances in the triplet's condition space.
    """
    d_ap, d_an = np.asarray(d_ap, dtype=np.float64), np.asarray(d_an, dtype=np.float64)
    if d_ap.ndim != 1 or d_ap.shape != d_an.shape or d_ap.size == 0:
        raise ValueError(
            f"d_ap and d_an must be non-empty (N,) arrays of equal length, got {d_ap.shape} and {d_an.shape}"
        )
    return float((d_ap < d_an).mean())


# --- UIGR: one target per query -----------------------------------------------------------------------
def rank_with_source(
    queries: np.ndarray,
    gallery: np.ndarray,
    source: np.ndarray,
    k: int,
    *,
    source_in_gallery: bool = True,
) -> np.ndarray:
    """Rank the gallery for composed queries, keeping or removing each query's source image.

    REFERENCE.md "UIGR": UIGR keeps the source image in the gallery (``source_in_gallery=True``, pinned);
    TIRG, RTIC and CoSMo remove it (``False``). Ranking is ``rank_gallery`` (cosine order on L2-normalised
    features). queries (Q, D), gallery (G, D), source (Q,) gallery rows -> (Q, k) gallery rows.
    """
    source = np.asarray(source, dtype=np.int64)
    return rank_gallery(queries, gallery, k, exclude=None if source_in_gallery else source)


def _target_ranks(ranked: np.ndarray, target: np.ndarray) -> np.ndarray:
    """1-based rank of each query's target within its ranked list, 0 where it is absent. -> (Q,)"""
    target = np.asarray(target, dtype=np.int64)
    if target.shape != (ranked.shape[0],):
        raise ValueError(f"target must have shape ({ranked.shape[0]},), one gallery row per query, got {target.shape}")
    found = ranked == target[:, None]                                       # (Q, K)
    return np.where(found.any(axis=1), found.argmax(axis=1) + 1, 0)


def recall_at_k(ranked: np.ndarray, target: np.ndarray, ks: Sequence[int] = UIGR_KS) -> dict[int, float]:
    """UIGR R@K (REFERENCE.md "UIGR"): fraction of queries whose single target is within the top K.

    ranked (Q, K_max), target (Q,) gallery rows -> {K: recall}.
    """
    ranked = _as_ranked(ranked)
    ks = _check_ks(ks, ranked.shape[1])
    ranks = _target_ranks(ranked, target)                                   # (Q,)
    return {k: float(((ranks >= 1) & (ranks <= k)).mean()) for k in ks}


def map_at_k_single_target(ranked: np.ndarray, target: np.ndarray, k: int = 50) -> float:
    """UIGR mAP@K with one relevant item per query (REFERENCE.md "UIGR"): AP = 1 / rank of the target if
    rank <= K else 0, i.e. the mean reciprocal rank truncated at K. ranked (Q, >=K), target (Q,)."""
    ranked = _as_ranked(ranked)
    (k,) = _check_ks((k,), ranked.shape[1])
    ranks = _target_ranks(ranked[:, :k], target)                            # (Q,)
    rr = np.where(ranks > 0, 1.0 / np.maximum(ranks, 1), 0.0)
    return float(rr.mean())


# --- ASEN / MODC: many relevant items per query -------------------------------------------------------
def _n_relevant(rel: np.ndarray, n_relevant: np.ndarray | None) -> np.ndarray:
    if n_relevant is None:
        return rel.sum(axis=1)                                              # (Q,)
    n_relevant = np.asarray(n_relevant, dtype=np.int64)
    if n_relevant.shape != (rel.shape[0],) or (n_relevant < rel.sum(axis=1)).any():
        raise ValueError("n_relevant must be (Q,) and at least the number of relevant items in relevant_sorted")
    return n_relevant


def ap_at_k(
    relevant_sorted: np.ndarray,
    k: int,
    *,
    denominator: str = "min(R,K)",
    n_relevant: np.ndarray | None = None,
) -> np.ndarray:
    """Per-query AP@K = (1 / denominator) * sum over relevant ranks i <= K of precision@i.

    REFERENCE.md "ASEN / MODC" pins ``denominator="min(R,K)"``; the peers' other choices are switches:
    ``"R"`` (all relevant candidates, as ASEN's ``APScorer``) and ``"hits"`` (relevant items found in the
    top K). R counts the relevant items of the whole row, so pass the full ranked candidate list, or pass
    ``n_relevant`` (Q,) when ``relevant_sorted`` is truncated.

    Defined edge cases: R = 0 gives AP = 0 (the query still counts in means, as in ASEN's ``APScorer``);
    with ``"hits"``, no hit in the top K gives AP = 0.

    relevant_sorted (Q, G) bool, True where the candidate at that rank is relevant -> (Q,) float.
    """
    rel = _as_relevance(relevant_sorted)
    if denominator not in AP_DENOMINATORS:
        raise ValueError(f"unknown AP denominator {denominator!r}; choose one of {AP_DENOMINATORS}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    n_rel = _n_relevant(rel, n_relevant)                                    # (Q,)
    top = rel[:, :k]                                                        # (Q, k') with k' = min(k, G)
    hits_so_far = np.cumsum(top, axis=1)                                    # (Q, k')
    precision = hits_so_far / np.arange(1, top.shape[1] + 1)                # (Q, k')
    summed = (precision * top).sum(axis=1)                                  # (Q,)
    if denominator == "min(R,K)":
        denom = np.minimum(n_rel, k)
    elif denominator == "R":
        denom = n_rel
    else:
        denom = top.sum(axis=1)
    return np.where(denom > 0, summed / np.maximum(denom, 1), 0.0)


def map_at_k(
    relevant_sorted: np.ndarray,
    k: int,
    *,
    denominator: str = "min(R,K)",
    n_relevant: np.ndarray | None = None,
) -> float:
    """Mean over queries of ``ap_at_k`` (pinned denominator min(R, K)); see ``ap_at_k`` for edge cases."""
    return float(ap_at_k(relevant_sorted, k, denominator=denominator, n_relevant=n_relevant).mean())


def map_all(relevant_sorted: np.ndarray) -> float:
    """MAP@all (REFERENCE.md "ASEN / MODC"): AP over the full ranking with denominator R, averaged over
    queries; a query with R = 0 contributes 0. relevant_sorted (Q, G) bool."""
    rel = _as_relevance(relevant_sorted)
    return float(ap_at_k(rel, rel.shape[1], denominator="R").mean())


def recall_at_k_multi(
    relevant_sorted: np.ndarray, k: int, *, n_relevant: np.ndarray | None = None
) -> float:
    """Recall@K with many relevant items (REFERENCE.md "ASEN / MODC"): |relevant in top K| / R, averaged
    over queries; a query with R = 0 contributes 0. relevant_sorted (Q, G) bool."""
    rel = _as_relevance(relevant_sorted)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    n_rel = _n_relevant(rel, n_relevant)                                    # (Q,)
    found = rel[:, :k].sum(axis=1)                                          # (Q,)
    return float(np.where(n_rel > 0, found / np.maximum(n_rel, 1), 0.0).mean())


def weighted_overall(
    per_attribute: Mapping[str, float] | Sequence[float], n_queries: Mapping[str, int] | Sequence[int]
) -> float:
    """Overall score = mean over attributes weighted by their number of queries (REFERENCE.md
    "ASEN / MODC"). Pass two mappings keyed by attribute name, or two sequences in the same order."""
    if isinstance(per_attribute, Mapping) or isinstance(n_queries, Mapping):
        if not (isinstance(per_attribute, Mapping) and isinstance(n_queries, Mapping)):
            raise ValueError("pass per_attribute and n_queries both as mappings or both as sequences")
        if set(per_attribute) != set(n_queries):
            raise ValueError(f"per_attribute and n_queries name different attributes: "
                             f"{sorted(set(per_attribute) ^ set(n_queries))}")
        names = list(per_attribute)
        per_attribute, n_queries = [per_attribute[a] for a in names], [n_queries[a] for a in names]
    values = np.asarray(per_attribute, dtype=np.float64)                    # (n_attributes,)
    weights = np.asarray(n_queries, dtype=np.float64)                       # (n_attributes,)
    if values.ndim != 1 or values.shape != weights.shape:
        raise ValueError(f"per_attribute and n_queries must have equal lengths, got {values.shape} and {weights.shape}")
    if (weights < 0).any() or weights.sum() <= 0:
        raise ValueError("n_queries must be non-negative with a positive total")
    if not np.isfinite(values).all():
        raise ValueError(f"per-attribute scores must be finite, got {values.tolist()}")
    return float((values * weights).sum() / weights.sum())


# --- cooperative embeddings ---------------------------------------------------------------------------
def instance_recall_at_k(
    query_instances: np.ndarray, ranked_gallery_instances: np.ndarray, ks: Sequence[int] = (1,)
) -> dict[int, float]:
    """Instance retrieval recall (In-Shop protocol, cooperative embeddings, REFERENCE.md): a query hits at
    K if any of its top K gallery images shows the same instance (item id). A query whose instance has
    no gallery image counts as a miss.

    query_instances (Q,), ranked_gallery_instances (Q, K_max) instance ids of the ranked gallery rows.
    """
    ranked = np.asarray(ranked_gallery_instances)
    if ranked.ndim != 2 or ranked.shape[0] == 0:
        raise ValueError(f"ranked_gallery_instances must be (Q, K) with Q >= 1, got shape {ranked.shape}")
    ks = _check_ks(ks, ranked.shape[1], "ranked_gallery_instances")
    query_instances = np.asarray(query_instances)
    if query_instances.shape != (ranked.shape[0],):
        raise ValueError(f"query_instances must have shape ({ranked.shape[0]},), got {query_instances.shape}")
    seen = np.logical_or.accumulate(ranked == query_instances[:, None], axis=1)  # (Q, K_max)
    return {k: float(seen[:, k - 1].mean()) for k in ks}


def instance_recall_at_1(query_instances: np.ndarray, ranked_gallery_instances: np.ndarray) -> float:
    """Instance R@1 of the cooperative-embeddings paper: the top gallery image shows the query's instance."""
    return instance_recall_at_k(query_instances, ranked_gallery_instances, ks=(1,))[1]
