"""Registry entries of the disentangled attribute encoders trained in two stages: ADDE-M and the no-GRL
ablation (Hou et al., ICCV 2021; Scaramuzzino et al. 2023, Table 7). GRL's entries are in ``grl.py``.

Stage 1 learns the attribute-specific subspaces, stage 2 the memory block on manipulation triplets with
ADDE's L_cls, L_lt, L_ct, L_c, L_mem (REFERENCE.md). Trainer: ``fashion_gui/training/adde.py``; model:
``models/adde.py``, ``models/memory.py``, ``models/losses.py``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from fashion_gui.methods.options import option
from fashion_gui.methods.registry import MethodSpec, Stage, register_method
from models.loss_weights import ADDELossWeights

ATTRIBUTE_STAGES = (Stage("attributes", "epochs", "attribute learning"),
                    Stage("manipulation", "manip_epochs", "memory-block manipulation"))
ENCODER_KINDS = ("manipulate", "similar_in", "paths")


@dataclass
class AttributeTrainConfig:
    """What every two-stage attribute encoder shares; the defaults train the demo catalog on a 2-core CPU in
    about a minute and a half (the help texts give ADDE's values)."""

    backbone: str = option("compact", help="image backbone (ADDE: alexnet or resnet18)",
                           choices=("compact", "alexnet", "resnet18", "resnet50"))
    pretrained: bool = option(False, help="ImageNet weights through torchvision (needs a download)", advanced=True)
    backbone_weights: str | None = option(None, help="a local state-dict file for the backbone", advanced=True,
                                          kind="path")
    d: int = option(340, help="attribute chunk size (ADDE: 340)")
    image_size: int = option(64, help="training resolution in pixels (ADDE: 224; 64 keeps the CPU demo fast)")
    batch_size: int = option(64, help="images per batch")
    epochs: int = option(10, help="stage-1 epochs (attribute learning)", stage="attributes")
    manip_epochs: int = option(4, help="stage-2 epochs (memory-block manipulation)", stage="manipulation")
    lr: float = option(1e-3, help="Adam learning rate, stage 1 (ADDE: 1e-4 with a pretrained backbone)",
                       stage="attributes")
    manip_lr: float = option(3e-4, help="Adam learning rate, stage 2", stage="manipulation")
    weight_decay: float = option(1e-4, help="Adam weight decay", advanced=True)
    margin_start: float = option(0.5, help="triplet margin at the start (ADDE: 0.5)", advanced=True)
    margin_step: float = option(0.1, help="margin increase every margin_every epochs (ADDE: 0.1)", advanced=True)
    margin_every: int = option(10, help="epochs between margin increases (ADDE: 10)", advanced=True)
    triplets_per_epoch: int = option(0, help="stage-2 triplets per epoch; 0 = one per training image",
                                     stage="manipulation", advanced=True)
    seed: int = option(0, help="random seed")
    device: str = option("auto", help="auto | cpu | cuda | cuda:N")
    amp: bool = option(True, help="mixed precision (CUDA only)", advanced=True)
    channels_last: bool = option(True, help="NHWC memory format (CUDA only)", advanced=True)
    eval_batch: int = option(256, help="images per batch when validating", advanced=True)
    cpu_threads: int = option(0, help="torch threads on CPU (0 = torch's default)", advanced=True)
    loss_weights: ADDELossWeights = field(default_factory=ADDELossWeights)  # ADDE supp. Eq. 1 (--config only)

    def __post_init__(self) -> None:
        if isinstance(self.loss_weights, dict):
            self.loss_weights = ADDELossWeights(**self.loss_weights)


@dataclass
class ADDETrainConfig(AttributeTrainConfig):
    """ADDE-M: stage 1 = attribute classification + label triplet (weight ``lt_weight``)."""

    lt_weight: float = option(1.0, help="stage-1 label-triplet weight (0 = classification only)",
                              stage="attributes")


register_method(MethodSpec(
    name="adde", paper="ADDE (Hou et al., ICCV 2021)",
    description="ADDE-M: classification + label triplet, then memory-block manipulation",
    config_cls=ADDETrainConfig, trainer="fashion_gui.training.adde:ADDETrainer",
    evaluator="fashion_gui.training.adde_eval:evaluate", retriever="fashion_gui.engine.retrievers.attributes:AttributeRetriever",
    serves=ENCODER_KINDS, stages=ATTRIBUTE_STAGES, encoder=True,
))

register_method(MethodSpec(
    name="no-grl", paper="Gradient reversal (Scaramuzzino et al., PRL 2023), Table 7 ablation",
    description="ablation: N classifiers without gradient reversal (no label triplet)",
    config_cls=ADDETrainConfig, trainer="fashion_gui.training.adde:ADDETrainer",
    evaluator="fashion_gui.training.adde_eval:evaluate", retriever="fashion_gui.engine.retrievers.attributes:AttributeRetriever",
    serves=ENCODER_KINDS, stages=ATTRIBUTE_STAGES, encoder=True, fixed={"lt_weight": 0.0},
))
