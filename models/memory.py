"""Memory block of attribute-value prototypes and memory-based attribute manipulation.

Hou et al., ADDE (ICCV 2021) Sec. 3.2; supplementary Sec. 2 (M is A*d x J, 4080 x 151 on
Shopping100k); restated by Scaramuzzino et al. (PRL 2023) Eq. 6 (block structure) and Eq. 7
(r' = r_q + M i). REFERENCE.md, ADDE "Memory M".
"""

from __future__ import annotations

from typing import Mapping, Sequence, Union

import torch
import torch.nn as nn

from models.labels import check_labels, labels_to_onehot, value_offsets

Edits = Union[Mapping[int, int], Sequence[Mapping[int, int]]]


class MemoryBlock(nn.Module):
    """Memory M in R^{A*d x J}: column j holds the prototype of attribute value j (Eq. 6).

    M is a bias-free linear map from the concatenated indicator (length J) to the embedding (A*d).
    Value v of type a should write only into chunk a (block diagonal), but the off-block entries
    stay parameters: the reference trains the full matrix and the L_mem loss pushes the off-block
    part to zero (``models.losses.MemoryOffBlockLoss``). Off-block entries start at zero.
    """

    def __init__(self, attribute_sizes: Sequence[int], d: int = 340) -> None:
        super().__init__()
        self.attribute_sizes = [int(n) for n in attribute_sizes]
        self.d = int(d)
        self.offsets = value_offsets(self.attribute_sizes)
        n_attr, n_values = len(self.attribute_sizes), self.offsets[-1]
        self.weight = nn.Parameter(torch.empty(n_attr * self.d, n_values))  # (A*d, J)
        mask = torch.zeros(n_attr * self.d, n_values, dtype=torch.bool)
        for a in range(n_attr):
            mask[a * self.d:(a + 1) * self.d, self.offsets[a]:self.offsets[a + 1]] = True
        self.register_buffer("block_mask", mask, persistent=False)  # (A*d, J) True on the block diagonal
        self.reset_parameters()

    @property
    def num_attributes(self) -> int:
        return len(self.attribute_sizes)

    @property
    def num_values(self) -> int:
        return self.offsets[-1]

    def reset_parameters(self) -> None:
        """Block entries uniform(+-1/sqrt(J)) as nn.Linear would; off-block entries zero."""
        bound = 1.0 / self.num_values ** 0.5
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)
            self.weight.mul_(self.block_mask)

    def forward(self, indicator: torch.Tensor) -> torch.Tensor:
        """M i: indicator ``(B, J)`` or ``(J,)`` -> ``(B, A*d)`` or ``(A*d,)``."""
        if indicator.shape[-1] != self.num_values:
            raise ValueError(f"indicator must have {self.num_values} entries (J), got shape {tuple(indicator.shape)}")
        return indicator.to(self.weight.dtype) @ self.weight.t()  # (B, A*d)

    def prototypes(self, labels: torch.Tensor) -> torch.Tensor:
        """M onehot(labels): value indices ``(B, A)`` -> ``(B, A*d)``; missing types give a zero chunk."""
        return self(labels_to_onehot(labels, self.attribute_sizes).to(self.weight.device))

    def prototype(self, attribute: int, value: int) -> torch.Tensor:
        """The chunk-a part of value v's column, e^v_a in Eq. 6: ``(d,)``."""
        col = self.offsets[attribute] + value
        return self.weight[attribute * self.d:(attribute + 1) * self.d, col]  # (d,)

    def off_block(self) -> torch.Tensor:
        """M with its block diagonal zeroed: ``(A*d, J)`` (what L_mem penalises)."""
        return self.weight * (~self.block_mask)

    @torch.no_grad()
    def init_from_prototypes(self, chunks: torch.Tensor, labels: torch.Tensor) -> list[tuple[int, int]]:
        """Set each value's block to the mean chunk of the training images having that value.

        Args:
            chunks: ``(N, A, d)`` (or ``(N, A*d)``) attribute-specific embeddings of training images.
            labels: ``(N, A)`` value indices, -1 = missing.
        Returns:
            The ``(attribute, value)`` pairs without any training image; their columns are left as
            they were. Off-block entries are set to zero.
        """
        if chunks.dim() == 2:
            chunks = chunks.view(chunks.shape[0], self.num_attributes, self.d)  # (N, A, d)
        if chunks.shape[1:] != (self.num_attributes, self.d):
            raise ValueError(f"chunks must be (N, {self.num_attributes}, {self.d}), got {tuple(chunks.shape)}")
        if labels.shape[0] != chunks.shape[0]:
            raise ValueError(f"{chunks.shape[0]} chunks but {labels.shape[0]} label rows")
        check_labels(labels, self.attribute_sizes)
        chunks = chunks.to(self.weight.device, self.weight.dtype)
        labels = labels.to(self.weight.device).long()
        new = self.weight.detach().clone() * self.block_mask  # (A*d, J)
        empty: list[tuple[int, int]] = []
        for a, n_values in enumerate(self.attribute_sizes):
            onehot = torch.nn.functional.one_hot(labels[:, a].clamp_min(0), n_values).to(chunks.dtype)  # (N, n_a)
            onehot = onehot * (labels[:, a:a + 1] >= 0)  # missing rows count for no value
            counts = onehot.sum(dim=0)  # (n_a,)
            sums = onehot.t() @ chunks[:, a]  # (n_a, d)
            for v in range(n_values):
                if counts[v] > 0:
                    new[a * self.d:(a + 1) * self.d, self.offsets[a] + v] = sums[v] / counts[v]
                else:
                    empty.append((a, v))
        self.weight.copy_(new)
        return empty

    def manipulate(self, r: torch.Tensor, indicator: torch.Tensor) -> torch.Tensor:
        """Eq. 7: r' = r + M i. ``r`` is ``(B, A*d)`` or ``(B, A, d)``; the result has r's shape."""
        residual = self(indicator)  # (B, A*d)
        if r.dim() == 3:
            return r + residual.view(-1, self.num_attributes, self.d)  # (B, A, d)
        return r + residual  # (B, A*d)


