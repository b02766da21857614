"""Attribute disentanglement with gradient reversal.

Scaramuzzino, Becattini, Del Bimbo, "Attribute disentanglement with gradient reversal for
interactive fashion retrieval", Pattern Recognition Letters 2023 (papers/gradient-reversal-
disentanglement.md), Sec. 3.2-3.3, built on the ADDE encoder (models.adde).

Formulation (Sec. 3.2): there are N x N pathways between the N attribute features f_j and the
classifiers. Pathway (j, n) with j == n is plain classification (Eq. 1, L_cls). Pathway (j, n) with
j != n feeds f_j *alone* through a GRL into the classifier of attribute n and is scored against the
label of attribute n: L_rev = sum_n sum_{j != n} CE(F_n(f_j), y_n) (Eq. 2). The other features are
neither summed nor concatenated: each one is classified separately.

* N-classifier model (Fig. 1): F_n is the same classifier on every pathway into attribute n
  (by default the ADDE encoder's own attribute predictors).
* N x N model (Fig. 2): a separate classifier per (feature, attribute) pair; the diagonal ones are
  the ordinary predictors, the N(N-1) others sit behind a GRL.
* Total loss L = w_cls L_cls + w_rev L_rev (Eq. 3) with the adaptive weight
  w_rev = beta * w_cls * L_cls / L_rev (Eq. 5), beta = 0.1, computed from detached values; the
  GRL itself uses lambda = 1 (Sec. 3.3).
* Ablation "N classifiers w/o GRL" (Table 7): "each classifier is used only for its corresponding
  feature", i.e. the off-diagonal pathways are dropped, not trained without reversal (feeding every
  feature to every classifier without a GRL would entangle them, Sec. 4 "Ablation Study").
  ``no_grl=True`` does exactly that; ``cross_logits`` still evaluates every pair for Fig. 5.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
import torch.nn as nn

from models.losses import masked_cross_entropy


class GradientReversalFunction(torch.autograd.Function):
    """Identity forward; backward multiplies the incoming gradient by ``-lambda`` (Ganin & Lempitsky)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, lambda_: float) -> torch.Tensor:
        ctx.lambda_ = float(lambda_)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        return grad_output.neg() * ctx.lambda_, None


def grad_reverse(x: torch.Tensor, lambda_: float = 1.0) -> torch.Tensor:
    """Functional gradient reversal layer."""
    return GradientReversalFunction.apply(x, lambda_)


class GradientReversal(nn.Module):
    """Gradient Reversal Layer (GRL); the paper sets ``lambda_ = 1`` (Sec. 3.3)."""

    def __init__(self, lambda_: float = 1.0) -> None:
        super().__init__()
        self.lambda_ = float(lambda_)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return grad_reverse(x, self.lambda_)

    def extra_repr(self) -> str:
        return f"lambda_={self.lambda_}"


class GRLHeadOutput(NamedTuple):
    logits: list[torch.Tensor]  # A x (B, n_a): classifier of attribute a on feature a (Eq. 1)
    reversed_logits: dict[tuple[int, int], torch.Tensor]  # (j, n) -> (B, n_n): classifier n on GRL(f_j), j != n (Eq. 2)


