"""The trained composed-retrieval model as the app and the evaluator use it (UIGR, TGR-only, VCR-only).

Wraps ``models.uigr.UIGRModel`` with what a catalog needs: the caption vocabulary, the training image
size, batched embedding of uint8 image tensors and composition of (image, feedback text) queries.

Spaces (UIGR supp. Sec. B.2, Eq. 2): each task has its own gallery space, the task's projection ``P_task``
of the backbone features, L2-normalised; a composed query ``C_task(P_task(g_ref), s)`` is L2-normalised in
the same space. Ranking = cosine similarity = L2 distance between these unit vectors. With
``task=None`` a unified model routes each row through its branch classifier (hard choice, supp. B.2).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from fashion_gui.catalog.feedback import VCR_TEMPLATES
from fashion_gui.catalog.schema import AttributeSchema
from fashion_gui.inference.checkpoint import Checkpoint, CheckpointError
from fashion_gui.inference.preprocess import BatchPreprocessor
from models.text import MAX_CAPTION_TOKENS, Vocabulary
from models.uigr import TASKS, UIGRConfig, UIGRModel

# The VCR sentence the app sends for "a {target} that goes with this": the catalog's first VCR template
# without a target attribute (UIGR supp. Table 4), as the demo catalog's training captions use it.
VCR_QUERY_TEMPLATE = VCR_TEMPLATES[False][0]  # "search a {TC} that matches this {RC} best"
DEFAULT_REFERENCE_NOUN = "item"


class ComposedRetrieval:
    """A UIGR / TGR-only / VCR-only model ready to embed a gallery and compose queries.

    ``tasks``: ``("tgr", "vcr")`` for a unified model, ``("tgr",)`` or ``("vcr",)`` for a baseline.
    ``image_size``: side the images must be resized to (the training resolution).
    """

    def __init__(self, model: UIGRModel, vocabulary: Vocabulary, image_size: int,
                 schema: AttributeSchema | None = None, max_tokens: int = MAX_CAPTION_TOKENS) -> None:
        self.model = model
        self.vocabulary = vocabulary
        self.image_size = int(image_size)
        self.schema = schema
        self.max_tokens = int(max_tokens)
        self.model.eval()

    # --- construction ------------------------------------------------------------------------------
    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint, device: torch.device | str) -> ComposedRetrieval:
        """Rebuild the model of a ``fashion train uigr-*|tgr-only|vcr-only`` checkpoint (weights from the file)."""
        arch = checkpoint.config.get("architecture")
        vocab = checkpoint.config.get("vocabulary")
        if not isinstance(arch, dict) or not isinstance(vocab, dict):
            raise CheckpointError(f"{checkpoint.path} is not a composed-retrieval checkpoint (method "
                                  f"{checkpoint.method!r}); train one with `fashion train uigr-tirg`")
        try:
            config = UIGRConfig.from_dict({**arch, "pretrained_backbone": False, "backbone_weights_path": None})
            model = UIGRModel.from_config(config)
            vocabulary = Vocabulary.from_dict(vocab)
            image_size = int(checkpoint.config["image_size"])
            schema = AttributeSchema.from_dict(checkpoint.schema) if checkpoint.schema else None
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{checkpoint.path / 'config.json'} does not describe a composed-retrieval model "
                                  f"({type(exc).__name__}: {exc}); retrain with {checkpoint.retrain_hint}") from exc
        checkpoint.load_into(model, "model", checkpoint.weights(map_location=device))
        model.to(device).eval()
        return cls(model, vocabulary, image_size, schema)

    # --- properties --------------------------------------------------------------------------------
    @property
    def tasks(self) -> tuple[str, ...]:
        return self.model.tasks

    @property
    def unified(self) -> bool:
        return self.model.unified

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def embed_dim(self) -> int:
        return self.model.embed_dim

    # --- feedback text -----------------------------------------------------------------------------
    def vcr_text(self, target_category: str, reference_category: str | None = None) -> str:
        """The VCR feedback sentence for "a ``target_category`` that goes with the query garment".

        Uses the catalog's own first VCR template (no target attribute): ``"search a {TC} that matches this
        {RC} best"``; pass the query's (predicted) category as ``reference_category`` when known, else the
        neutral noun "item" is used. Category names are checked against the catalog schema.
        """
        if self.schema is not None:
            for name, cat in (("target", target_category), ("reference", reference_category)):
                if cat is not None and cat not in self.schema.categories:
                    raise ValueError(f"unknown {name} category {cat!r}; the catalog's categories are "
                                     f"{', '.join(self.schema.categories)}")
        return VCR_QUERY_TEMPLATE.format(TC=target_category, RC=reference_category or DEFAULT_REFERENCE_NOUN)

    def encode_texts(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Captions -> ``(ids (B, L), lengths (B,))`` on the model's device (at most 60 tokens each)."""
        return self.vocabulary.encode_batch(list(texts), max_len=self.max_tokens, device=self.device)

    # --- images ------------------------------------------------------------------------------------
    def _check_images(self, images: torch.Tensor) -> None:
        if images.dim() != 4 or images.shape[1] != 3 or images.shape[2:] != (self.image_size, self.image_size):
            raise ValueError(f"images must be uint8 (N, 3, {self.image_size}, {self.image_size}) (the model's "
                             f"training size), got {tuple(images.shape)}")

    @torch.inference_mode()
    def features(self, images: torch.Tensor, prep: BatchPreprocessor, batch_size: int = 256) -> torch.Tensor:
        """Backbone features of uint8 images ``(N, 3, S, S)`` -> ``(N, F)`` float32 on the model's device."""
        self._check_images(images)
        out = [self.model.extract_features(prep(images[s:s + batch_size])).float()
               for s in range(0, len(images), batch_size)]
        return torch.cat(out) if out else torch.zeros(0, self.model.feature_dim, device=self.device)

    @torch.inference_mode()
    def gallery_from_features(self, features: torch.Tensor) -> dict[str, np.ndarray]:
        """Per task, the L2-normalised gallery embeddings ``(N, D)`` float32 of backbone features ``(N, F)``."""
        return {t: self.model.project(features, t).float().cpu().numpy().astype(np.float32) for t in self.tasks}

    def embed_gallery(self, images: torch.Tensor, prep: BatchPreprocessor,
                      batch_size: int = 256) -> dict[str, np.ndarray]:
        """uint8 images ``(N, 3, S, S)`` -> {task: L2-normalised target-side embeddings ``(N, D)`` float32}.

        Rank the gallery of task t for a query composed with task t by cosine similarity (or L2 distance).
        """
        return self.gallery_from_features(self.features(images, prep, batch_size))

    @torch.inference_mode()
    def compose_features(self, features: torch.Tensor, texts: Sequence[str], task: str | None = None,
                         batch_size: int = 256) -> tuple[np.ndarray, list[str], np.ndarray]:
        """``compose`` on backbone features ``(B, F)`` (e.g. cached gallery features of the references)."""
        if len(texts) != len(features):
            raise ValueError(f"{len(features)} reference images but {len(texts)} feedback texts")
        if task is not None and task not in self.tasks:
            raise ValueError(f"task {task!r} is not served by this model (tasks: {', '.join(self.tasks)})")
        queries, chosen, probs = [], [], []
        for s in range(0, len(texts), batch_size):
            ids, lengths = self.encode_texts(texts[s:s + batch_size])
            out = self.model.compose(features[s:s + batch_size].to(self.device), ids, lengths, task=task)
            queries.append(out.query.float().cpu())
            chosen += [self.tasks[int(i)] for i in out.task.cpu()]
            if out.branch_logits is not None:
                probs.append(out.branch_logits.float().softmax(dim=1).cpu())
            else:  # single-task model: all the mass on its only task
                p = torch.zeros(len(out.task), len(TASKS))
                p[:, TASKS.index(self.tasks[0])] = 1.0
                probs.append(p)
        if not queries:
            return (np.zeros((0, self.embed_dim), np.float32), [], np.zeros((0, len(TASKS)), np.float32))
        return (torch.cat(queries).numpy().astype(np.float32), chosen,
                torch.cat(probs).numpy().astype(np.float32))

    def compose(self, images: torch.Tensor, texts: Sequence[str], prep: BatchPreprocessor,
                task: str | None = None) -> tuple[np.ndarray, list[str], np.ndarray]:
        """Composed queries for reference images and feedback texts.

        images: uint8 ``(B, 3, S, S)``; texts: B strings; task: ``"tgr"`` / ``"vcr"`` forces that branch,
        ``None`` lets the branch classifier choose per row (hard choice; a single-task model always uses its
        task). Returns ``(queries (B, D) float32 L2-normalised, chosen task per row, branch probabilities
        (B, 2) float32 with columns ("tgr", "vcr"))``; search row i in ``embed_gallery(...)[chosen[i]]``.
        """
        return self.compose_features(self.features(images, prep), texts, task)

    # --- bookkeeping -------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        return {"tasks": list(self.tasks), "compositor": self.model.compositor_name,
                "image_size": self.image_size, "embed_dim": self.embed_dim, "vocabulary": len(self.vocabulary)}
