"""Evaluation of attribute-specific retrieval (ASEN / MODC protocol; REFERENCE.md "ASEN / MODC").

Per attribute: the split's query set against its disjoint candidate set (``catalog/attribute_protocol.py``),
candidates ranked by cosine similarity in the query's attribute space (or, for MODC, by prioritized
retrieval); relevant = the candidate has the query's value. Reported per attribute and overall (weighted by
queries): MAP@100 (AP@K denominator min(R, K)), MAP@all (denominator R) and Recall@100; for MODC also
"Acc", the accuracy of the pseudo labels on the evaluated candidates and queries, and every figure for known
and for unknown (pseudo-labelled) query labels, prioritizing the top 1 or top 2 classes.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from fashion_gui.catalog.attribute_protocol import AttributeQueries, attribute_protocol, protocol_source
from fashion_gui.evaluation.metrics import ap_at_k, map_all, recall_at_k_multi, weighted_overall
from fashion_gui.evaluation.report import asen_protocol
from fashion_gui.inference.asen_model import AttributeSpecificModel
from fashion_gui.inference.preprocess import BatchPreprocessor, load_item_images
from fashion_gui.methods import EvalReport, EvalRequest
from models.modc import prioritized_order

K = 100
METRICS = ("map@100", "map@all", "recall@100")


def protocol_ids(protocol: dict[str, AttributeQueries]) -> np.ndarray:
    """Every item id of a split's protocol (ascending)."""
    return np.unique(np.concatenate([np.concatenate([q.queries, q.candidates]) for q in protocol.values()]))


class SplitFeatures:
    """Every protocol item of a split embedded in every attribute space (rows keyed by item id)."""

    def __init__(self, model: AttributeSpecificModel, workspace, catalog, protocol: dict[str, AttributeQueries],
                 prep: BatchPreprocessor, batch_size: int = 128, images=None) -> None:
        ids = protocol_ids(protocol)
        if images is None:
            images = load_item_images(workspace, catalog, ids, model.image_size)
        self.set(ids, catalog.labels(ids), model.embed(images, prep, batch_size), catalog.schema.names)

    def set(self, ids: np.ndarray, labels: np.ndarray, arrays: dict[str, np.ndarray], names: list[str]) -> None:
        self.ids, self.labels, self.arrays, self.names = ids, labels, arrays, list(names)
        self.row = {int(i): r for r, i in enumerate(ids.tolist())}

    @classmethod
    def from_arrays(cls, ids: np.ndarray, labels: np.ndarray, embedding: np.ndarray, names: list[str]) -> SplitFeatures:
        """Features computed elsewhere: unit ``embedding`` (N, A, D) per attribute (e.g. ADDE-C's chunks)."""
        feats = cls.__new__(cls)
        feats.set(ids, labels, {"embedding": embedding}, names)
        return feats

    def rows(self, ids: np.ndarray) -> np.ndarray:
        return np.array([self.row[int(i)] for i in ids], dtype=np.int64)


def ranked_relevance(model: AttributeSpecificModel | None, feats: SplitFeatures, a: int, q: AttributeQueries,
                     prioritize: int = 0, known: bool = True) -> np.ndarray:
    """(Q, G) bool: is the candidate at each rank relevant to the query (same value of attribute ``a``).
    ``prioritize`` 0: attribute-space cosine ranking; 1 / 2: MODC's prioritized retrieval over the top 1 / 2
    classes, the query's class from its label (``known``) or its pseudo label."""
    qr, cr = feats.rows(q.queries), feats.rows(q.candidates)
    emb = feats.arrays["embedding"][:, a]  # (N, D)
    qv, cv = feats.labels[qr, a], feats.labels[cr, a]  # (Q,), (G,)
    sim = emb[qr] @ emb[cr].T  # (Q, G) cosine (unit rows)
    if not prioritize:
        order = np.argsort(-sim, axis=1, kind="stable")
    else:
        pseudo = feats.arrays["pseudo"][:, a]  # (N, 2)
        classes = query_classes(pseudo[qr], qv if known else None, prioritize)  # (Q, top)
        cand_pseudo = pseudo[cr, 0]  # (G,)
        projected: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        order = np.empty(sim.shape, dtype=np.int64)
        for i in range(len(qr)):
            class_sims = []
            for v in classes[i]:
                if v not in projected:
                    projected[v] = (model.class_space(emb[qr], a, v), model.class_space(emb[cr], a, v))
                qc, cc = projected[v]
                class_sims.append(cc @ qc[i])  # (G,)
            order[i] = prioritized_order(sim[i], class_sims, cand_pseudo, classes[i])
    return cv[order] == qv[:, None]


