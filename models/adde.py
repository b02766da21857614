"""Attribute-Driven Disentangled Encoder (ADDE).

Hou et al., "Learning Attribute-driven Disentangled Representations for Interactive Fashion
Retrieval", ICCV 2021, Sec. 3.1; supplementary Table 1 and Sec. 1 (papers/adde-supplementary.md).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping, NamedTuple, Sequence

import torch
import torch.nn as nn

from models.backbones import create_backbone


@dataclass
class ADDEConfig:
    """Settings of one ADDE encoder; saved beside every checkpoint (``to_dict`` / ``from_dict``)."""

    attribute_sizes: list[int] = field(default_factory=list)  # values per attribute type (Shopping100k: 12 types, 151 values)
    backbone: str = "alexnet"  # registry name (models.list_backbones()); "compact" for the CPU demo
    d: int = 340  # size of each attribute-specific chunk (supp. Sec. 2: d = 340 for all datasets)
    dropout: float = 0.0  # dropout on backbone features before the learners; 0 = as in the paper
    pretrained_backbone: bool = False  # torchvision ImageNet weights (downloads)
    backbone_weights_path: str | None = None  # local backbone state-dict file instead of downloading

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ADDEConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown ADDEConfig field(s) {unknown}; expected a subset of {sorted(known)}")
        return cls(**dict(data))


class ADDEOutput(NamedTuple):
    chunks: torch.Tensor  # (B, A, d) attribute-specific embeddings r_a
    embedding: torch.Tensor  # (B, A*d) their concatenation r
    logits: list[torch.Tensor]  # A tensors (B, n_a): attribute predictor outputs (before softmax)


class ADDEEncoder(nn.Module):
    """Backbone -> per attribute type a: learner phi_a and attribute predictor (ADDE Sec. 3.1).

    ``phi_a = Linear(F, d) - ReLU - Linear(d, d)`` maps the pooled backbone feature to the chunk r_a;
    the predictor ``Linear(d, n_a)`` classifies r_a into the values of type a (supp. Table 1, rows 3-4).
    The embedding r is the concatenation of the A chunks (A*d; Shopping100k 12 x 340 = 4080).
    """

    def __init__(
        self,
        attribute_sizes: Sequence[int],
        backbone: str | nn.Module = "alexnet",
        d: int = 340,
        dropout: float = 0.0,
        pretrained_backbone: bool = False,
        backbone_weights_path: str | None = None,
    ) -> None:
        super().__init__()
        if len(attribute_sizes) == 0:
            raise ValueError("ADDEEncoder needs at least one attribute type (attribute_sizes is empty)")
        if any(int(n) < 1 for n in attribute_sizes):
            raise ValueError(f"every attribute type needs at least one value, got sizes {list(attribute_sizes)}")
        if isinstance(backbone, str):
            backbone = create_backbone(backbone, pretrained=pretrained_backbone, weights_path=backbone_weights_path)
        if not hasattr(backbone, "out_dim"):
            raise ValueError("the backbone module must expose .out_dim (its pooled feature size)")
        self.attribute_sizes = [int(n) for n in attribute_sizes]
        self.d = int(d)
        self.backbone = backbone
        feat_dim = int(backbone.out_dim)
        self.dropout = nn.Dropout(dropout)
        self.learners = nn.ModuleList(
            nn.Sequential(nn.Linear(feat_dim, self.d), nn.ReLU(inplace=True), nn.Linear(self.d, self.d))
            for _ in self.attribute_sizes
        )
        self.classifiers = nn.ModuleList(nn.Linear(self.d, n) for n in self.attribute_sizes)

    @classmethod
    def from_config(cls, config: ADDEConfig) -> "ADDEEncoder":
        return cls(
            config.attribute_sizes,
            backbone=config.backbone,
            d=config.d,
            dropout=config.dropout,
            pretrained_backbone=config.pretrained_backbone,
            backbone_weights_path=config.backbone_weights_path,
        )

    @property
    def num_attributes(self) -> int:
        return len(self.attribute_sizes)

    @property
    def embedding_dim(self) -> int:
        return self.num_attributes * self.d

    def extract_features(self, images: torch.Tensor) -> torch.Tensor:
        """Backbone only: ``(B, 3, H, W)`` -> ``(B, F)``; cache these to train the heads alone."""
        return self.backbone(images)  # (B, F)

    def learn_chunks(self, features: torch.Tensor) -> torch.Tensor:
        """Attribute-specific learners phi_a: ``(B, F)`` -> ``(B, A, d)``."""
        features = self.dropout(features)  # (B, F)
        return torch.stack([phi(features) for phi in self.learners], dim=1)  # (B, A, d)

    def classify(self, chunks: torch.Tensor) -> list[torch.Tensor]:
        """Attribute predictors on chunks ``(B, A, d)`` (or an embedding ``(B, A*d)``): A x ``(B, n_a)``."""
        chunks = self.split_embedding(chunks)  # (B, A, d)
        return [clf(chunks[:, a]) for a, clf in enumerate(self.classifiers)]

    def split_embedding(self, embedding: torch.Tensor) -> torch.Tensor:
        """``(B, A*d)`` -> ``(B, A, d)``; chunks pass through unchanged."""
        if embedding.dim() == 3:
            if embedding.shape[1:] != (self.num_attributes, self.d):
                raise ValueError(f"chunks must be (B, {self.num_attributes}, {self.d}), got {tuple(embedding.shape)}")
            return embedding
        if embedding.dim() != 2 or embedding.shape[1] != self.embedding_dim:
            raise ValueError(f"embedding must be (B, {self.embedding_dim}), got {tuple(embedding.shape)}")
        return embedding.view(embedding.shape[0], self.num_attributes, self.d)  # (B, A, d)

    def forward_features(self, features: torch.Tensor) -> ADDEOutput:
        """Heads only, on precomputed backbone features ``(B, F)``."""
        chunks = self.learn_chunks(features)  # (B, A, d)
        embedding = chunks.flatten(1)  # (B, A*d)
        return ADDEOutput(chunks=chunks, embedding=embedding, logits=self.classify(chunks))

    def forward(self, images: torch.Tensor) -> ADDEOutput:
        return self.forward_features(self.extract_features(images))
