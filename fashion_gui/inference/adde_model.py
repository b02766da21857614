"""The trained attribute model as the app and the evaluator use it: ADDE encoder + memory block.

Wraps ``models.adde.ADDEEncoder`` and ``models.memory.MemoryBlock`` with what a catalog needs: the
attribute schema, batched embedding of uint8 image tensors, and manipulation of embeddings by label
edits (r' = r + M i, i = onehot(target) - onehot(reference); ADDE Eq. 5 / REFERENCE.md).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn as nn

from fashion_gui.catalog.schema import AttributeSchema
from fashion_gui.inference.checkpoint import Checkpoint, CheckpointError
from fashion_gui.inference.preprocess import BatchPreprocessor
from models.adde import ADDEEncoder
from models.grl import NClassifierHead, NxNClassifierHead
from models.labels import labels_to_onehot
from models.memory import MemoryBlock


HEAD_KINDS = ("diagonal", "n", "nxn")


def build_head(kind: str, encoder: ADDEEncoder) -> NClassifierHead:
    """The classifier head recorded in a checkpoint's architecture: ``diagonal`` (each classifier on its own
    feature: ADDE, no-GRL), ``n`` (GRL's N classifiers, Fig. 1) or ``nxn`` (GRL's N x N, Fig. 2). Every head
    also evaluates all feature/classifier pairs for the feature x classifier matrix (Fig. 5)."""
    if kind not in HEAD_KINDS:
        raise ValueError(f"unknown classifier head {kind!r}; expected one of {', '.join(HEAD_KINDS)}")
    if kind == "nxn":
        return NxNClassifierHead.from_encoder(encoder)
    return NClassifierHead.from_encoder(encoder, no_grl=kind == "diagonal")


class ADDEModel(nn.Module):
    """Encoder + memory for one catalog schema."""

    def __init__(self, schema: AttributeSchema, encoder: ADDEEncoder, memory: MemoryBlock, image_size: int,
                 backbone: str) -> None:
        super().__init__()
        self.schema, self.encoder, self.memory = schema, encoder, memory
        self.image_size, self.backbone_name = int(image_size), backbone

    @classmethod
    def create(cls, schema: AttributeSchema, *, backbone: str = "compact", d: int = 340, pretrained: bool = False,
               backbone_weights: str | None = None, image_size: int = 96) -> "ADDEModel":
        encoder = ADDEEncoder(schema.sizes, backbone=backbone, d=d, pretrained_backbone=pretrained,
                              backbone_weights_path=backbone_weights)
        return cls(schema, encoder, MemoryBlock(schema.sizes, d), image_size, backbone)

    def architecture(self) -> dict[str, Any]:
        return {"backbone": self.backbone_name, "d": self.encoder.d, "attribute_sizes": self.schema.sizes,
                "image_size": self.image_size}

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint, device: torch.device) -> tuple["ADDEModel", NClassifierHead]:
        """Rebuild model and head from a checkpoint (no download: the weights come from the file)."""
        try:
            arch = checkpoint.config["architecture"]
            schema = AttributeSchema.from_dict(checkpoint.schema)
            model = cls.create(schema, backbone=arch["backbone"], d=int(arch["d"]), image_size=int(arch["image_size"]))
            head = build_head(arch.get("head", "diagonal"), model.encoder)
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{checkpoint.path / 'config.json'} does not describe an attribute model "
                                  f"({type(exc).__name__}: {exc}); retrain with {checkpoint.retrain_hint}") from exc
        weights = checkpoint.weights(map_location=device)
        checkpoint.load_into(model, "model", weights)
        checkpoint.load_into(head, "head", weights)
        model.to(device).eval()
        head.to(device).eval()
        return model, head

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def onehot(self, labels: torch.Tensor) -> torch.Tensor:
        """Value indices (B, A) -> (B, J) one-hot blocks, zero block for missing."""
        return labels_to_onehot(labels, self.schema.sizes).float()

    def indicator(self, ref_labels: torch.Tensor, target_labels: torch.Tensor) -> torch.Tensor:
        """i = onehot(target) - onehot(reference): -1 at old values, +1 at new ones, 0 elsewhere. (B, J)"""
        return self.onehot(target_labels) - self.onehot(ref_labels)

    @torch.inference_mode()
    def embed(self, images: torch.Tensor, prep: BatchPreprocessor, batch_size: int = 256) -> dict[str, np.ndarray]:
        """uint8 images (N, 3, S, S) -> raw embeddings (N, A*d), chunks (N, A, d), predictions (N, A) and
        per-type softmax probabilities (list of (N, n_a)); run in eval mode."""
        was_training = self.training
        self.eval()
        emb, preds, probs = [], [], [[] for _ in self.schema.sizes]
        for start in range(0, len(images), batch_size):
            out = self.encoder(prep(images[start:start + batch_size]))
            emb.append(out.embedding.float().cpu())
            preds.append(torch.stack([lg.argmax(1) for lg in out.logits], 1).cpu())
            for a, lg in enumerate(out.logits):
                probs[a].append(lg.float().softmax(1).cpu())
        self.train(was_training)
        embedding = torch.cat(emb).numpy() if emb else np.zeros((0, self.encoder.embedding_dim), np.float32)
        return {
            "embedding": embedding,
            "chunks": embedding.reshape(len(embedding), len(self.schema.sizes), self.encoder.d),
            "pred": torch.cat(preds).numpy() if preds else np.zeros((0, len(self.schema.sizes)), np.int64),
            "probs": [torch.cat(p).numpy() if p else np.zeros((0, n)) for p, n in zip(probs, self.schema.sizes)],
        }

    @torch.inference_mode()
    def manipulate(self, embedding: np.ndarray, ref_labels: np.ndarray, target_labels: np.ndarray) -> np.ndarray:
        """Raw embeddings (Q, A*d) moved by the memory: r + M (onehot(target) - onehot(ref)). (Q, A*d)"""
        r = torch.from_numpy(np.ascontiguousarray(embedding, dtype=np.float32)).to(self.device)
        ind = self.indicator(torch.as_tensor(ref_labels, device=self.device),
                             torch.as_tensor(target_labels, device=self.device))
        return self.memory.manipulate(r, ind).cpu().numpy()
