"""Attribute-specific embedding networks: ASEN, ASEN_v2 and ASEN++ (REFERENCE.md "ASEN / MODC").

All three map ``(images (B, 3, S, S), attribute index (B,))`` to an L2-normalised embedding in that
attribute's space, from the feature maps of a registered backbone cut after a stage (ResNet50 ``layer3``
in the papers; the compact backbone's ``stage3`` for the CPU default):

* ``asen`` (Ma et al., AAAI 2020): attribute-aware spatial attention, softmax over the h x w positions of
  ``conv(tanh(conv(x)) * tanh(W_s onehot(a)))`` -> attended vector (C,); attribute-aware channel attention
  ``sigmoid(MLP([v; ReLU(W_c onehot(a))]))`` rescales it; Linear -> ``dim``; L2 norm.
* ``asen_v2``: ``nn.Embedding(A, hidden)`` for the attribute, spatial logits = ``<conv(x), e_a> / sqrt(hidden)``
  (scaled dot product), channel attention as ASEN; no final FC (the embedding is C-dimensional).
* ``asen_pp`` (Dong et al. 2021, ASEN++): ASEN's global branch plus a local branch on the square crop
  that the global attention selects (attention >= ``threshold`` x its maximum), embedded by a second
  backbone; score = 0.6 cos_global + 0.4 cos_local, i.e. the embedding is
  ``[sqrt(0.6) norm(g); sqrt(0.4) norm(l)]``.

Registry in timm's style: :func:`register_asen`, :func:`create_asen`, :func:`list_asen`.
Loss: :class:`CosineTripletLoss`, ``max(0, cos(a, n) - cos(a, p) + margin)`` with margin 0.2.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.backbones import create_backbone

GLOBAL_WEIGHT, LOCAL_WEIGHT = 0.6, 0.4  # ASEN++ score fusion (REFERENCE.md)


@dataclass
class ASENOutput:
    """``embedding`` (B, D) unit rows (the retrieval space); ``attention`` (B, h, w) sums to one per image;
    ``parts``: the branches' unit embeddings for ASEN++ (``global``, ``local``), else empty."""

    embedding: torch.Tensor
    attention: torch.Tensor
    parts: dict[str, torch.Tensor]


