"""MODC: multi-scale embeddings over an attribute-specific network (MODC supplement; REFERENCE.md "MODC").

Three scales of space over one base network (ASEN, ASEN_v2 or ASEN++, ``models/asen.py``):

* the **universal** space: the backbone's pooled feature maps through a projector (trained by SimSiam);
* the **attribute-specific** spaces: the base network's embedding for attribute a;
* the **class-specific** spaces, one per class (a, v) (a value of an attribute): a small linear head on the
  attribute-specific embedding, trained with the instance-level loss among images of that class.

Losses (the project's pinned reading of what the supplement leaves open):

* instance-level = the base network's cosine triplet loss (margin 0.2) in the attribute-specific space;
* cluster-level  = per attribute, one learnable centre per value; cross-entropy over ``scale`` x cosine
  similarities to the attribute's centres (:class:`ClusterLoss`);
* self-supervision = SimSiam (Chen & He 2021) on two views in the universal space (:func:`simsiam_loss`).

Pseudo labels: the nearest value centre with its softmax confidence (:meth:`MODCNet.pseudo_labels`).
Prioritized retrieval: :func:`prioritized_order` (a pure function over similarities and pseudo labels).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from models.asen import ASENOutput, CosineTripletLoss, create_asen


class ClusterLoss(nn.Module):
    """Cluster-level loss: CE(scale * cos(x, centres of attribute a), value) with one learnable centre per
    (attribute, value); the centres are parameters of the loss (the optimizer includes them)."""

    def __init__(self, sizes: Sequence[int], dim: int, scale: float = 16.0) -> None:
        super().__init__()
        self.sizes = tuple(int(s) for s in sizes)
        self.offsets = tuple(int(o) for o in np.concatenate([[0], np.cumsum(self.sizes)[:-1]]))
        self.centres = nn.Parameter(torch.randn(sum(self.sizes), dim) * 0.1)  # (J, D)
        self.scale = scale

    def logits(self, emb: torch.Tensor, attr: torch.Tensor) -> torch.Tensor:
        """(B, D) unit embeddings of attributes ``attr`` (B,) -> (B, V_max) scaled cosines; values that the
        row's attribute does not have are -inf."""
        vmax = max(self.sizes)
        offsets = torch.tensor(self.offsets, device=emb.device)[attr]  # (B,)
        sizes = torch.tensor(self.sizes, device=emb.device)[attr]  # (B,)
        index = offsets[:, None] + torch.arange(vmax, device=emb.device)[None]  # (B, V_max)
        valid = torch.arange(vmax, device=emb.device)[None] < sizes[:, None]  # (B, V_max)
        centres = F.normalize(self.centres, dim=1)[index.clamp(max=self.centres.shape[0] - 1)]  # (B, V_max, D)
        cos = torch.einsum("bd,bvd->bv", F.normalize(emb, dim=1), centres)  # (B, V_max)
        return (self.scale * cos).masked_fill(~valid, float("-inf"))

    def forward(self, emb: torch.Tensor, attr: torch.Tensor, value: torch.Tensor,
                weight: torch.Tensor | None = None) -> torch.Tensor:
        ce = F.cross_entropy(self.logits(emb, attr), value, reduction="none")  # (B,)
        if weight is None:
            return ce.mean()
        return (ce * weight).sum() / weight.sum().clamp(min=1e-12)