def query_classes(pseudo: np.ndarray, known_values: np.ndarray | None, top: int) -> list[list[int]]:
    """The classes a query prioritizes: its label (known) or its top pseudo label, then (top 2) its most
    likely other value."""
    out = []
    for i, p in enumerate(pseudo):
        first = int(known_values[i]) if known_values is not None else int(p[0])
        classes = [first]
        if top >= 2:
            second = next((int(v) for v in p if int(v) != first), None)
            if second is not None:
                classes.append(second)
        out.append(classes)
    return out


def scores(relevant: np.ndarray) -> dict[str, float]:
    n_rel = relevant.sum(1)
    return {"map@100": float(ap_at_k(relevant, K, n_relevant=n_rel).mean()), "map@all": map_all(relevant),
            "recall@100": recall_at_k_multi(relevant, K)}


def retrieval_report(model: AttributeSpecificModel | None, feats: SplitFeatures,
                     protocol: dict[str, AttributeQueries], prioritize: int = 0, known: bool = True) -> dict[str, Any]:
    """Per attribute and overall (weighted by queries) MAP@100, MAP@all, Recall@100 (fractions in [0, 1]);
    ``model`` is needed only for MODC's prioritized retrieval (its class spaces)."""
    names = feats.names
    per: dict[str, dict[str, float]] = {}
    n_queries: dict[str, int] = {}
    for name, q in protocol.items():
        if len(q.queries) == 0 or len(q.candidates) == 0:
            continue
        per[name] = scores(ranked_relevance(model, feats, names.index(name), q, prioritize, known))
        n_queries[name] = len(q.queries)
    if not per:
        raise ValueError("the attribute protocol has no attribute with both queries and candidates")
    overall = {m: weighted_overall({n: per[n][m] for n in per}, n_queries) for m in METRICS}
    return {"overall": overall, "per_attribute": per, "queries": n_queries}


def pseudo_label_accuracy(model: AttributeSpecificModel, feats: SplitFeatures,
                          protocol: dict[str, AttributeQueries], include_queries: bool) -> dict[str, Any]:
    """Acc: top-1 pseudo label == true value on the candidates (and the queries when their labels are unknown)."""
    names = feats.names
    per, counts = {}, {}
    for name, q in protocol.items():
        a = names.index(name)
        ids = np.concatenate([q.candidates, q.queries]) if include_queries else q.candidates
        rows = feats.rows(ids)
        per[name] = float((feats.arrays["pseudo"][rows, a, 0] == feats.labels[rows, a]).mean())
        counts[name] = len(rows)
    return {"overall": weighted_overall(per, counts), "per_attribute": per}


def full_report(model: AttributeSpecificModel, feats: SplitFeatures, protocol: dict[str, AttributeQueries]) -> dict:
    """The attribute-space ranking, and for MODC prioritized top1 / top2 with known and unknown query labels."""
    report: dict[str, Any] = {"attribute_space": retrieval_report(model, feats, protocol)}
    if model.modc:
        for top in (1, 2):
            for known in (True, False):
                key = f"top{top}_{'known' if known else 'unknown'}"
                report[key] = retrieval_report(model, feats, protocol, top, known)
        report["acc"] = pseudo_label_accuracy(model, feats, protocol, include_queries=True)
        report["acc_candidates"] = pseudo_label_accuracy(model, feats, protocol, include_queries=False)
    return report


def protocol_dict(catalog) -> dict[str, Any]:
    return {**asen_protocol(), "k": K, "ranking": "cosine in the query's attribute space; MODC: prioritized "
            "retrieval (pseudo-labelled candidates of the query's class(es) first, by class-space similarity)",
            "relevant": "the candidate has the query's value of the attribute",
            "query_candidate_sets": protocol_source(catalog),
            "acc": "top-1 pseudo label == catalog value, over the candidates and the queries"}


def evaluate(request: EvalRequest) -> EvalReport:
    """``fashion eval`` for ASEN / ASEN_v2 / ASEN++ and MODC over them."""
    model = AttributeSpecificModel.from_checkpoint(request.checkpoint, request.device)
    protocol = attribute_protocol(request.catalog, request.split)
    feats = SplitFeatures(model, request.workspace, request.catalog, protocol, BatchPreprocessor(request.device))
    metrics = full_report(model, feats, protocol)
    base = metrics["attribute_space"]["overall"]
    summary = (f"attribute space: MAP@100 {base['map@100']:.4f}, MAP@all {base['map@all']:.4f}, "
               f"Recall@100 {base['recall@100']:.4f} over {sum(metrics['attribute_space']['queries'].values())} queries")
    if model.modc:
        parts = [f"{key} MAP@100 {metrics[key]['overall']['map@100']:.4f}"
                 for key in ("top1_known", "top1_unknown", "top2_known", "top2_unknown")]
        summary += f"; MODC {', '.join(parts)}; pseudo-label Acc {metrics['acc']['overall']:.4f}"
    return EvalReport(f"attribute-specific retrieval ({request.checkpoint.method})", metrics,
                      protocol_dict(request.catalog), summary)
