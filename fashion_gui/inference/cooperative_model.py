"""A trained cooperative-embeddings network (or one of its Table 3 baselines) as the engine, the evaluator and
the benchmark use it: uint8 images -> retrieval vectors (every subspace L2-normalised), the text-free query
prototypes (mean training vector of each attribute value / category, Sec. 4.2) and attribute predictions
(the nearest value prototype in the attribute's space)."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from fashion_gui.catalog.schema import AttributeSchema
from fashion_gui.inference.checkpoint import Checkpoint, CheckpointError
from fashion_gui.inference.preprocess import BatchPreprocessor
from models.cooperative import CooperativeNet

PREDICTION_TEMPERATURE = 0.1  # softmax over cosine / T to the value prototypes (the confidence shown)


class CooperativeModel:
    """The network with its schema, input size and architecture record."""

    def __init__(self, schema: AttributeSchema, net: CooperativeNet, image_size: int, backbone: str) -> None:
        self.schema, self.net, self.image_size, self.backbone = schema, net, int(image_size), backbone

    @classmethod
    def create(cls, schema: AttributeSchema, *, layout: str, n: int, backbone: str = "compact",
               pretrained: bool = False, backbone_weights: str | None = None, image_size: int = 64) -> CooperativeModel:
        net = CooperativeNet(schema.sizes, len(schema.categories), n=n, layout=layout, backbone=backbone,
                             pretrained=pretrained, backbone_weights=backbone_weights)
        return cls(schema, net, image_size, backbone)

    def architecture(self) -> dict[str, Any]:
        return {"layout": self.net.layout, "n": self.net.n, "backbone": self.backbone, "image_size": self.image_size,
                "attribute_sizes": self.schema.sizes, "categories": len(self.schema.categories)}

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint, device: torch.device) -> CooperativeModel:
        try:
            arch = checkpoint.config["architecture"]
            schema = AttributeSchema.from_dict(checkpoint.schema)
            model = cls.create(schema, layout=arch["layout"], n=int(arch["n"]), backbone=arch["backbone"],
                               image_size=int(arch["image_size"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{checkpoint.path / 'config.json'} does not describe a cooperative-embeddings "
                                  f"model ({type(exc).__name__}: {exc}); retrain with {checkpoint.retrain_hint}") from exc
        checkpoint.load_into(model.net, "model", checkpoint.weights(map_location=device))
        model.net.to(device).eval()
        return model

    # --- geometry --------------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @property
    def layout(self) -> str:
        return self.net.layout

    @property
    def n(self) -> int:
        return self.net.n

    @property
    def has_subspaces(self) -> bool:
        """Whether every attribute has its own subspace (not for the shared-space baselines)."""
        return self.net.layout != "shared"

    def space_mask(self, task: str, k: int | None = None) -> np.ndarray:
        return self.net.space_mask(task, k).cpu().numpy().astype(np.float32)

    # --- encoding --------------------------------------------------------------------------------------
    @torch.inference_mode()
    def embed(self, images: torch.Tensor, prep: BatchPreprocessor, batch_size: int = 256) -> np.ndarray:
        """uint8 (N, 3, S, S) -> retrieval vectors (N, D) (every block L2-normalised), in eval mode."""
        was = self.net.training
        self.net.eval()
        out = [self.net.retrieval(self.net(prep(images[s:s + batch_size]))).float().cpu()
               for s in range(0, len(images), batch_size)]
        self.net.train(was)
        return torch.cat(out).numpy() if out else np.zeros((0, self.net.dim), np.float32)

    # --- the text-free queries --------------------------------------------------------------------------
    def value_queries(self) -> tuple[np.ndarray, np.ndarray]:
        """(J, D) prototypes of every attribute value (zero outside its space) and (J,) whether any training
        image had the value."""
        return self.net.value_queries.cpu().numpy(), self.net.value_seen.cpu().numpy()

    def category_queries(self) -> tuple[np.ndarray, np.ndarray]:
        return self.net.category_queries.cpu().numpy(), self.net.category_seen.cpu().numpy()

    def predict(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per attribute type the value whose prototype is nearest (cosine in its space): predicted value
        (N, A), its softmax(cos / T) probability (N, A) and every value's probability (N, J)."""
        queries, seen = self.value_queries()
        sims = vectors @ queries.T  # (N, J)
        probs = np.zeros_like(sims)
        pred = np.zeros((len(vectors), len(self.schema.sizes)), np.int64)
        conf = np.zeros((len(vectors), len(self.schema.sizes)), np.float32)
        for a, (offset, size) in enumerate(zip(self.schema.offsets, self.schema.sizes)):
            block = sims[:, offset:offset + size] / PREDICTION_TEMPERATURE
            block = np.where(seen[offset:offset + size], block, -np.inf)
            if not np.isfinite(block).any():
                continue
            p = np.exp(block - block.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            probs[:, offset:offset + size] = p
            pred[:, a], conf[:, a] = p.argmax(1), p.max(1)
        return pred, conf, probs