def simsiam_loss(p1: torch.Tensor, z1: torch.Tensor, p2: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """SimSiam (Chen & He 2021, Eq. 2-3): D(p1, sg(z2)) / 2 + D(p2, sg(z1)) / 2 with D = -cos."""
    return -(F.cosine_similarity(p1, z2.detach(), dim=1).mean() + F.cosine_similarity(p2, z1.detach(), dim=1).mean()) / 2


class MODCNet(nn.Module):
    """A base attribute network with MODC's universal projector / predictor and class-specific heads."""

    def __init__(self, base: str, sizes: Sequence[int], universal_dim: int = 64, class_dim: int = 32,
                 cluster_scale: float = 16.0, **base_kw) -> None:
        super().__init__()
        self.sizes = tuple(int(s) for s in sizes)
        self.base = create_asen(base, len(self.sizes), **base_kw)
        dim = self.base.dim
        channels = self._maps_channels()
        self.projector = nn.Sequential(nn.Linear(channels, universal_dim), nn.BatchNorm1d(universal_dim),
                                       nn.ReLU(inplace=True), nn.Linear(universal_dim, universal_dim))
        self.predictor = nn.Sequential(nn.Linear(universal_dim, universal_dim // 2), nn.BatchNorm1d(universal_dim // 2),
                                       nn.ReLU(inplace=True), nn.Linear(universal_dim // 2, universal_dim))
        self.class_heads = nn.Parameter(torch.eye(dim, class_dim)[None].repeat(sum(self.sizes), 1, 1)
                                        + 0.01 * torch.randn(sum(self.sizes), dim, class_dim))  # (J, D, dc)
        self.cluster = ClusterLoss(self.sizes, dim, cluster_scale)
        self.offsets = self.cluster.offsets
        self.dim, self.class_dim = dim, class_dim

    def _maps_channels(self) -> int:
        branch = getattr(self.base, "branch", None) or self.base.global_branch
        return branch.backbone.feature_channels(branch.stage)

    # --- the three scales -----------------------------------------------------------------------------
    def feature_maps(self, images: torch.Tensor) -> torch.Tensor:
        return self.base.feature_maps(images)

    def attribute_space(self, maps: torch.Tensor, attr: torch.Tensor, images: torch.Tensor) -> ASENOutput:
        return self.base.from_maps(maps, attr, images)

    def universal(self, maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pooled maps -> (projection z, prediction p) in the universal space (SimSiam's two heads)."""
        z = self.projector(maps.mean((2, 3)))  # (B, U)
        return z, self.predictor(z)

    def class_space(self, emb: torch.Tensor, cls: torch.Tensor) -> torch.Tensor:
        """Attribute-specific embeddings (B, D) -> unit embeddings (B, dc) in the spaces of classes ``cls``
        (B,) (global class index = offset of the attribute + value)."""
        return F.normalize(torch.einsum("bd,bdk->bk", emb, self.class_heads[cls]), dim=1)

    def class_index(self, attr: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        return torch.tensor(self.offsets, device=attr.device)[attr] + value

    # --- pseudo labels ----------------------------------------------------------------------------------
    @torch.no_grad()
    def value_probabilities(self, emb: torch.Tensor, attr: torch.Tensor) -> torch.Tensor:
        """(B, V_max) softmax over the attribute's value centres (0 for values it does not have)."""
        return self.cluster.logits(emb, attr).softmax(1)

    @torch.no_grad()
    def pseudo_labels(self, emb: torch.Tensor, attr: torch.Tensor, top: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``top`` most likely values (B, top) and their confidences (B, top)."""
        probs = self.value_probabilities(emb, attr)
        conf, value = probs.topk(min(top, probs.shape[1]), dim=1)
        return value, conf


def instance_loss(triplet: CosineTripletLoss, a: torch.Tensor, p: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
    """Instance-level loss (the pinned reading): the base network's cosine triplet loss."""
    return triplet(a, p, n)


def prioritized_order(attr_sim: np.ndarray, class_sim: Sequence[np.ndarray], candidate_pseudo: np.ndarray,
                      query_classes: Sequence[int]) -> np.ndarray:
    """Prioritized retrieval for one query (the pinned reading of MODC):

    candidates whose pseudo label is ``query_classes[0]`` first, ranked by ``class_sim[0]`` (similarity in
    that class's space); then (top2) those whose pseudo label is ``query_classes[1]``, by ``class_sim[1]``;
    then every other candidate by ``attr_sim`` (attribute-specific similarity). Ties keep candidate order.
    ``attr_sim`` (G,), ``class_sim`` one (G,) per query class, ``candidate_pseudo`` (G,) -> order (G,).
    Candidate labels are never read: only their pseudo labels."""
    attr_sim = np.asarray(attr_sim)
    candidate_pseudo = np.asarray(candidate_pseudo)
    if len(class_sim) != len(query_classes):
        raise ValueError("one class-space similarity per prioritized query class")
    taken = np.zeros(len(attr_sim), dtype=bool)
    parts = []
    for sim, cls in zip(class_sim, query_classes):
        rows = np.nonzero((candidate_pseudo == cls) & ~taken)[0]
        taken[rows] = True
        parts.append(rows[np.argsort(-np.asarray(sim)[rows], kind="stable")])
    rest = np.nonzero(~taken)[0]
    parts.append(rest[np.argsort(-attr_sim[rest], kind="stable")])
    return np.concatenate(parts)
