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

CPU defaults (``fashion_gui/methods/uigr.py``; its ``PAPER_SIZES`` preset and help texts give the paper's values): compact
backbone at 64 px, frozen after initialising it from the workspace's ADDE checkpoint when one exists
(``backbone_init="auto"``), so backbone features are computed once and training runs on cached features;
smaller text encoder. ``train_backbone=True`` trains end to end as the paper does. Model selection on
the validation split (never the test split).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from fashion_gui.catalog.store import Catalog
from fashion_gui.inference.checkpoint import CheckpointError, load_checkpoint
from fashion_gui.inference.preprocess import BatchPreprocessor
from fashion_gui.inference.uigr_model import ComposedRetrieval
from fashion_gui.methods.uigr import UIGRTrainConfig
from fashion_gui.training.events import Callback
from fashion_gui.training.trainer import Trainer, chunked
from fashion_gui.training.uigr_eval import (
    ComposedBank,
    TripletSet,
    composed_metrics,
    feedback_triplets,
    selection_score,
)
from fashion_gui.workspace import Workspace
from models.text import MAX_CAPTION_TOKENS, PAD_ID, Vocabulary
from models.uigr import UIGRConfig, UIGRModel


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
    """Trains one composed-retrieval method (unified when ``config.tasks`` has both tasks, else one task);
    the loop, model selection on the validation split and resume are the base Trainer's."""

    def __init__(self, workspace: Workspace, config: UIGRTrainConfig, out_dir: Path,
                 callbacks: list[Callback] | None = None, method: str = "uigr-tirg") -> None:
        super().__init__(workspace, config, out_dir, callbacks, method)
        self.vocab = build_vocabulary(self.catalog)
        self.backbone_source = self._backbone_source()
        self.arch = UIGRConfig(
            vocab_size=len(self.vocab), backbone=config.backbone, pretrained_backbone=config.pretrained,
            backbone_weights_path=config.backbone_weights, embed_dim=config.embed_dim, word_dim=config.word_dim,
            text_hidden=config.text_hidden, compositor=config.compositor, tasks=config.tasks,
            branch_hidden=config.branch_hidden, init_scale=config.init_scale)
        self.model = UIGRModel.from_config(self.arch)
        self._init_backbone()
        self.word_vector_message = self._init_word_vectors()
        self.model.to(self.device)
        if self.cuda and config.channels_last and config.train_backbone:
            self.model.backbone.to(memory_format=torch.channels_last)
        self.prep = BatchPreprocessor(self.device, channels_last=self.cuda and config.channels_last)
        self.amp = self.cuda and config.amp
        self.encoded = {}  # task -> token id lists of the training captions

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

    def _init_word_vectors(self) -> str:
        if not self.config.word_vectors:
            return ""
        loaded = self.vocab.load_word_vectors(self.config.word_vectors, dim=self.config.word_dim,
                                              base=self.model.text_encoder.embedding.weight, seed=self.config.seed)
        self.model.text_encoder.init_word_embeddings(loaded.weights)
        return f"word vectors for {loaded.found} of {len(self.vocab) - 2} words"

    # --- the Trainer contract -----------------------------------------------------------------------
    def describe(self) -> str:
        cfg = self.config
        text = (f"training {self.method} ({cfg.compositor}) on {self.device} ({len(self.catalog)} catalog items, "
                f"backbone {cfg.backbone} from {self.backbone_source.split(':')[0]}, "
                f"{'trained' if cfg.train_backbone else 'frozen'}; vocabulary {len(self.vocab)} words)")
        return f"{text}; {self.word_vector_message}" if self.word_vector_message else text

    def setup(self) -> None:
        cfg = self.config
        self.train_bank = ComposedBank(self.workspace, self.catalog, "train", cfg.image_size)
        self.val_bank = ComposedBank(self.workspace, self.catalog, "val", cfg.image_size)
        self.trip = {t: feedback_triplets(self.catalog, self.train_bank, "train", t) for t in cfg.tasks}
        for t, s in self.trip.items():
            if len(s) < 2:
                raise ValueError(f"the train split has {len(s)} {t.upper()} triplets; composed retrieval needs "
                                 "feedback triplets of each task it trains (see `fashion catalog info`)")
        self.encoded = {t: [self.vocab.encode(x, MAX_CAPTION_TOKENS) for x in s.texts] for t, s in self.trip.items()}
        self.val_trip = {t: feedback_triplets(self.catalog, self.val_bank, "val", t) for t in cfg.tasks}

    def begin_stage(self, stage: str, fresh: bool) -> None:
        self.feats = FeatureSource(self.model, self.train_bank, self.prep, not self.config.train_backbone,
                                   self.generator, self.config.eval_batch)

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"model": self.model}

    def param_groups(self, stage: str) -> list[dict]:
        frozen = set() if self.config.train_backbone else {id(p) for p in self.model.backbone.parameters()}
        return [{"params": [p for p in self.model.parameters() if id(p) not in frozen]}]

    def learning_rate(self, stage: str, epoch: int, step: int, steps: int) -> float:
        return self.config.lr_at(epoch)

    def set_train_mode(self, mode: bool) -> None:
        self.model.train(mode)
        if not self.config.train_backbone:
            self.model.backbone.eval()  # frozen: BatchNorm statistics stay those of the initial weights

    def batches(self, stage: str, epoch: int):
        return chunked(self._epoch_rows(self.trip, self.train_bank), self.config.batch_size, min_size=2)

    def step(self, stage: str, rows: np.ndarray):
        if len(self.config.tasks) == 2:
            return self._unified_step(rows, self.trip, self.feats)
        return self._single_step(rows, self.trip, self.feats)

    def validate(self, stage: str, epoch: int) -> tuple[float, dict[str, float]]:
        if not any(len(t) for t in self.val_trip.values()):
            return float(epoch), {}
        metrics = composed_metrics(self.retrieval(), self.val_bank, self.val_trip, self.prep,
                                   source_in_gallery=self.config.source_in_gallery, batch_size=self.config.eval_batch)
        flat = flatten_metrics(metrics, "val_")
        shown = {k: v for k, v in flat.items() if "R@" in k or "mAP" in k or k.endswith("accuracy_overall")}
        score = selection_score(metrics)
        return score, {**shown, "val_score": score, "lr": self.config.lr_at(epoch)}

    def checkpoint_config(self) -> dict:
        return {"architecture": self.arch.to_dict(), "vocabulary": self.vocab.to_dict(),
                "backbone_source": self.backbone_source}

    def extra_state(self) -> dict:
        return {"vocabulary": self.vocab.to_dict(), "backbone_source": self.backbone_source}

    def load_extra_state(self, state: dict) -> None:
        if state["vocabulary"] != self.vocab.to_dict():
            raise ValueError(f"{self.out_dir / 'state.pt'} was saved with another catalog vocabulary; train "
                             "without --resume")
        self.backbone_source = state["backbone_source"]

    def retrieval(self) -> ComposedRetrieval:
        """The model in its inference wrapper (switches it to eval mode)."""
        return ComposedRetrieval(self.model, self.vocab, self.config.image_size, self.schema)

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


def flatten_metrics(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """``{"tgr": {"R@10": x}}`` -> ``{"tgr_R@10": x}`` (numbers only; for events and checkpoint metrics)."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            out.update(flatten_metrics(value, f"{prefix}{key}_"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[f"{prefix}{key}"] = float(value)
    return out
