"""Evaluation of cooperative embeddings and its baselines in the paper's terms (Sec. 4.2, Table 1c, Table 3).

* instance R@1: every query photograph against a gallery of other photographs of unseen products (the
  In-Shop query/gallery splits when the catalog has them; otherwise leave-one-out within the split, with
  the products that have at least two photographs there as queries); instance space (the superspace);
* attribute-value mAP: query = the mean training retrieval vector of the images with that value, in its
  attribute's subspace; it ranks the split's items that have a value for that attribute; relevant = has
  the value; AP over the whole ranking, averaged over every value with a training image and a relevant item;
* category mAP: query = the mean training vector of the category in the superspace; ranks every item of
  the split; relevant = same category;
* MAE and MRR for the attribute types the schema declares ordered: each item's values ranked by the
  cosine of its subspace to the value prototypes; MAE = |rank(predicted) - rank(true)| (ranks = positions
  in the declared order), MRR = mean 1 / position of the true value in that ranking.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from fashion_gui.catalog.schema import AttributeSchema
from fashion_gui.catalog.store import Catalog
from fashion_gui.evaluation.metrics import instance_recall_at_1, map_all
from fashion_gui.inference.cooperative_model import CooperativeModel
from fashion_gui.inference.preprocess import BatchPreprocessor, ImageBank
from fashion_gui.methods import EvalReport, EvalRequest


def cooperative_protocol(query_gallery: bool) -> dict[str, Any]:
    return {
        "instance": ("query split against the gallery split (In-Shop)" if query_gallery else
                     "leave-one-out within the split: each photograph of a product with >= 2 photographs there "
                     "queries the split's other photographs") + "; R@1 in the instance space",
        "attribute": "query = mean training vector of the value in its attribute's space; ranks the items with "
                     "a value for that attribute; relevant = that value; AP over the full ranking; mean over values",
        "category": "query = mean training vector of the category in the category space; ranks every item; "
                    "relevant = same category; AP over the full ranking; mean over categories",
        "ordered": "values ranked by cosine to the value prototypes in the attribute's space; MAE of the "
                   "predicted value's rank, MRR of the true value",
        "normalisation": "every subspace L2-normalised (one space for the shared-space baselines); cosine scores",
        "ties": "stable: equal scores keep the split's item order",
    }


def _ranked_relevance(scores: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    order = np.argsort(-scores, kind="stable")
    return relevant[order][None, :]


def instance_r1(vectors: np.ndarray, instances: np.ndarray, mask: np.ndarray,
                gallery_vectors: np.ndarray | None = None, gallery_instances: np.ndarray | None = None
                ) -> tuple[float, int]:
    """Instance R@1 and the number of queries (see the module docstring)."""
    q = vectors * mask
    if gallery_vectors is None:
        sims = q @ q.T
        np.fill_diagonal(sims, -np.inf)
        _, counts = np.unique(instances, return_counts=True)
        multi = set(np.unique(instances)[counts >= 2].tolist())
        keep = np.array([i in multi for i in instances.tolist()])
        if not keep.any():
            return float("nan"), 0
        top = sims[keep].argmax(1)
        return instance_recall_at_1(instances[keep], instances[top][:, None]), int(keep.sum())
    sims = q @ (gallery_vectors * mask).T
    top = sims.argmax(1)
    return instance_recall_at_1(instances, gallery_instances[top][:, None]), len(q)


def attribute_map(vectors: np.ndarray, labels: np.ndarray, schema: AttributeSchema, queries: np.ndarray,
                  seen: np.ndarray) -> dict[str, Any]:
    per_type: dict[str, float] = {}
    aps: list[float] = []
    for a, (t, offset) in enumerate(zip(schema.types, schema.offsets)):
        rows = labels[:, a] >= 0
        type_aps = []
        for v in range(len(t.values)):
            relevant = labels[rows, a] == v
            if not seen[offset + v] or not relevant.any():
                continue
            type_aps.append(map_all(_ranked_relevance(vectors[rows] @ queries[offset + v], relevant)))
        if type_aps:
            per_type[t.name] = float(np.mean(type_aps))
            aps += type_aps
    return {"mAP": float(np.mean(aps)) if aps else float("nan"), "queries": len(aps), "per_type": per_type}


def category_map(vectors: np.ndarray, categories: np.ndarray, queries: np.ndarray, seen: np.ndarray) -> dict[str, Any]:
    aps = [map_all(_ranked_relevance(vectors @ queries[c], categories == c))
           for c in range(len(queries)) if seen[c] and (categories == c).any()]
    return {"mAP": float(np.mean(aps)) if aps else float("nan"), "queries": len(aps)}


def ordered_errors(vectors: np.ndarray, labels: np.ndarray, schema: AttributeSchema, queries: np.ndarray,
                   seen: np.ndarray) -> dict[str, Any]:
    """MAE / MRR per ordered attribute type (Table 1c) and their means."""
    out: dict[str, Any] = {}
    for a, (t, offset) in enumerate(zip(schema.types, schema.offsets)):
        if not t.ordered:
            continue
        values = np.array([v for v in range(len(t.values)) if seen[offset + v]])
        rows = np.nonzero(np.isin(labels[:, a], values))[0]
        if len(values) < 2 or len(rows) == 0:
            continue
        sims = vectors[rows] @ queries[offset + values].T  # (n, V')
        order = values[np.argsort(-sims, axis=1, kind="stable")]  # value indices, best first
        true = labels[rows, a]
        position = (order == true[:, None]).argmax(1) + 1
        out[t.name] = {"MAE": float(np.abs(order[:, 0] - true).mean()), "MRR": float((1.0 / position).mean()),
                       "items": len(rows)}
    if out:
        out["mean"] = {"MAE": float(np.mean([v["MAE"] for v in out.values()])),
                       "MRR": float(np.mean([v["MRR"] for v in out.values()]))}
    return out


def cooperative_metrics(model: CooperativeModel, vectors: np.ndarray, labels: np.ndarray, categories: np.ndarray,
                        instances: np.ndarray, gallery: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, Any]:
    """All figures on one split's retrieval vectors; ``gallery`` (vectors, instances) for In-Shop's split."""
    value_q, value_seen = model.value_queries()
    cat_q, cat_seen = model.category_queries()
    mask = model.space_mask("instance")
    r1, n = instance_r1(vectors, instances, mask, *(gallery or (None, None)))
    return {
        "instance_r1": r1, "instance_queries": n,
        "attribute": attribute_map(vectors, labels, model.schema, value_q, value_seen),
        "category": category_map(vectors, categories, cat_q, cat_seen),
        "ordered": ordered_errors(vectors, labels, model.schema, value_q, value_seen),
    }


def instance_codes(catalog: Catalog, ids: np.ndarray) -> np.ndarray:
    """Instance ids of items as integers (equal ids, equal codes)."""
    _, codes = np.unique(np.array(catalog.instances_of(ids), dtype=object).astype(str), return_inverse=True)
    return codes.astype(np.int64)


def evaluate(request: EvalRequest) -> EvalReport:
    """``fashion eval`` for cooperative embeddings and its baselines (instance R@1, attribute and category
    mAP, MAE/MRR of the ordered attributes; the protocol in the report)."""
    model = CooperativeModel.from_checkpoint(request.checkpoint, request.device)
    catalog, prep = request.catalog, BatchPreprocessor(request.device)
    splits = catalog.counts()["splits"]
    in_shop = splits.get("query", 0) > 0 and splits.get("gallery", 0) > 0
    if in_shop:  # In-Shop: query photographs against the gallery; attributes and categories over the gallery
        bank = ImageBank(request.workspace, catalog, "gallery", model.image_size)
        queries = ImageBank(request.workspace, catalog, "query", model.image_size)
        vectors = model.embed(bank.images, prep)
        q_vectors = model.embed(queries.images, prep)
        all_ids = np.concatenate([queries.ids, bank.ids])
        codes = instance_codes(catalog, all_ids)
        q_codes, g_codes = codes[:len(queries.ids)], codes[len(queries.ids):]
        metrics = cooperative_metrics(model, q_vectors, queries.labels, catalog.categories_of(queries.ids), q_codes,
                                      gallery=(vectors, g_codes))
        rest = cooperative_metrics(model, vectors, bank.labels, catalog.categories_of(bank.ids), g_codes)
        metrics.update({k: rest[k] for k in ("attribute", "category", "ordered")})
        split = "query/gallery"
    else:
        bank = ImageBank(request.workspace, catalog, request.split, model.image_size)
        vectors = model.embed(bank.images, prep)
        metrics = cooperative_metrics(model, vectors, bank.labels, catalog.categories_of(bank.ids),
                                      instance_codes(catalog, bank.ids))
        split = request.split
    ordered = metrics["ordered"].get("mean")
    summary = (f"{split}: instance R@1 {metrics['instance_r1']:.3f} ({metrics['instance_queries']} queries); "
               f"attribute mAP {metrics['attribute']['mAP']:.3f} ({metrics['attribute']['queries']} values); "
               f"category mAP {metrics['category']['mAP']:.3f}"
               + (f"; ordered attributes MAE {ordered['MAE']:.3f}, MRR {ordered['MRR']:.3f}" if ordered else ""))
    return EvalReport(f"instance / attribute / category retrieval ({request.checkpoint.method})", metrics,
                      cooperative_protocol(in_shop), summary)
