"""Evaluation of composed retrieval (TGR and VCR) in the UIGR paper's terms.

UIGR protocol (supp. Sec. C "Evaluation"; REFERENCE.md "UIGR"; metrics in ``fashion_gui.evaluation``):
- queries: the split's feedback triplets of each kind (reference, text, one target);
- gallery: every image of the split, embedded with the evaluated task's projection; no category filter;
- ranking: cosine similarity (L2 between unit vectors), exact; the source (reference) image stays in the
  gallery unless ``source_in_gallery=False`` (TIRG / RTIC / CoSMo remove it);
- R@10, R@50 (target within the top K) and mAP@50 (reciprocal rank of the single target if <= 50, else 0);
  "mean" = mean of the TGR and VCR figures;
- routing: a unified model routes each query through its branch classifier (hard choice, as at inference;
  ``routing="oracle"`` forces the query's own task) and searches the gallery of the chosen task;
- branch accuracy: fraction of the split's TGR and VCR captions the classifier assigns to their own kind.

Extra, for comparison with ADDE-O (which ranks only the target category's items, as CSA-Net does):
``in_category`` VCR figures with the gallery restricted to items of the target's category.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from fashion_gui.catalog.store import Catalog
from fashion_gui.evaluation.metrics import (
    UIGR_KS,
    map_at_k_single_target,
    rank_gallery,
    recall_at_k,
)
from fashion_gui.evaluation.report import uigr_protocol
from fashion_gui.inference.preprocess import BatchPreprocessor, ImageBank
from fashion_gui.methods import EvalReport, EvalRequest
from fashion_gui.inference.uigr_model import ComposedRetrieval
from fashion_gui.workspace import Workspace

KIND_OF_TASK = {"tgr": "TGR", "vcr": "VCR"}
MAP_K = 50


class ComposedBank(ImageBank):
    """A split's images (uint8, decoded once) with the category and product of every row."""

    def __init__(self, workspace: Workspace, catalog: Catalog, split: str, size: int) -> None:
        super().__init__(workspace, catalog, split, size)
        self.categories = np.asarray(catalog.categories_of(self.ids), dtype=np.int64)  # (N,)
        self.instances = catalog.instances_of(self.ids)  # N product ids


@dataclass
class TripletSet:
    """One task's feedback triplets over an image bank (rows index the bank)."""

    task: str                     # "tgr" | "vcr"
    ref: np.ndarray               # (n,) bank rows of the reference images
    target: np.ndarray            # (n,) bank rows of the targets
    texts: list[str]              # n feedback sentences
    target_category: np.ndarray   # (n,) category index of each target
    dropped: int = 0              # triplets whose images are not in the bank (another split)

    def __len__(self) -> int:
        return len(self.ref)


def feedback_triplets(catalog: Catalog, bank, split: str, task: str) -> TripletSet:
    """The ``split``'s TGR or VCR triplets whose reference and target are both in ``bank``."""
    rows = [(bank.row.get(f.reference_id), bank.row.get(f.target_id), f.text)
            for f in catalog.feedback(KIND_OF_TASK[task], split)]
    kept = [r for r in rows if r[0] is not None and r[1] is not None]
    ref = np.array([r[0] for r in kept], dtype=np.int64)
    target = np.array([r[1] for r in kept], dtype=np.int64)
    cats = catalog.categories_of(bank.ids[target]) if len(kept) else np.zeros(0, np.int64)
    return TripletSet(task, ref, target, [r[2] for r in kept], np.asarray(cats, dtype=np.int64),
                      dropped=len(rows) - len(kept))


def _depth(n_gallery: int, source_in_gallery: bool, ks: Sequence[int]) -> int:
    return min(max(*ks, MAP_K), n_gallery - (0 if source_in_gallery else 1))


def _pad(ranked: np.ndarray, depth: int) -> np.ndarray:
    """Right-pad ranked lists with -1 (no item) to ``depth`` columns."""
    if ranked.shape[1] >= depth:
        return ranked
    return np.concatenate([ranked, np.full((len(ranked), depth - ranked.shape[1]), -1, np.int64)], axis=1)


def retrieval_figures(ranked: np.ndarray, target: np.ndarray, ks: Sequence[int]) -> dict[str, float]:
    depth = max(*ks, MAP_K)
    ranked = _pad(ranked, depth)
    out = {f"R@{k}": v for k, v in recall_at_k(ranked, target, ks).items()}
    out[f"mAP@{MAP_K}"] = map_at_k_single_target(ranked, target, MAP_K)
    return out


