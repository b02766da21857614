"""Evaluation of attribute models in the papers' terms (metric definitions in fashion_gui.evaluation).

- attribute prediction accuracy (per type, mean over types; missing labels ignored);
- manipulation (ADDE protocol): query = normalise(r_ref + M i), exact search over the split's gallery;
  top-K accuracy and NDCG / NDCG_target / NDCG_others; reference kept in the gallery unless switched;
- the feature x classifier accuracy matrix (GRL Fig. 5) and its mean off-diagonal;
- ADDE-C conditional-similarity triplet accuracy (one triplet per image and attribute type).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fashion_gui.catalog.store import Catalog, ManipulationQuery
from fashion_gui.evaluation.heatmap import render_heatmap_png
from fashion_gui.evaluation.metrics import (
    attribute_accuracy,
    l2_normalize,
    ndcg_at_k,
    rank_gallery,
    topk_accuracy,
    triplet_accuracy,
)
from fashion_gui.evaluation.report import adde_protocol
from fashion_gui.inference.adde_model import ADDEModel
from fashion_gui.inference.preprocess import BatchPreprocessor, ImageBank
from fashion_gui.methods import EvalReport, EvalRequest
from models.grl import feature_classifier_accuracy


def attribute_metrics(model, images: torch.Tensor, labels: np.ndarray, prep: BatchPreprocessor,
                      batch_size: int = 256) -> dict[str, Any]:
    pred = model.embed(images, prep, batch_size)["pred"]
    acc = attribute_accuracy(pred, labels)
    names = model.schema.names
    return {"mean": float(acc.mean), "pooled": float(acc.pooled),
            "per_type": {n: (None if np.isnan(v) else float(v)) for n, v in zip(names, acc.per_type)}}


def manipulation_metrics(model, bank, queries: Sequence[ManipulationQuery], prep: BatchPreprocessor,
                         batch_size: int = 256, ks: Sequence[int] = (10, 20, 30, 40, 50),
                         ndcg_ks: Sequence[int] = tuple(range(1, 51)), reference_in_gallery: bool = True,
                         embedding: np.ndarray | None = None) -> dict[str, Any]:
    """ADDE protocol over ``bank`` (the split's images, ids, labels) for ``queries`` of that split."""
    if embedding is None:
        embedding = model.embed(bank.images, prep, batch_size)["embedding"]
    gallery = l2_normalize(embedding)
    rows = np.array([bank.row[q.reference_id] for q in queries])
    ref_labels = bank.labels[rows]
    targets = np.array([q.target_label for q in queries], dtype=np.int64)
    queries_emb = l2_normalize(model.manipulate(embedding[rows], ref_labels, targets))
    depth = min(max([*ks, *ndcg_ks]), len(gallery) - (0 if reference_in_gallery else 1))
    ks = [k for k in ks if k <= depth]
    ndcg_ks = [k for k in ndcg_ks if k <= depth]
    exclude = None if reference_in_gallery else rows
    ranked = rank_gallery(queries_emb, gallery, depth, exclude=exclude)
    out: dict[str, Any] = {"queries": len(queries),
                           "topk_accuracy": {int(k): float(v) for k, v in
                                             topk_accuracy(ranked, bank.labels, targets, ks).items()}}
    if ndcg_ks:
        changed = np.array([model.schema.type_index(next(iter(q.edits))) for q in queries])
        nd = ndcg_at_k(ranked, bank.labels, targets, changed, ks=ndcg_ks)
        out["ndcg"] = {name: {int(k): float(v) for k, v in per_k.items()} for name, per_k in nd.items()}
    return out


@torch.inference_mode()
def feature_classifier_matrix(model, head, chunks: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(A, A) accuracy of classifier n on feature j (rows: features, columns: classifiers)."""
    x = torch.from_numpy(chunks).to(model.device)
    out = np.full((chunks.shape[1], chunks.shape[1]), np.nan)
    acc = feature_classifier_accuracy(head.cross_logits(x), torch.from_numpy(labels))
    out[:] = acc.numpy()
    return out


def conditional_triplets(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """ADDE-C triplets (seed 000): per image and attribute type, a positive sharing that type's value and a
    negative with another present value. Rows (anchor, positive, negative, type)."""
    rows = []
    for a in range(labels.shape[1]):
        col = labels[:, a]
        for i in np.nonzero(col >= 0)[0]:
            pos = np.nonzero((col == col[i]) & (np.arange(len(col)) != i))[0]
            neg = np.nonzero((col >= 0) & (col != col[i]))[0]
            if len(pos) and len(neg):
                rows.append((i, rng.choice(pos), rng.choice(neg), a))
    return np.array(rows, dtype=np.int64).reshape(-1, 4)


def conditional_triplet_accuracy(chunks: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """Euclidean distance in the conditioned attribute's subspace; ties count as failures."""
    t = conditional_triplets(labels, np.random.default_rng(seed))
    a, p, n, typ = t.T
    d_ap = np.linalg.norm(chunks[a, typ] - chunks[p, typ], axis=1)
    d_an = np.linalg.norm(chunks[a, typ] - chunks[n, typ], axis=1)
    return {"triplets": len(t), "accuracy": triplet_accuracy(d_ap, d_an)}


def full_report(model, head, bank, catalog: Catalog, split: str, prep: BatchPreprocessor, out_png: Path | None,
                reference_in_gallery: bool = True, batch_size: int = 256) -> dict[str, Any]:
    """Everything ``fashion eval`` prints for an attribute model on ``split``."""
    emb = model.embed(bank.images, prep, batch_size)
    acc = attribute_accuracy(emb["pred"], bank.labels)
    names = model.schema.names
    matrix = feature_classifier_matrix(model, head, emb["chunks"], bank.labels)
    off = matrix[~np.eye(len(matrix), dtype=bool)]
    queries = catalog.manipulation_queries(split)
    report: dict[str, Any] = {
        "attribute_accuracy": {"mean": float(acc.mean), "pooled": float(acc.pooled),
                               "per_type": {n: float(v) for n, v in zip(names, acc.per_type)}},
        "feature_classifier_matrix": {"rows_features_cols_classifiers": names,
                                      "values": np.round(matrix, 4).tolist(),
                                      "mean_diagonal": float(np.nanmean(np.diag(matrix))),
                                      "mean_off_diagonal": float(np.nanmean(off))},
        "conditional_similarity": conditional_triplet_accuracy(emb["chunks"], bank.labels),
    }
    if queries:
        report["manipulation"] = manipulation_metrics(model, bank, queries, prep, batch_size,
                                                      reference_in_gallery=reference_in_gallery,
                                                      embedding=emb["embedding"])
    if out_png is not None:
        render_heatmap_png(matrix, names, names, out_png, title="feature x classifier accuracy")
        report["feature_classifier_matrix"]["png"] = str(out_png)
    return report


def evaluate(request: EvalRequest) -> EvalReport:
    """``fashion eval`` for an attribute encoder (ADDE-M, GRL, no-GRL): attribute accuracy, manipulation top-K
    and NDCG (ADDE protocol), the feature x classifier matrix (GRL Fig. 5) and ADDE-C triplet accuracy."""
    model, head = ADDEModel.from_checkpoint(request.checkpoint, request.device)
    bank = ImageBank(request.workspace, request.catalog, request.split, model.image_size)
    metrics = full_report(model, head, bank, request.catalog, request.split, BatchPreprocessor(request.device),
                          request.out_png, reference_in_gallery=request.reference_in_gallery)
    m = metrics.get("manipulation", {})
    top = m.get("topk_accuracy", {})
    ndcg30 = {k: round(v.get(30), 4) for k, v in m.get("ndcg", {}).items() if v.get(30) is not None}
    summary = (f"attribute accuracy {metrics['attribute_accuracy']['mean']:.3f}; manipulation top-10/30/50 "
               f"{top.get(10, float('nan')):.3f}/{top.get(30, float('nan')):.3f}/{top.get(50, float('nan')):.3f} "
               f"over {m.get('queries', 0)} queries; NDCG@30 {ndcg30}; feature x classifier off-diagonal "
               f"{metrics['feature_classifier_matrix']['mean_off_diagonal']:.3f}; ADDE-C triplet accuracy "
               f"{metrics['conditional_similarity']['accuracy']:.3f}")
    return EvalReport(f"attribute-manipulation ({request.checkpoint.method})", metrics,
                      adde_protocol(reference_in_gallery=request.reference_in_gallery), summary)
