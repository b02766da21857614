"""Training of attribute-specific retrieval: ASEN / ASEN_v2 / ASEN++ and MODC over them (registry entries in
``fashion_gui/methods/asen.py``; REFERENCE.md "ASEN / MODC").

:class:`ASENTrainer`: triplets within one attribute (anchor and positive share the attribute's value, the
negative has another), cosine triplet loss with margin 0.2 (+ ASEN++'s local and consistency terms).

:class:`MODCTrainer` (the project's pinned reading of the MODC supplement), stage by stage, each adding to
the previous one's losses:

1. ``warmup``: instance-level loss (the triplet loss in the attribute-specific space);
2. ``supervised``: + cluster-level loss (CE over scaled cosines to the value centres) + the class-space
   instance-level loss (anchor vs another photo of its product, against another item of its class);
3. ``ssl_labeled``: + SimSiam on two views of labeled images in the universal space;
4. ``ssl_unlabeled``: + SimSiam on unlabeled images;
5. ``pseudo_instance``: unlabeled images with a pseudo label of confidence >= ``confidence`` join the triplets;
6. ``pseudo_cluster``: ... and the cluster-level loss.

``labeled_fraction`` hides the attribute labels of the other training products (seeded, by product); the
base networks then train on the labeled products only. Validation (model selection, never the test split):
MAP@100 on the val split's attribute protocol (MODC after warm-up: prioritized top-1 with pseudo query labels).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fashion_gui.catalog.attribute_protocol import attribute_protocol
from fashion_gui.inference.asen_model import DEFAULT_STAGE, AttributeSpecificModel, build_network
from fashion_gui.inference.checkpoint import load_checkpoint
from fashion_gui.inference.preprocess import BatchPreprocessor, ImageBank, load_item_images
from fashion_gui.methods.asen import ASENTrainConfig
from fashion_gui.training.asen_eval import SplitFeatures, protocol_ids, pseudo_label_accuracy, retrieval_report
from fashion_gui.training.events import Callback, TrainEvent
from fashion_gui.training.trainer import Trainer, chunked
from fashion_gui.workspace import Workspace
from models.asen import CosineTripletLoss
from models.modc import instance_loss, simsiam_loss


def architecture(config: ASENTrainConfig, modc: bool) -> dict:
    arch = {"network": config.network, "backbone": config.backbone,
            "stage": config.stage or DEFAULT_STAGE.get(config.backbone), "hidden": config.hidden, "dim": config.dim,
            "local_size": config.local_size, "threshold": config.threshold, "modc": modc}
    if modc:
        arch |= {"universal_dim": config.universal_dim, "class_dim": config.class_dim,
                 "cluster_scale": config.cluster_scale}
    return arch


def labeled_products(instances: list[str], fraction: float, seed: int) -> np.ndarray:
    """(N,) bool: the rows whose product keeps its labels (``fraction`` of the products, at least one; seeded)."""
    products = sorted(set(instances))
    if fraction >= 1:
        return np.ones(len(instances), dtype=bool)
    rng = np.random.default_rng([seed, 1234])
    keep = set(np.array(products, dtype=object)[rng.permutation(len(products))[:max(1, round(fraction * len(products)))]])
    return np.array([p in keep for p in instances], dtype=bool)


class TripletSampler:
    """Triplets within one attribute from a label matrix (-1 = unknown): rows (anchor, positive, negative,
    partner, attribute); the positive shares the anchor's value (another product when there is one), the
    negative has another value, the partner is another photo of the anchor's product (or the anchor)."""

    def __init__(self, labels: np.ndarray, instances: list[str]) -> None:
        self.labels = labels
        self.pairs = np.argwhere(labels >= 0)  # (P, 2) = (row, attribute)
        if len(self.pairs) == 0:
            raise ValueError("no labeled training image: the catalog's train split has no attribute values")
        self.by_value: dict[tuple[int, int], np.ndarray] = {}
        for a in range(labels.shape[1]):
            for v in np.unique(labels[:, a][labels[:, a] >= 0]):
                self.by_value[(a, int(v))] = np.nonzero(labels[:, a] == v)[0]
        self.present = [np.nonzero(labels[:, a] >= 0)[0] for a in range(labels.shape[1])]
        self.instances = np.array(instances, dtype=object)
        views: dict[str, list[int]] = {}
        for r, p in enumerate(instances):
            views.setdefault(p, []).append(r)
        self.views = {p: np.array(v) for p, v in views.items()}

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        out = []
        for r, a in self.pairs[rng.integers(len(self.pairs), size=n * 2)]:
            v = self.labels[r, a]
            same = self.by_value[(int(a), int(v))]
            others = self.present[a][self.labels[self.present[a], a] != v]
            if len(same) < 2 or len(others) == 0:
                continue
            pos = int(same[rng.integers(len(same))])
            for _ in range(4):  # prefer a positive of another product
                if pos != r and self.instances[pos] != self.instances[r]:
                    break
                pos = int(same[rng.integers(len(same))])
            if pos == r:
                continue
            views = self.views[self.instances[r]]
            partner = int(views[rng.integers(len(views))]) if len(views) > 1 else int(r)
            out.append((r, pos, int(others[rng.integers(len(others))]), partner, a))
            if len(out) == n:
                break
        if not out:
            raise ValueError("no attribute has two training images of one value and one of another: no triplets")
        return np.array(out, dtype=np.int64)


