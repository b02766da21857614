"""Pure-PyTorch model blocks (torch, torchvision, numpy and the standard library only).

One small module per paper block:

* ``backbones``: image backbones registry (``create_backbone`` / ``list_backbones``);
* ``adde``: the Attribute-Driven Disentangled Encoder (ADDE, Hou et al. 2021);
* ``grl``: gradient-reversal disentanglement heads and loss (Scaramuzzino et al. 2023);
* ``memory``: the prototype memory block and manipulation indicator (ADDE / PRL Eq. 6-7);
* ``losses``: ADDE training losses and margin schedule (``loss_weights``: their weights, torch-free);
* ``labels``: the attribute label codecs they share;
* ``asen`` / ``modc``: attribute-specific networks (ASEN, ASEN_v2, ASEN++; ``create_asen``) and MODC over them;
* ``cooperative``: the cooperative embeddings' superspace model and its proxy losses.

The package imports nothing itself: ``from models.losses import ...`` loads only that block (and torch), and
``models.NAME`` for a name below loads its module on first use (PEP 562), so torch-free modules such as
``models.loss_weights`` can be read without importing torch.
"""
from __future__ import annotations

import importlib
from typing import Any

# module -> the names it offers at the package level
EXPORTS: dict[str, tuple[str, ...]] = {
    "adde": ("ADDEConfig", "ADDEEncoder", "ADDEOutput",),
    "backbones": ("create_backbone", "list_backbones", "load_backbone_weights", "register_backbone",),
    "grl": ("GradientReversal", "GRLDisentanglementLoss", "NClassifierHead", "NxNClassifierHead",
            "adaptive_reversal_weight", "feature_classifier_accuracy", "grad_reverse",),
    "losses": ("ADDEManipulationLoss", "AttributeClassificationLoss", "CompositionalTripletLoss", "ConsistencyLoss",
               "LabelTripletLoss", "MarginSchedule", "MemoryOffBlockLoss",),
    "loss_weights": ("ADDELossWeights",),
    "memory": ("MemoryBlock", "apply_edits", "manipulation_indicator",),
    "compositors": ("RTIC", "TIRG", "create_compositor", "list_compositors", "register_compositor",),
    "outfit": ("OutfitCompatibilityHead", "OutfitRankingLoss",),
    "text": ("TextEncoder", "Vocabulary", "tokenize",),
    "asen": ("ASENOutput", "CosineTripletLoss", "create_asen", "list_asen", "register_asen"),
    "modc": ("ClusterLoss", "MODCNet", "prioritized_order", "simsiam_loss"),
    "uigr": ("TASKS", "BBCLoss", "UIGRComposition", "UIGRConfig", "UIGRLossTerms", "UIGRModel",),
}
_MODULE_OF = {name: module for module, names in EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'models' has no attribute {name!r}")
    return getattr(importlib.import_module(f"models.{module}"), name)