class NClassifierHead(nn.Module):
    """N classifiers, one per attribute, each fed every feature (paper Fig. 1, Eqs. 1-2).

    Classifier F_n sees f_n directly and each f_j (j != n) separately through a GRL, scored against
    the labels of attribute n. Pass the ADDE encoder's ``classifiers`` (``from_encoder``) to share
    its attribute predictors, as in the paper. ``no_grl=True``: the Table 7 ablation (diagonal only).
    """

    def __init__(
        self,
        d: int,
        attribute_sizes: Sequence[int],
        grl_lambda: float = 1.0,
        no_grl: bool = False,
        classifiers: nn.ModuleList | None = None,
    ) -> None:
        super().__init__()
        self.d = int(d)
        self.attribute_sizes = [int(n) for n in attribute_sizes]
        self.no_grl = bool(no_grl)
        self.grl = GradientReversal(grl_lambda)
        if classifiers is None:
            classifiers = nn.ModuleList(nn.Linear(self.d, n) for n in self.attribute_sizes)
        _check_classifiers(classifiers, self.d, self.attribute_sizes)
        self.classifiers = classifiers  # F_n, one per attribute type

    @classmethod
    def from_encoder(cls, encoder: nn.Module, grl_lambda: float = 1.0, no_grl: bool = False):
        """Build the head around an ADDE encoder's attribute predictors (shared, not copied)."""
        return cls(encoder.d, encoder.attribute_sizes, grl_lambda, no_grl, classifiers=encoder.classifiers)

    def classifier(self, feature: int, attribute: int) -> nn.Module:
        """Classifier on the pathway feature ``feature`` -> attribute ``attribute``: F_attribute."""
        return self.classifiers[attribute]

    def _check(self, chunks: torch.Tensor) -> None:
        a = len(self.attribute_sizes)
        if chunks.dim() != 3 or chunks.shape[1:] != (a, self.d):
            raise ValueError(f"chunks must have shape (B, {a}, {self.d}), got {tuple(chunks.shape)}")

    def forward(self, chunks: torch.Tensor) -> GRLHeadOutput:
        """Training pathways on chunks ``(B, A, d)``: diagonal plain (Eq. 1), off-diagonal through the GRL (Eq. 2)."""
        self._check(chunks)
        n_attr = len(self.attribute_sizes)
        logits = [self.classifier(n, n)(chunks[:, n]) for n in range(n_attr)]  # A x (B, n_a)
        reversed_logits: dict[tuple[int, int], torch.Tensor] = {}
        if not self.no_grl:
            for j in range(n_attr):
                f_j = self.grl(chunks[:, j])  # (B, d), identity forward, reversed gradient
                for n in range(n_attr):
                    if n != j:
                        reversed_logits[(j, n)] = self.classifier(j, n)(f_j)  # (B, n_n)
        return GRLHeadOutput(logits=logits, reversed_logits=reversed_logits)

    def cross_logits(self, chunks: torch.Tensor) -> list[list[torch.Tensor]]:
        """Every (feature j, classifier n) pair without GRL, ``[j][n] -> (B, n_n)``: input of Fig. 5.

        Meant for evaluation (call under ``torch.no_grad()``); works for the ``no_grl`` ablation too.
        """
        self._check(chunks)
        n_attr = len(self.attribute_sizes)
        return [[self.classifier(j, n)(chunks[:, j]) for n in range(n_attr)] for j in range(n_attr)]


class NxNClassifierHead(NClassifierHead):
    """N x N classifiers: a separate one per (feature j, attribute n) pair (paper Fig. 2).

    Diagonal classifiers are the ordinary attribute predictors (the encoder's, via ``from_encoder``);
    the N(N-1) off-diagonal ones are extra and sit behind a GRL. With ``no_grl=True`` they are not
    used in training (same ablation as the N-classifier head).
    """

    def __init__(
        self,
        d: int,
        attribute_sizes: Sequence[int],
        grl_lambda: float = 1.0,
        no_grl: bool = False,
        classifiers: nn.ModuleList | None = None,
    ) -> None:
        super().__init__(d, attribute_sizes, grl_lambda, no_grl, classifiers)
        self.off_diagonal = nn.ModuleDict(
            {
                _pair_key(j, n): nn.Linear(self.d, size)
                for j in range(len(self.attribute_sizes))
                for n, size in enumerate(self.attribute_sizes)
                if j != n
            }
        )

    def classifier(self, feature: int, attribute: int) -> nn.Module:
        """F_{feature, attribute}: the diagonal predictor, or this pair's own classifier."""
        if feature == attribute:
            return self.classifiers[attribute]
        return self.off_diagonal[_pair_key(feature, attribute)]


def _pair_key(feature: int, attribute: int) -> str:
    return f"f{feature}_a{attribute}"


def _check_classifiers(classifiers: nn.ModuleList, d: int, sizes: Sequence[int]) -> None:
    if len(classifiers) != len(sizes):
        raise ValueError(f"expected {len(sizes)} classifiers (one per attribute type), got {len(classifiers)}")
    for a, (clf, n) in enumerate(zip(classifiers, sizes)):
        w = getattr(clf, "weight", None)
        if w is not None and tuple(w.shape) != (n, d):
            raise ValueError(f"classifier {a} maps {w.shape[1]} -> {w.shape[0]}, expected {d} -> {n}")


def adaptive_reversal_weight(
    l_cls: torch.Tensor | float,
    l_rev: torch.Tensor | float,
    w_cls: float,
    beta: float = 0.1,
    eps: float = 1e-12,
) -> torch.Tensor:
    """Eq. 5: ``w_rev = beta * w_cls * L_cls / L_rev`` from detached values (no gradient flows through it)."""
    l_cls = torch.as_tensor(l_cls).detach()
    l_rev = torch.as_tensor(l_rev).detach()
    return beta * w_cls * l_cls / l_rev.clamp_min(eps)


