"""An attribute-specific retrieval model ready for inference: ASEN, ASEN_v2, ASEN++ (``models/asen.py``) or
MODC over one of them (``models/modc.py``), with the catalog schema it was trained on.

:meth:`AttributeSpecificModel.embed` gives every image's unit embedding in every attribute's space
(N, A, D); for MODC also the pseudo labels (the two most likely values per attribute, with their
confidences) and the class-specific projections used by prioritized retrieval.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from fashion_gui.catalog.schema import AttributeSchema
from fashion_gui.inference.checkpoint import Checkpoint, CheckpointError
from fashion_gui.inference.preprocess import BatchPreprocessor
from models.asen import create_asen
from models.modc import MODCNet

DEFAULT_STAGE = {"compact": "stage3", "resnet18": "layer3", "resnet50": "layer3", "alexnet": None}


def build_network(architecture: dict[str, Any], sizes: tuple[int, ...]) -> nn.Module:
    """The network a checkpoint's ``architecture`` describes (``modc`` true: MODC over ``network``)."""
    kw = {k: architecture[k] for k in ("backbone", "stage", "hidden", "dim", "local_size", "threshold",
                                       "local_weight", "consistency_weight", "pretrained", "weights_path")
          if k in architecture}
    if architecture.get("modc"):
        return MODCNet(architecture["network"], sizes, universal_dim=architecture["universal_dim"],
                       class_dim=architecture["class_dim"], cluster_scale=architecture["cluster_scale"], **kw)
    return create_asen(architecture["network"], len(sizes), **kw)


class AttributeSpecificModel(nn.Module):
    """A trained network + its schema and image size; ``modc`` when it has MODC's heads."""

    def __init__(self, schema: AttributeSchema, net: nn.Module, image_size: int, architecture: dict[str, Any]) -> None:
        super().__init__()
        self.schema, self.net, self.image_size = schema, net, image_size
        self.architecture = architecture
        self.modc = isinstance(net, MODCNet)
        self.base = net.base if self.modc else net
        self._heads, self._heads_version = None, -1

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint, device: torch.device) -> AttributeSpecificModel:
        try:
            arch = dict(checkpoint.config["architecture"])
            schema = AttributeSchema.from_dict(checkpoint.schema)
            net = build_network({**arch, "pretrained": False, "weights_path": None}, tuple(schema.sizes))
            image_size = int(checkpoint.config["image_size"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{checkpoint.path / 'config.json'} does not describe an attribute-specific "
                                  f"model ({type(exc).__name__}: {exc}); retrain with {checkpoint.retrain_hint}") from exc
        checkpoint.load_into(net, "model", checkpoint.weights(map_location=device))
        model = cls(schema, net, image_size, arch)
        return model.to(device).eval()

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @property
    def dim(self) -> int:
        return int(self.base.dim)

    @torch.inference_mode()
    def embed(self, images: torch.Tensor, prep: BatchPreprocessor, batch_size: int = 128,
              attributes: list[int] | None = None) -> dict[str, np.ndarray]:
        """uint8 (N, 3, S, S) -> ``embedding`` (N, A', D) unit rows per attribute (A' = ``attributes`` or all);
        MODC also ``pseudo`` (N, A', 2) value indices and ``confidence`` (N, A', 2)."""
        attrs = list(range(len(self.schema.types))) if attributes is None else list(attributes)
        self.net.eval()
        embs, pseudo, conf = [], [], []
        for s in range(0, len(images), batch_size):
            x = prep(images[s:s + batch_size])  # (b, 3, S, S)
            maps = self.net.feature_maps(x)  # (b, C, h, w)
            e_b, p_b, c_b = [], [], []
            for a in attrs:
                attr = torch.full((len(x),), a, dtype=torch.long, device=x.device)
                out = self.base.from_maps(maps, attr, x)
                e_b.append(out.embedding.float())
                if self.modc:
                    v, c = self.net.pseudo_labels(out.embedding.float(), attr, top=2)
                    if v.shape[1] == 1:  # a one-value attribute
                        v, c = torch.cat([v, v], 1), torch.cat([c, torch.zeros_like(c)], 1)
                    p_b.append(v)
                    c_b.append(c)
            embs.append(torch.stack(e_b, 1).cpu())  # (b, A', D)
            if self.modc:
                pseudo.append(torch.stack(p_b, 1).cpu())
                conf.append(torch.stack(c_b, 1).cpu())
        out = {"embedding": torch.cat(embs).numpy().astype(np.float32)}
        if self.modc:
            out["pseudo"] = torch.cat(pseudo).numpy().astype(np.int64)
            out["confidence"] = torch.cat(conf).numpy().astype(np.float32)
        return out

    @torch.inference_mode()
    def class_space(self, embedding: np.ndarray, attribute: int, value: int) -> np.ndarray:
        """Attribute-specific unit embeddings (n, D) -> unit vectors in the class space of (attribute, value)."""
        if not self.modc:
            raise ValueError("only MODC models have class-specific spaces")
        if getattr(self, "_heads", None) is None or self._heads_version != self.net.class_heads._version:
            self._heads = self.net.class_heads.detach().float().cpu().numpy()  # (J, D, dc), cached
            self._heads_version = self.net.class_heads._version
        x = np.asarray(embedding, np.float32) @ self._heads[self.net.offsets[attribute] + value]  # (n, dc)
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
