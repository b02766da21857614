"""ADDE-O: outfit complementary item retrieval on top of ADDE's attribute-specific chunks.

Hou et al., ADDE (ICCV 2021), Sec. 3.4 and supplementary Sec. 1, Table 1 rows 6-7
(papers/adde-supplementary.md): per attribute type a an outfit learner ``psi_a = Linear(d, d)`` on ADDE's
chunk r_a (the representation before the attribute softmax); a category attention learner
``kappa = Linear(2C, 256) - ReLU - Linear(256, A) - Softmax`` on the concatenated one-hot reference and
target categories (Polyvore: C = 11 -> input 22, A = 5 attribute types shared with Shopping100k).
Training follows CSA-Net (Lin et al., CVPR 2020): ranking loss with margin 0.3 (supp. Sec. 2).

Compatibility distance (the form pinned for this project):
``D(x, y | c_x, c_y) = sum_a kappa_a(c_x, c_y) * || psi_a(x_a) - psi_a(y_a) ||^2``.
Only the supplementary is in ``papers/``; the main paper's Sec. 3.4 equation could not be checked here, so
``squared=False`` switches to plain (non-squared) per-type Euclidean distances.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class OutfitCompatibilityHead(nn.Module):
    """psi_a per attribute type and the category attention kappa (ADDE supp. Table 1, rows 6-7).

    Args:
        num_categories: C, number of garment categories (one-hot size of each category).
        num_attributes: A, attribute types used for compatibility (ADDE-O: 5).
        d: chunk size of the ADDE encoder (340).
        attention_hidden: hidden width of kappa (256).
        attribute_indices: optional positions of the A types among the encoder's chunks (e.g. the 5 of
            Shopping100k's 12 that Polyvore shares); chunks ``(B, A_enc, d)`` are then selected first.
        squared: squared per-type Euclidean distances (default) or plain ones.
    """

    def __init__(
        self,
        num_categories: int,
        num_attributes: int,
        d: int = 340,
        attention_hidden: int = 256,
        attribute_indices: Sequence[int] | None = None,
        squared: bool = True,
    ) -> None:
        super().__init__()
        if num_categories < 1 or num_attributes < 1 or d < 1:
            raise ValueError(
                f"num_categories, num_attributes and d must be >= 1, got {num_categories}, {num_attributes}, {d}"
            )
        if attribute_indices is not None and len(attribute_indices) != num_attributes:
            raise ValueError(
                f"attribute_indices lists {len(attribute_indices)} types but num_attributes is {num_attributes}"
            )
        self.num_categories = int(num_categories)
        self.num_attributes = int(num_attributes)
        self.d = int(d)
        self.squared = bool(squared)
        if attribute_indices is not None:
            self.register_buffer("attribute_indices", torch.tensor(list(attribute_indices), dtype=torch.long))
        else:
            self.attribute_indices = None
        self.psi = nn.ModuleList(nn.Linear(self.d, self.d) for _ in range(self.num_attributes))
        self.kappa = nn.Sequential(
            nn.Linear(2 * self.num_categories, attention_hidden), nn.ReLU(), nn.Linear(attention_hidden, self.num_attributes)
        )

    def select(self, chunks: torch.Tensor) -> torch.Tensor:
        """ADDE chunks ``(B, A_enc, d)`` (or ``(B, A_enc*d)``) -> the A compatibility types ``(B, A, d)``."""
        if chunks.dim() == 2:
            if chunks.shape[1] % self.d != 0:
                raise ValueError(f"embedding width {chunks.shape[1]} is not a multiple of d = {self.d}")
            chunks = chunks.view(chunks.shape[0], -1, self.d)  # (B, A_enc, d)
        if chunks.dim() != 3 or chunks.shape[2] != self.d:
            raise ValueError(f"chunks must be (B, A, {self.d}), got {tuple(chunks.shape)}")
        if self.attribute_indices is not None:
            chunks = chunks.index_select(1, self.attribute_indices)  # (B, A, d)
        if chunks.shape[1] != self.num_attributes:
            raise ValueError(f"expected {self.num_attributes} attribute chunks, got {chunks.shape[1]}")
        return chunks

    def outfit_chunks(self, chunks: torch.Tensor) -> torch.Tensor:
        """Attribute-specific outfit representations ``psi_a(r_a)``: ``(B, A, d)``."""
        chunks = self.select(chunks)  # (B, A, d)
        return torch.stack([psi(chunks[:, a]) for a, psi in enumerate(self.psi)], dim=1)  # (B, A, d)

    def attention(self, ref_category: torch.Tensor, target_category: torch.Tensor) -> torch.Tensor:
        """kappa: category indices ``(B,)``, ``(B,)`` -> weights over attribute types ``(B, A)``, rows sum to 1."""
        for name, cat in (("ref_category", ref_category), ("target_category", target_category)):
            if cat.dim() != 1 or bool(((cat < 0) | (cat >= self.num_categories)).any()):
                raise ValueError(
                    f"{name} must be (B,) category indices in [0, {self.num_categories - 1}], "
                    f"got shape {tuple(cat.shape)} with values in [{int(cat.min())}, {int(cat.max())}]"
                )
        dtype = self.kappa[0].weight.dtype
        pair = torch.cat(
            [F.one_hot(ref_category.long(), self.num_categories), F.one_hot(target_category.long(), self.num_categories)],
            dim=1,
        ).to(dtype)  # (B, 2C)
        return torch.softmax(self.kappa(pair), dim=1)  # (B, A)

    def type_distances(self, ref_chunks: torch.Tensor, target_chunks: torch.Tensor) -> torch.Tensor:
        """Per-type distances ``||psi_a(x_a) - psi_a(y_a)||^2`` (or plain norms): ``(B, A)``."""
        diff = self.outfit_chunks(ref_chunks) - self.outfit_chunks(target_chunks)  # (B, A, d)
        sq = diff.pow(2).sum(dim=2)  # (B, A)
        return sq if self.squared else sq.clamp_min(1e-12).sqrt()

    def distance(
        self,
        ref_chunks: torch.Tensor,
        target_chunks: torch.Tensor,
        ref_category: torch.Tensor,
        target_category: torch.Tensor,
    ) -> torch.Tensor:
        """Compatibility distance ``sum_a kappa_a * d_a`` ``(B,)``; smaller = more compatible."""
        weights = self.attention(ref_category, target_category)  # (B, A)
        return (weights * self.type_distances(ref_chunks, target_chunks)).sum(dim=1)  # (B,)

    def weighted_embedding(
        self, chunks: torch.Tensor, ref_category: torch.Tensor, target_category: torch.Tensor
    ) -> torch.Tensor:
        """``concat_a sqrt(kappa_a) psi_a(r_a)`` ``(B, A*d)``: for a fixed category pair, the squared Euclidean
        distance between two such embeddings equals ``distance`` (squared mode), so a nearest-neighbour index
        over the target category's items, embedded with the query's pair, ranks exactly by compatibility."""
        weights = self.attention(ref_category, target_category)  # (B, A)
        return (weights.sqrt().unsqueeze(2) * self.outfit_chunks(chunks)).flatten(1)  # (B, A*d)

    def forward(
        self,
        ref_chunks: torch.Tensor,
        target_chunks: torch.Tensor,
        ref_category: torch.Tensor,
        target_category: torch.Tensor,
    ) -> torch.Tensor:
        return self.distance(ref_chunks, target_chunks, ref_category, target_category)


class OutfitRankingLoss(nn.Module):
    """Ranking loss ``mean(max(0, D(ref, pos) - D(ref, neg) + margin))``, margin 0.3 (ADDE supp. Sec. 2).

    ``pos_distance``: distances ``(B,)`` from each reference to a compatible target; ``neg_distance``: to an
    incompatible item of the target's category (same category pair, so the same kappa weights). For CSA-Net's
    outfit-level form pass, per sample, the mean distance from the outfit's items to the target.
    """

    def __init__(self, margin: float = 0.3) -> None:
        super().__init__()
        self.margin = float(margin)

    def forward(self, pos_distance: torch.Tensor, neg_distance: torch.Tensor) -> torch.Tensor:
        if pos_distance.shape != neg_distance.shape:
            raise ValueError(
                f"positive and negative distances must have the same shape, got {tuple(pos_distance.shape)} "
                f"and {tuple(neg_distance.shape)}"
            )
        return F.relu(pos_distance - neg_distance + self.margin).mean()