class CosineTripletLoss(nn.Module):
    """Triplet loss within one attribute (ASEN Eq. 9): mean of max(0, cos(a, n) - cos(a, p) + margin)."""

    def __init__(self, margin: float = 0.2) -> None:
        super().__init__()
        self.margin = margin

    def forward(self, anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
        cos_p = F.cosine_similarity(anchor, positive, dim=1)  # (B,)
        cos_n = F.cosine_similarity(anchor, negative, dim=1)  # (B,)
        return F.relu(cos_n - cos_p + self.margin).mean()


class OneHotSpatialAttention(nn.Module):
    """ASEN's attribute-aware spatial attention: softmax_positions(conv(tanh(conv x) * tanh(W onehot(a))))."""

    def __init__(self, channels: int, n_attributes: int, hidden: int) -> None:
        super().__init__()
        self.n_attributes = n_attributes
        self.feature = nn.Conv2d(channels, hidden, 1)
        self.attribute = nn.Linear(n_attributes, hidden)
        self.score = nn.Conv2d(hidden, 1, 1)

    def forward(self, x: torch.Tensor, attr: torch.Tensor) -> torch.Tensor:
        onehot = F.one_hot(attr, self.n_attributes).float()  # (B, A)
        a = torch.tanh(self.attribute(onehot))[:, :, None, None]  # (B, hidden, 1, 1)
        logits = self.score(torch.tanh(self.feature(x)) * a).flatten(1)  # (B, h*w)
        return logits.softmax(1).view(x.shape[0], *x.shape[2:])  # (B, h, w)


class DotProductSpatialAttention(nn.Module):
    """ASEN_v2's spatial attention: softmax_positions(<conv x, e_a> / sqrt(hidden)), e_a = Embedding(a)."""

    def __init__(self, channels: int, n_attributes: int, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.feature = nn.Conv2d(channels, hidden, 1)
        self.attribute = nn.Embedding(n_attributes, hidden)

    def forward(self, x: torch.Tensor, attr: torch.Tensor) -> torch.Tensor:
        keys = self.feature(x).flatten(2)  # (B, hidden, h*w)
        query = self.attribute(attr)  # (B, hidden)
        logits = torch.einsum("bc,bcp->bp", query, keys) / math.sqrt(self.hidden)  # (B, h*w)
        return logits.softmax(1).view(x.shape[0], *x.shape[2:])  # (B, h, w)


class ChannelAttention(nn.Module):
    """Attribute-aware channel attention (ASEN Eq. 5-6): v * sigmoid(MLP([v; ReLU(W onehot(a))]))."""

    def __init__(self, channels: int, n_attributes: int, hidden: int) -> None:
        super().__init__()
        self.n_attributes = n_attributes
        self.attribute = nn.Linear(n_attributes, channels)
        self.mlp = nn.Sequential(nn.Linear(2 * channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channels))

    def forward(self, v: torch.Tensor, attr: torch.Tensor) -> torch.Tensor:
        a = F.relu(self.attribute(F.one_hot(attr, self.n_attributes).float()))  # (B, C)
        return v * torch.sigmoid(self.mlp(torch.cat([v, a], 1)))  # (B, C)


class AttributeBranch(nn.Module):
    """Backbone feature maps -> attribute-conditioned spatial then channel attention -> (Linear) -> L2 norm."""

    def __init__(self, backbone: nn.Module, stage: str | None, n_attributes: int, spatial: str, hidden: int,
                 dim: int | None) -> None:
        super().__init__()
        self.backbone, self.stage = backbone, stage
        channels = backbone.feature_channels(stage)
        attention = {"onehot": OneHotSpatialAttention, "dot": DotProductSpatialAttention}[spatial]
        self.spatial = attention(channels, n_attributes, hidden)
        self.channel = ChannelAttention(channels, n_attributes, hidden)
        self.fc = nn.Linear(channels, dim) if dim else nn.Identity()
        self.dim = dim or channels

    def feature_maps(self, images: torch.Tensor) -> torch.Tensor:
        return self.backbone.forward_features(images, self.stage)  # (B, C, h, w)

    def attend(self, maps: torch.Tensor, attr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Feature maps (B, C, h, w) of one attribute each -> (unit embedding (B, D), attention (B, h, w))."""
        att = self.spatial(maps, attr)  # (B, h, w)
        v = torch.einsum("bchw,bhw->bc", maps, att)  # (B, C) attention-weighted sum
        v = self.channel(v, attr)  # (B, C)
        return F.normalize(self.fc(v), dim=1), att

    def forward(self, images: torch.Tensor, attr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.attend(self.feature_maps(images), attr)


class ASENNet(nn.Module):
    """ASEN and ASEN_v2: one :class:`AttributeBranch` (``spatial`` = "onehot" | "dot")."""

    def __init__(self, n_attributes: int, backbone: str = "compact", stage: str | None = "stage3",
                 spatial: str = "onehot", hidden: int = 128, dim: int | None = 64, pretrained: bool = False,
                 weights_path: str | None = None, **_: object) -> None:
        super().__init__()
        self.n_attributes = n_attributes
        bb = create_backbone(backbone, pretrained=pretrained, weights_path=weights_path)
        self.branch = AttributeBranch(bb, stage, n_attributes, spatial, hidden, dim)
        self.dim = self.branch.dim

    def feature_maps(self, images: torch.Tensor) -> torch.Tensor:
        """The attribute-independent part, computed once per image and shared by every attribute."""
        return self.branch.feature_maps(images)

    def from_maps(self, maps: torch.Tensor, attr: torch.Tensor, images: torch.Tensor | None = None) -> ASENOutput:
        emb, att = self.branch.attend(maps, attr)
        return ASENOutput(emb, att, {})

    def forward(self, images: torch.Tensor, attr: torch.Tensor) -> ASENOutput:
        return self.from_maps(self.feature_maps(images), attr, images)

    def auxiliary_loss(self, outs: tuple[ASENOutput, ASENOutput, ASENOutput], triplet: CosineTripletLoss) -> torch.Tensor:
        """Terms besides the triplet loss on ``embedding``: none for ASEN / ASEN_v2."""
        return outs[0].embedding.new_zeros(())


def attention_box(attention: torch.Tensor, threshold: float) -> torch.Tensor:
    """ASEN++'s crop: the square bounding box of positions with attention >= threshold x max, as
    (B, 4) = (cx, cy, half side) in [-1, 1] image coordinates plus a zero pad column."""
    b, h, w = attention.shape
    peak = attention.flatten(1).max(1).values[:, None, None]  # (B, 1, 1)
    mask = attention >= threshold * peak  # (B, h, w)
    ys = torch.linspace(-1 + 1 / h, 1 - 1 / h, h, device=attention.device)
    xs = torch.linspace(-1 + 1 / w, 1 - 1 / w, w, device=attention.device)
    rows, cols = mask.any(2), mask.any(1)  # (B, h), (B, w)
    big = 4.0
    y0 = torch.where(rows, ys, big).min(1).values - 1 / h
    y1 = torch.where(rows, ys, -big).max(1).values + 1 / h
    x0 = torch.where(cols, xs, big).min(1).values - 1 / w
    x1 = torch.where(cols, xs, -big).max(1).values + 1 / w
    half = torch.maximum(y1 - y0, x1 - x0).clamp(min=2.0 / max(h, w)) / 2  # (B,) square
    cx, cy = ((x0 + x1) / 2).clamp(-1 + half, 1 - half), ((y0 + y1) / 2).clamp(-1 + half, 1 - half)
    return torch.stack([cx, cy, half, torch.zeros_like(half)], 1)  # (B, 4)


def crop(images: torch.Tensor, box: torch.Tensor, size: int) -> torch.Tensor:
    """Resample the square ``box`` (from :func:`attention_box`) of each image to ``size`` x ``size``."""
    b = images.shape[0]
    theta = torch.zeros(b, 2, 3, device=images.device, dtype=images.dtype)
    theta[:, 0, 0] = box[:, 2]
    theta[:, 1, 1] = box[:, 2]
    theta[:, 0, 2] = box[:, 0]
    theta[:, 1, 2] = box[:, 1]
    grid = F.affine_grid(theta, (b, images.shape[1], size, size), align_corners=False)
    return F.grid_sample(images, grid, align_corners=False)  # (B, 3, size, size)


class ASENPlusPlus(nn.Module):
    """ASEN++: global ASEN branch + a local branch on the attention crop; fused 0.6 / 0.4 (REFERENCE.md).

    Training loss (ASEN++ stage 2): triplet on the fused embedding (the base trainer's) + ``local_weight`` x
    triplet on the local branch + ``consistency_weight`` x mean(1 - cos(g, l))."""

    def __init__(self, n_attributes: int, backbone: str = "compact", stage: str | None = "stage3",
                 hidden: int = 128, dim: int | None = 64, local_backbone: str | None = None,
                 local_size: int = 32, threshold: float = 0.4, local_weight: float = 0.1,
                 consistency_weight: float = 0.1, pretrained: bool = False, weights_path: str | None = None,
                 **_: object) -> None:
        super().__init__()
        self.n_attributes = n_attributes
        dim = dim or 64
        self.global_branch = AttributeBranch(create_backbone(backbone, pretrained=pretrained, weights_path=weights_path),
                                             stage, n_attributes, "onehot", hidden, dim)
        local_bb = create_backbone(local_backbone or backbone, pretrained=pretrained and local_backbone != "compact")
        self.local_branch = AttributeBranch(local_bb, stage if (local_backbone or backbone) == backbone else None,
                                            n_attributes, "onehot", hidden, dim)
        self.local_branch.spatial.attribute = self.global_branch.spatial.attribute  # one attribute embedding
        self.local_size, self.threshold = local_size, threshold
        self.local_weight, self.consistency_weight = local_weight, consistency_weight
        self.dim = 2 * dim

    def feature_maps(self, images: torch.Tensor) -> torch.Tensor:
        return self.global_branch.feature_maps(images)

    def from_maps(self, maps: torch.Tensor, attr: torch.Tensor, images: torch.Tensor | None = None) -> ASENOutput:
        if images is None:
            raise ValueError("ASEN++ needs the images for its local branch")
        g, att = self.global_branch.attend(maps, attr)  # (B, D), (B, h, w)
        box = attention_box(att.detach(), self.threshold)  # (B, 4), no gradient through the crop
        l, _ = self.local_branch(crop(images, box, self.local_size), attr)  # (B, D)
        fused = torch.cat([math.sqrt(GLOBAL_WEIGHT) * g, math.sqrt(LOCAL_WEIGHT) * l], 1)  # (B, 2D), unit norm
        return ASENOutput(fused, att, {"global": g, "local": l, "box": box})

    def forward(self, images: torch.Tensor, attr: torch.Tensor) -> ASENOutput:
        return self.from_maps(self.feature_maps(images), attr, images)

    def auxiliary_loss(self, outs: tuple[ASENOutput, ASENOutput, ASENOutput], triplet: CosineTripletLoss) -> torch.Tensor:
        a, p, n = (o.parts["local"] for o in outs)
        local = triplet(a, p, n)
        consistency = torch.stack([(1 - F.cosine_similarity(o.parts["global"], o.parts["local"], dim=1)).mean()
                                   for o in outs]).mean()
        return self.local_weight * local + self.consistency_weight * consistency


_NETWORKS: dict[str, Callable[..., nn.Module]] = {}


def register_asen(name: str):
    def _register(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _NETWORKS:
            raise ValueError(f"attribute network {name!r} is already registered")
        _NETWORKS[name] = factory
        return factory
    return _register


def list_asen() -> list[str]:
    return list(_NETWORKS)


def create_asen(name: str, n_attributes: int, **kw) -> nn.Module:
    """Build attribute-specific network ``name`` (``list_asen()``) for ``n_attributes`` attributes."""
    if name not in _NETWORKS:
        raise ValueError(f"unknown attribute network {name!r}; available: {', '.join(_NETWORKS)}")
    if n_attributes < 1:
        raise ValueError(f"an attribute network needs at least one attribute, got {n_attributes}")
    return _NETWORKS[name](n_attributes=n_attributes, **kw)


@register_asen("asen")
def asen(**kw) -> nn.Module:
    return ASENNet(spatial="onehot", **kw)


@register_asen("asen_v2")
def asen_v2(**kw) -> nn.Module:
    return ASENNet(spatial="dot", **{**kw, "dim": None})  # no final FC


@register_asen("asen_pp")
def asen_pp(**kw) -> nn.Module:
    return ASENPlusPlus(**kw)
