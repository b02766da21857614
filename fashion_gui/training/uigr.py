"""Training of composed retrieval: the unified UIGR model and the independent TGR-only / VCR-only baselines.

Han et al., "UIGR: Unified Interactive Garment Retrieval" (papers/uigr-...md), supp. Sec. B.2 and C:
- ``uigr-tirg`` / ``uigr-rtic``: one model, shared backbone and text encoder, a projection and a compositor
  per task, branch classifier; each training sample pairs a TGR and a VCR triplet with the same reference
  and L = BBC_TGR + BBC_VCR + CE_branch (Eq. 4);
- ``tgr-only`` / ``vcr-only``: the "independent" rows of Table 3, one task each, same compositor
  (``compositor`` = tirg | rtic), L = BBC of that task.

Pairing (``pair_by``): UIGR's reference code (BrandonHanx/CompFashion, ``FashionPediaCombine``) keeps only TGR
triplets whose reference image also starts a VCR triplet. The demo renders each product from several
views and draws TGR and VCR references independently, so by default triplets are paired by *product*
(``pair_by="product"``): a TGR and a VCR triplet of the same product form one sample, with the TGR
triplet's reference image (VCR compatibility is a property of the product, not of the photo). Every
triplet is used once per epoch: a product's shorter list is topped up with random repeats, and a product
with triplets of one kind only contributes single-task rows (that row adds no term to the other task's
BBC). ``pair_by="image"`` pairs by the exact reference image instead.

CPU defaults (documented below; ``PAPER_SIZES`` and the "paper" comments give the paper's values): compact
backbone at 64 px, frozen after initialising it from the workspace's ADDE checkpoint when one exists
(``backbone_init="auto"``), so backbone features are computed once and training runs on cached features;
smaller text encoder. ``train_backbone=True`` trains end to end as the paper does. Model selection on
the validation split (never the test split).
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fashion_gui.catalog.store import Catalog
from fashion_gui.inference.checkpoint import (
    CheckpointError,
    atomic_torch_save,
    file_sha256,
    load_checkpoint,
    save_checkpoint,
)
from fashion_gui.inference.preprocess import BatchPreprocessor
from fashion_gui.training.events import Callback, TrainEvent
from fashion_gui.training.trainer import Trainer
from fashion_gui.training.uigr_eval import (
    ComposedBank,
    TripletSet,
    composed_metrics,
    feedback_triplets,
    selection_score,
)
from fashion_gui.inference.uigr_model import ComposedRetrieval
from fashion_gui.workspace import Workspace
from models.text import MAX_CAPTION_TOKENS, PAD_ID, Vocabulary
from models.uigr import UIGRConfig, UIGRModel

COMPOSED_METHODS = {
    "uigr-tirg": "UIGR: one model for text-guided (TGR) and compatible (VCR) retrieval, TIRG compositors",
    "uigr-rtic": "UIGR: one model for text-guided (TGR) and compatible (VCR) retrieval, RTIC compositors",
    "tgr-only": "independent baseline: text-guided retrieval only (--compositor tirg|rtic)",
    "vcr-only": "independent baseline: visually compatible retrieval only (--compositor tirg|rtic)",
}
METHOD_TASKS = {"uigr-tirg": ("tgr", "vcr"), "uigr-rtic": ("tgr", "vcr"), "tgr-only": ("tgr",),
                "vcr-only": ("vcr",)}
METHOD_COMPOSITOR = {"uigr-tirg": "tirg", "uigr-rtic": "rtic"}
COMPOSITOR_CHOICES = ("tirg", "rtic")
# The paper's sizes (supp. Sec. C; REFERENCE.md "UIGR"; CompFashion configs *_bigru_clip_512):
# CLIP-width word embeddings, Bi-GRU hidden 1024 per direction, 512-d projections / text / composed features.
PAPER_SIZES = {"embed_dim": 512, "word_dim": 512, "text_hidden": 1024}


@dataclass
class UIGRTrainConfig:
    """Training settings. The defaults train the 1800-item demo on a 2-core CPU in about a minute; the
    comments give the paper's values (``--paper-sizes`` sets embed_dim / word_dim / text_hidden to them)."""

    method: str = "uigr-tirg"            # uigr-tirg | uigr-rtic | tgr-only | vcr-only
    compositor: str = ""                 # tirg | rtic; "" = implied by uigr-* (tirg for tgr-only / vcr-only)
    backbone: str = "compact"            # compact | resnet18 | resnet50 (paper: ImageNet ResNet50)
    pretrained: bool = False             # ImageNet weights through torchvision (needs a download)
    backbone_weights: str | None = None  # a local state-dict file for the backbone
    backbone_init: str = "auto"          # auto | adde | none: start from the ADDE checkpoint's backbone
    adde_checkpoint: str = "adde"        # that checkpoint: folder name under <workspace>/checkpoints, or a path
    train_backbone: bool = False         # False: frozen backbone, cached features (CPU); paper: True
    image_size: int = 64                 # paper: 224
    embed_dim: int = 256                 # projection / text / composed size (paper: 512)
    word_dim: int = 128                  # word-embedding size (paper: 512, CLIP token embeddings)
    text_hidden: int = 256               # Bi-GRU hidden size per direction (paper: 1024)
    word_vectors: str | None = None      # GloVe-style text file initialising the word embeddings
    branch_hidden: int = 256             # branch classifier MLP(embed-256-2) (paper: 256)
    init_scale: float = 4.0              # learnable s: BBC temperature 1/s^2 = 0.0625 at init (paper)
    batch_size: int = 64                 # samples per step (paper: 64)
    epochs: int = 12                     # paper: 40
    lr: float = 1e-3                     # Adam (paper: 2e-4 with an ImageNet backbone trained end to end)
    weight_decay: float = 4e-5           # paper (CompFashion): 4e-5
    warmup_epochs: int = 1               # linear warm-up from lr/10 (paper: 5)
    lr_milestones: tuple[int, ...] = (8, 11)  # lr x lr_gamma after these epochs (paper: 15, 25 of 40)
    lr_gamma: float = 0.1
    pair_by: str = "product"             # product | image: which TGR and VCR triplets form one sample
    source_in_gallery: bool = True       # validation protocol (UIGR keeps the source image)
    seed: int = 0
    device: str = "auto"                 # auto | cpu | cuda
    amp: bool = True                     # mixed precision (CUDA only)
    channels_last: bool = True           # NHWC memory format (CUDA only)
    eval_batch: int = 256
    cpu_threads: int = 1                 # torch threads on CPU (0 = torch's default): these small GRU / linear
                                         # layers gain little from more, and on a busy machine two threads
                                         # per process were measured ~15x slower than one (oversubscription)
    tasks: tuple[str, ...] = field(default=(), repr=False)  # derived from the method

    def __post_init__(self) -> None:
        if self.method not in COMPOSED_METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose one of {', '.join(COMPOSED_METHODS)}")
        implied = METHOD_COMPOSITOR.get(self.method)
        if implied and self.compositor and self.compositor != implied:
            raise ValueError(f"method {self.method} uses the {implied} compositor; for {self.compositor} train "
                             f"uigr-{self.compositor}")
        self.compositor = self.compositor or implied or "tirg"
        if self.compositor not in COMPOSITOR_CHOICES:
            raise ValueError(f"unknown compositor {self.compositor!r}; choose one of {', '.join(COMPOSITOR_CHOICES)}")
        if self.backbone_init not in ("auto", "adde", "none"):
            raise ValueError(f"backbone_init must be auto, adde or none, got {self.backbone_init!r}")
        if self.pair_by not in ("product", "image"):
            raise ValueError(f"pair_by must be 'product' or 'image', got {self.pair_by!r}")
        self.lr_milestones = tuple(int(m) for m in self.lr_milestones)
        self.tasks = METHOD_TASKS[self.method]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["lr_milestones"] = list(self.lr_milestones)
        data["tasks"] = list(self.tasks)
        return data

    def lr_at(self, epoch: int) -> float:
        """Learning rate of 0-based ``epoch``: linear warm-up from lr/10, then steps at the milestones."""
        if epoch < self.warmup_epochs:
            return self.lr * (0.1 + 0.9 * epoch / self.warmup_epochs)
        return self.lr * self.lr_gamma ** sum(epoch >= m for m in self.lr_milestones)


