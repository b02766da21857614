"""Training of the two-stage disentangled attribute encoders: ADDE-M and the no-GRL ablation (registry
entries in ``fashion_gui/methods/adde.py``); gradient reversal extends this trainer in ``grl.py``.

Stage 1 learns the attribute-specific subspaces:
- ``adde``   (ADDE, Hou et al. 2021): attribute classification + label triplet (semi-hard) on the embedding;
- ``no-grl`` (GRL paper, Table 7 ablation): the N classifiers alone, each on its own feature.
Stage 2 initialises the memory block from value prototypes and trains encoder and memory on ref/pos/neg
manipulation triplets with ADDE's L_cls, L_lt, L_ct, L_c, L_mem (REFERENCE.md). The loop, model selection
on the validation split (never the test split) and resume are the base Trainer's.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from fashion_gui.catalog.queries import manipulation_queries
from fashion_gui.inference.adde_model import ADDEModel, build_head
from fashion_gui.inference.preprocess import BatchPreprocessor, ImageBank
from fashion_gui.methods.adde import AttributeTrainConfig
from fashion_gui.training.adde_eval import attribute_metrics, manipulation_metrics
from fashion_gui.training.events import Callback, TrainEvent
from fashion_gui.training.trainer import Trainer, chunked
from fashion_gui.workspace import Workspace
from models.losses import (
    ADDEManipulationLoss,
    AttributeClassificationLoss,
    LabelTripletLoss,
    MarginSchedule,
)


@torch.inference_mode()
def init_memory_from_prototypes(model: ADDEModel, train: ImageBank, prep: BatchPreprocessor,
                                batch_size: int = 256) -> list[tuple[int, int]]:
    """Set the memory block's columns to the value prototypes of ``train``; returns values never seen."""
    chunks = model.embed(train.images, prep, batch_size)["chunks"]
    return model.memory.init_from_prototypes(torch.from_numpy(chunks).to(model.device),
                                             torch.from_numpy(train.labels).to(model.device))


