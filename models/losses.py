"""ADDE training losses (attribute manipulation stage).

Hou et al., ADDE (ICCV 2021) Sec. 3.2; weights and margins from the supplementary, Sec. 2, Eq. 1:
L = w_cls L_cls + w_c L_c + w_ct L_ct + w_lt L_lt + w_mem L_mem. Details the paper leaves out
(semi-hard mining rule, squared distances, L1 norms) follow REFERENCE.md, ADDE "Training, stage 2".

Label convention: value indices ``(B, A)`` int64, -1 = missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, NamedTuple, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.labels import label_tuple_ids
from models.loss_weights import ADDELossWeights  # noqa: F401 (re-exported: the losses combine with it)


def masked_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean CE over the rows whose label is not -1; a graph-connected 0 when every label is missing."""
    present = labels >= 0
    if not bool(present.any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits[present], labels[present].long())


class AttributeClassificationLoss(nn.Module):
    """L_cls: sum over attribute types of the mean CE over samples with that type present."""

    def forward(self, logits: Sequence[torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
        if labels.dim() != 2 or labels.shape[1] != len(logits):
            raise ValueError(f"labels must be (B, {len(logits)}) for {len(logits)} logit tensors, got {tuple(labels.shape)}")
        return sum(masked_cross_entropy(lg, labels[:, a]) for a, lg in enumerate(logits))


def pairwise_squared_distances(x: torch.Tensor) -> torch.Tensor:
    """``(B, D)`` -> ``(B, B)`` squared Euclidean distances, clamped at 0, exact zeros on the diagonal."""
    sq = x.pow(2).sum(dim=1)  # (B,)
    dist = sq.unsqueeze(1) + sq.unsqueeze(0) - 2.0 * (x @ x.t())  # (B, B)
    dist = dist.clamp_min(0.0)
    return dist * (1.0 - torch.eye(x.shape[0], device=x.device, dtype=x.dtype))


def mine_semi_hard(dist: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Semi-hard negative for every (anchor a, positive p) pair: ``(B, B)`` indices, -1 where no pair.

    Rule of the reference (TensorFlow's triplet_semihard_loss): among a's negatives (different id),
    take the one with the smallest d(a, n) that is still strictly greater than d(a, p); if none is
    farther than the positive, take a's farthest negative. Pairs are a != p with equal ids; anchors
    without any negative get -1.
    """
    batch = dist.shape[0]
    same = ids.unsqueeze(0) == ids.unsqueeze(1)  # (B, B)
    negative = ~same
    n_neg = negative.sum(dim=1)  # (B,)
    neg_dist = torch.where(negative, dist, torch.full_like(dist, float("inf")))  # (B, B)
    sorted_dist, order = neg_dist.sort(dim=1)  # (B, B) ascending, non-negatives (inf) last
    # first negative strictly farther than each positive: position in a's sorted negatives
    pos = torch.searchsorted(sorted_dist.contiguous(), dist.contiguous(), right=True)  # (B, B) [a, p]
    farthest = (n_neg - 1).clamp_min(0).unsqueeze(1).expand(batch, batch)  # (B, B)
    pos = torch.where(pos < n_neg.unsqueeze(1), pos, farthest)
    chosen = order.gather(1, pos)  # (B, B) negative index per (a, p)
    valid = same & ~torch.eye(batch, dtype=torch.bool, device=dist.device) & (n_neg > 0).unsqueeze(1)
    return torch.where(valid, chosen, torch.full_like(chosen, -1))


class LabelTripletLoss(nn.Module):
    """L_lt: triplet loss with semi-hard mining; positives share the full label tuple.

    Embeddings are L2-normalised (``normalize=True``), distances squared, and the loss is the mean of
    ``max(0, d(a,p) - d(a,n) + margin)`` over all valid (anchor, positive) pairs (REFERENCE.md).
    ``labels`` is ``(B, A)`` (grouped by exact tuple, collision-free) or ``(B,)`` ids.
    """

    def __init__(self, margin: float = 0.5, normalize: bool = True) -> None:
        super().__init__()
        self.margin = float(margin)  # grows with MarginSchedule
        self.normalize = bool(normalize)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        x = F.normalize(embeddings, dim=1) if self.normalize else embeddings  # (B, D)
        ids = label_tuple_ids(labels) if labels.dim() == 2 else labels  # (B,)
        dist = pairwise_squared_distances(x)  # (B, B)
        neg = mine_semi_hard(dist.detach(), ids)  # (B, B)
        valid = neg >= 0
        if not bool(valid.any()):
            return x.sum() * 0.0
        d_an = dist.gather(1, neg.clamp_min(0))  # (B, B) d(a, chosen negative of (a, p))
        loss = F.relu(dist - d_an + self.margin)  # (B, B)
        return loss[valid].mean()


class CompositionalTripletLoss(nn.Module):
    """L_ct: triplet (manipulated, positive, negative) with plain (non-squared) L2 distances.

    ``mean(max(0, ||a - p|| - ||a - n|| + margin))`` over normalised embeddings, as torch's
    ``triplet_margin_loss`` computes it (REFERENCE.md: plain L2, margin 0.5).
    """

    def __init__(self, margin: float = 0.5, normalize: bool = True) -> None:
        super().__init__()
        self.margin = float(margin)  # grows with MarginSchedule
        self.normalize = bool(normalize)

    def forward(self, anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
        if self.normalize:
            anchor, positive, negative = (F.normalize(t, dim=1) for t in (anchor, positive, negative))
        return F.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=2)


class ConsistencyLoss(nn.Module):
    """L_c: mean L1 between the memory's prototypes M onehot(labels) and the embeddings.

    ``embeddings`` is ``(B, A*d)`` or ``(B, A, d)``; ``labels`` ``(B, A)``; ``memory`` a MemoryBlock.
    A missing type has a zero prototype chunk, so its chunk is pulled towards zero (as the reference,
    whose one-hot labels carry a zero block there).
    """

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor, memory: nn.Module) -> torch.Tensor:
        return F.l1_loss(memory.prototypes(labels), embeddings.flatten(1))


class MemoryOffBlockLoss(nn.Module):
    """L_mem: L1 norm (sum of absolute values) of M outside its block diagonal."""

    def forward(self, memory: nn.Module) -> torch.Tensor:
        return memory.off_block().abs().sum()


@dataclass
class MarginSchedule:
    """Triplet margin: ``start`` at epoch 0, ``+step`` every ``every`` epochs (ADDE supp. Sec. 2)."""

    start: float = 0.5  # margin of the first epochs
    step: float = 0.1  # increase per period
    every: int = 10  # period in epochs

    def __call__(self, epoch: int) -> float:
        """Margin for 0-based ``epoch``: 0.5 for epochs 0-9, 0.6 for 10-19, 0.7 for 20-29."""
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        return self.start + self.step * (epoch // self.every)


class ADDEManipulationTerms(NamedTuple):
    total: torch.Tensor  # weighted sum (supp. Eq. 1)
    cls: torch.Tensor
    lt: torch.Tensor
    ct: torch.Tensor
    c: torch.Tensor
    mem: torch.Tensor


class ADDEManipulationLoss(nn.Module):
    """All stage-2 terms on a (reference, positive, negative) triplet batch (REFERENCE.md, ADDE).

    * L_cls: CE on ref, pos, neg chunks and on the manipulated chunks against the pos labels;
    * L_lt: label triplet over normalised [ref; manipulated; neg] embeddings, labelled by their full
      label tuples (the manipulated embedding carries the pos labels);
    * L_ct: compositional triplet (manipulated, pos, neg);
    * L_c: consistency of ref, pos, neg with their prototypes, and of manipulated with M onehot(pos);
    * L_mem: off-block L1 of M.
    Set ``margin`` each epoch from a ``MarginSchedule``.
    """

    def __init__(self, weights: ADDELossWeights | None = None, margin: float = 0.5) -> None:
        super().__init__()
        self.weights = weights or ADDELossWeights()
        self.classification = AttributeClassificationLoss()
        self.label_triplet = LabelTripletLoss(margin)
        self.compositional_triplet = CompositionalTripletLoss(margin)
        self.consistency = ConsistencyLoss()
        self.memory_off_block = MemoryOffBlockLoss()

    @property
    def margin(self) -> float:
        return self.label_triplet.margin

    @margin.setter
    def margin(self, value: float) -> None:
        self.label_triplet.margin = float(value)
        self.compositional_triplet.margin = float(value)

    def forward(
        self,
        ref: Any,
        pos: Any,
        neg: Any,
        manipulated: torch.Tensor,
        manipulated_logits: Sequence[torch.Tensor],
        labels_ref: torch.Tensor,
        labels_pos: torch.Tensor,
        labels_neg: torch.Tensor,
        memory: nn.Module,
    ) -> ADDEManipulationTerms:
        """``ref``/``pos``/``neg``: encoder outputs (``.embedding`` (B, A*d), ``.logits``);
        ``manipulated``: r_ref + M i, ``(B, A*d)``; ``manipulated_logits``: the encoder's predictors on it."""
        l_cls = (
            self.classification(ref.logits, labels_ref)
            + self.classification(pos.logits, labels_pos)
            + self.classification(neg.logits, labels_neg)
            + self.classification(manipulated_logits, labels_pos)
        )
        l_lt = self.label_triplet(
            torch.cat([ref.embedding, manipulated, neg.embedding], dim=0),  # (3B, A*d)
            torch.cat([labels_ref, labels_pos, labels_neg], dim=0),  # (3B, A)
        )
        l_ct = self.compositional_triplet(manipulated, pos.embedding, neg.embedding)
        l_c = (
            self.consistency(ref.embedding, labels_ref, memory)
            + self.consistency(pos.embedding, labels_pos, memory)
            + self.consistency(neg.embedding, labels_neg, memory)
            + self.consistency(manipulated, labels_pos, memory)
        )
        l_mem = self.memory_off_block(memory)
        total = self.weights.combine({"cls": l_cls, "lt": l_lt, "ct": l_ct, "c": l_c, "mem": l_mem})
        return ADDEManipulationTerms(total=total, cls=l_cls, lt=l_lt, ct=l_ct, c=l_c, mem=l_mem)
