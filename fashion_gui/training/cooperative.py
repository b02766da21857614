"""Training of cooperative embeddings and of the baselines of its Table 3 (registry entries in
``fashion_gui/methods/cooperative.py``; model and losses in ``models/cooperative.py``).

One stage ("embedding"): batches of whole products (every training photograph of each), the network's f(x)
into the objective's loss -- the cooperative proxy loss (Eq. 6-7, + R_Order for ordered attributes), or a
baseline's heads / triplets. The losses own their proxies and heads, so the optimizer's groups are: the
backbone (x ``backbone_lr_scale``), the projection (x1), the proxies (x ``proxy_lr_scale``; fixed proxies
are left out) and the baselines' heads (x1). Validation on the val split: instance R@1 + attribute mAP +
category mAP (model selection; never the test split). After training, the query prototypes (mean training
vector per attribute value and per category) are stored with the weights.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from fashion_gui.inference.cooperative_model import CooperativeModel
from fashion_gui.inference.preprocess import BatchPreprocessor, ImageBank
from fashion_gui.methods.cooperative import CooperativeTrainConfig
from fashion_gui.training.cooperative_eval import cooperative_metrics, instance_codes
from fashion_gui.training.events import Callback
from fashion_gui.training.trainer import Trainer
from fashion_gui.workspace import Workspace
from models.cooperative import (
    CooperativeLoss,
    CooperativeWeights,
    MultitaskLoss,
    SubspaceTripletLoss,
    default_proxy_std,
)

LAYOUT = {"cooperative": "superspace", "multitask": "shared", "multitask-triplet": "shared",
          "concat-triplet": "concat"}


class CooperativeTrainer(Trainer):
    """Cooperative embeddings (``objective="cooperative"``) and the Table 3 baselines."""

    def __init__(self, workspace: Workspace, config: CooperativeTrainConfig, out_dir: Path,
                 callbacks: list[Callback] | None = None, method: str = "cooperative") -> None:
        super().__init__(workspace, config, out_dir, callbacks, method)
        cfg, schema = config, self.schema
        self.model = CooperativeModel.create(schema, layout=LAYOUT[cfg.objective], n=cfg.n, backbone=cfg.backbone,
                                             pretrained=cfg.pretrained, backbone_weights=cfg.backbone_weights,
                                             image_size=cfg.image_size)
        self.net = self.model.net.to(self.device)
        train_ids = self.catalog.ids(split="train")
        if len(train_ids) == 0:
            raise ValueError("the catalog has no 'train' items; build the demo or import a dataset with splits")
        self.train_instances = instance_codes(self.catalog, train_ids)  # (N,) 0..I-1 in id order
        cats = self.catalog.categories_of(train_ids)
        n_inst = int(self.train_instances.max()) + 1
        instance_category = np.zeros(n_inst, np.int64)
        instance_category[self.train_instances] = cats  # a product has one category
        self.loss = self._build_loss(torch.from_numpy(instance_category), n_inst).to(self.device)
        self.prep = BatchPreprocessor(self.device)

    def _build_loss(self, instance_category: torch.Tensor, n_inst: int) -> nn.Module:
        cfg, schema = self.config, self.schema
        if cfg.objective == "cooperative":
            ordered = [a for a, t in enumerate(schema.types) if t.ordered] if cfg.ordered else []
            weights = CooperativeWeights(cfg.lambda_ins, cfg.lambda_attr, cfg.lambda_cat, cfg.lambda_reg,
                                         cfg.order_weight)
            return CooperativeLoss(schema.sizes, cfg.n, instance_category, len(schema.categories), weights, ordered,
                                   cfg.order_sigma, cfg.learn_instance_proxies, cfg.learn_attribute_proxies,
                                   cfg.proxy_std or default_proxy_std(cfg.n))
        if cfg.objective in ("multitask", "multitask-triplet"):
            return MultitaskLoss(self.net.dim, schema.sizes, len(schema.categories),
                                 1.0 if cfg.objective == "multitask-triplet" else 0.0, cfg.triplet_margin)
        return SubspaceTripletLoss(len(schema.sizes), cfg.n, cfg.triplet_margin)

    # --- the Trainer contract -----------------------------------------------------------------------
    def describe(self) -> str:
        return (f"training {self.method} on {self.device} ({len(self.catalog)} catalog items, backbone "
                f"{self.config.backbone}, {self.net.blocks} x {self.config.n} dims)")

    def setup(self) -> None:
        cfg = self.config
        self.train_bank = ImageBank(self.workspace, self.catalog, "train", cfg.image_size)
        self.val_bank = ImageBank(self.workspace, self.catalog, "val", cfg.image_size)
        self.labels = torch.from_numpy(self.train_bank.labels)
        self.categories = torch.from_numpy(self.catalog.categories_of(self.train_bank.ids))
        self.instances = torch.from_numpy(self.train_instances)
        self.val_instances = instance_codes(self.catalog, self.val_bank.ids)
        self.val_categories = self.catalog.categories_of(self.val_bank.ids)
        self.groups = [np.nonzero(self.train_instances == i)[0] for i in range(int(self.train_instances.max()) + 1)]

    def modules(self) -> dict[str, nn.Module]:
        return {"model": self.net, "loss": self.loss}

    def proxy_parameters(self) -> list[nn.Parameter]:
        return self.loss.proxy_parameters() if isinstance(self.loss, CooperativeLoss) else []

    def param_groups(self, stage: str) -> list[dict]:
        cfg = self.config
        proxies = {id(p) for p in self.proxy_parameters()}
        groups = [
            {"params": list(self.net.backbone.parameters()), "lr_scale": cfg.backbone_lr_scale},
            {"params": list(self.net.projection.parameters()), "lr_scale": 1.0},
            {"params": [p for p in self.proxy_parameters() if p.requires_grad], "lr_scale": cfg.proxy_lr_scale},
            {"params": [p for p in self.loss.parameters() if id(p) not in proxies and p.requires_grad],
             "lr_scale": 1.0},
        ]
        return [g for g in groups if g["params"]]

    def batches(self, stage: str, epoch: int):
        """Whole products per batch (every training photograph of each), products in a random order."""
        order = torch.randperm(len(self.groups), generator=self.generator).tolist()
        batch: list[int] = []
        for i in order:
            batch.extend(self.groups[i].tolist())
            if len(batch) >= self.config.batch_size:
                yield torch.tensor(batch)
                batch = []
        if len(batch) >= 2:
            yield torch.tensor(batch)

    def step(self, stage: str, batch: torch.Tensor):
        x = self.prep(self.train_bank.images[batch], train=True, generator=self.generator)
        f = self.net(x).float()
        loss, logs = self.loss(f, self.instances[batch].to(self.device), self.labels[batch].to(self.device),
                               self.categories[batch].to(self.device))
        return loss, {"loss": loss.item(), **logs}, len(batch)

    def validate(self, stage: str, epoch: int) -> tuple[float, dict[str, float]]:
        self.update_queries()
        vectors = self.model.embed(self.val_bank.images, self.prep, self.config.eval_batch)
        m = cooperative_metrics(self.model, vectors, self.val_bank.labels, self.val_categories, self.val_instances)
        out = {"val_instance_r1": m["instance_r1"], "val_attribute_map": m["attribute"]["mAP"],
               "val_category_map": m["category"]["mAP"]}
        return float(sum(0.0 if np.isnan(v) else v for v in out.values())), out

    def finalize(self) -> None:
        self.update_queries()

    def update_queries(self) -> None:
        """The query prototypes from the training images under the current weights."""
        vectors = torch.from_numpy(self.model.embed(self.train_bank.images, self.prep, self.config.eval_batch))
        self.net.set_queries(vectors.to(self.device), self.labels.to(self.device), self.categories.to(self.device))

    def checkpoint_config(self) -> dict:
        return {"architecture": self.model.architecture(), "training_instances": len(self.groups)}