def apply_edits(ref_labels: torch.Tensor, edits: Edits) -> torch.Tensor:
    """Target labels: ``ref_labels`` (``(A,)`` or ``(B, A)``) with ``{type: new_value}`` applied (-1 removes)."""
    single = ref_labels.dim() == 1
    labels = ref_labels.unsqueeze(0) if single else ref_labels
    target = labels.clone().long()
    for row, row_edits in enumerate(_edits_per_row(edits, labels.shape[0])):
        for a, v in row_edits.items():
            target[row, int(a)] = int(v)
    return target[0] if single else target


def manipulation_indicator(ref_labels: torch.Tensor, edits: Edits, sizes: Sequence[int]) -> torch.Tensor:
    """Manipulation vector i in {-1, 0, 1}^J (PRL Eq. 7; REFERENCE.md ADDE "Memory M").

    For every edited type a with ``edits[a] = new``: -1 at the reference's old value of a (if present)
    and +1 at ``new`` (``new = -1`` removes the value: -1 only). Adding a value to an item missing
    that type gives +1 only; an edit to the value already held gives zeros; several types may be
    edited at once. Then M i = sum over edits of (p_new - p_old).

    Args:
        ref_labels: ``(A,)`` or ``(B, A)`` value indices of the reference, -1 = missing.
        edits: ``{type_index: new_value}`` applied to every row, or a list of such dicts, one per row.
        sizes: number of values per attribute type.
    Returns:
        ``(J,)`` or ``(B, J)`` float indicator, matching ``ref_labels``.
    """
    single = ref_labels.dim() == 1
    labels = ref_labels.unsqueeze(0) if single else ref_labels
    check_labels(labels, sizes)
    offsets = value_offsets(sizes)
    indicator = torch.zeros(labels.shape[0], offsets[-1], device=labels.device)  # (B, J)
    for row, row_edits in enumerate(_edits_per_row(edits, labels.shape[0])):
        for a, new in row_edits.items():
            a, new = int(a), int(new)
            if not 0 <= a < len(sizes):
                raise ValueError(f"edit names attribute type {a}; valid types are 0..{len(sizes) - 1}")
            if not -1 <= new < sizes[a]:
                raise ValueError(f"edit sets type {a} to value {new}; valid values are 0..{sizes[a] - 1} or -1 (remove)")
            old = int(labels[row, a])
            if old == new:
                continue
            if old >= 0:
                indicator[row, offsets[a] + old] -= 1.0
            if new >= 0:
                indicator[row, offsets[a] + new] += 1.0
    return indicator[0] if single else indicator


def _edits_per_row(edits: Edits, batch: int) -> list[Mapping[int, int]]:
    if isinstance(edits, Mapping):
        return [edits] * batch
    edits = list(edits)
    if len(edits) != batch:
        raise ValueError(f"got {len(edits)} edit dicts for {batch} reference rows; pass one per row or a single dict")
    return edits
