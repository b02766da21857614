"""UIGR: one model for text-guided (TGR) and visually compatible (VCR) garment retrieval.

Han et al., "UIGR: Unified Interactive Garment Retrieval", CVPR-W 2022 (papers/uigr-...md): supplementary
Sec. B.2 (Fig. 10, Eq. 2-4), Sec. C (implementation details); REFERENCE.md (UIGR).

Shared image backbone -> per task a projection ``P_t = Linear(F, 512)`` -> per task a compositor ``C_t`` of
the same kind but with its own weights (Eq. 2: ``x_t = C_t(P_t(g^r), s)``); shared text encoder; a branch
classifier ``M = MLP(512-256-2)`` on the text feature picks the branch (hard choice) at inference.
Features are L2-normalised and multiplied by one learnable scale s (initial 4.0, google/tirg's
``NormalizationLayer(normalize_scale=4.0, learn_scale=True)``), so the BBC logits ``s^2 cos`` start at
temperature 1/16 = 0.0625 (supp. Sec. C).

Branch labels: index in ``TASKS`` = ("tgr", "vcr"), i.e. TGR = 0, VCR = 1 (the paper's Eq. 3 numbers the
classes the other way round, VCR = M_0; only the naming of the two logits differs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from models.backbones import create_backbone
from models.compositors import create_compositor
from models.text import PAD_ID, TextEncoder

TASKS = ("tgr", "vcr")  # branch-classifier label = index here


@dataclass
class UIGRConfig:
    """Settings of one UIGR model; saved beside every checkpoint (``to_dict`` / ``from_dict``)."""

    vocab_size: int = 2  # len(Vocabulary); save the vocabulary (Vocabulary.to_dict) beside the checkpoint
    backbone: str = "resnet50"  # registry name (models.list_backbones()); "compact" for the CPU demo
    pretrained_backbone: bool = False  # torchvision ImageNet weights (downloads); UIGR uses ImageNet ResNet50
    backbone_weights_path: str | None = None  # local backbone state-dict file instead of downloading
    embed_dim: int = 512  # projection / text / composed feature size (supp. Sec. C: 512)
    word_dim: int = 300  # word-embedding size (GloVe 300; UIGR initialises from CLIP's 512-d embeddings)
    text_hidden: int = 1024  # Bi-GRU hidden size per direction (REFERENCE.md: 1024)
    text_layers: int = 1  # Bi-GRU layers
    text_dropout: float = 0.0  # dropout between GRU layers (only with text_layers > 1)
    compositor: str = "rtic"  # models.list_compositors(); RTIC gave the best unified result (Table 3)
    compositor_kwargs: dict[str, Any] = field(default_factory=dict)  # extra arguments of the compositor
    tasks: tuple[str, ...] = TASKS  # ("tgr", "vcr") unified; ("tgr",) or ("vcr",) independent baseline
    branch_hidden: int = 256  # branch classifier MLP(embed_dim-256-2)
    init_scale: float = 4.0  # learnable s after L2 normalisation: BBC temperature 1/s^2 = 0.0625 at init
    learn_scale: bool = True  # False keeps s fixed

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["tasks"] = list(self.tasks)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UIGRConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown UIGRConfig field(s) {unknown}; expected a subset of {sorted(known)}")
        values = dict(data)
        if "tasks" in values:
            values["tasks"] = tuple(values["tasks"])
        return cls(**values)


class BBCLoss(nn.Module):
    """Batch-based classification loss (UIGR supp. Eq. 1; TIRG's ``compute_batch_based_classification_loss_``).

    ``mean_i -log softmax_j(<s q_i/|q_i|, s t_j/|t_j|>)[i]``: query i must pick its own target among all the
    targets of the batch. With scale s the logits are ``s^2 cos(q_i, t_j)``, i.e. temperature ``1/s^2``.
    ``normalize=False`` takes ``query``/``target`` as already normalised-and-scaled features.
    """

    def __init__(self, normalize: bool = True) -> None:
        super().__init__()
        self.normalize = bool(normalize)

    def logits(self, query: torch.Tensor, target: torch.Tensor, scale: torch.Tensor | float = 1.0) -> torch.Tensor:
        if query.dim() != 2 or query.shape != target.shape:
            raise ValueError(f"query and target must both be (B, D), got {tuple(query.shape)} and {tuple(target.shape)}")
        if self.normalize:
            query = scale * F.normalize(query, dim=1)  # (B, D)
            target = scale * F.normalize(target, dim=1)  # (B, D)
        return query @ target.t()  # (B, B)

    def forward(self, query: torch.Tensor, target: torch.Tensor, scale: torch.Tensor | float = 1.0) -> torch.Tensor:
        logits = self.logits(query, target, scale)  # (B, B)
        labels = torch.arange(logits.shape[0], device=logits.device)  # (B,)
        return F.cross_entropy(logits, labels)


class UIGRComposition(NamedTuple):
    query: torch.Tensor  # (B, embed_dim) composed query, L2-normalised (search it in gallery[task])
    task: torch.Tensor  # (B,) int64 index into model.tasks of the branch used per sample
    branch_logits: torch.Tensor | None  # (B, 2) branch-classifier logits (None in single-task mode)


class UIGRLossTerms(NamedTuple):
    total: torch.Tensor  # Eq. 4: bbc_tgr + bbc_vcr + branch_ce
    bbc_tgr: torch.Tensor
    bbc_vcr: torch.Tensor
    branch_ce: torch.Tensor  # Eq. 3: CE(M(s_tgr), TGR) + CE(M(s_vcr), VCR)
    branch_accuracy: torch.Tensor  # fraction of the 2B captions routed to their own branch (detached)


class UIGRModel(nn.Module):
    """Multi-task UIGR model (supp. Sec. B.2, Fig. 10); single-task with ``tasks=("tgr",)`` or ``("vcr",)``.

    Image features ``g`` are the backbone's pooled features ``(B, F)``; ``extract_features`` computes them
    and every other method also accepts cached ones. Gallery embeddings and composed queries are L2-normalised
    ``(B, embed_dim)`` (the scale s only sharpens the training softmax and does not change any ranking).
    """

    def __init__(
        self,
        vocab_size: int,
        backbone: str | nn.Module = "resnet50",
        embed_dim: int = 512,
        word_dim: int = 300,
        text_hidden: int = 1024,
        text_layers: int = 1,
        text_dropout: float = 0.0,
        compositor: str = "rtic",
        compositor_kwargs: Mapping[str, Any] | None = None,
        tasks: Sequence[str] = TASKS,
        branch_hidden: int = 256,
        init_scale: float = 4.0,
        learn_scale: bool = True,
        pretrained_backbone: bool = False,
        backbone_weights_path: str | None = None,
    ) -> None:
        super().__init__()
        tasks = tuple(tasks)
        if not tasks or len(set(tasks)) != len(tasks) or any(t not in TASKS for t in tasks):
            raise ValueError(f"tasks must be ('tgr', 'vcr'), ('tgr',) or ('vcr',), got {tasks}")
        self.tasks = tuple(t for t in TASKS if t in tasks)
        if isinstance(backbone, str):
            backbone = create_backbone(backbone, pretrained=pretrained_backbone, weights_path=backbone_weights_path)
        if not hasattr(backbone, "out_dim"):
            raise ValueError("the backbone module must expose .out_dim (its pooled feature size)")
        self.backbone = backbone
        self.feature_dim = int(backbone.out_dim)
        self.embed_dim = int(embed_dim)
        self.compositor_name = compositor
        kw = dict(compositor_kwargs or {})
        self.projections = nn.ModuleDict({t: nn.Linear(self.feature_dim, self.embed_dim) for t in self.tasks})
        self.text_encoder = TextEncoder(
            vocab_size, word_dim=word_dim, hidden_dim=text_hidden, out_dim=self.embed_dim,
            num_layers=text_layers, dropout=text_dropout,
        )
        # same architecture per branch, separate weights (supp. Sec. B.2; Table 5 "U" vs "U+SC")
        self.compositors = nn.ModuleDict(
            {t: create_compositor(compositor, self.embed_dim, self.embed_dim, **kw) for t in self.tasks}
        )
        self.branch_classifier = (
            nn.Sequential(nn.Linear(self.embed_dim, branch_hidden), nn.ReLU(), nn.Linear(branch_hidden, len(TASKS)))
            if len(self.tasks) == len(TASKS)
            else None
        )
        scale = torch.tensor(float(init_scale))
        if learn_scale:
            self.scale = nn.Parameter(scale)
        else:
            self.register_buffer("scale", scale)
        self.bbc = BBCLoss()

    @classmethod
    def from_config(cls, config: UIGRConfig) -> UIGRModel:
        return cls(
            config.vocab_size,
            backbone=config.backbone,
            embed_dim=config.embed_dim,
            word_dim=config.word_dim,
            text_hidden=config.text_hidden,
            text_layers=config.text_layers,
            text_dropout=config.text_dropout,
            compositor=config.compositor,
            compositor_kwargs=config.compositor_kwargs,
            tasks=config.tasks,
            branch_hidden=config.branch_hidden,
            init_scale=config.init_scale,
            learn_scale=config.learn_scale,
            pretrained_backbone=config.pretrained_backbone,
            backbone_weights_path=config.backbone_weights_path,
        )

    @property
    def unified(self) -> bool:
        return self.branch_classifier is not None

    # ----- encoders -------------------------------------------------------------------------------------

    def _check_task(self, task: str) -> str:
        if task not in self.tasks:
            raise ValueError(f"task '{task}' is not part of this model (tasks: {', '.join(self.tasks)})")
        return task

    def extract_features(self, images: torch.Tensor) -> torch.Tensor:
        """Shared backbone: ``(B, 3, H, W)`` -> ``(B, F)``; cache these for the gallery and for training heads."""
        return self.backbone(images)  # (B, F)

    def project_raw(self, features: torch.Tensor, task: str) -> torch.Tensor:
        """Projection ``P_task``: backbone features ``(B, F)`` -> ``(B, embed_dim)``, not normalised."""
        if features.dim() != 2 or features.shape[1] != self.feature_dim:
            raise ValueError(f"backbone features must be (B, {self.feature_dim}), got {tuple(features.shape)}")
        return self.projections[self._check_task(task)](features)  # (B, D)

    def project(self, features: torch.Tensor, task: str) -> torch.Tensor:
        """Gallery embedding of cached backbone features for ``task``: ``(B, F)`` -> L2-normalised ``(B, D)``."""
        return F.normalize(self.project_raw(features, task), dim=1)  # (B, D)

    def encode_gallery(self, images: torch.Tensor, task: str) -> torch.Tensor:
        """Gallery embedding of images for ``task`` (each task has its own gallery space)."""
        return self.project(self.extract_features(images), task)  # (B, D)

    def encode_text(self, text_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Shared feedback encoder: ``(B, L)``, ``(B,)`` -> ``(B, D)``."""
        return self.text_encoder(text_ids, lengths)  # (B, D)

    def scaled(self, features: torch.Tensor) -> torch.Tensor:
        """``s * x / |x|``: the normalisation layer in front of the BBC loss."""
        return self.scale * F.normalize(features, dim=1)  # (B, D)

    # ----- branch classifier ------------------------------------------------------------------------------

    def classify_branch(self, text_feat: torch.Tensor) -> torch.Tensor:
        """Branch-classifier logits ``(B, 2)`` on text features (column 0 = TGR, 1 = VCR)."""
        if self.branch_classifier is None:
            raise RuntimeError(f"this single-task model ({self.tasks[0]}) has no branch classifier")
        return self.branch_classifier(text_feat)  # (B, 2)

    def choose_branch(self, text_feat: torch.Tensor) -> torch.Tensor:
        """Hard choice per sample, as an index into ``self.tasks`` ``(B,)`` (supp. Sec. B.2)."""
        if self.branch_classifier is None:
            return torch.zeros(text_feat.shape[0], dtype=torch.long, device=text_feat.device)
        return self.classify_branch(text_feat).argmax(dim=1)  # (B,)

    # ----- composition ------------------------------------------------------------------------------------

    def compose_raw(self, img_features: torch.Tensor, text_feat: torch.Tensor, task: str) -> torch.Tensor:
        """Eq. 2 for one branch: ``C_task(P_task(g), s)`` on backbone features, not normalised ``(B, D)``."""
        return self.compositors[self._check_task(task)](self.project_raw(img_features, task), text_feat)  # (B, D)

    def compose(
        self,
        img_features: torch.Tensor,
        text_ids: torch.Tensor,
        lengths: torch.Tensor,
        task: str | torch.Tensor | None = None,
    ) -> UIGRComposition:
        """Composed queries from cached backbone features ``(B, F)`` and captions ``(B, L)``, ``(B,)``.

        ``task``: ``"tgr"`` / ``"vcr"`` for every sample, a ``(B,)`` tensor of indices into ``self.tasks``,
        or ``None`` = the branch classifier's hard choice per sample (the only task in single-task mode).
        Search each query in the gallery projected for its task (``result.task``).
        """
        text_feat = self.encode_text(text_ids, lengths)  # (B, D)
        batch = text_feat.shape[0]
        logits = self.classify_branch(text_feat) if self.unified else None  # (B, 2)
        if task is None:
            choice = logits.argmax(dim=1) if logits is not None else self.choose_branch(text_feat)  # (B,)
        elif isinstance(task, str):
            choice = torch.full((batch,), self.tasks.index(self._check_task(task)), dtype=torch.long,
                                device=text_feat.device)  # (B,)
        else:
            choice = torch.as_tensor(task, dtype=torch.long, device=text_feat.device)  # (B,)
            if choice.shape != (batch,) or bool(((choice < 0) | (choice >= len(self.tasks))).any()):
                raise ValueError(f"task indices must be a ({batch},) tensor with values in [0, {len(self.tasks) - 1}]")
        # every used branch runs on the whole batch (BatchNorm-safe), then each row keeps its own branch
        query = None
        for index, name in enumerate(self.tasks):
            rows = choice == index  # (B,)
            if not bool(rows.any()):
                continue
            composed = F.normalize(self.compose_raw(img_features, text_feat, name), dim=1)  # (B, D)
            query = composed if query is None else torch.where(rows.unsqueeze(1), composed, query)
        return UIGRComposition(query=query, task=choice, branch_logits=logits)

    def forward(
        self, images: torch.Tensor, text_ids: torch.Tensor, lengths: torch.Tensor, task: str | None = None
    ) -> UIGRComposition:
        return self.compose(self.extract_features(images), text_ids, lengths, task=task)

    # ----- training objectives ----------------------------------------------------------------------------

    def task_loss(
        self,
        ref_features: torch.Tensor,
        text_ids: torch.Tensor,
        lengths: torch.Tensor,
        target_features: torch.Tensor,
        task: str,
    ) -> torch.Tensor:
        """BBC loss of one branch (supp. Eq. 1) on ``(reference, caption, target)`` triplets."""
        text_feat = self.encode_text(text_ids, lengths)  # (B, D)
        return self._bbc(ref_features, text_feat, target_features, task)

    def _bbc(self, ref_features, text_feat, target_features, task: str) -> torch.Tensor:
        query = self.compose_raw(ref_features, text_feat, task)  # (B, D)
        target = self.project_raw(target_features, task)  # (B, D)
        return self.bbc(query, target, self.scale)

    def unified_loss(
        self,
        ref_features: torch.Tensor,
        tgr_ids: torch.Tensor,
        tgr_lengths: torch.Tensor,
        tgr_target_features: torch.Tensor,
        vcr_ids: torch.Tensor,
        vcr_lengths: torch.Tensor,
        vcr_target_features: torch.Tensor,
        *,
        tgr_rows: torch.Tensor | None = None,
        vcr_rows: torch.Tensor | None = None,
    ) -> UIGRLossTerms:
        """Eq. 4 on quintuplets (reference, TGR caption, VCR caption, TGR target, VCR target) sharing row i's
        reference: ``BBC_TGR + BBC_VCR + CE(M(s_tgr), TGR) + CE(M(s_vcr), VCR)``.

        Features are backbone features ``(B, F)`` (cached, or ``extract_features`` output to train end to end).
        ``tgr_rows`` / ``vcr_rows`` (optional, ``(B_t,)`` / ``(B_v,)`` int64): the reference rows that have a
        caption of that kind, for batches in which some references have only one kind of triplet; the
        caption and target tensors then hold ``B_t`` (``B_v``) rows. A kind with fewer than two rows adds no
        BBC term (one row has no in-batch negative). Default: every row has both.
        """
        if not self.unified:
            raise RuntimeError(
                f"unified_loss needs a model with both tasks; this one has {self.tasks}: use task_loss instead"
            )
        batch = ref_features.shape[0]
        if tgr_rows is None and vcr_rows is None and (tgr_ids.shape[0] != batch or vcr_ids.shape[0] != batch):
            raise ValueError("each row must pair one TGR and one VCR caption with the same reference")
        ref_tgr = ref_features if tgr_rows is None else ref_features[tgr_rows]  # (B_t, F)
        ref_vcr = ref_features if vcr_rows is None else ref_features[vcr_rows]  # (B_v, F)
        n_tgr, n_vcr = tgr_ids.shape[0], vcr_ids.shape[0]
        if ref_tgr.shape[0] != n_tgr or ref_vcr.shape[0] != n_vcr:
            raise ValueError(f"tgr_rows/vcr_rows select {ref_tgr.shape[0]}/{ref_vcr.shape[0]} references for "
                             f"{n_tgr} TGR and {n_vcr} VCR captions")
        text_feat = self.encode_text(
            *_stack_captions(tgr_ids, tgr_lengths, vcr_ids, vcr_lengths)
        )  # (B_t + B_v, D): one encoder pass for both kinds of caption
        tgr_text, vcr_text = text_feat[:n_tgr], text_feat[n_tgr:]  # (B_t, D), (B_v, D)
        zero = text_feat.new_zeros(())
        bbc_tgr = self._bbc(ref_tgr, tgr_text, tgr_target_features, "tgr") if n_tgr > 1 else zero
        bbc_vcr = self._bbc(ref_vcr, vcr_text, vcr_target_features, "vcr") if n_vcr > 1 else zero
        logits = self.classify_branch(text_feat)  # (B_t + B_v, 2)
        labels = torch.cat([
            torch.full((n_tgr,), TASKS.index("tgr"), dtype=torch.long, device=logits.device),
            torch.full((n_vcr,), TASKS.index("vcr"), dtype=torch.long, device=logits.device),
        ])  # (B_t + B_v,)
        # Eq. 3: the sum of the two batch means
        branch_ce = zero
        if n_tgr:
            branch_ce = branch_ce + F.cross_entropy(logits[:n_tgr], labels[:n_tgr])
        if n_vcr:
            branch_ce = branch_ce + F.cross_entropy(logits[n_tgr:], labels[n_tgr:])
        accuracy = (logits.detach().argmax(dim=1) == labels).float().mean()
        return UIGRLossTerms(
            total=bbc_tgr + bbc_vcr + branch_ce,
            bbc_tgr=bbc_tgr,
            bbc_vcr=bbc_vcr,
            branch_ce=branch_ce,
            branch_accuracy=accuracy,
        )

    def branch_loss(self, text_ids: torch.Tensor, lengths: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """CE of the branch classifier alone on captions with labels ``(B,)`` (0 = TGR, 1 = VCR)."""
        return F.cross_entropy(self.classify_branch(self.encode_text(text_ids, lengths)), labels)


def _stack_captions(
    ids_a: torch.Tensor, lengths_a: torch.Tensor, ids_b: torch.Tensor, lengths_b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack two padded caption batches ``(Ba, La)``, ``(Bb, Lb)`` into ``(Ba + Bb, max(La, Lb))``."""
    width = max(ids_a.shape[1], ids_b.shape[1])
    ids_a = F.pad(ids_a, (0, width - ids_a.shape[1]), value=PAD_ID)  # (Ba, L)
    ids_b = F.pad(ids_b, (0, width - ids_b.shape[1]), value=PAD_ID)  # (Bb, L)
    return torch.cat([ids_a, ids_b]), torch.cat([lengths_a, lengths_b])  # (Ba + Bb, L), (Ba + Bb,)
