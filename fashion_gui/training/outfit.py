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

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from fashion_gui.catalog.store import Catalog
from fashion_gui.evaluation.report import uigr_protocol
from fashion_gui.inference.adde_model import ADDEModel
from fashion_gui.inference.checkpoint import (
    Checkpoint,
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from fashion_gui.inference.preprocess import BatchPreprocessor
from fashion_gui.inference.outfit_model import OutfitRetrieval, build_outfit_head, load_outfit_pair, resolve_adde
from fashion_gui.training.events import Callback, TrainEvent
from fashion_gui.training.trainer import Trainer
from fashion_gui.training.uigr_eval import (
    MAP_K,
    ComposedBank,
    TripletSet,
    _figures,
    feedback_triplets,
)
from fashion_gui.workspace import Workspace
from models.outfit import OutfitCompatibilityHead, OutfitRankingLoss

OUTFIT_METHODS = {"adde-o": "ADDE-O: outfit complementary retrieval on a trained ADDE model's attribute chunks"}


@dataclass
class OutfitTrainConfig:
    """ADDE-O training settings; the comments give the paper's values (ADDE supp. Sec. 1-2)."""

    method: str = "adde-o"
    adde_checkpoint: str = "adde"          # the ADDE model: folder name under <workspace>/checkpoints, or a path
    attribute_types: tuple[str, ...] = ()  # types used; () = all of the ADDE model's (paper: 5 Polyvore types)
    attention_hidden: int = 256            # kappa's hidden width (paper: 256)
    squared: bool = True                   # squared per-type Euclidean distances
    normalize_chunks: bool = True          # L2-normalise each ADDE chunk before psi_a
    margin: float = 0.3                    # ranking loss margin (paper: 0.3)
    batch_size: int = 96                   # paper: 96
    epochs: int = 30
    lr: float = 1e-3                       # Adam, decreasing linearly to 0 (paper: 5e-5 on Polyvore)
    weight_decay: float = 0.0
    seed: int = 0
    device: str = "auto"                   # auto | cpu | cuda
    eval_batch: int = 256

    def __post_init__(self) -> None:
        if self.method not in OUTFIT_METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose one of {', '.join(OUTFIT_METHODS)}")
        self.attribute_types = tuple(self.attribute_types)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["attribute_types"] = list(self.attribute_types)
        return data


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
    return {"vcr": {**_figures(whole, triplets.target, ks), "queries": len(triplets),
                    "in_category": _figures(in_cat, triplets.target, ks)}}


class OutfitTrainer(Trainer):
    """Trains the ADDE-O head on frozen ADDE chunks; validates, checkpoints atomically, reports events."""

    stage = "outfit"

    def __init__(self, workspace: Workspace, config: OutfitTrainConfig, out_dir: Path,
                 callbacks: list[Callback] | None = None) -> None:
        super().__init__(workspace, config, out_dir, callbacks)
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
        self._best: tuple[float, dict | None, dict] = (-1.0, None, {})

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

    def train(self, train: ComposedBank, val: ComposedBank) -> dict[str, Any]:
        cfg = self.config
        pairs, members = self.pairs(train, "train")
        if len(pairs) < 2:
            raise ValueError("the train split has no outfits with two or more pieces; ADDE-O needs outfits")
        chunks = self.chunks(train)
        cats = torch.from_numpy(train.categories).to(self.device)
        val_chunks = self.chunks(val).cpu().numpy() if len(val.ids) else None
        val_trip = feedback_triplets(self.catalog, val, "val", "vcr")
        optimizer = torch.optim.Adam(self.head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        steps = math.ceil(len(pairs) / cfg.batch_size)
        total_steps = steps * cfg.epochs
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: max(0.0, 1.0 - s / total_steps))
        normalize = (lambda x: F.normalize(x, dim=2)) if cfg.normalize_chunks else (lambda x: x)
        for epoch in range(cfg.epochs):
            self.head.train()
            neg = self.negatives(pairs, members, train)
            order = self.rng.permutation(len(pairs))
            t0, running, done = time.perf_counter(), {}, 0
            for s in range(steps):
                idx = order[s * cfg.batch_size:(s + 1) * cfg.batch_size]
                ref, pos, n = (torch.from_numpy(a).to(self.device) for a in (pairs[idx, 0], pairs[idx, 1], neg[idx]))
                d_pos = self.head.distance(normalize(chunks[ref]), normalize(chunks[pos]), cats[ref], cats[pos])  # (B,)
                d_neg = self.head.distance(normalize(chunks[ref]), normalize(chunks[n]), cats[ref], cats[pos])  # (B,)
                loss = self.loss(d_pos, d_neg)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                done += 1
                acc = (d_pos < d_neg).float().mean().item()
                running = {k: running.get(k, 0.0) + v for k, v in {"loss": loss.item(), "pair_acc": acc}.items()}
                self.emit(TrainEvent("step", self.stage, epoch + 1, cfg.epochs, s + 1, steps,
                                     losses={k: v / done for k, v in running.items()}))
            rate = 3 * len(pairs) / max(time.perf_counter() - t0, 1e-9)
            metrics = {}
            if val_chunks is not None and len(val_trip):
                model = self.retrieval()
                m = outfit_vcr_metrics(model, model.project_chunks(val_chunks), val.categories, val_trip)["vcr"]
                metrics = {"val_vcr_R@10": m["R@10"], "val_vcr_R@50": m.get("R@50", float("nan")),
                           "val_vcr_in_category_R@10": m["in_category"]["R@10"],
                           "val_vcr_in_category_R@50": m["in_category"].get("R@50", float("nan")),
                           "val_vcr_in_category_mAP@50": m["in_category"]["mAP@50"]}
            score = float(np.nanmean([metrics[k] for k in metrics if "in_category" in k])) if metrics else epoch
            if score > self._best[0] or self._best[1] is None:
                self._best = (score, {k: v.detach().clone() for k, v in self.head.state_dict().items()},
                              {**metrics, "epoch": epoch + 1})
            self.emit(TrainEvent("epoch", self.stage, epoch + 1, cfg.epochs,
                                 losses={k: v / max(done, 1) for k, v in running.items()},
                                 metrics=metrics, images_per_second=rate))
        _, state, best = self._best
        if state is not None:
            self.head.load_state_dict(state)
        if not (val_chunks is not None and len(val_trip)):
            self.emit(TrainEvent("epoch", self.stage, message="the val split has no VCR triplets: kept the last epoch"))
        return best

    def run(self, resume: bool = False) -> Path:
        """Train and save. ``resume`` is accepted and starts over: a run takes seconds on cached ADDE chunks."""
        cfg = self.config
        self.out_dir.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        self.emit(TrainEvent("start", message=f"training adde-o on {self.device} on the chunks of {self.adde_path} "
                                              f"({len(self.arch['attribute_indices'])} attribute types)"))
        adde_size = self.adde.image_size
        train = ComposedBank(self.workspace, self.catalog, "train", adde_size)
        val = ComposedBank(self.workspace, self.catalog, "val", adde_size)
        metrics = self.train(train, val)
        metrics = {**metrics, "train_seconds": round(time.perf_counter() - t0, 1), "device": str(self.device)}
        save_checkpoint(self.out_dir, method=cfg.method, weights={"head": self.head.state_dict()},
                        config={**cfg.to_dict(), "architecture": self.arch, "adde_checkpoint_hash": self.adde_hash,
                                "adde_checkpoint_path": str(self.adde_path), "image_size": adde_size},
                        schema=self.schema.to_dict(), catalog_version=self.catalog.version,
                        metrics={"validation": metrics})
        self.emit(TrainEvent("done", metrics={k: v for k, v in metrics.items() if isinstance(v, (int, float))},
                             path=str(self.out_dir), message=f"saved {self.out_dir} ({metrics['train_seconds']} s)"))
        return self.out_dir


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
