"""Attribute label codecs shared by the ADDE and gradient-reversal blocks.

Two encodings are used everywhere in ``models/``:

* value indices ``(B, A)`` int64, one column per attribute type, ``-1`` = missing;
* concatenated one-hot blocks ``(B, J)`` with ``J = sum(sizes)``; a missing attribute is an
  all-zero block (REFERENCE.md, ADDE "Labels"), so it never matches a present value and two
  missing blocks compare equal.
"""

from __future__ import annotations

from typing import Sequence

import torch

MISSING = -1


def value_offsets(sizes: Sequence[int]) -> list[int]:
    """Start of each attribute type's block in the ``J``-long one-hot vector (length ``A + 1``)."""
    offsets = [0]
    for a, n in enumerate(sizes):
        n = int(n)
        if n < 1:
            raise ValueError(f"attribute type {a} has {n} values; every type needs at least one value")
        offsets.append(offsets[-1] + n)
    return offsets


def check_labels(labels: torch.Tensor, sizes: Sequence[int]) -> None:
    """Raise a ValueError naming the offending column if ``labels`` is not a valid ``(B, A)`` index tensor."""
    if labels.dim() != 2 or labels.shape[1] != len(sizes):
        raise ValueError(
            f"labels must have shape (B, {len(sizes)}) (one column per attribute type), got {tuple(labels.shape)}"
        )
    if labels.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise ValueError(f"labels must be an integer tensor of value indices, got dtype {labels.dtype}")
    for a, n in enumerate(sizes):
        col = labels[:, a]
        bad = (col < MISSING) | (col >= int(n))
        if bool(bad.any()):
            row = int(bad.nonzero()[0, 0])
            raise ValueError(
                f"label {int(col[row])} in row {row}, attribute type {a} is out of range: "
                f"expected -1 (missing) or 0..{int(n) - 1}"
            )


def labels_to_onehot(labels: torch.Tensor, sizes: Sequence[int]) -> torch.Tensor:
    """Value indices ``(B, A)`` -> concatenated one-hot blocks ``(B, J)`` (float, zero block = missing)."""
    check_labels(labels, sizes)
    offsets = value_offsets(sizes)
    labels = labels.long()
    batch = labels.shape[0]
    onehot = torch.zeros(batch, offsets[-1], device=labels.device)  # (B, J)
    present = labels >= 0  # (B, A)
    cols = labels + torch.tensor(offsets[:-1], device=labels.device)  # (B, A) column in J
    rows = torch.arange(batch, device=labels.device).unsqueeze(1).expand_as(labels)  # (B, A)
    onehot[rows[present], cols[present]] = 1.0
    return onehot


def onehot_to_labels(onehot: torch.Tensor, sizes: Sequence[int]) -> torch.Tensor:
    """Concatenated one-hot blocks ``(B, J)`` -> value indices ``(B, A)`` with ``-1`` for all-zero blocks."""
    offsets = value_offsets(sizes)
    if onehot.dim() != 2 or onehot.shape[1] != offsets[-1]:
        raise ValueError(f"one-hot labels must have shape (B, {offsets[-1]}), got {tuple(onehot.shape)}")
    out = torch.full((onehot.shape[0], len(sizes)), MISSING, dtype=torch.long, device=onehot.device)  # (B, A)
    for a in range(len(sizes)):
        block = onehot[:, offsets[a]:offsets[a + 1]]  # (B, n_a)
        hot = block != 0
        count = hot.sum(dim=1)
        if bool((count > 1).any()):
            row = int((count > 1).nonzero()[0, 0])
            raise ValueError(f"row {row}, attribute type {a} has {int(count[row])} hot values; expected at most one")
        out[:, a] = torch.where(count == 1, hot.long().argmax(dim=1), out[:, a])
    return out


def label_tuple_ids(labels: torch.Tensor) -> torch.Tensor:
    """Collision-free id per distinct full label tuple: ``(B, A)`` -> ``(B,)`` int64.

    Plays the role of the reference code's hash of the label tuple (used to define positives for
    the label triplet loss) but cannot collide: equal tuples get equal ids, different tuples
    (missing counts as its own value) different ids. Ids are only comparable within one call.
    """
    if labels.dim() != 2:
        raise ValueError(f"labels must have shape (B, A), got {tuple(labels.shape)}")
    _, ids = torch.unique(labels, dim=0, return_inverse=True)  # (B,)
    return ids
