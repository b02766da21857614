"""Pure-PyTorch model blocks (torch, torchvision, numpy and the standard library only).

One small module per paper block:

* ``backbones``: image backbones registry (``create_backbone`` / ``list_backbones``);
* ``adde``: the Attribute-Driven Disentangled Encoder (ADDE, Hou et al. 2021);
* ``grl``: gradient-reversal disentanglement heads and loss (Scaramuzzino et al. 2023);
* ``memory``: the prototype memory block and manipulation indicator (ADDE / PRL Eq. 6-7);
* ``losses``: ADDE training losses, weights and margin schedule;
* ``labels``: the attribute label codecs they share;
* ``asen`` / ``modc``: attribute-specific networks (ASEN, ASEN_v2, ASEN++; ``create_asen``) and MODC over them.
"""

from models.adde import ADDEConfig, ADDEEncoder, ADDEOutput
from models.backbones import create_backbone, list_backbones, load_backbone_weights, register_backbone
from models.grl import (
    GradientReversal,
    GRLDisentanglementLoss,
    NClassifierHead,
    NxNClassifierHead,
    adaptive_reversal_weight,
    feature_classifier_accuracy,
    grad_reverse,
)
from models.losses import (
    ADDELossWeights,
    ADDEManipulationLoss,
    AttributeClassificationLoss,
    CompositionalTripletLoss,
    ConsistencyLoss,
    LabelTripletLoss,
    MarginSchedule,
    MemoryOffBlockLoss,
)
from models.memory import MemoryBlock, apply_edits, manipulation_indicator

__all__ = [
    "ADDEConfig",
    "ADDEEncoder",
    "ADDELossWeights",
    "ADDEManipulationLoss",
    "ADDEOutput",
    "AttributeClassificationLoss",
    "CompositionalTripletLoss",
    "ConsistencyLoss",
    "GRLDisentanglementLoss",
    "GradientReversal",
    "LabelTripletLoss",
    "MarginSchedule",
    "MemoryBlock",
    "MemoryOffBlockLoss",
    "NClassifierHead",
    "NxNClassifierHead",
    "adaptive_reversal_weight",
    "apply_edits",
    "create_backbone",
    "feature_classifier_accuracy",
    "grad_reverse",
    "list_backbones",
    "load_backbone_weights",
    "manipulation_indicator",
    "register_backbone",
]

# composed retrieval (UIGR: text encoder, compositors, unified TGR + VCR model) and ADDE-O outfit head
from models.compositors import RTIC, TIRG, create_compositor, list_compositors, register_compositor  # noqa: E402
from models.outfit import OutfitCompatibilityHead, OutfitRankingLoss  # noqa: E402
from models.text import TextEncoder, Vocabulary, tokenize  # noqa: E402
from models.uigr import TASKS, BBCLoss, UIGRComposition, UIGRConfig, UIGRLossTerms, UIGRModel  # noqa: E402

__all__ += [
    "BBCLoss",
    "OutfitCompatibilityHead",
    "OutfitRankingLoss",
    "RTIC",
    "TASKS",
    "TIRG",
    "TextEncoder",
    "UIGRComposition",
    "UIGRConfig",
    "UIGRLossTerms",
    "UIGRModel",
    "Vocabulary",
    "create_compositor",
    "list_compositors",
    "register_compositor",
    "tokenize",
]

# attribute-specific retrieval (ASEN, ASEN_v2, ASEN++) and MODC over them
from models.asen import ASENOutput, CosineTripletLoss, create_asen, list_asen, register_asen  # noqa: E402
from models.modc import ClusterLoss, MODCNet, prioritized_order, simsiam_loss  # noqa: E402

__all__ += ["ASENOutput", "ClusterLoss", "CosineTripletLoss", "MODCNet", "create_asen", "list_asen",
            "prioritized_order", "register_asen", "simsiam_loss"]
