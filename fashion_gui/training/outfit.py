"""ADDE-O: outfit complementary item retrieval on the embeddings of a trained ADDE model.

Hou et al., ADDE (ICCV 2021) Sec. 3.4, supplementary Sec. 1-2 (papers/adde-supplementary.md); the head is
``models.outfit.OutfitCompatibilityHead``: per attribute type a an outfit learner ``psi_a = Linear(d, d)``
on ADDE's chunk r_a, and a category attention ``kappa = Linear(2C, 256)-ReLU-Linear(256, A)-Softmax`` on
the one-hot reference and target categories. The ADDE encoder stays frozen (its chunks are computed once).

Compatibility distance (smaller = more compatible), the one the trainer optimises and the engine ranks by:

    D(x, y | c_x, c_y) = sum_a w_a(c_x, c_y) * || P(x)_a - P(y)_a ||^2,
    P(x)_a = psi_a(n(r_a(x))),   w = kappa(onehot(c_x), onehot(c_y)),

with ``n`` the per-chunk L2 normalisation when ``normalize_chunks`` (default) and the identity otherwise.

Training (CSA-Net, Lin et al. CVPR 2020, as ADDE-O follows it): every ordered pair (x, y) of pieces of a
training outfit is a positive; the negative is a random training item of y's category outside the outfit
(so it shares the pair's attention weights); ranking loss ``max(0, D(x, y) - D(x, n) + 0.3)``; learning
rate decreasing linearly to zero, no warm-up, batch 96. Model selection on the validation split's VCR
triplets (never the test split).

Evaluation on the split's VCR triplets (reference, target): ``in_category`` ranks the target category's
items only (CSA-Net / ADDE-O protocol); ``vcr`` ranks every item of the split with the weights of the
(reference, target) category pair (UIGR's whole-gallery protocol, for the comparison table). The VCR
caption's text is not used: ADDE-O's interaction signal is the pair of categories.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from fashion_gui.catalog.store import Catalog
from fashion_gui.evaluation.report import uigr_protocol
from fashion_gui.inference.adde_model import ADDEModel
from fashion_gui.inference.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from fashion_gui.inference.outfit_model import OutfitRetrieval, build_outfit_head, load_outfit_pair, resolve_adde
from fashion_gui.inference.preprocess import BatchPreprocessor
from fashion_gui.methods import EvalReport, EvalRequest
from fashion_gui.methods.outfit import OutfitTrainConfig
from fashion_gui.training.events import Callback, TrainEvent
from fashion_gui.training.trainer import Trainer, chunked
from fashion_gui.training.uigr_eval import MAP_K, ComposedBank, TripletSet, feedback_triplets, retrieval_figures
from fashion_gui.workspace import Workspace
from models.outfit import OutfitRankingLoss

def rank_by_distance(dist: np.ndarray, depth: int) -> np.ndarray:
    """Rows of the ``depth`` smallest distances per query (ties by gallery row); ``(Q, depth)``."""
    order = np.argsort(dist, axis=1, kind="stable")[:, :depth]
    return order.astype(np.int64)


def outfit_vcr_metrics(model: OutfitRetrieval, projected: np.ndarray, categories: np.ndarray, triplets: TripletSet,
                       ks=(10, 50), source_in_gallery: bool = True) -> dict[str, Any]:
    """VCR figures of ADDE-O on a bank: whole-gallery (UIGR protocol) and in-category (ADDE-O protocol)."""
    n = len(projected)
    depth = min(max(*ks, MAP_K), n - (0 if source_in_gallery else 1))
    ks = [k for k in ks if k <= depth]
    whole = np.full((len(triplets), depth), -1, np.int64)
    in_cat = np.full((len(triplets), depth), -1, np.int64)
    ref_cat = categories[triplets.ref]
    for rc, tc in sorted(set(zip(ref_cat.tolist(), triplets.target_category.tolist()))):
        rows = np.nonzero((ref_cat == rc) & (triplets.target_category == tc))[0]
        w = model.attention(rc, tc)
        dist = model.distances(projected[triplets.ref[rows]], projected, w)  # (q, N)
        if not source_in_gallery:
            dist[np.arange(len(rows)), triplets.ref[rows]] = np.inf
        whole[rows] = rank_by_distance(dist, depth)
        members = np.nonzero(categories == tc)[0]
        k = min(depth, len(members))
        in_cat[rows, :k] = members[rank_by_distance(dist[:, members], k)]
    return {"vcr": {**retrieval_figures(whole, triplets.target, ks), "queries": len(triplets),
                    "in_category": retrieval_figures(in_cat, triplets.target, ks)}}


class OutfitTrainer(Trainer):
    """Trains the ADDE-O head on frozen ADDE chunks (computed once); the loop, model selection on the
    validation split's VCR triplets and resume are the base Trainer's."""

    def __init__(self, workspace: Workspace, config: OutfitTrainConfig, out_dir: Path,
                 callbacks: list[Callback] | None = None, method: str = "adde-o") -> None:
        super().__init__(workspace, config, out_dir, callbacks, method)
        self.adde_path = resolve_adde(workspace, config.adde_checkpoint)
        try:
            adde_ckpt = load_checkpoint(self.adde_path, expected_schema=self.schema.to_dict())
        except CheckpointError as exc:
            raise CheckpointError(f"ADDE-O needs a trained ADDE model: {exc}") from exc
        self.adde_hash = adde_ckpt.hash
        self.adde, _ = ADDEModel.from_checkpoint(adde_ckpt, self.device)
        names = list(config.attribute_types) or self.schema.names
        unknown = [n for n in names if n not in self.schema.names]
        if unknown:
            raise ValueError(f"unknown attribute types {unknown}; the catalog has {', '.join(self.schema.names)}")
        self.arch = {"num_categories": len(self.schema.categories), "d": self.adde.encoder.d,
                     "attention_hidden": config.attention_hidden, "squared": config.squared,
                     "attribute_indices": [self.schema.names.index(n) for n in names], "attribute_types": names,
                     "normalize_chunks": config.normalize_chunks}
        self.head = build_outfit_head(self.arch).to(self.device)
        self.loss = OutfitRankingLoss(config.margin)
        self.prep = BatchPreprocessor(self.device)

    def retrieval(self) -> OutfitRetrieval:
        return OutfitRetrieval(self.head, self.adde_hash, list(self.schema.categories), self.config.normalize_chunks)

    def chunks(self, bank: ComposedBank) -> torch.Tensor:
        """Frozen ADDE chunks of a bank ``(N, A_enc, d)`` on the device."""
        return torch.from_numpy(self.adde.embed(bank.images, self.prep, self.config.eval_batch)["chunks"]).to(self.device)

    def pairs(self, bank: ComposedBank, split: str) -> tuple[np.ndarray, list[set[int]]]:
        """Ordered (reference row, positive row, outfit index) of every outfit of the split."""
        out, members = [], []
        for outfit in self.catalog.outfits(split):
            rows = [bank.row[i] for i in outfit.item_ids if i in bank.row]
            members.append(set(rows))
            out += [(a, b, len(members) - 1) for a in rows for b in rows if a != b]
        return np.array(out, dtype=np.int64).reshape(-1, 3), members

    def negatives(self, pairs: np.ndarray, members: list[set[int]], bank: ComposedBank) -> np.ndarray:
        """Per pair, a random bank row of the positive's category outside the outfit and the positive's product."""
        by_cat = {int(c): np.nonzero(bank.categories == c)[0] for c in np.unique(bank.categories)}
        out = np.empty(len(pairs), np.int64)
        for i, (_, pos, o) in enumerate(pairs):
            pool = by_cat[int(bank.categories[pos])]
            for _ in range(20):
                neg = int(pool[self.rng.integers(len(pool))])
                if neg not in members[o] and bank.instances[neg] != bank.instances[pos]:
                    break
            out[i] = neg
        return out

    # --- the Trainer contract -----------------------------------------------------------------------
    def describe(self) -> str:
        return (f"training {self.method} on {self.device} on the chunks of {self.adde_path} "
                f"({len(self.arch['attribute_indices'])} attribute types)")

    def setup(self) -> None:
        size = self.adde.image_size
        self.train_bank = ComposedBank(self.workspace, self.catalog, "train", size)
        self.val_bank = ComposedBank(self.workspace, self.catalog, "val", size)
        self.train_pairs, self.members = self.pairs(self.train_bank, "train")
        if len(self.train_pairs) < 2:
            raise ValueError("the train split has no outfits with two or more pieces; ADDE-O needs outfits")
        self.train_chunks = self.chunks(self.train_bank)
        self.train_cats = torch.from_numpy(self.train_bank.categories).to(self.device)
        self.val_chunks = self.chunks(self.val_bank).cpu().numpy() if len(self.val_bank.ids) else None
        self.val_trip = feedback_triplets(self.catalog, self.val_bank, "val", "vcr")
        if self.val_chunks is None or not len(self.val_trip):
            self.emit(TrainEvent("start", message="the val split has no VCR triplets: the last epoch is kept"))

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"head": self.head}

    def param_groups(self, stage: str) -> list[dict]:
        return [{"params": [*self.head.parameters(), *self.loss.parameters()]}]

    def learning_rate(self, stage: str, epoch: int, step: int, steps: int) -> float:
        """Decreasing linearly to zero over the run (ADDE-O / CSA-Net), no warm-up."""
        total = max(steps * self.config.epochs, 1)
        return self.config.lr * max(0.0, 1.0 - (epoch * steps + step) / total)

    def batches(self, stage: str, epoch: int):
        neg = self.negatives(self.train_pairs, self.members, self.train_bank)
        order = self.rng.permutation(len(self.train_pairs))
        for idx in chunked(order, self.config.batch_size):
            yield self.train_pairs[idx, 0], self.train_pairs[idx, 1], neg[idx]

    def step(self, stage: str, batch):
        ref, pos, n = (torch.from_numpy(a).to(self.device) for a in batch)
        chunks, cats = self.train_chunks, self.train_cats
        normalize = (lambda x: F.normalize(x, dim=2)) if self.config.normalize_chunks else (lambda x: x)
        d_pos = self.head.distance(normalize(chunks[ref]), normalize(chunks[pos]), cats[ref], cats[pos])  # (B,)
        d_neg = self.head.distance(normalize(chunks[ref]), normalize(chunks[n]), cats[ref], cats[pos])  # (B,)
        loss = self.loss(d_pos, d_neg)
        acc = (d_pos < d_neg).float().mean().item()
        return loss, {"loss": loss.item(), "pair_acc": acc}, 3 * len(ref)

    def validate(self, stage: str, epoch: int) -> tuple[float, dict[str, float]]:
        if self.val_chunks is None or not len(self.val_trip):
            return float(epoch), {}
        model = self.retrieval()
        m = outfit_vcr_metrics(model, model.project_chunks(self.val_chunks), self.val_bank.categories,
                               self.val_trip)["vcr"]
        metrics = {"val_vcr_R@10": m["R@10"], "val_vcr_R@50": m.get("R@50", float("nan")),
                   "val_vcr_in_category_R@10": m["in_category"]["R@10"],
                   "val_vcr_in_category_R@50": m["in_category"].get("R@50", float("nan")),
                   "val_vcr_in_category_mAP@50": m["in_category"]["mAP@50"]}
        return float(np.nanmean([metrics[k] for k in metrics if "in_category" in k])), metrics

    def checkpoint_config(self) -> dict:
        return {"architecture": self.arch, "adde_checkpoint_hash": self.adde_hash,
                "adde_checkpoint_path": str(self.adde_path), "image_size": self.adde.image_size}


def evaluate_outfit_checkpoint(workspace: Workspace, catalog: Catalog, checkpoint: Checkpoint, split: str,
                               device: torch.device, *, source_in_gallery: bool = True) -> dict[str, Any]:
    """``fashion eval adde-o``: VCR figures on ``split`` (whole gallery and in-category)."""
    outfit, adde = load_outfit_pair(workspace, checkpoint, device)
    bank = ComposedBank(workspace, catalog, split, adde.image_size)
    chunks = adde.embed(bank.images, BatchPreprocessor(device))["chunks"]
    triplets = feedback_triplets(catalog, bank, split, "vcr")
    if not len(triplets):
        raise ValueError(f"the {split!r} split has no VCR triplets to evaluate ADDE-O on")
    return outfit_vcr_metrics(outfit, outfit.project_chunks(chunks), bank.categories, triplets,
                              source_in_gallery=source_in_gallery)


def outfit_protocol(source_in_gallery: bool, split: str) -> dict[str, Any]:
    return {**uigr_protocol(source_in_gallery=source_in_gallery), "split": split,
            "distance": "ADDE-O compatibility D = sum_a kappa_a(c_ref, c_target) ||psi_a(x_a) - psi_a(y_a)||^2",
            "gallery": f"vcr: every image of the {split} split; vcr.in_category: the target category's items only "
                       "(the ADDE-O / CSA-Net protocol)",
            "interaction": "the (reference, target) category pair; the VCR caption text is not used"}


def evaluate(request: EvalRequest) -> EvalReport:
    """``fashion eval adde-o``: VCR figures (whole gallery and in-category) with the protocol stated."""
    source_in_gallery = request.reference_in_gallery
    metrics = evaluate_outfit_checkpoint(request.workspace, request.catalog, request.checkpoint, request.split,
                                         request.device, source_in_gallery=source_in_gallery)
    vcr = metrics["vcr"]
    summary = (f"VCR R@10 {vcr.get('R@10', float('nan')):.3f}, R@50 {vcr.get('R@50', float('nan')):.3f}; "
               f"in-category R@10 {vcr['in_category'].get('R@10', float('nan')):.3f} over {vcr['queries']} queries")
    return EvalReport("outfit complementary retrieval (ADDE-O)", metrics,
                      outfit_protocol(source_in_gallery, request.split), summary)
