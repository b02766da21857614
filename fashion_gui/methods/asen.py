"""Registry entries of attribute-specific retrieval: ASEN, ASEN_v2, ASEN++ (Ma et al. 2020; Dong et al. 2021)
and MODC over each (MODC supplement; REFERENCE.md "ASEN / MODC" and the project's pinned reading of MODC).
They serve "similar in one attribute". Trainer: ``fashion_gui/training/asen.py``; evaluator:
``fashion_gui/training/asen_eval.py``; retriever: ``fashion_gui/engine/retrievers/asen.py``; models:
``models/asen.py``, ``models/modc.py``.
"""
from __future__ import annotations

from dataclasses import dataclass

from fashion_gui.methods.options import option
from fashion_gui.methods.registry import MethodSpec, Stage, register_method

NETWORKS = {"asen": "asen", "asen-v2": "asen_v2", "asen-pp": "asen_pp"}  # method name -> models.asen name
TITLES = {"asen": "ASEN", "asen-v2": "ASEN_v2", "asen-pp": "ASEN++"}


@dataclass
class ASENTrainConfig:
    """ASEN-family training; the defaults train the 1800-item demo on a 2-core CPU in about a minute (the help
    texts give the papers' values: ResNet50 cut after layer3 at 224 px, hidden 512, embedding 1024)."""

    network: str = option("asen", help="attribute network (fixed by the method)", choices=tuple(NETWORKS.values()))
    backbone: str = option("compact", help="image backbone (papers: resnet50 cut after layer3)",
                           choices=("compact", "resnet18", "resnet50"))
    stage: str = option("", help="backbone stage whose feature maps are attended ('' = stage3 / layer3)", advanced=True)
    pretrained: bool = option(False, help="ImageNet weights through torchvision (needs a download)", advanced=True)
    backbone_weights: str | None = option(None, help="a local state-dict file for the backbone", advanced=True,
                                          kind="path")
    image_size: int = option(64, help="training resolution in pixels (papers: 224)")
    hidden: int = option(128, help="attention width (ASEN: 512)")
    dim: int = option(64, help="embedding size per attribute (ASEN: 1024; ASEN_v2 has no FC: the backbone's channels)")
    local_size: int = option(32, help="ASEN++ local-branch crop resolution (paper: 112 px with ResNet34)", advanced=True)
    threshold: float = option(0.4, help="ASEN++ crop: attention >= threshold x max (paper: 0.4)", advanced=True)
    margin: float = option(0.2, help="cosine triplet margin (ASEN: 0.2)")
    batch_size: int = option(64, help="triplets per step")
    epochs: int = option(10, help="epochs (MODC: warm-up epochs, instance-level loss only)", stage="train")
    triplets_per_epoch: int = option(0, help="triplets per epoch; 0 = one per labeled training image", advanced=True)
    lr: float = option(1e-3, help="Adam learning rate (MODC supp.: 2e-4 with an ImageNet backbone)")
    lr_decay: float = option(0.985, help="learning-rate factor per epoch (MODC supp.: 0.985)", advanced=True)
    weight_decay: float = option(1e-5, help="Adam weight decay", advanced=True)
    labeled_fraction: float = option(1.0, help="fraction of training products whose attribute labels are kept "
                                               "(semi-supervised setting; seeded, by product)")
    seed: int = option(0, help="random seed")
    device: str = option("auto", help="auto | cpu | cuda | cuda:N")
    eval_batch: int = option(128, help="images per batch when validating", advanced=True)
    cpu_threads: int = option(0, help="torch threads on CPU (0 = torch's default)", advanced=True)

    def __post_init__(self) -> None:
        if self.network not in NETWORKS.values():
            raise ValueError(f"unknown attribute network {self.network!r}; choose one of {', '.join(NETWORKS.values())}")
        if not 0 < self.labeled_fraction <= 1:
            raise ValueError(f"labeled_fraction must be in (0, 1], got {self.labeled_fraction}")
        if not 0 < self.threshold < 1:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")