class ASENTrainer(Trainer):
    """ASEN / ASEN_v2 / ASEN++ on triplets within one attribute."""

    modc = False

    def __init__(self, workspace: Workspace, config: ASENTrainConfig, out_dir: Path,
                 callbacks: list[Callback] | None = None, method: str = "asen") -> None:
        super().__init__(workspace, config, out_dir, callbacks, method)
        self.arch = architecture(config, self.modc)
        self.net = build_network({**self.arch, "pretrained": config.pretrained,
                                  "weights_path": config.backbone_weights}, tuple(self.schema.sizes)).to(self.device)
        self.base = self.net.base if self.modc else self.net
        self.prep = BatchPreprocessor(self.device)
        self.triplet = CosineTripletLoss(config.margin)

    def describe(self) -> str:
        return (f"training {self.method} on {self.device} ({len(self.catalog)} catalog items, backbone "
                f"{self.config.backbone} cut after {self.arch['stage']}, {round(100 * self.config.labeled_fraction)} % "
                "labeled)")

    def setup(self) -> None:
        cfg = self.config
        self.train_bank = ImageBank(self.workspace, self.catalog, "train", cfg.image_size)
        instances = self.catalog.instances_of(self.train_bank.ids)
        self.labeled = labeled_products(instances, cfg.labeled_fraction, cfg.seed)  # (N,) bool
        self.true_labels = self.train_bank.labels.copy()
        self.labels_eff = np.where(self.labeled[:, None], self.true_labels, -1)  # hidden labels = unknown
        self.instances = instances
        self.sampler = TripletSampler(self.labels_eff, instances)
        self.val_protocol = attribute_protocol(self.catalog, "val")
        ids = protocol_ids(self.val_protocol)
        self.val_images = load_item_images(self.workspace, self.catalog, ids, cfg.image_size)
        if self.labeled.sum() < len(self.labeled):
            self.emit(TrainEvent("start", message=f"{int(self.labeled.sum())} of {len(self.labeled)} training images "
                                                  "keep their labels"))

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"model": self.net}

    def param_groups(self, stage: str) -> list[dict]:
        return [{"params": [p for p in self.net.parameters() if p.requires_grad]}]

    def learning_rate(self, stage: str, epoch: int, step: int, steps: int) -> float:
        return self.config.lr * self.config.lr_decay ** epoch

    def triplets_per_epoch(self) -> int:
        return self.config.triplets_per_epoch or int(self.labeled.sum())

    def batches(self, stage: str, epoch: int):
        rows = torch.from_numpy(self.sampler.sample(self.triplets_per_epoch(), self.rng))
        return chunked(rows, self.config.batch_size, min_size=2)

    def embed_batch(self, rows: torch.Tensor, attr: torch.Tensor):
        """Images of ``rows`` (flat) through the backbone once, then attended in attribute ``attr`` (flat)."""
        x = self.prep(self.train_bank.images[rows], train=True, generator=self.generator)  # (n, 3, S, S)
        maps = self.base.feature_maps(x)  # (n, C, h, w)
        return x, maps, self.base.from_maps(maps, attr.to(self.device), x)

    def split_outputs(self, out, parts: int, b: int):
        return [type(out)(out.embedding[i * b:(i + 1) * b], out.attention[i * b:(i + 1) * b],
                          {k: v[i * b:(i + 1) * b] for k, v in out.parts.items()}) for i in range(parts)]

    def step(self, stage: str, batch: torch.Tensor):
        b = len(batch)
        flat = batch[:, :3].t().reshape(-1)  # anchors, positives, negatives
        _, _, out = self.embed_batch(flat, batch[:, 4].repeat(3))
        a, p, n = self.split_outputs(out, 3, b)
        tri = instance_loss(self.triplet, a.embedding, p.embedding, n.embedding)
        aux = self.base.auxiliary_loss((a, p, n), self.triplet)
        loss = tri + aux
        return loss, {"loss": loss.item(), "triplet": tri.item()}, 3 * b

    def val_features(self) -> tuple[AttributeSpecificModel, SplitFeatures]:
        model = AttributeSpecificModel(self.schema, self.net, self.config.image_size, self.arch)
        feats = SplitFeatures(model, self.workspace, self.catalog, self.val_protocol, self.prep,
                              self.config.eval_batch, images=self.val_images)
        return model, feats

    def validate(self, stage: str, epoch: int) -> tuple[float, dict[str, float]]:
        model, feats = self.val_features()
        overall = retrieval_report(model, feats, self.val_protocol)["overall"]
        return overall["map@100"], {"val_map@100": overall["map@100"], "val_map@all": overall["map@all"]}

    def checkpoint_config(self) -> dict:
        return {"architecture": self.arch}


