"""Training of gradient-reversal attribute disentanglement (Scaramuzzino, Becattini, Del Bimbo, PRL 2023;
registry entries ``grl`` and ``grl-nxn`` in ``fashion_gui/methods/grl.py``).

Stage 1: the N-classifier head (Fig. 1) or the N x N head (Fig. 2) with
L = w_cls L_cls + w_rev L_rev and the adaptive w_rev = beta * w_cls * L_cls / L_rev (Eq. 3, 5), computed by
:class:`models.grl.GRLDisentanglementLoss`. Stage 2: ADDE's manipulation losses plus the same reversal
term on the encoder's chunks of the whole triplet batch, balanced against ADDE's weighted L_cls (Eq. 5).
"""
from __future__ import annotations

from pathlib import Path

import torch

from fashion_gui.methods.grl import GRLTrainConfig
from fashion_gui.training.adde import ADDETrainer
from fashion_gui.training.events import Callback
from fashion_gui.workspace import Workspace
from models.grl import GRLDisentanglementLoss


class GRLTrainer(ADDETrainer):
    """ADDE's two stages with the gradient-reversal head and loss (``config.head``: n | nxn)."""

    def __init__(self, workspace: Workspace, config: GRLTrainConfig, out_dir: Path,
                 callbacks: list[Callback] | None = None, method: str = "grl") -> None:
        self.head_kind = config.head  # read by build_head() during ADDETrainer.__init__
        super().__init__(workspace, config, out_dir, callbacks, method)
        self.grl_loss = GRLDisentanglementLoss(beta=config.grl_beta)
        # stage 2: w_rev balances L_rev against ADDE's weighted L_cls, which the trainer passes in (w_cls 1)
        self.manip_grl_loss = GRLDisentanglementLoss(w_cls=1.0, beta=config.grl_beta)

    def attribute_loss(self, out, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Eq. 3: w_cls L_cls + w_rev L_rev over the head's plain and reversed pathways."""
        terms = self.grl_loss(self.head(out.chunks), labels)
        return terms.total, {"cls": float(terms.cls), "rev": float(terms.rev), "w_rev": float(terms.w_rev)}

    def manipulation_extra(self, out, labels: torch.Tensor, terms) -> tuple[torch.Tensor, dict[str, float]]:
        """The reversal term of Eq. 2 on the triplet batch's chunks, weighted by Eq. 5 against ADDE's
        weighted L_cls (so the manipulation stage keeps the subspaces disentangled)."""
        l_cls = terms.cls * self.config.loss_weights.cls
        term, l_rev, _ = self.manip_grl_loss.reversal_term(l_cls, self.head(out.chunks.float()), labels)
        return term, {"rev": l_rev.item()}
