"""Training of the disentangled attribute encoders: ADDE-M, gradient reversal (N and N x N), no-GRL ablation.

Stage 1 learns the attribute-specific subspaces:
- ``adde``    (ADDE, Hou et al. 2021): attribute classification + label triplet (semi-hard) on the embedding;
- ``grl``     (Scaramuzzino et al. 2023, Fig. 1): N classifiers, each also fed the other features through a
              GRL, L = w_cls L_cls + w_rev L_rev with the adaptive w_rev (Eq. 3, 5);
- ``grl-nxn`` (Fig. 2): a separate classifier per (feature, attribute) pair behind the GRL;
- ``no-grl``  (Table 7 ablation): the N classifiers alone, each on its own feature.
Stage 2 (all methods) initialises the memory block from value prototypes and trains encoder and memory
on ref/pos/neg manipulation triplets with ADDE's L_cls, L_lt, L_ct, L_c, L_mem (REFERENCE.md), keeping
the reversal term for the GRL methods. Model selection uses the validation split, never the test split.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from fashion_gui.catalog.queries import manipulation_queries
from fashion_gui.catalog.store import Catalog
from fashion_gui.inference.adde_model import ADDEModel, build_head
from fashion_gui.training.adde_eval import attribute_metrics, manipulation_metrics
from fashion_gui.inference.checkpoint import atomic_torch_save, save_checkpoint
from fashion_gui.inference.preprocess import BatchPreprocessor, ImageBank
from fashion_gui.training.events import Callback, TrainEvent
from fashion_gui.training.trainer import Trainer
from fashion_gui.workspace import Workspace
from models.grl import GRLDisentanglementLoss, adaptive_reversal_weight
from models.losses import (
    ADDELossWeights,
    ADDEManipulationLoss,
    AttributeClassificationLoss,
    LabelTripletLoss,
    MarginSchedule,
    masked_cross_entropy,
)

ADDE_METHODS = {
    "adde": "ADDE-M: classification + label triplet, then memory-block manipulation",
    "grl": "gradient reversal, N classifiers (each also sees the other features through a GRL)",
    "grl-nxn": "gradient reversal, N x N classifiers (one per feature/attribute pair)",
    "no-grl": "ablation: N classifiers without gradient reversal",
}


@dataclass
class ADDETrainConfig:
    """Training settings; the defaults train the demo catalog on a 2-core CPU in about a minute and a half."""

    method: str = "adde"                 # adde | grl | grl-nxn | no-grl
    backbone: str = "compact"            # models.list_backbones(): compact | alexnet | resnet18 | resnet50
    pretrained: bool = False             # ImageNet weights through torchvision (needs a download)
    backbone_weights: str | None = None  # a local state-dict file for the backbone
    d: int = 340                         # attribute-specific chunk size (ADDE: 340)
    image_size: int = 64                 # training resolution (ADDE: 224; 64 keeps the CPU demo fast)
    batch_size: int = 64
    epochs: int = 10                     # stage 1: attribute learning
    manip_epochs: int = 4                # stage 2: manipulation (memory block)
    lr: float = 1e-3                     # Adam, stage 1 (ADDE uses 1e-4 with a pretrained backbone)
    manip_lr: float = 3e-4               # Adam, stage 2
    weight_decay: float = 1e-4
    lt_weight: float = 1.0               # stage-1 label triplet weight (method adde)
    margin_start: float = 0.5            # ADDE margin schedule: start, +step every `margin_every` epochs
    margin_step: float = 0.1
    margin_every: int = 10
    grl_beta: float = 0.1                # adaptive reversal ratio (GRL Eq. 5)
    triplets_per_epoch: int = 0          # stage-2 triplets per epoch; 0 = one per training image
    seed: int = 0
    device: str = "auto"                 # auto | cpu | cuda
    amp: bool = True                     # mixed precision (CUDA only)
    channels_last: bool = True           # NHWC memory format (CUDA only)
    eval_batch: int = 256
    loss_weights: ADDELossWeights = field(default_factory=ADDELossWeights)

    def __post_init__(self) -> None:
        if self.method not in ADDE_METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose one of {', '.join(ADDE_METHODS)}")
        if isinstance(self.loss_weights, dict):
            self.loss_weights = ADDELossWeights(**self.loss_weights)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@torch.inference_mode()
def init_memory_from_prototypes(model: ADDEModel, train: ImageBank, prep: BatchPreprocessor,
                                batch_size: int = 256) -> list[tuple[int, int]]:
    """Set the memory block's columns to the value prototypes of ``train``; returns values never seen."""
    chunks = model.embed(train.images, prep, batch_size)["chunks"]
    return model.memory.init_from_prototypes(torch.from_numpy(chunks).to(model.device),
                                             torch.from_numpy(train.labels).to(model.device))


