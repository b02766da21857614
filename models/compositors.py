"""Compositors: (image feature, text feature) -> composed query feature.

One small contract (CONVENTIONS.md 2, after google/tirg's ``compose_img_text_features``): every compositor
is an ``nn.Module`` built as ``factory(img_dim, text_dim, **kw)`` whose ``forward(img_feat (B, D_img),
text_feat (B, D_text))`` returns ``(B, D_img)``, in the image feature space, so gallery features are computed
once and cached. Compositors work on pooled features, not feature maps.

Registry in the style of timm: ``register_compositor`` / ``create_compositor`` / ``list_compositors``.

* ``tirg``: Vo et al., "Composing Text and Image for Image Retrieval - An Empirical Odyssey", CVPR 2019.
* ``rtic``: Shin et al., "RTIC: Residual Learning for Text and Image Composition using Graph Convolutional
  Network", arXiv:2104.03015 (2021).
* ``concat``: the concatenation baseline of the TIRG paper.

All of them use BatchNorm1d like the reference implementations: train with batches of >= 2 samples, and
call ``.eval()`` before composing single queries.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

CompositorFactory = Callable[..., nn.Module]

_COMPOSITORS: dict[str, CompositorFactory] = {}


def register_compositor(fn: CompositorFactory | None = None, *, name: str | None = None):
    """Register a factory ``fn(img_dim: int, text_dim: int, **kw) -> nn.Module`` under ``name``.

    Usable as ``@register_compositor`` or ``@register_compositor(name="alias")``.
    """

    def _register(factory: CompositorFactory) -> CompositorFactory:
        key = name or factory.__name__
        if key in _COMPOSITORS:
            raise ValueError(f"compositor '{key}' is already registered")
        _COMPOSITORS[key] = factory
        return factory

    return _register(fn) if fn is not None else _register


def list_compositors() -> list[str]:
    """Names of the registered compositors, sorted."""
    return sorted(_COMPOSITORS)


def create_compositor(name: str, img_dim: int, text_dim: int, **kw) -> nn.Module:
    """Build compositor ``name`` for image features of size ``img_dim`` and text features of ``text_dim``."""
    if name not in _COMPOSITORS:
        raise ValueError(f"unknown compositor '{name}'; available: {', '.join(list_compositors())}")
    if int(img_dim) < 1 or int(text_dim) < 1:
        raise ValueError(f"img_dim and text_dim must be >= 1, got {img_dim} and {text_dim}")
    return _COMPOSITORS[name](int(img_dim), int(text_dim), **kw)


def _check_inputs(img_feat: torch.Tensor, text_feat: torch.Tensor, img_dim: int, text_dim: int) -> None:
    if img_feat.dim() != 2 or img_feat.shape[1] != img_dim:
        raise ValueError(f"image features must be (B, {img_dim}), got {tuple(img_feat.shape)}")
    if text_feat.dim() != 2 or text_feat.shape[1] != text_dim:
        raise ValueError(f"text features must be (B, {text_dim}), got {tuple(text_feat.shape)}")
    if img_feat.shape[0] != text_feat.shape[0]:
        raise ValueError(f"batch sizes differ: {img_feat.shape[0]} image vs {text_feat.shape[0]} text features")


class TIRG(nn.Module):
    """Text-Image Residual Gating (Vo et al., CVPR 2019, Sec. 3.2, Eq. 1-3).

    ``phi = w_g * f_gate(x, t) * x + w_r * f_res(x, t)`` with, on ``[x, t]``:
    ``f_gate = sigmoid(Linear(BN-ReLU))`` and ``f_res = Linear(ReLU(Linear(BN-ReLU)))`` (hidden = D_img +
    D_text). The learnable weights start at ``w_g = 1.0`` and ``w_r = 10.0``, as in google/tirg
    (``img_text_composition_models.py``, class ``TIRG``: ``self.a = [1.0, 10.0, 1.0, 1.0]``, of which
    ``a[0]`` scales the gated image and ``a[1]`` the residual); BrandonHanx/CompFashion keeps the same values.
    """

    def __init__(self, img_dim: int, text_dim: int, gate_weight: float = 1.0, residual_weight: float = 10.0) -> None:
        super().__init__()
        self.img_dim, self.text_dim = img_dim, text_dim
        joint = img_dim + text_dim
        self.gate = nn.Sequential(nn.BatchNorm1d(joint), nn.ReLU(), nn.Linear(joint, img_dim))
        self.residual = nn.Sequential(
            nn.BatchNorm1d(joint), nn.ReLU(), nn.Linear(joint, joint), nn.ReLU(), nn.Linear(joint, img_dim)
        )
        self.gate_weight = nn.Parameter(torch.tensor(float(gate_weight)))  # w_g
        self.residual_weight = nn.Parameter(torch.tensor(float(residual_weight)))  # w_r

    def forward(self, img_feat: torch.Tensor, text_feat: torch.Tensor) -> torch.Tensor:
        _check_inputs(img_feat, text_feat, self.img_dim, self.text_dim)
        joint = torch.cat([img_feat, text_feat], dim=1)  # (B, D_img + D_text)
        gated = torch.sigmoid(self.gate(joint)) * img_feat  # (B, D_img)
        return self.gate_weight * gated + self.residual_weight * self.residual(joint)  # (B, D_img)


class RTICFusionBlock(nn.Module):
    """RTIC fusion: ``Linear(LeakyReLU(BN([x, t])))`` -> ``(B, D_img)``."""

    def __init__(self, img_dim: int, text_dim: int) -> None:
        super().__init__()
        joint = img_dim + text_dim
        self.net = nn.Sequential(nn.BatchNorm1d(joint), nn.LeakyReLU(), nn.Linear(joint, img_dim))

    def forward(self, img_feat: torch.Tensor, text_feat: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([img_feat, text_feat], dim=1))  # (B, D_img)


class RTICErrorEncodingBlock(nn.Module):
    """RTIC error encoding: a bottleneck residual block ``f + MLP(f)``, MLP = D -> D/2 -> D/2 -> D
    (Linear-BN-LeakyReLU twice, then Linear)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        half = max(dim // 2, 1)
        self.net = nn.Sequential(
            nn.Linear(dim, half),
            nn.BatchNorm1d(half),
            nn.LeakyReLU(),
            nn.Linear(half, half),
            nn.BatchNorm1d(half),
            nn.LeakyReLU(),
            nn.Linear(half, dim),
        )

    def forward(self, fused: torch.Tensor) -> torch.Tensor:
        return fused + self.net(fused)  # (B, D)


class RTICGatingBlock(nn.Module):
    """RTIC gating: ``sigmoid(Linear(LeakyReLU(BN(Linear(f)))))`` -> gate in (0, 1), ``(B, D)``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim, dim), nn.BatchNorm1d(dim), nn.LeakyReLU(), nn.Linear(dim, dim), nn.Sigmoid()
        )

    def forward(self, fused: torch.Tensor) -> torch.Tensor:
        return self.net(fused)  # (B, D)


class RTIC(nn.Module):
    """Residual Text and Image Composer (Shin et al., arXiv:2104.03015, Sec. 3, Fig. 2).

    fusion ``f = F([x, t])`` -> ``n_blocks`` error-encoding blocks in sequence on ``f`` -> gating
    ``g = G(f)`` (computed from the fused feature) -> ``out = g * x + (1 - g) * E(f)``.

    Defaults follow the authors' code (nashory/rtic-gcn-pytorch, ``model/rtic.py``,
    ``RticCompositionModule``; ``cfg/default.yaml``: ``n_blocks: 4``, ``act_fn: LeakyReLU``). The error-encoding
    blocks are independent modules with their own weights: BrandonHanx/CompFashion
    (``lib/models/composition/rtic.py``) builds them as ``[block] * n``, one module applied four times,
    which REFERENCE.md (UIGR) flags as a bug.
    """

    def __init__(self, img_dim: int, text_dim: int, n_blocks: int = 4) -> None:
        super().__init__()
        if n_blocks < 1:
            raise ValueError(f"RTIC needs at least one error-encoding block, got n_blocks={n_blocks}")
        self.img_dim, self.text_dim = img_dim, text_dim
        self.fusion = RTICFusionBlock(img_dim, text_dim)
        self.error_encoding = nn.ModuleList(RTICErrorEncodingBlock(img_dim) for _ in range(n_blocks))
        self.gating = RTICGatingBlock(img_dim)

    def fuse(self, img_feat: torch.Tensor, text_feat: torch.Tensor) -> torch.Tensor:
        return self.fusion(img_feat, text_feat)  # (B, D)

    def encode_error(self, fused: torch.Tensor) -> torch.Tensor:
        for block in self.error_encoding:
            fused = block(fused)  # (B, D)
        return fused

    def forward(self, img_feat: torch.Tensor, text_feat: torch.Tensor) -> torch.Tensor:
        _check_inputs(img_feat, text_feat, self.img_dim, self.text_dim)
        fused = self.fuse(img_feat, text_feat)  # (B, D)
        gate = self.gating(fused)  # (B, D)
        return gate * img_feat + (1.0 - gate) * self.encode_error(fused)  # (B, D)


class ConcatCompositor(nn.Module):
    """Concatenation baseline of the TIRG paper (Vo et al., Sec. 4; google/tirg class ``Concat``):
    ``MLP(BN-ReLU-Linear(2D)-BN-ReLU-Dropout-Linear(D))`` on ``[x, t]``."""

    def __init__(self, img_dim: int, text_dim: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.img_dim, self.text_dim = img_dim, text_dim
        joint = img_dim + text_dim
        self.net = nn.Sequential(
            nn.BatchNorm1d(joint),
            nn.ReLU(),
            nn.Linear(joint, joint),
            nn.BatchNorm1d(joint),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(joint, img_dim),
        )

    def forward(self, img_feat: torch.Tensor, text_feat: torch.Tensor) -> torch.Tensor:
        _check_inputs(img_feat, text_feat, self.img_dim, self.text_dim)
        return self.net(torch.cat([img_feat, text_feat], dim=1))  # (B, D_img)


@register_compositor
def tirg(img_dim: int, text_dim: int, gate_weight: float = 1.0, residual_weight: float = 10.0) -> nn.Module:
    """TIRG gated residual composition (w_g = 1, w_r = 10 at init)."""
    return TIRG(img_dim, text_dim, gate_weight=gate_weight, residual_weight=residual_weight)


@register_compositor
def rtic(img_dim: int, text_dim: int, n_blocks: int = 4) -> nn.Module:
    """RTIC: fusion, four independent error-encoding blocks, gating."""
    return RTIC(img_dim, text_dim, n_blocks=n_blocks)


@register_compositor
def concat(img_dim: int, text_dim: int, dropout: float = 0.1) -> nn.Module:
    """Concatenation + MLP baseline."""
    return ConcatCompositor(img_dim, text_dim, dropout=dropout)
