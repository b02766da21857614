"""Registry entries of gradient-reversal attribute disentanglement (Scaramuzzino, Becattini, Del Bimbo,
PRL 2023): the N-classifier model (Fig. 1) and the N x N model (Fig. 2), each L = w_cls L_cls + w_rev L_rev
with the adaptive w_rev (Eq. 3, 5) in both stages, on ADDE's encoder and memory block.
Trainer: ``fashion_gui/training/grl.py``; model: ``models/grl.py``.
"""
from __future__ import annotations

from dataclasses import dataclass

from fashion_gui.methods.adde import ATTRIBUTE_STAGES, ENCODER_KINDS, AttributeTrainConfig
from fashion_gui.methods.options import option
from fashion_gui.methods.registry import MethodSpec, register_method

GRL_HEADS = ("n", "nxn")


@dataclass
class GRLTrainConfig(AttributeTrainConfig):
    """GRL on the ADDE encoder: ``head`` = "n" (N classifiers) or "nxn" (one per feature/attribute pair)."""

    head: str = option("n", help="classifier head: n (N classifiers) | nxn (N x N)", choices=GRL_HEADS)
    grl_beta: float = option(0.1, help="adaptive reversal ratio beta (GRL Eq. 5; paper 0.1)")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.head not in GRL_HEADS:
            raise ValueError(f"head must be one of {', '.join(GRL_HEADS)}, got {self.head!r}")


for _name, _head, _desc in (("grl", "n", "gradient reversal, N classifiers (each also sees the other features "
                                          "through a GRL)"),
                            ("grl-nxn", "nxn", "gradient reversal, N x N classifiers (one per feature/attribute pair)")):
    register_method(MethodSpec(
        name=_name, paper="Gradient reversal (Scaramuzzino et al., PRL 2023)", description=_desc,
        config_cls=GRLTrainConfig, trainer="fashion_gui.training.grl:GRLTrainer",
        evaluator="fashion_gui.training.adde_eval:evaluate",
        retriever="fashion_gui.engine.retrievers.attributes:AttributeRetriever",
        serves=ENCODER_KINDS, stages=ATTRIBUTE_STAGES, encoder=True, fixed={"head": _head},
    ))
