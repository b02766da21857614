"""Cooperative embeddings for instance, attribute and category retrieval (Thong, Snoek, Smeulders), and the
baselines of its Table 3 on the same backbone.

The network is a backbone followed by a linear projection to U = A_1 (+) ... (+) A_K: fixed, contiguous,
non-overlapping binary masks M_k give each attribute its n dimensions (Sec. 3.1). Retrieval L2-normalises
every subspace separately. The losses own their proxies (``nn.Parameter`` s, learned or fixed), so the
optimiser trains them with the network:

* :class:`InstanceProxyLoss` -- Eq. 1, softmax over -||f(x) - p_z||^2 against every instance proxy;
* :class:`AttributeProxyLoss` -- Eq. 2, per subspace over that attribute's value proxies, missing values
  left out, averaged over the K attributes as in Eq. 6;
* :class:`CategoryProxyLoss` -- Eq. 5, the category proxy c_y is the mean of its instance proxies (derived,
  so its gradient reaches the instance proxies);
* :class:`OrderedProxyRegulariser` -- Eq. 3-4, ||S - P||_F with S the proxies' cosine similarities and P a
  Gaussian kernel over the values' ranks;
* :func:`feature_regulariser` -- Eq. 7, lambda_reg ||f(x)||^2.

Baselines (Table 3): :class:`MultitaskLoss` (K attribute heads + a category head, optionally + an instance
triplet loss) and :class:`SubspaceTripletLoss` (Veit et al.'s concatenation of K + 2 subspaces, each
trained with a triplet loss).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.backbones import create_backbone
from models.losses import LabelTripletLoss

LAYOUTS = ("superspace", "concat", "shared")


def subspace_masks(num_subspaces: int, n: int) -> torch.Tensor:
    """Binary masks (K, K*n): mask k is one on dimensions [k*n, (k+1)*n) and zero elsewhere (Sec. 3.1)."""
    if num_subspaces < 1 or n < 1:
        raise ValueError(f"need at least one subspace of at least one dimension, got K={num_subspaces}, n={n}")
    masks = torch.zeros(num_subspaces, num_subspaces * n)
    for k in range(num_subspaces):
        masks[k, k * n:(k + 1) * n] = 1.0
    return masks


def normalize_subspaces(f: torch.Tensor, num_subspaces: int) -> torch.Tensor:
    """(B, K*n) -> each n-dim subspace L2-normalised (retrieval, Sec. 4.2)."""
    b = f.shape[0]
    return F.normalize(f.reshape(b, num_subspaces, -1), dim=2).reshape(b, -1)


def squared_distances(x: torch.Tensor, proxies: torch.Tensor) -> torch.Tensor:
    """(B, D), (P, D) -> (B, P) squared Euclidean distances D(x, p) = ||x - p||^2 (expanded, clamped at 0)."""
    return (x.pow(2).sum(1, keepdim=True) + proxies.pow(2).sum(1)[None, :] - 2.0 * x @ proxies.t()).clamp_min(0.0)


class CooperativeNet(nn.Module):
    """Backbone -> linear projection to ``blocks`` x ``n`` dimensions. ``layout`` says what the blocks are:
    ``superspace`` (the paper: one block per attribute, instances and categories in all of U), ``concat``
    (baseline c: the attribute blocks, then an instance and a category block), ``shared`` (baselines a, b:
    the blocks are one shared space)."""

    def __init__(self, sizes: Sequence[int], num_categories: int, n: int = 50, layout: str = "superspace",
                 backbone: str = "compact", pretrained: bool = False, backbone_weights: str | None = None) -> None:
        super().__init__()
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
        self.sizes = [int(s) for s in sizes]
        self.num_attributes, self.n, self.layout = len(self.sizes), int(n), layout
        self.blocks = self.num_attributes + (2 if layout == "concat" else 0)
        self.backbone = create_backbone(backbone, pretrained=pretrained, weights_path=backbone_weights)
        self.projection = nn.Linear(self.backbone.out_dim, self.blocks * self.n)
        self.register_buffer("masks", subspace_masks(self.blocks, self.n), persistent=False)
        # the text-free queries (Sec. 4.2): the mean training retrieval vector of each attribute value, masked
        # to its attribute's space, and of each category in the category space; set after training
        self.register_buffer("value_queries", torch.zeros(sum(self.sizes), self.dim))
        self.register_buffer("value_seen", torch.zeros(sum(self.sizes), dtype=torch.bool))
        self.register_buffer("category_queries", torch.zeros(num_categories, self.dim))
        self.register_buffer("category_seen", torch.zeros(num_categories, dtype=torch.bool))

    def space_mask(self, task: str, k: int | None = None) -> torch.Tensor:
        """(D,) 0/1: the dimensions a task is retrieved in. ``attribute`` k: its subspace (the whole space for
        the shared layout); ``instance`` and ``category``: the superspace, or their own block (concat)."""
        ones = torch.ones(self.dim, device=self.masks.device)
        if self.layout == "shared":
            return ones
        if task == "attribute":
            return self.masks[int(k)]
        if task in ("instance", "category"):
            return self.masks[self.num_attributes + (task == "category")] if self.layout == "concat" else ones
        raise ValueError(f"unknown task {task!r}")

    @torch.no_grad()
    def set_queries(self, vectors: torch.Tensor, labels: torch.Tensor, categories: torch.Tensor) -> None:
        """Query prototypes from training retrieval vectors (N, D), their value indices (N, K; -1 missing) and
        category indices (N,): per value the mean vector of the images having it, masked to its space."""
        offsets = [sum(self.sizes[:k]) for k in range(self.num_attributes)]
        self.value_queries.zero_(), self.value_seen.zero_()
        self.category_queries.zero_(), self.category_seen.zero_()
        for k, (offset, size) in enumerate(zip(offsets, self.sizes)):
            mask = self.space_mask("attribute", k)
            for v in range(size):
                rows = labels[:, k] == v
                if bool(rows.any()):
                    self.value_queries[offset + v] = vectors[rows].mean(0) * mask
                    self.value_seen[offset + v] = True
        mask = self.space_mask("category")
        for c in range(len(self.category_queries)):
            rows = categories == c
            if bool(rows.any()):
                self.category_queries[c] = vectors[rows].mean(0) * mask
                self.category_seen[c] = True

    @property
    def dim(self) -> int:
        return self.blocks * self.n

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, S, S) -> f(x) (B, blocks * n), unnormalised (the losses work on it)."""
        return self.projection(self.backbone(images))

    def retrieval(self, f: torch.Tensor) -> torch.Tensor:
        """f(x) -> the retrieval vector: every block L2-normalised (one block for the shared layout)."""
        return normalize_subspaces(f, self.blocks if self.layout != "shared" else 1)

    def block(self, f: torch.Tensor, k: int) -> torch.Tensor:
        """M_k (.) f restricted to block k's n dimensions: (B, n)."""
        return f[:, k * self.n:(k + 1) * self.n]