STAGE_ORDER = ("warmup", "supervised", "ssl_labeled", "ssl_unlabeled", "pseudo_instance", "pseudo_cluster")


class MODCTrainer(ASENTrainer):
    """MODC over the network of ``config.network``: the stages of the module docstring."""

    modc = True

    def __init__(self, workspace: Workspace, config, out_dir: Path, callbacks: list[Callback] | None = None,
                 method: str = "modc-asen") -> None:
        super().__init__(workspace, config, out_dir, callbacks, method)
        if config.init_from:
            self.load_base(config.init_from)

    def load_base(self, name: str) -> None:
        """Start from a trained base network (its training is MODC's warm-up: instance-level loss only)."""
        path = Path(name) if Path(name).is_dir() else self.workspace.checkpoints / name
        ckpt = load_checkpoint(path, expected_schema=self.schema.to_dict())
        arch = ckpt.config.get("architecture", {})
        mine = {k: v for k, v in self.arch.items() if k not in ("modc", "universal_dim", "class_dim", "cluster_scale")}
        theirs = {k: arch.get(k) for k in mine}
        if arch.get("modc") or theirs != mine:
            raise ValueError(f"{path} is not a {self.config.network} network with this architecture ({theirs} vs "
                             f"{mine}); train the base network with the same options")
        ckpt.load_into(self.net.base, "model")

    def at_least(self, stage: str, first: str) -> bool:
        return STAGE_ORDER.index(stage) >= STAGE_ORDER.index(first)

    def begin_epoch(self, stage: str, epoch: int) -> None:
        if self.at_least(stage, "pseudo_instance"):
            self.update_pseudo_labels(stage)

    @torch.inference_mode()
    def update_pseudo_labels(self, stage: str) -> None:
        """Unlabeled training images get their nearest value centre per attribute when confident enough."""
        unlabeled = np.nonzero(~self.labeled)[0]
        self.labels_eff = np.where(self.labeled[:, None], self.true_labels, -1)
        if len(unlabeled):
            model = AttributeSpecificModel(self.schema, self.net, self.config.image_size, self.arch)
            out = model.embed(self.train_bank.images[torch.from_numpy(unlabeled)], self.prep, self.config.eval_batch)
            confident = out["confidence"][:, :, 0] >= self.config.confidence  # (U, A)
            self.labels_eff[unlabeled] = np.where(confident, out["pseudo"][:, :, 0], -1)
            used = int(confident.sum())
            right = int((out["pseudo"][:, :, 0] == self.true_labels[unlabeled])[confident & (self.true_labels[unlabeled] >= 0)].sum())
            self.emit(TrainEvent("start", stage, message=f"pseudo labels: {used} confident (image, attribute) pairs "
                                 f"of {confident.size}, {right} of them right"))
        self.sampler = TripletSampler(self.labels_eff, self.instances)

    def triplets_per_epoch(self) -> int:
        return self.config.triplets_per_epoch or int((self.labels_eff >= 0).any(1).sum())

    def batches(self, stage: str, epoch: int):
        rows = self.sampler.sample(self.triplets_per_epoch(), self.rng)
        unlabeled = np.nonzero(~self.labeled)[0]
        out = []
        for chunk in chunked(rows, self.config.batch_size, min_size=2):
            extra = (unlabeled[self.rng.integers(len(unlabeled), size=max(2, len(chunk) // 2))]
                     if len(unlabeled) and self.at_least(stage, "ssl_unlabeled") else None)
            out.append((torch.from_numpy(chunk), None if extra is None else torch.from_numpy(extra)))
        return out

    def step(self, stage: str, batch):
        rows, unlabeled = batch
        cfg, net = self.config, self.net
        b = len(rows)
        attr = rows[:, 4]
        flat = rows[:, :4].t().reshape(-1)  # anchors, positives, negatives, partners
        x, maps, out = self.embed_batch(flat, attr.repeat(4))
        a, p, n, part = self.split_outputs(out, 4, b)
        loss = instance_loss(self.triplet, a.embedding, p.embedding, n.embedding)
        loss = loss + self.base.auxiliary_loss((a, p, n), self.triplet)
        logs = {"instance": loss.item()}
        attr_d = attr.to(self.device)
        if self.at_least(stage, "supervised"):
            labels = torch.from_numpy(self.labels_eff[rows[:, :3].numpy(), rows[:, 4:5].numpy()]).to(self.device)  # (b, 3)
            true = torch.from_numpy(self.labeled[rows[:, :3].numpy()]).to(self.device)  # (b, 3) label not pseudo
            weight = torch.ones_like(labels, dtype=torch.float) if self.at_least(stage, "pseudo_cluster") else true.float()
            emb3 = torch.cat([a.embedding, p.embedding, n.embedding])  # (3b, D)
            w3 = weight.t().reshape(-1)
            if w3.sum() > 0:
                cluster = net.cluster(emb3, attr_d.repeat(3), labels.t().reshape(-1), w3)
                loss = loss + cfg.cluster_weight * cluster
                logs["cluster"] = cluster.item()
            cls = net.class_index(attr_d, labels[:, 0])  # (b,) the anchor's class
            class_tri = self.triplet(net.class_space(a.embedding, cls), net.class_space(part.embedding, cls),
                                     net.class_space(p.embedding, cls))  # same product vs same class
            loss = loss + cfg.class_weight * class_tri
            logs["class"] = class_tri.item()
        if self.at_least(stage, "ssl_labeled"):
            x2 = self.prep(self.train_bank.images[rows[:, 0]], train=True, generator=self.generator)  # second view
            z1, p1 = net.universal(maps[:b])
            z2, p2 = net.universal(net.feature_maps(x2))
            ssl = simsiam_loss(p1, z1, p2, z2)
            if unlabeled is not None:
                v1 = self.prep(self.train_bank.images[unlabeled], train=True, generator=self.generator)
                v2 = self.prep(self.train_bank.images[unlabeled], train=True, generator=self.generator)
                zu1, pu1 = net.universal(net.feature_maps(v1))
                zu2, pu2 = net.universal(net.feature_maps(v2))
                ssl = (ssl + simsiam_loss(pu1, zu1, pu2, zu2)) / 2
            loss = loss + cfg.ssl_weight * ssl
            logs["simsiam"] = ssl.item()
        logs["loss"] = loss.item()
        return loss, logs, 4 * b + (0 if unlabeled is None else 2 * len(unlabeled))

    def validate(self, stage: str, epoch: int) -> tuple[float, dict[str, float]]:
        model, feats = self.val_features()
        base = retrieval_report(model, feats, self.val_protocol)["overall"]
        metrics = {"val_map@100": base["map@100"]}
        if stage == "warmup":
            return base["map@100"], metrics
        top1 = retrieval_report(model, feats, self.val_protocol, prioritize=1, known=False)["overall"]
        acc = pseudo_label_accuracy(model, feats, self.val_protocol, include_queries=True)["overall"]
        metrics |= {"val_top1_unknown_map@100": top1["map@100"], "val_acc": acc}
        return top1["map@100"], metrics