@dataclass
class MODCTrainConfig(ASENTrainConfig):
    """MODC over an ASEN-family network: warm-up (``epochs``) -> supervised -> the four semi-supervised steps."""

    supervised_epochs: int = option(3, help="supervised stage: + cluster-level and class-space losses",
                                    stage="supervised")
    ssl_labeled_epochs: int = option(1, help="semi-supervised step 1: + SimSiam on labeled images", stage="ssl_labeled")
    ssl_unlabeled_epochs: int = option(1, help="step 2: + SimSiam on unlabeled images", stage="ssl_unlabeled")
    pseudo_instance_epochs: int = option(1, help="step 3: + instance-level loss with pseudo labels",
                                         stage="pseudo_instance")
    pseudo_cluster_epochs: int = option(1, help="step 4: + cluster-level loss with pseudo labels", stage="pseudo_cluster")
    cluster_scale: float = option(16.0, help="scale of the cosines in the cluster-level cross-entropy", advanced=True)
    class_dim: int = option(32, help="class-specific space size", advanced=True)
    universal_dim: int = option(64, help="universal space (SimSiam projector) size", advanced=True)
    confidence: float = option(0.7, help="pseudo labels below this confidence are not used in steps 3-4")
    ssl_weight: float = option(1.0, help="weight of the SimSiam terms", advanced=True)
    cluster_weight: float = option(1.0, help="weight of the cluster-level loss", advanced=True)
    class_weight: float = option(1.0, help="weight of the class-space instance-level loss", advanced=True)
    init_from: str | None = option(None, help="a trained checkpoint of the base network (name or path) whose "
                                              "weights start MODC: its training is the warm-up (then --epochs 0)",
                                   advanced=True)


ASEN_STAGES = (Stage("train", "epochs", "attribute-specific triplets"),)
# the papers' setting (ImageNet ResNet50 cut after layer3 at 224 px, attention 512, embedding 1024, Adam 2e-4);
# the ASEN++ local branch then reads 112 px crops with the same backbone family (the paper: ResNet34)
PAPER = {"backbone": "resnet50", "pretrained": True, "image_size": 224, "hidden": 512, "dim": 1024, "lr": 2e-4,
         "local_size": 112, "batch_size": 32}
MODC_STAGES = (Stage("warmup", "epochs", "warm-up: instance-level loss"),
               Stage("supervised", "supervised_epochs", "supervised: + cluster-level loss"),
               Stage("ssl_labeled", "ssl_labeled_epochs", "semi-supervised 1: self-supervision, labeled"),
               Stage("ssl_unlabeled", "ssl_unlabeled_epochs", "semi-supervised 2: self-supervision, unlabeled"),
               Stage("pseudo_instance", "pseudo_instance_epochs", "semi-supervised 3: instance-level, pseudo labels"),
               Stage("pseudo_cluster", "pseudo_cluster_epochs", "semi-supervised 4: cluster-level, pseudo labels"))


def _fraction_name(method: str):
    """``asen`` at 100 % labeled, ``asen-l10`` at 10 %: the labeled fraction is part of the default name."""
    return lambda config: method if config.labeled_fraction >= 1 else f"{method}-l{round(100 * config.labeled_fraction)}"


for _name, _network in NETWORKS.items():
    register_method(MethodSpec(
        name=_name, paper=f"{TITLES[_name]} (REFERENCE.md, ASEN / MODC)",
        description=f"{TITLES[_name]}: attribute-specific embedding, triplets within one attribute",
        config_cls=ASENTrainConfig, trainer="fashion_gui.training.asen:ASENTrainer",
        evaluator="fashion_gui.training.asen_eval:evaluate",
        retriever="fashion_gui.engine.retrievers.asen:AttributeSpecificRetriever",
        serves=("similar_in",), stages=ASEN_STAGES, fixed={"network": _network}, presets={"paper": PAPER},
        checkpoint_name=_fraction_name(_name)))
for _name, _network in NETWORKS.items():
    register_method(MethodSpec(
        name=f"modc-{_name}", paper="MODC (supplement; REFERENCE.md pinned reading)",
        description=f"MODC({TITLES[_name]}): universal, attribute- and class-specific spaces, pseudo labels, "
                    "prioritized retrieval",
        config_cls=MODCTrainConfig, trainer="fashion_gui.training.asen:MODCTrainer",
        evaluator="fashion_gui.training.asen_eval:evaluate",
        retriever="fashion_gui.engine.retrievers.asen:AttributeSpecificRetriever",
        serves=("similar_in",), stages=MODC_STAGES, fixed={"network": _network}, presets={"paper": PAPER},
        checkpoint_name=_fraction_name(f"modc-{_name}")))