def default_checkpoint_name(method: str, compositor: str) -> str:
    """``uigr-tirg``, ``uigr-rtic``, ``tgr-only`` (TIRG) / ``tgr-only-rtic``, ``vcr-only`` / ``vcr-only-rtic``."""
    if method in METHOD_COMPOSITOR or compositor in ("", "tirg"):
        return method
    return f"{method}-{compositor}"


def build_vocabulary(catalog: Catalog, split: str = "train") -> Vocabulary:
    """Words of the split's feedback captions (both kinds), so that unified and independent models share it."""
    texts = [f.text for f in catalog.feedback(split=split)]
    if not texts:
        raise ValueError(f"the catalog has no {split!r} feedback triplets; composed retrieval needs TGR/VCR "
                         "triplets (the demo catalog has them; importers must add them)")
    return Vocabulary.build(texts)


def sample_pairs(tgr: TripletSet | None, vcr: TripletSet | None, group_of_row: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    """One epoch of UIGR samples: rows ``(reference row, TGR triplet or -1, VCR triplet or -1)``, shuffled.

    Triplets are grouped by ``group_of_row[reference row]`` (the product, or the image itself); within a
    group the shorter list is topped up with random repeats so each triplet is used at least once.
    """
    groups: dict[int, tuple[list[int], list[int]]] = {}
    for kind, t in ((0, tgr), (1, vcr)):
        if t is None:
            continue
        for i, r in enumerate(t.ref):
            groups.setdefault(int(group_of_row[r]), ([], []))[kind].append(i)
    out = []
    for key in sorted(groups):
        t_list, v_list = (rng.permutation(x).tolist() for x in groups[key])
        n = max(len(t_list), len(v_list))
        t_list += rng.choice(t_list, n - len(t_list)).tolist() if t_list else [-1] * n
        v_list += rng.choice(v_list, n - len(v_list)).tolist() if v_list else [-1] * n
        for ti, vi in zip(t_list, v_list):
            ref = tgr.ref[ti] if ti >= 0 else vcr.ref[vi]
            out.append((int(ref), int(ti), int(vi)))
    rows = np.array(out, dtype=np.int64).reshape(-1, 3)
    return rows[rng.permutation(len(rows))]


def pad_captions(encoded: list[list[int]], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Token id lists -> ``(ids (B, L), lengths (B,))`` right-padded with ``<pad>`` (B may be 0)."""
    if not encoded:
        return torch.zeros(0, 1, dtype=torch.long, device=device), torch.zeros(0, dtype=torch.long, device=device)
    lengths = torch.tensor([len(e) for e in encoded], dtype=torch.long)  # (B,)
    ids = torch.full((len(encoded), int(lengths.max())), PAD_ID, dtype=torch.long)  # (B, L)
    for row, e in enumerate(encoded):
        ids[row, :len(e)] = torch.tensor(e, dtype=torch.long)
    return ids.to(device), lengths.to(device)


class FeatureSource:
    """Backbone features of a bank's images: cached once (frozen backbone, original + mirrored image for
    augmentation) or computed per batch with augmentation (backbone trained)."""

    def __init__(self, model: UIGRModel, bank: ComposedBank, prep: BatchPreprocessor, frozen: bool,
                 generator: torch.Generator, batch_size: int = 256) -> None:
        self.model, self.bank, self.prep, self.frozen, self.generator = model, bank, prep, frozen, generator
        self.cache: torch.Tensor | None = None
        if frozen:
            with torch.inference_mode():
                was = model.backbone.training
                model.backbone.eval()
                views = []
                for flip in (False, True):
                    feats = []
                    for s in range(0, len(bank.images), batch_size):
                        x = prep(bank.images[s:s + batch_size])
                        feats.append(model.extract_features(x.flip(-1) if flip else x).float())
                    views.append(torch.cat(feats))
                model.backbone.train(was)
            self.cache = torch.stack(views)  # (2, N, F)

    def __call__(self, rows: torch.Tensor) -> torch.Tensor:
        """Features ``(len(rows), F)`` of bank rows; augmented (mirror / shift) when training."""
        if self.cache is not None:
            flip = torch.randint(0, 2, (len(rows),), generator=self.generator)
            return self.cache[flip.to(self.cache.device), rows.to(self.cache.device)].clone()
        x = self.prep(self.bank.images[rows.cpu()], train=True, generator=self.generator)
        return self.model.extract_features(x)


class UIGRTrainer(Trainer):
    """Trains one composed-retrieval method, validates every epoch, checkpoints atomically, reports events."""

    stage = "composed"

    def __init__(self, workspace: Workspace, config: UIGRTrainConfig, out_dir: Path,
                 callbacks: list[Callback] | None = None) -> None:
        super().__init__(workspace, config, out_dir, callbacks)
        self.vocab = build_vocabulary(self.catalog)
        self.backbone_source = self._backbone_source()
        self.arch = UIGRConfig(
            vocab_size=len(self.vocab), backbone=config.backbone, pretrained_backbone=config.pretrained,
            backbone_weights_path=config.backbone_weights, embed_dim=config.embed_dim, word_dim=config.word_dim,
            text_hidden=config.text_hidden, compositor=config.compositor, tasks=config.tasks,
            branch_hidden=config.branch_hidden, init_scale=config.init_scale)
        self.model = UIGRModel.from_config(self.arch)
        self._init_backbone()
        self._init_word_vectors()
        self.model.to(self.device)
        if self.cuda and config.channels_last and config.train_backbone:
            self.model.backbone.to(memory_format=torch.channels_last)
        self.prep = BatchPreprocessor(self.device, channels_last=self.cuda and config.channels_last)
        self.amp = self.cuda and config.amp
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.encoded = {}  # task -> token id lists of the training captions
        self._best: tuple[float, dict | None, dict] = (-1.0, None, {})

    # --- setup -------------------------------------------------------------------------------------
    def _adde_path(self) -> Path:
        p = Path(self.config.adde_checkpoint)
        return p if p.is_dir() else self.workspace.checkpoints / self.config.adde_checkpoint

    def _backbone_source(self) -> str:
        """Where the backbone's initial weights come from: imagenet | file:PATH | adde:HASH | random."""
        cfg = self.config
        if cfg.pretrained:
            return "imagenet"
        if cfg.backbone_weights:
            return f"file:{cfg.backbone_weights}"
        if cfg.backbone_init == "none":
            return "random"
        path = self._adde_path()
        try:
            ckpt = load_checkpoint(path, expected_schema=self.schema.to_dict())
            arch = ckpt.config["architecture"]
            if arch["backbone"] != cfg.backbone or int(arch["image_size"]) != cfg.image_size:
                raise CheckpointError(f"{path} has backbone {arch['backbone']} at {arch['image_size']} px, "
                                      f"this run uses {cfg.backbone} at {cfg.image_size} px")
        except (CheckpointError, KeyError) as exc:
            if cfg.backbone_init == "adde":
                raise CheckpointError(f"backbone_init=adde: {exc}; train it with `fashion train adde` or use "
                                      "--backbone-init none") from exc
            return "random"
        return f"adde:{ckpt.hash}"

    def _init_backbone(self) -> None:
        if not self.backbone_source.startswith("adde:"):
            return
        state = load_checkpoint(self._adde_path()).weights()["model"]
        prefix = "encoder.backbone."
        self.model.backbone.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})

    def _init_word_vectors(self) -> None:
        if not self.config.word_vectors:
            return
        loaded = self.vocab.load_word_vectors(self.config.word_vectors, dim=self.config.word_dim,
                                              base=self.model.text_encoder.embedding.weight, seed=self.config.seed)
        self.model.text_encoder.init_word_embeddings(loaded.weights)
        self.word_vector_message = f"word vectors for {loaded.found} of {len(self.vocab) - 2} words"

    # --- plumbing ----------------------------------------------------------------------------------
    def _params(self) -> list[torch.nn.Parameter]:
        frozen = set() if self.config.train_backbone else {id(p) for p in self.model.backbone.parameters()}
        return [p for p in self.model.parameters() if id(p) not in frozen]

    def _optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self._params(), lr=self.config.lr, weight_decay=self.config.weight_decay)

    def _set_train(self) -> None:
        self.model.train()
        if not self.config.train_backbone:
            self.model.backbone.eval()  # frozen: BatchNorm statistics stay those of the initial weights

    # --- one step ----------------------------------------------------------------------------------
    def _unified_step(self, rows: np.ndarray, trip: dict[str, TripletSet], feats: FeatureSource):
        ref_rows, ti, vi = rows[:, 0], rows[:, 1], rows[:, 2]
        t_sel, v_sel = np.nonzero(ti >= 0)[0], np.nonzero(vi >= 0)[0]
        t_idx, v_idx = ti[t_sel], vi[v_sel]
        images = np.concatenate([ref_rows, trip["tgr"].target[t_idx], trip["vcr"].target[v_idx]])
        with self._autocast():
            f = feats(torch.from_numpy(images))  # (B + B_t + B_v, F)
            b, bt = len(ref_rows), len(t_idx)
            ref_f, tgt_t, tgt_v = f[:b], f[b:b + bt], f[b + bt:]
            t_ids, t_len = pad_captions([self.encoded["tgr"][i] for i in t_idx], self.device)
            v_ids, v_len = pad_captions([self.encoded["vcr"][i] for i in v_idx], self.device)
            terms = self.model.unified_loss(
                ref_f, t_ids, t_len, tgt_t, v_ids, v_len, tgt_v,
                tgr_rows=torch.from_numpy(t_sel).to(self.device), vcr_rows=torch.from_numpy(v_sel).to(self.device))
        logs = {"loss": terms.total.item(), "bbc_tgr": terms.bbc_tgr.item(), "bbc_vcr": terms.bbc_vcr.item(),
                "branch_ce": terms.branch_ce.item(), "branch_acc": terms.branch_accuracy.item()}
        return terms.total, logs, len(images)

    def _single_step(self, rows: np.ndarray, trip: dict[str, TripletSet], feats: FeatureSource):
        task = self.config.tasks[0]
        t = trip[task]
        images = np.concatenate([t.ref[rows], t.target[rows]])
        with self._autocast():
            f = feats(torch.from_numpy(images))  # (2B, F)
            ids, lengths = pad_captions([self.encoded[task][i] for i in rows], self.device)
            loss = self.model.task_loss(f[:len(rows)], ids, lengths, f[len(rows):], task)
        return loss, {"loss": loss.item(), f"bbc_{task}": loss.item()}, len(images)

    def _epoch_rows(self, trip: dict[str, TripletSet], bank: ComposedBank) -> np.ndarray:
        if len(self.config.tasks) == 1:
            return self.rng.permutation(len(trip[self.config.tasks[0]]))
        if self.config.pair_by == "product":
            _, group = np.unique(np.asarray(bank.instances), return_inverse=True)
        else:
            group = np.arange(len(bank.ids))
        return sample_pairs(trip["tgr"], trip["vcr"], group, self.rng)

    # --- epochs ------------------------------------------------------------------------------------
    def train(self, train: ComposedBank, val: ComposedBank, start_epoch: int = 0,
              optimizer: torch.optim.Optimizer | None = None) -> dict[str, Any]:
        cfg = self.config
        optimizer = optimizer or self._optimizer()
        trip = {t: feedback_triplets(self.catalog, train, "train", t) for t in cfg.tasks}
        for t, s in trip.items():
            if len(s) < 2:
                raise ValueError(f"the train split has {len(s)} {t.upper()} triplets; composed retrieval needs "
                                 "feedback triplets of each task it trains (see `fashion catalog info`)")
        self.encoded = {t: [self.vocab.encode(x, MAX_CAPTION_TOKENS) for x in s.texts] for t, s in trip.items()}
        val_trip = {t: feedback_triplets(self.catalog, val, "val", t) for t in cfg.tasks}
        feats = FeatureSource(self.model, train, self.prep, not cfg.train_backbone, self.generator, cfg.eval_batch)
        step_fn = self._unified_step if len(cfg.tasks) == 2 else self._single_step
        if start_epoch == 0:
            self._best = (-1.0, None, {})
        for epoch in range(start_epoch, cfg.epochs):
            for group in optimizer.param_groups:
                group["lr"] = cfg.lr_at(epoch)
            self._set_train()
            rows = self._epoch_rows(trip, train)
            steps = max(1, math.ceil(len(rows) / cfg.batch_size))
            t0, seen, running, done = time.perf_counter(), 0, {}, 0
            for s in range(steps):
                chunk = rows[s * cfg.batch_size:(s + 1) * cfg.batch_size]
                if len(chunk) < 2:
                    continue
                loss, logs, n_images = step_fn(chunk, trip, feats)
                optimizer.zero_grad(set_to_none=True)
                self.scaler.scale(loss).backward()
                self.scaler.step(optimizer)
                self.scaler.update()
                seen, done = seen + n_images, done + 1
                running = {k: running.get(k, 0.0) + v for k, v in logs.items()}
                self.emit(TrainEvent("step", self.stage, epoch + 1, cfg.epochs, s + 1, steps,
                                     losses={k: v / done for k, v in running.items()}))
            rate = seen / max(time.perf_counter() - t0, 1e-9)
            metrics = self.validate(val, val_trip)
            score = selection_score(metrics)
            flat = flatten_metrics(metrics, "val_")
            if score > self._best[0] or self._best[1] is None:
                self._best = (score, self._snapshot(), {**flat, "val_score": score, "epoch": epoch + 1})
            self._save_state(epoch + 1, optimizer)
            shown = {k: v for k, v in flat.items() if "R@" in k or "mAP" in k or k.endswith("accuracy_overall")}
            self.emit(TrainEvent("epoch", self.stage, epoch + 1, cfg.epochs,
                                 losses={k: v / max(done, 1) for k, v in running.items()},
                                 metrics={**shown, "lr": cfg.lr_at(epoch)}, images_per_second=rate))
        return self._take_best()

    def retrieval(self) -> ComposedRetrieval:
        """The model in its inference wrapper (switches it to eval mode)."""
        return ComposedRetrieval(self.model, self.vocab, self.config.image_size, self.schema)

    def validate(self, val: ComposedBank, val_trip: dict[str, TripletSet]) -> dict[str, Any]:
        if not any(len(t) for t in val_trip.values()):
            return {}
        metrics = composed_metrics(self.retrieval(), val, val_trip, self.prep,
                                   source_in_gallery=self.config.source_in_gallery, batch_size=self.config.eval_batch)
        self._set_train()
        return metrics

    # --- state -------------------------------------------------------------------------------------
    def _take_best(self) -> dict[str, Any]:
        """Restore the best validation epoch (model selection on val, never test)."""
        _, state, metrics = self._best
        if state is not None:
            self.model.load_state_dict(state)
        self._best = (-1.0, None, {})
        return metrics

    def _snapshot(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def _save_state(self, epoch: int, optimizer: torch.optim.Optimizer) -> None:
        """Epoch-end training state for ``--resume`` (atomic)."""
        atomic_torch_save(self.out_dir / "state.pt", {
            "epoch": epoch, "config": self.config.to_dict(), "vocabulary": self.vocab.to_dict(),
            "backbone_source": self.backbone_source, "model": self.model.state_dict(),
            "optimizer": optimizer.state_dict(), "rng": self.rng.bit_generator.state,
            "generator": self.generator.get_state(), "best": self._best,
        })

    def _load_state(self) -> dict | None:
        path = self.out_dir / "state.pt"
        if not path.is_file():
            return None
        state = torch.load(path, map_location=self.device, weights_only=False)
        if state["config"] != self.config.to_dict() or state["vocabulary"] != self.vocab.to_dict():
            raise ValueError(f"{path} was saved with another config or catalog; train without --resume or with "
                             "the same options")
        self.model.load_state_dict(state["model"])
        self.backbone_source = state["backbone_source"]
        self.rng.bit_generator.state = state["rng"]
        self.generator.set_state(state["generator"])
        self._best = state["best"]
        return state

    # --- the whole run -----------------------------------------------------------------------------
    def run(self, resume: bool = False) -> Path:
        """Train (or finish an interrupted run with ``resume``), then save the checkpoint; returns its folder."""
        with torch_threads(self.config.cpu_threads if self.device.type == "cpu" else 0):
            return self._run(resume)

    def _run(self, resume: bool) -> Path:
        cfg = self.config
        self.out_dir.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        self.emit(TrainEvent("start", message=(
            f"training {cfg.method} ({cfg.compositor}) on {self.device} ({len(self.catalog)} catalog items, "
            f"backbone {cfg.backbone} from {self.backbone_source.split(':')[0]}, "
            f"{'trained' if cfg.train_backbone else 'frozen'}; vocabulary {len(self.vocab)} words)")))
        if getattr(self, "word_vector_message", ""):
            self.emit(TrainEvent("start", message=self.word_vector_message))
        train = ComposedBank(self.workspace, self.catalog, "train", cfg.image_size)
        val = ComposedBank(self.workspace, self.catalog, "val", cfg.image_size)
        state = self._load_state() if resume else None
        start, optimizer = 0, None
        if state is not None:
            start = state["epoch"]
            optimizer = self._optimizer()
            optimizer.load_state_dict(state["optimizer"])
            self.emit(TrainEvent("start", message=f"resuming after epoch {start}"))
        if start < cfg.epochs:
            metrics = self.train(train, val, start, optimizer)
        else:
            metrics = self._take_best()
        metrics = {**metrics, "train_seconds": round(time.perf_counter() - t0, 1), "device": str(self.device)}
        save_checkpoint(self.out_dir, method=cfg.method, weights={"model": self.model.state_dict()},
                        config={**cfg.to_dict(), "architecture": self.arch.to_dict(),
                                "vocabulary": self.vocab.to_dict(), "backbone_source": self.backbone_source},
                        schema=self.schema.to_dict(), catalog_version=self.catalog.version,
                        metrics={"validation": metrics})
        (self.out_dir / "state.pt").unlink(missing_ok=True)
        self.emit(TrainEvent("done", metrics={k: v for k, v in metrics.items() if isinstance(v, (int, float))},
                             path=str(self.out_dir), message=f"saved {self.out_dir} ({metrics['train_seconds']} s)"))
        return self.out_dir


@contextlib.contextmanager
def torch_threads(n: int):
    """Use ``n`` torch threads inside the block (``n`` <= 0: leave the setting alone); restores it after."""
    previous = torch.get_num_threads()
    if n > 0:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def flatten_metrics(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """``{"tgr": {"R@10": x}}`` -> ``{"tgr_R@10": x}`` (numbers only; for events and checkpoint metrics)."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            out.update(flatten_metrics(value, f"{prefix}{key}_"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[f"{prefix}{key}"] = float(value)
    return out


def adde_checkpoint_hash(path: Path) -> str:
    """sha256 of an ADDE checkpoint's weights (what ``backbone_source`` and ADDE-O record)."""
    return file_sha256(Path(path) / "weights.pt")