class InstanceProxyLoss(nn.Module):
    """Eq. 1: L_Ins = -log softmax_z(-||f(x) - p_z||^2)[i] over all instance proxies, in the superspace."""

    def __init__(self, num_instances: int, dim: int, learned: bool = True, std: float = 0.1) -> None:
        super().__init__()
        self.proxies = nn.Parameter(torch.randn(num_instances, dim) * std, requires_grad=learned)

    def forward(self, f: torch.Tensor, instance: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(-squared_distances(f, self.proxies), instance)


class AttributeProxyLoss(nn.Module):
    """Eq. 2 per attribute k in its subspace (masked distances to a_{k,v}); images without a value for k are
    left out of L_Attr_k; returns (1/K) sum_k L_Attr_k (Eq. 6), an attribute with no value in the batch
    adding 0."""

    def __init__(self, sizes: Sequence[int], n: int, learned: bool = True, std: float = 0.1) -> None:
        super().__init__()
        self.n = int(n)
        self.proxies = nn.ParameterList([nn.Parameter(torch.randn(int(s), self.n) * std, requires_grad=learned)
                                         for s in sizes])

    def logits(self, f: torch.Tensor, k: int) -> torch.Tensor:
        """-D_{M_k}(f(x), a_{k,v}) for every value v of attribute k: (B, n_k)."""
        return -squared_distances(f[:, k * self.n:(k + 1) * self.n], self.proxies[k])

    def per_attribute(self, f: torch.Tensor, labels: torch.Tensor) -> list[torch.Tensor | None]:
        out: list[torch.Tensor | None] = []
        for k in range(len(self.proxies)):
            present = labels[:, k] >= 0
            out.append(F.cross_entropy(self.logits(f[present], k), labels[present, k]) if bool(present.any())
                       else None)
        return out

    def forward(self, f: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if labels.dim() != 2 or labels.shape[1] != len(self.proxies):
            raise ValueError(f"labels must be (B, {len(self.proxies)}), got {tuple(labels.shape)}")
        terms = [t for t in self.per_attribute(f, labels) if t is not None]
        return sum(terms, f.sum() * 0.0) / len(self.proxies)


class CategoryProxyLoss(nn.Module):
    """Eq. 5 with c_y = (1/|Y|) sum_{i in Y} p_i: the category proxies are the means of the instance proxies
    (derived, no parameters of their own). Categories without a training instance are left out of the
    softmax."""

    def __init__(self, instance_category: torch.Tensor, num_categories: int) -> None:
        super().__init__()
        cat = torch.as_tensor(instance_category, dtype=torch.long)
        member = torch.zeros(num_categories, len(cat))
        member[cat, torch.arange(len(cat))] = 1.0
        counts = member.sum(1, keepdim=True)
        self.register_buffer("mean_matrix", member / counts.clamp_min(1.0))  # (C, I): c = mean_matrix @ p
        self.register_buffer("present", counts[:, 0] > 0)

    def proxies(self, instance_proxies: torch.Tensor) -> torch.Tensor:
        return self.mean_matrix @ instance_proxies  # (C, D)

    def forward(self, f: torch.Tensor, category: torch.Tensor, instance_proxies: torch.Tensor) -> torch.Tensor:
        logits = -squared_distances(f, self.proxies(instance_proxies))  # (B, C)
        logits = logits.masked_fill(~self.present, float("-inf"))
        return F.cross_entropy(logits, category)


def rank_kernel(num_values: int, sigma: float = 1.0) -> torch.Tensor:
    """Eq. 3: P_uv = exp(-(r_u - r_v)^2 / (2 sigma^2)) over the ranks 0..V-1 of an ordered attribute."""
    r = torch.arange(num_values, dtype=torch.float32)
    return torch.exp(-(r[:, None] - r[None, :]) ** 2 / (2.0 * sigma ** 2))


class OrderedProxyRegulariser(nn.Module):
    """Eq. 4: R_Order = ||S - P||_F per ordered attribute (S: cosine similarities of its value proxies),
    summed over the ordered attributes."""

    def __init__(self, ordered: Sequence[int], sizes: Sequence[int], sigma: float = 1.0) -> None:
        super().__init__()
        self.ordered = [int(k) for k in ordered]
        for k in self.ordered:
            self.register_buffer(f"prior_{k}", rank_kernel(int(sizes[k]), sigma))

    def forward(self, attribute_proxies: Sequence[torch.Tensor]) -> torch.Tensor:
        total = attribute_proxies[0].sum() * 0.0
        for k in self.ordered:
            p = F.normalize(attribute_proxies[k], dim=1)
            total = total + torch.linalg.norm(p @ p.t() - getattr(self, f"prior_{k}"), ord="fro")
        return total


def feature_regulariser(f: torch.Tensor) -> torch.Tensor:
    """Eq. 7's ||f(x)||^2, averaged over the batch (multiplied by lambda_reg by the caller)."""
    return f.pow(2).sum(1).mean()


@dataclass
class CooperativeWeights:
    """Eq. 6-7 trade-offs (paper: all 1, lambda_reg = 0.5); ``order`` weighs R_Order (not given in the paper)."""

    instance: float = 1.0
    attribute: float = 1.0
    category: float = 1.0
    reg: float = 0.5
    order: float = 1.0


class CooperativeLoss(nn.Module):
    """L = l_ins L_Ins + (l_attr / K) sum_k L_Attr_k + l_cat L_Cat + l_reg ||f||^2 (+ l_order R_Order)."""

    def __init__(self, sizes: Sequence[int], n: int, instance_category: torch.Tensor, num_categories: int,
                 weights: CooperativeWeights, ordered: Sequence[int] = (), sigma: float = 1.0,
                 learn_instance: bool = True, learn_attribute: bool = True, proxy_std: float = 0.1) -> None:
        super().__init__()
        self.weights = weights
        self.instance = InstanceProxyLoss(len(instance_category), len(sizes) * n, learn_instance, proxy_std)
        self.attribute = AttributeProxyLoss(sizes, n, learn_attribute, proxy_std)
        self.category = CategoryProxyLoss(instance_category, num_categories)
        self.order = OrderedProxyRegulariser(ordered, sizes, sigma)

    def forward(self, f: torch.Tensor, instance: torch.Tensor, labels: torch.Tensor,
                category: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        w = self.weights
        total, logs = f.sum() * 0.0, {}
        if w.instance:
            ins = self.instance(f, instance)
            total, logs["ins"] = total + w.instance * ins, ins.item()
        if w.attribute:
            attr = self.attribute(f, labels)
            total, logs["attr"] = total + w.attribute * attr, attr.item()
        if w.category:
            cat = self.category(f, category, self.instance.proxies)
            total, logs["cat"] = total + w.category * cat, cat.item()
        if w.reg:
            reg = feature_regulariser(f)
            total, logs["reg"] = total + w.reg * reg, reg.item()
        if w.order and self.order.ordered:
            order = self.order(list(self.attribute.proxies))
            total, logs["order"] = total + w.order * order, order.item()
        return total, logs

    def proxy_parameters(self) -> list[nn.Parameter]:
        return [self.instance.proxies, *self.attribute.proxies]


class MultitaskLoss(nn.Module):
    """Baseline (a): K attribute classification heads + one category head on the shared embedding (mean CE
    over the attributes, missing values left out, + CE of the category); ``triplet_weight`` > 0 adds
    baseline (b)'s instance triplet loss (semi-hard, L2-normalised embedding)."""

    def __init__(self, dim: int, sizes: Sequence[int], num_categories: int, triplet_weight: float = 0.0,
                 margin: float = 0.2) -> None:
        super().__init__()
        self.heads = nn.ModuleList([nn.Linear(dim, int(s)) for s in sizes])
        self.category_head = nn.Linear(dim, num_categories)
        self.triplet_weight = float(triplet_weight)
        self.triplet = LabelTripletLoss(margin)

    def forward(self, f: torch.Tensor, instance: torch.Tensor, labels: torch.Tensor,
                category: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        terms = []
        for k, head in enumerate(self.heads):
            present = labels[:, k] >= 0
            if bool(present.any()):
                terms.append(F.cross_entropy(head(f[present]), labels[present, k]))
        attr = sum(terms, f.sum() * 0.0) / len(self.heads)
        cat = F.cross_entropy(self.category_head(f), category)
        total, logs = attr + cat, {"attr": attr.item(), "cat": cat.item()}
        if self.triplet_weight:
            tri = self.triplet(f, instance)
            total, logs["triplet"] = total + self.triplet_weight * tri, tri.item()
        return total, logs


class SubspaceTripletLoss(nn.Module):
    """Baseline (c) (Veit et al.'s concatenation): K attribute subspaces + an instance and a category
    subspace, each trained with a semi-hard triplet loss on its own labels (missing values left out);
    (1/K) sum over attributes + instance + category, mirroring Eq. 6."""

    def __init__(self, num_attributes: int, n: int, margin: float = 0.2) -> None:
        super().__init__()
        self.k, self.n = int(num_attributes), int(n)
        self.triplet = LabelTripletLoss(margin)

    def _block(self, f: torch.Tensor, b: int) -> torch.Tensor:
        return f[:, b * self.n:(b + 1) * self.n]

    def forward(self, f: torch.Tensor, instance: torch.Tensor, labels: torch.Tensor,
                category: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        terms = []
        for k in range(self.k):
            present = labels[:, k] >= 0
            if int(present.sum()) >= 2:
                terms.append(self.triplet(self._block(f[present], k), labels[present, k]))
        attr = sum(terms, f.sum() * 0.0) / self.k
        ins = self.triplet(self._block(f, self.k), instance)
        cat = self.triplet(self._block(f, self.k + 1), category)
        return attr + ins + cat, {"attr": attr.item(), "ins": ins.item(), "cat": cat.item()}


def default_proxy_std(n: int) -> float:
    """Proxies start with about unit norm per subspace (std 1/sqrt(n))."""
    return 1.0 / math.sqrt(n)