class ADDETrainer(Trainer):
    """ADDE-M and the no-GRL ablation; :class:`fashion_gui.training.grl.GRLTrainer` extends it with the
    reversal terms. Stage 1 ("attributes"): attribute classification (+ ``lt_weight`` x label triplet);
    stage 2 ("manipulation"): ADDE's manipulation losses on ref/pos/neg triplets with the memory block
    initialised from value prototypes. Validation: attribute accuracy (stage 1), top-10/30/50 manipulation
    accuracy on the val split's queries (stage 2)."""

    def __init__(self, workspace: Workspace, config: AttributeTrainConfig, out_dir: Path,
                 callbacks: list[Callback] | None = None, method: str = "adde") -> None:
        super().__init__(workspace, config, out_dir, callbacks, method)
        self.sizes = self.schema.sizes
        self.model = ADDEModel.create(self.schema, backbone=config.backbone, d=config.d,
                                      pretrained=config.pretrained, backbone_weights=config.backbone_weights,
                                      image_size=config.image_size)
        self.head = self.build_head()
        self.model.to(self.device)
        self.head.to(self.device)
        if self.cuda and config.channels_last:
            self.model.encoder.to(memory_format=torch.channels_last)
        self.prep = BatchPreprocessor(self.device, channels_last=self.cuda and config.channels_last)
        self.amp = self.cuda and config.amp
        self.cls_loss = AttributeClassificationLoss()
        self.lt_loss = LabelTripletLoss(config.margin_start)
        self.manip_loss = ADDEManipulationLoss(config.loss_weights, config.margin_start)
        self.margins = MarginSchedule(config.margin_start, config.margin_step, config.margin_every)

    # --- what the GRL trainer overrides ------------------------------------------------------------
    head_kind = "diagonal"  # the classifier head recorded in the checkpoint (inference.adde_model.build_head)

    def build_head(self) -> nn.Module:
        return build_head(self.head_kind, self.model.encoder)

    def attribute_loss(self, out, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Stage-1 loss: L_cls (+ lt_weight x L_lt on the full embedding, ADDE)."""
        cls = self.cls_loss(out.logits, labels)
        if self.config.lt_weight:
            lt = self.lt_loss(out.embedding.float(), labels)
            return cls + self.config.lt_weight * lt, {"cls": cls.item(), "lt": lt.item()}
        return cls, {"cls": cls.item()}

    def manipulation_extra(self, out, labels: torch.Tensor, terms) -> tuple[torch.Tensor | None, dict[str, float]]:
        """An extra stage-2 term on the encoder output of the whole triplet batch (GRL's reversal); none here."""
        return None, {}

    # --- the Trainer contract -----------------------------------------------------------------------
    def describe(self) -> str:
        return (f"training {self.method} on {self.device} ({len(self.catalog)} catalog items, "
                f"backbone {self.config.backbone})")

    def setup(self) -> None:
        cfg = self.config
        self.train_bank = ImageBank(self.workspace, self.catalog, "train", cfg.image_size)
        self.val_bank = ImageBank(self.workspace, self.catalog, "val", cfg.image_size)
        self.val_queries = self.catalog.manipulation_queries("val")
        self.labels_all = torch.from_numpy(self.train_bank.labels)

    def modules(self) -> dict[str, nn.Module]:
        return {"model": self.model, "head": self.head}

    def param_groups(self, stage: str) -> list[dict]:
        seen, params = set(), []
        for m in (self.model, self.head, self.cls_loss, self.lt_loss, self.manip_loss):
            for p in m.parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    params.append(p)
        return [{"params": params}]

    def learning_rate(self, stage: str, epoch: int, step: int, steps: int) -> float:
        return self.config.lr if stage == "attributes" else self.config.manip_lr

    def begin_stage(self, stage: str, fresh: bool) -> None:
        if stage != "manipulation":
            return
        self.train_queries = manipulation_queries(self.catalog, "train")
        if not self.train_queries:
            raise ValueError("no manipulation triplets: no training image has a one-attribute variant in the "
                             "train split; the catalog needs items that differ in exactly one attribute")
        if fresh:
            self.init_memory()

    def begin_epoch(self, stage: str, epoch: int) -> None:
        margin = self.margins(epoch)
        self.lt_loss.margin = margin
        self.manip_loss.margin = margin

    def batches(self, stage: str, epoch: int):
        cfg = self.config
        if stage == "attributes":
            order = torch.randperm(len(self.train_bank.ids), generator=self.generator)
            return chunked(order, cfg.batch_size, min_size=2)
        per_epoch = cfg.triplets_per_epoch or len(self.train_bank.ids)
        rows = torch.from_numpy(self._triplets(self.train_bank, self.train_queries, per_epoch))
        return chunked(rows, max(2, cfg.batch_size // 3), min_size=2)  # three images per triplet

    def step(self, stage: str, batch: torch.Tensor):
        return self._attribute_step(batch) if stage == "attributes" else self._manipulation_step(batch)

    def validate(self, stage: str, epoch: int) -> tuple[float, dict[str, float]]:
        attr = attribute_metrics(self.model, self.val_bank.images, self.val_bank.labels, self.prep, self.config.eval_batch)
        if stage == "attributes":
            return attr["mean"], {"val_attr_acc": attr["mean"]}
        out = {"val_attr_acc": attr["mean"]}
        if self.val_queries:
            manip = manipulation_metrics(self.model, self.val_bank, self.val_queries, self.prep, self.config.eval_batch,
                                         ks=(10, 30, 50), ndcg_ks=(), reference_in_gallery=True)
            out.update({f"val_top{k}": v for k, v in manip["topk_accuracy"].items()})
        return out.get("val_top10", 0.0) + out.get("val_top30", 0.0) + out.get("val_top50", 0.0), out

    def checkpoint_config(self) -> dict:
        return {"architecture": {**self.model.architecture(), "head": self.head_kind}}

    # --- steps ---------------------------------------------------------------------------------------
    def _attribute_step(self, idx: torch.Tensor):
        x = self.prep(self.train_bank.images[idx], train=True, generator=self.generator)
        y = self.labels_all[idx].to(self.device)
        with self._autocast():
            out = self.model.encoder(x)
        loss, parts = self.attribute_loss(out, y)
        return loss, {"loss": loss.item(), **parts}, len(idx)

    def _manipulation_step(self, chunk: torch.Tensor):
        flat = chunk.t().reshape(-1)  # refs, then positives, then negatives
        x = self.prep(self.train_bank.images[flat], train=True, generator=self.generator)
        y = self.labels_all[flat].to(self.device)
        b = len(chunk)
        with self._autocast():
            out = self.model.encoder(x)
        parts = [type(out)(out.chunks[i * b:(i + 1) * b], out.embedding[i * b:(i + 1) * b],
                           [lg[i * b:(i + 1) * b] for lg in out.logits]) for i in range(3)]
        y_ref, y_pos, y_neg = y[:b], y[b:2 * b], y[2 * b:]
        indicator = self.model.indicator(y_ref, y_pos)  # (b, J): onehot(target) - onehot(ref)
        manipulated = self.model.memory.manipulate(parts[0].embedding.float(), indicator)  # (b, A*d)
        terms = self.manip_loss(*[_float(p) for p in parts], manipulated, self.model.encoder.classify(manipulated),
                                y_ref, y_pos, y_neg, self.model.memory)
        logs = {name: value.item() for name, value in terms._asdict().items()}
        logs["loss"] = logs.pop("total")
        loss = terms.total
        extra, extra_logs = self.manipulation_extra(out, y, terms)
        if extra is not None:
            loss = loss + extra
            logs["loss"] = loss.item()
        return loss, {**logs, **extra_logs}, 3 * b

    # --- stage 2 data ----------------------------------------------------------------------------------
    def init_memory(self) -> None:
        """M's columns := mean chunk of the training images having each value (ADDE)."""
        missing = init_memory_from_prototypes(self.model, self.train_bank, self.prep, self.config.eval_batch)
        if missing:
            names = [f"{self.schema.types[a].name}={self.schema.types[a].values[v]}" for a, v in missing]
            self.emit(TrainEvent("start", "manipulation",
                                 message=f"{len(missing)} values have no training image: {', '.join(names[:8])}"))

    def _triplets(self, train: ImageBank, queries: list[tuple[int, dict[str, str], str]], n: int) -> np.ndarray:
        """``(n, 3)`` train rows (ref, pos, neg): pos has exactly the target label, neg does not."""
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


def _float(out):
    """Encoder output in float32 (losses are computed outside autocast)."""
    return type(out)(out.chunks.float(), out.embedding.float(), [lg.float() for lg in out.logits])