class GRLLossOutput(NamedTuple):
    total: torch.Tensor  # w_cls L_cls + w_rev L_rev (Eq. 3)
    cls: torch.Tensor  # L_cls (Eq. 1)
    rev: torch.Tensor  # L_rev (Eq. 2)
    w_rev: torch.Tensor  # weight used for L_rev (Eq. 5 when adaptive), detached


class GRLDisentanglementLoss(nn.Module):
    """L = w_cls L_cls + w_rev L_rev (Eq. 3), w_rev adaptive (Eq. 5) unless ``adaptive=False``.

    L_cls sums over attribute types the mean CE of the diagonal pathways (Eq. 1); L_rev sums over
    the off-diagonal pathways (j, n) the mean CE of F_n(GRL(f_j)) against the labels of attribute n
    (Eq. 2). The paper sums over the batch; we average over labelled samples (missing = -1 ignored),
    as the ADDE reference does; with the adaptive weight the scale of L_rev cancels anyway.
    """

    def __init__(self, w_cls: float = 1.0, beta: float = 0.1, adaptive: bool = True, w_rev: float = 1.0) -> None:
        super().__init__()
        self.w_cls = float(w_cls)  # weight of L_cls
        self.beta = float(beta)  # Eq. 5 ratio between reversed and plain classification
        self.adaptive = bool(adaptive)  # False: use the fixed w_rev below
        self.w_rev = float(w_rev)  # fixed weight of L_rev when adaptive is False

    def forward(self, output: GRLHeadOutput, labels: torch.Tensor) -> GRLLossOutput:
        l_cls = sum(masked_cross_entropy(lg, labels[:, n]) for n, lg in enumerate(output.logits))
        rev_term, l_rev, w_rev = self.reversal_term(l_cls, output, labels)
        total = self.w_cls * l_cls + rev_term
        return GRLLossOutput(total=total, cls=l_cls.detach(), rev=l_rev.detach(), w_rev=w_rev)

    def reversal_term(self, l_cls: torch.Tensor, output: GRLHeadOutput,
                      labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(w_rev L_rev, L_rev, w_rev)`` balanced against a given classification loss ``l_cls`` (Eq. 2, 3, 5).

        Used by :meth:`forward` with the head's own L_cls, and on its own when another objective supplies
        the classification term (ADDE's manipulation stage)."""
        device = torch.as_tensor(l_cls).device
        if not output.reversed_logits:  # no_grl ablation: the off-diagonal pathways do not exist
            zero = torch.zeros((), device=device)
            return zero, zero, zero
        l_rev = sum(masked_cross_entropy(lg, labels[:, n]) for (_, n), lg in output.reversed_logits.items())
        if self.adaptive:
            w_rev = adaptive_reversal_weight(l_cls, l_rev, self.w_cls, self.beta)
        else:
            w_rev = torch.tensor(self.w_rev, device=l_rev.device)
        return w_rev * l_rev, l_rev, w_rev


def feature_classifier_accuracy(cross_logits: Sequence[Sequence[torch.Tensor]], labels: torch.Tensor) -> torch.Tensor:
    """Feature x classifier accuracy matrix ``(A, A)`` (paper Fig. 5), in [0, 1].

    ``cross_logits[j][n]`` are the logits ``(B, n_n)`` of attribute n's classifier on feature j;
    entry ``[j, n]`` is the accuracy of those predictions against ``labels[:, n]`` over the samples
    whose attribute n is present (-1 ignored); NaN when none is. Rows = features, columns = classifiers.
    Each pair is evaluated independently, so rows and columns need not sum to 1.
    """
    n_attr = len(cross_logits)
    if labels.dim() != 2 or labels.shape[1] != n_attr:
        raise ValueError(f"labels must have shape (B, {n_attr}), got {tuple(labels.shape)}")
    acc = torch.full((n_attr, n_attr), float("nan"))
    for j, row in enumerate(cross_logits):
        if len(row) != n_attr:
            raise ValueError(f"cross_logits[{j}] has {len(row)} entries, expected {n_attr}")
        for n, logits in enumerate(row):
            y = labels[:, n].to(logits.device)
            present = y >= 0
            if bool(present.any()):
                pred = logits[present].argmax(dim=1)
                acc[j, n] = (pred == y[present]).float().mean().cpu()
    return acc