def rank_routed(queries: np.ndarray, chosen: Sequence[str], galleries: dict[str, np.ndarray], source: np.ndarray,
                depth: int, source_in_gallery: bool) -> np.ndarray:
    """Rank each query in the gallery of the task it was composed for; ``(Q, depth)`` gallery rows."""
    chosen = np.asarray(chosen)
    out = np.full((len(queries), depth), -1, dtype=np.int64)
    for task, gallery in galleries.items():
        rows = np.nonzero(chosen == task)[0]
        if len(rows):
            out[rows] = rank_gallery(queries[rows], gallery, depth,
                                     exclude=None if source_in_gallery else source[rows])
    return out


def rank_in_category(queries: np.ndarray, gallery: np.ndarray, gallery_categories: np.ndarray,
                     target_categories: np.ndarray, depth: int) -> np.ndarray:
    """Rank only the gallery items of each query's target category (CSA-Net / ADDE-O protocol)."""
    out = np.full((len(queries), depth), -1, dtype=np.int64)
    for cat in np.unique(target_categories):
        rows = np.nonzero(target_categories == cat)[0]
        members = np.nonzero(gallery_categories == cat)[0]
        if len(members) == 0:
            continue
        k = min(depth, len(members))
        out[rows, :k] = members[rank_gallery(queries[rows], gallery[members], k)]
    return out


def branch_accuracy(model, texts: dict[str, list[str]]) -> dict[str, float]:
    """Fraction of captions of each kind that the branch classifier routes to their own branch."""
    out: dict[str, float] = {}
    total, right = 0, 0
    for task, captions in texts.items():
        if not captions:
            continue
        ids, lengths = model.encode_texts(captions)
        with torch.inference_mode():
            pred = model.model.choose_branch(model.model.encode_text(ids, lengths)).cpu().numpy()
        hits = int((np.asarray(model.tasks)[pred] == task).sum())
        out[task] = hits / len(captions)
        total, right = total + len(captions), right + hits
    if total:
        out["overall"] = right / total
    return out


def composed_metrics(model, bank, triplets: dict[str, TripletSet], prep: BatchPreprocessor, *,
                     source_in_gallery: bool = True, routing: str = "classifier", ks: Sequence[int] = UIGR_KS,
                     batch_size: int = 256, features: torch.Tensor | None = None) -> dict[str, Any]:
    """UIGR figures of ``model`` (a ``ComposedRetrieval``) on ``bank`` for the tasks it serves."""
    if routing not in ("classifier", "oracle"):
        raise ValueError(f"routing must be 'classifier' or 'oracle', got {routing!r}")
    if features is None:
        features = model.features(bank.images, prep, batch_size)
    galleries = model.gallery_from_features(features)
    categories = np.asarray(bank.categories, dtype=np.int64)
    depth = _depth(len(bank.ids), source_in_gallery, ks)
    ks = [k for k in ks if k <= depth]
    out: dict[str, Any] = {}
    for task in model.tasks:
        t = triplets.get(task)
        if t is None or len(t) == 0:
            continue
        route = None if (routing == "classifier" and model.unified) else task
        queries, chosen, _ = model.compose_features(features[torch.from_numpy(t.ref).to(features.device)],
                                                    t.texts, task=route, batch_size=batch_size)
        ranked = rank_routed(queries, chosen, galleries, t.ref, depth, source_in_gallery)
        figures: dict[str, Any] = {**retrieval_figures(ranked, t.target, ks), "queries": len(t),
                                   "routed_to_own_branch": float(np.mean(np.asarray(chosen) == task))}
        if task == "vcr":
            own = np.nonzero(np.asarray(chosen) == task)[0]  # in-category ranking in the VCR space
            q = queries.copy()
            if len(own) < len(q):  # rows routed elsewhere: recompose in the VCR branch for this extra figure
                q, _, _ = model.compose_features(features[torch.from_numpy(t.ref).to(features.device)], t.texts,
                                                 task="vcr", batch_size=batch_size)
            in_cat = rank_in_category(q, galleries["vcr"], categories, t.target_category, depth)
            figures["in_category"] = retrieval_figures(in_cat, t.target, ks)
        out[task] = figures
    present = [t for t in ("tgr", "vcr") if t in out]
    if len(present) == 2:
        out["mean"] = {name: float(np.mean([out[t][name] for t in present]))
                       for name in out[present[0]] if name.startswith(("R@", "mAP@"))}
    if model.unified:
        out["branch_accuracy"] = branch_accuracy(model, {t: triplets[t].texts for t in present})
    return out