class ADDETrainer(Trainer):
    """Runs both stages, validates every epoch, checkpoints atomically, reports through callbacks."""

    def __init__(self, workspace: Workspace, config: ADDETrainConfig, out_dir: Path,
                 callbacks: list[Callback] | None = None) -> None:
        super().__init__(workspace, config, out_dir, callbacks)
        self.sizes = self.schema.sizes
        self.model = ADDEModel.create(self.schema, backbone=config.backbone, d=config.d,
                                      pretrained=config.pretrained, backbone_weights=config.backbone_weights,
                                      image_size=config.image_size)
        self.head = build_head(config.method, self.model.encoder, config.grl_beta)
        self.model.to(self.device)
        self.head.to(self.device)
        if self.cuda and config.channels_last:
            self.model.encoder.to(memory_format=torch.channels_last)
        self.prep = BatchPreprocessor(self.device, channels_last=self.cuda and config.channels_last)
        self.amp = self.cuda and config.amp
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.cls_loss = AttributeClassificationLoss()
        self.lt_loss = LabelTripletLoss(config.margin_start)
        self.grl_loss = GRLDisentanglementLoss(beta=config.grl_beta)
        self.manip_loss = ADDEManipulationLoss(config.loss_weights, config.margin_start)
        self.margins = MarginSchedule(config.margin_start, config.margin_step, config.margin_every)
        self._best: tuple[float, dict | None, dict] = (-1.0, None, {})  # (score, weights, metrics) of this stage

    # --- plumbing ----------------------------------------------------------------------------------
    def _step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(optimizer)
        self.scaler.update()

    def _params(self) -> list[nn.Parameter]:
        seen, out = set(), []
        for p in [*self.model.parameters(), *self.head.parameters()]:
            if id(p) not in seen:
                seen.add(id(p))
                out.append(p)
        return out

    # --- stage 1 -----------------------------------------------------------------------------------
    def _stage1_loss(self, out, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        method = self.config.method
        if method in ("grl", "grl-nxn"):
            terms = self.grl_loss(self.head(out.chunks), labels)
            return terms.total, {"cls": float(terms.cls), "rev": float(terms.rev), "w_rev": float(terms.w_rev)}
        cls = self.cls_loss(out.logits, labels)
        if method == "adde":
            lt = self.lt_loss(out.embedding.float(), labels)
            return cls + self.config.lt_weight * lt, {"cls": cls.item(), "lt": lt.item()}
        return cls, {"cls": cls.item()}

    def train_attributes(self, train: ImageBank, val: ImageBank, start_epoch: int = 0,
                         optimizer: torch.optim.Optimizer | None = None) -> dict[str, float]:
        cfg = self.config
        optimizer = optimizer or torch.optim.Adam(self._params(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        labels_all = torch.from_numpy(train.labels)
        steps = math.ceil(len(train.ids) / cfg.batch_size)
        if start_epoch == 0:
            self._best = (-1.0, None, {})
        for epoch in range(start_epoch, cfg.epochs):
            self.lt_loss.margin = self.margins(epoch)
            self.model.train()
            self.head.train()
            order = torch.randperm(len(train.ids), generator=self.generator)
            t0, seen, running = time.perf_counter(), 0, {}
            for s in range(steps):
                idx = order[s * cfg.batch_size:(s + 1) * cfg.batch_size]
                if len(idx) < 2:
                    continue
                x = self.prep(train.images[idx], train=True, generator=self.generator)
                y = labels_all[idx].to(self.device)
                with self._autocast():
                    out = self.model.encoder(x)
                loss, parts = self._stage1_loss(out, y)
                self._step(loss, optimizer)
                seen += len(idx)
                running = {k: running.get(k, 0.0) + v for k, v in {"loss": loss.item(), **parts}.items()}
                self.emit(TrainEvent("step", "attributes", epoch + 1, cfg.epochs, s + 1, steps,
                                     losses={k: v / (s + 1) for k, v in running.items()}))
            rate = seen / max(time.perf_counter() - t0, 1e-9)
            metrics = attribute_metrics(self.model, val.images, val.labels, self.prep, cfg.eval_batch)
            losses = {k: v / steps for k, v in running.items()}
            if metrics["mean"] > self._best[0]:
                self._best = (metrics["mean"], self._snapshot(), {"val_attr_acc": metrics["mean"]})
            self._save_state("attributes", epoch + 1, optimizer)
            self.emit(TrainEvent("epoch", "attributes", epoch + 1, cfg.epochs, losses=losses,
                                 metrics={"val_attr_acc": metrics["mean"]}, images_per_second=rate))
        return self._take_best()

    # --- stage 2 -----------------------------------------------------------------------------------
    def init_memory(self, train: ImageBank) -> None:
        """M's columns := mean chunk of the training images having each value (ADDE)."""
        missing = init_memory_from_prototypes(self.model, train, self.prep, self.config.eval_batch)
        if missing:
            names = [f"{self.schema.types[a].name}={self.schema.types[a].values[v]}" for a, v in missing]
            self.emit(TrainEvent("start", "manipulation",
                                 message=f"{len(missing)} values have no training image: {', '.join(names[:8])}"))

    def _triplets(self, train: ImageBank, queries: list[tuple[int, dict[str, str], str]], n: int) -> np.ndarray:
        """``(n, 3)`` train rows (ref, pos, neg) and their targets: pos has exactly the target label."""
        by_label: dict[tuple, list[int]] = {}
        for r, lab in enumerate(map(tuple, train.labels.tolist())):
            by_label.setdefault(lab, []).append(r)
        picks = self.rng.integers(len(queries), size=n)
        rows = np.empty((n, 3), dtype=np.int64)
        for t, q in enumerate(picks):
            ref_id, edits, _ = queries[q]
            target = tuple(self.catalog.edited_label(ref_id, edits).tolist())
            positives = by_label[target]
            rows[t, 0] = train.row[ref_id]
            rows[t, 1] = positives[int(self.rng.integers(len(positives)))]
            neg = int(self.rng.integers(len(train.ids)))
            while tuple(train.labels[neg].tolist()) == target:
                neg = int(self.rng.integers(len(train.ids)))
            rows[t, 2] = neg
        return rows

    def train_manipulation(self, train: ImageBank, val: ImageBank, start_epoch: int = 0,
                           optimizer: torch.optim.Optimizer | None = None) -> dict[str, float]:
        cfg = self.config
        queries = manipulation_queries(self.catalog, "train")
        if not queries:
            raise ValueError("no manipulation triplets: no training image has a one-attribute variant in the "
                             "train split; the catalog needs items that differ in exactly one attribute")
        val_queries = self.catalog.manipulation_queries("val")
        optimizer = optimizer or torch.optim.Adam(self._params(), lr=cfg.manip_lr, weight_decay=cfg.weight_decay)
        per_epoch = cfg.triplets_per_epoch or len(train.ids)
        batch = max(2, cfg.batch_size // 3)  # three images per triplet
        steps = math.ceil(per_epoch / batch)
        labels_all = torch.from_numpy(train.labels)
        if start_epoch == 0:
            self._best = (-1.0, None, {})
        for epoch in range(start_epoch, cfg.manip_epochs):
            self.manip_loss.margin = self.margins(epoch)
            self.model.train()
            self.head.train()
            rows = torch.from_numpy(self._triplets(train, queries, per_epoch))
            t0, seen, running = time.perf_counter(), 0, {}
            for s in range(steps):
                chunk = rows[s * batch:(s + 1) * batch]
                if len(chunk) < 2:
                    continue
                flat = chunk.t().reshape(-1)  # refs, then positives, then negatives
                x = self.prep(train.images[flat], train=True, generator=self.generator)
                y = labels_all[flat].to(self.device)
                b = len(chunk)
                with self._autocast():
                    out = self.model.encoder(x)
                parts = [type(out)(out.chunks[i * b:(i + 1) * b], out.embedding[i * b:(i + 1) * b],
                                   [lg[i * b:(i + 1) * b] for lg in out.logits]) for i in range(3)]
                y_ref, y_pos, y_neg = y[:b], y[b:2 * b], y[2 * b:]
                indicator = self.model.indicator(y_ref, y_pos)  # (b, J): onehot(target) - onehot(ref)
                manipulated = self.model.memory.manipulate(parts[0].embedding.float(), indicator)  # (b, A*d)
                terms = self.manip_loss(*[_float(p) for p in parts], manipulated,
                                        self.model.encoder.classify(manipulated), y_ref, y_pos, y_neg,
                                        self.model.memory)
                loss = terms.total
                logs = {name: value.item() for name, value in terms._asdict().items()}
                logs["loss"] = logs.pop("total")
                if cfg.method in ("grl", "grl-nxn"):
                    grl_out = self.head(out.chunks.float())
                    rev = sum(masked_cross_entropy(lg, y[:, n]) for (_, n), lg in grl_out.reversed_logits.items())
                    w_rev = adaptive_reversal_weight(terms.cls * cfg.loss_weights.cls, rev, 1.0, cfg.grl_beta)
                    loss = loss + w_rev * rev
                    logs["rev"] = rev.item()
                self._step(loss, optimizer)
                seen += 3 * b
                running = {k: running.get(k, 0.0) + v for k, v in logs.items()}
                self.emit(TrainEvent("step", "manipulation", epoch + 1, cfg.manip_epochs, s + 1, steps,
                                     losses={k: v / (s + 1) for k, v in running.items()}))
            rate = seen / max(time.perf_counter() - t0, 1e-9)
            metrics = self.validate(val, val_queries)
            score = metrics.get("val_top10", 0.0) + metrics.get("val_top30", 0.0) + metrics.get("val_top50", 0.0)
            if score > self._best[0]:
                self._best = (score, self._snapshot(), metrics)
            self._save_state("manipulation", epoch + 1, optimizer)
            self.emit(TrainEvent("epoch", "manipulation", epoch + 1, cfg.manip_epochs,
                                 losses={k: v / steps for k, v in running.items()},
                                 metrics=metrics, images_per_second=rate))
        return self._take_best()

    def validate(self, val: ImageBank, val_queries) -> dict[str, float]:
        attr = attribute_metrics(self.model, val.images, val.labels, self.prep, self.config.eval_batch)
        out = {"val_attr_acc": attr["mean"]}
        if val_queries:
            manip = manipulation_metrics(self.model, val, val_queries, self.prep, self.config.eval_batch,
                                         ks=(10, 30, 50), ndcg_ks=(), reference_in_gallery=True)
            out.update({f"val_top{k}": v for k, v in manip["topk_accuracy"].items()})
        return out

    # --- state -------------------------------------------------------------------------------------
    def _take_best(self) -> dict[str, float]:
        """Restore the stage's best validation state (model selection on val, never test)."""
        score, state, metrics = self._best
        if state is not None:
            self._restore(state)
        self._best = (-1.0, None, {})
        return metrics

    def _snapshot(self) -> dict[str, dict[str, torch.Tensor]]:
        return {"model": {k: v.detach().clone() for k, v in self.model.state_dict().items()},
                "head": {k: v.detach().clone() for k, v in self.head.state_dict().items()}}

    def _restore(self, state: dict[str, dict[str, torch.Tensor]]) -> None:
        self.model.load_state_dict(state["model"])
        self.head.load_state_dict(state["head"])

    def _save_state(self, stage: str, epoch: int, optimizer: torch.optim.Optimizer) -> None:
        """Epoch-end training state for ``--resume`` (atomic)."""
        atomic_torch_save(self.out_dir / "state.pt", {
            "stage": stage, "epoch": epoch, "config": self.config.to_dict(),
            "model": self.model.state_dict(), "head": self.head.state_dict(),
            "optimizer": optimizer.state_dict(), "rng": self.rng.bit_generator.state,
            "generator": self.generator.get_state(), "best": self._best,
        })

    def _load_state(self) -> dict | None:
        path = self.out_dir / "state.pt"
        if not path.is_file():
            return None
        state = torch.load(path, map_location=self.device, weights_only=False)
        if state["config"] != self.config.to_dict():
            raise ValueError(f"{path} was saved with another config; train without --resume or with the same options")
        self.model.load_state_dict(state["model"])
        self.head.load_state_dict(state["head"])
        self.rng.bit_generator.state = state["rng"]
        self.generator.set_state(state["generator"])
        self._best = state["best"]
        return state

    # --- the whole run -----------------------------------------------------------------------------
    def run(self, resume: bool = False) -> Path:
        cfg = self.config
        self.out_dir.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        self.emit(TrainEvent("start", message=f"training {cfg.method} on {self.device} "
                                              f"({len(self.catalog)} catalog items, backbone {cfg.backbone})"))
        train = ImageBank(self.workspace, self.catalog, "train", cfg.image_size)
        val = ImageBank(self.workspace, self.catalog, "val", cfg.image_size)
        state = self._load_state() if resume else None
        stage1_start = stage2_start = 0
        opt1 = opt2 = None
        if state is not None:
            if state["stage"] == "attributes":
                stage1_start = state["epoch"]
                opt1 = torch.optim.Adam(self._params(), lr=cfg.lr, weight_decay=cfg.weight_decay)
                opt1.load_state_dict(state["optimizer"])
            else:
                stage1_start, stage2_start = cfg.epochs, state["epoch"]
                opt2 = torch.optim.Adam(self._params(), lr=cfg.manip_lr, weight_decay=cfg.weight_decay)
                opt2.load_state_dict(state["optimizer"])
            self.emit(TrainEvent("start", message=f"resuming after {state['stage']} epoch {state['epoch']}"))
        if stage1_start < cfg.epochs:
            stage1 = self.train_attributes(train, val, stage1_start, opt1)
        else:  # stage 1 finished before the interruption: keep its best epoch
            stage1 = self._take_best() if state is not None and state["stage"] == "attributes" else {}
        if stage2_start == 0:
            self.init_memory(train)
        stage2 = self.train_manipulation(train, val, stage2_start, opt2) if cfg.manip_epochs else {}
        metrics = {**stage1, **stage2, "train_seconds": round(time.perf_counter() - t0, 1),
                   "device": str(self.device)}
        save_checkpoint(self.out_dir, method=cfg.method,
                        weights={"model": self.model.state_dict(), "head": self.head.state_dict()},
                        config={**cfg.to_dict(), "architecture": self.model.architecture()},
                        schema=self.schema.to_dict(), catalog_version=self.catalog.version,
                        metrics={"validation": metrics})
        (self.out_dir / "state.pt").unlink(missing_ok=True)
        self.emit(TrainEvent("done", metrics=metrics, path=str(self.out_dir),
                             message=f"saved {self.out_dir} ({metrics['train_seconds']} s)"))
        return self.out_dir


def _float(out):
    """Encoder output in float32 (losses are computed outside autocast)."""
    return type(out)(out.chunks.float(), out.embedding.float(), [lg.float() for lg in out.logits])