def composed_protocol(source_in_gallery: bool, routing: str, split: str) -> dict[str, Any]:
    """The UIGR protocol record plus this project's choices (routing, gallery, in-category extra)."""
    return {**uigr_protocol(source_in_gallery=source_in_gallery), "split": split,
            "gallery": f"every image of the {split} split, embedded with the evaluated task's projection "
                       "(no category filter)",
            "routing": ("branch classifier, hard choice (unified models); each query searches the gallery of "
                        "the task it was routed to" if routing == "classifier"
                        else "oracle: each query uses its own task's branch"),
            "in_category": "extra VCR figures ranking only the target category's items (ADDE-O / CSA-Net)",
            "mean": "mean of the TGR and VCR figures"}


def selection_score(metrics: dict[str, Any]) -> float:
    """Validation score for model selection: (R@10 + R@50 + mAP@50) / 3, averaged over every validation query
    of the evaluated tasks (each task weighted by its number of queries, so that a task with a handful of
    validation queries, like the demo's VCR, does not make the choice of epoch a coin toss)."""
    parts = [(metrics[t]["queries"], np.mean([metrics[t][k] for k in metrics[t] if k.startswith(("R@", "mAP@"))]))
             for t in ("tgr", "vcr") if t in metrics]
    total = sum(n for n, _ in parts)
    return float(sum(n * s for n, s in parts) / total) if total else -1.0


def evaluate_composed_checkpoint(workspace: Workspace, catalog: Catalog, checkpoint, split: str,
                                 device: torch.device, *, source_in_gallery: bool = True,
                                 routing: str = "classifier") -> dict[str, Any]:
    """``fashion eval`` for a ``uigr-*`` / ``tgr-only`` / ``vcr-only`` checkpoint on ``split``."""

    model = ComposedRetrieval.from_checkpoint(checkpoint, device)
    bank = ComposedBank(workspace, catalog, split, model.image_size)
    triplets = {t: feedback_triplets(catalog, bank, split, t) for t in model.tasks}
    return composed_metrics(model, bank, triplets, BatchPreprocessor(device), source_in_gallery=source_in_gallery,
                            routing=routing)


def summary_line(metrics: dict[str, Any]) -> str:
    """``TGR R@10 .. R@50 .. mAP@50 ..; VCR ...; mean ...; branch accuracy ..`` for the terminal."""
    parts = []
    for key, label in (("tgr", "TGR"), ("vcr", "VCR"), ("mean", "mean")):
        if key in metrics:
            m = metrics[key]
            figures = " ".join(f"{name} {m[name]:.3f}" for name in ("R@10", "R@50", f"mAP@{MAP_K}") if name in m)
            extra = f" ({m['queries']} queries)" if "queries" in m else ""
            if "in_category" in m:
                extra += f"; in-category R@10 {m['in_category']['R@10']:.3f}"
            parts.append(f"{label} {figures}{extra}")
    if "branch_accuracy" in metrics:
        parts.append(f"branch accuracy {metrics['branch_accuracy'].get('overall', float('nan')):.3f}")
    return "; ".join(parts)


def evaluate(request: EvalRequest) -> EvalReport:
    """``fashion eval`` for a composed model: R@10, R@50, mAP@50 per task and their mean, branch accuracy,
    under the UIGR protocol (source kept) or the TIRG / RTIC one (source removed), routing stated."""
    routing = "oracle" if request.oracle_routing else "classifier"
    metrics = evaluate_composed_checkpoint(request.workspace, request.catalog, request.checkpoint, request.split,
                                           request.device, source_in_gallery=request.reference_in_gallery,
                                           routing=routing)
    kept = "kept in" if request.reference_in_gallery else "removed from"
    name = "UIGR protocol" if request.reference_in_gallery else "TIRG/RTIC protocol"
    summary = (f"({name}: source image {kept} the gallery; whole-split gallery; {routing} routing): "
               f"{summary_line(metrics)}")
    task = f"composed retrieval ({request.checkpoint.method}, {request.checkpoint.config.get('compositor', '')})"
    return EvalReport(task, metrics, composed_protocol(request.reference_in_gallery, routing, request.split), summary)
