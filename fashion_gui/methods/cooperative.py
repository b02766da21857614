"""Registry entries of cooperative embeddings (Thong et al., instance, attribute and category proxies in one
superspace) and of the baselines of its Table 3 on the same backbone, data and trainer: (a) multitask, (b)
multitask + an instance triplet loss, (c) concatenated subspaces each trained with a triplet loss.

One config class serves all four: each entry fixes its ``objective``; the loss ablations (Table 1a), fixed
proxies (Table 2a) and the ordered-proxy switch (Table 1c) are presets of ``cooperative``. Trainer:
``fashion_gui/training/cooperative.py``; model and losses: ``models/cooperative.py``.
"""
from __future__ import annotations

from dataclasses import dataclass

from fashion_gui.methods.options import option
from fashion_gui.methods.registry import QUERYLESS_KINDS, MethodSpec, Stage, register_method

OBJECTIVES = ("cooperative", "multitask", "multitask-triplet", "concat-triplet")
COOPERATIVE_STAGES = (Stage("embedding", "epochs", "embedding learning"),)


@dataclass
class CooperativeTrainConfig:
    """Cooperative embeddings training; the defaults train the demo catalog on a 2-core CPU in about a minute
    (the help texts give the paper's values: ResNet50 at 224 px, Adam 1e-4, batch 128)."""

    objective: str = option("cooperative", help="the loss: cooperative proxies, or a Table 3 baseline",
                            choices=OBJECTIVES)
    backbone: str = option("compact", help="image backbone (paper: resnet50, ImageNet-pretrained)",
                           choices=("compact", "alexnet", "resnet18", "resnet50"))
    pretrained: bool = option(False, help="ImageNet weights through torchvision (needs a download)", advanced=True)
    backbone_weights: str | None = option(None, help="a local state-dict file for the backbone", advanced=True,
                                          kind="path")
    n: int = option(50, help="dimensions per attribute subspace (paper: 50)")
    image_size: int = option(64, help="training resolution in pixels (paper: 224; 64 keeps the CPU demo fast)")
    batch_size: int = option(96, help="images per batch, whole products (all their photographs) at a time "
                                      "(paper: 128)")
    epochs: int = option(8, help="epochs", stage="embedding")
    lr: float = option(1e-3, help="Adam learning rate of the projection (paper: 1e-4 with a pretrained backbone)",
                       stage="embedding")
    backbone_lr_scale: float = option(1.0, help="backbone learning rate x this (paper: 0.1 for a pretrained "
                                               "backbone; 1 here: the demo's backbone starts from scratch)",
                                      advanced=True)
    proxy_lr_scale: float = option(10.0, help="proxies' learning rate x this (paper: 10)", advanced=True)
    weight_decay: float = option(5e-5, help="Adam weight decay (paper: 5e-5)", advanced=True)
    lambda_ins: float = option(1.0, help="instance loss weight (Eq. 6; paper: 1)")
    lambda_attr: float = option(1.0, help="attribute loss weight (Eq. 6; paper: 1)")
    lambda_cat: float = option(1.0, help="category loss weight (Eq. 6; paper: 1)")
    lambda_reg: float = option(0.1, help="L2 feature regulariser weight (Eq. 7; paper: 0.5 with a pretrained "
                                         "ResNet50; 0.1, from the paper's grid, chosen on the demo's val split)")
    ordered: bool = option(True, help="ordered-proxy regulariser for the attribute types the schema declares "
                                      "ordered (Eq. 3-4)")
    order_weight: float = option(1.0, help="weight of R_Order (not given in the paper)", advanced=True)
    order_sigma: float = option(1.0, help="sigma of the rank kernel (Eq. 3)", advanced=True)
    proxy_std: float = option(0.0, help="std of the proxies' random initialisation (0: 1/sqrt(n), about unit "
                                        "norm per subspace; the paper only says random)", advanced=True)
    learn_instance_proxies: bool = option(True, help="learn the instance proxies (Table 2a); false: fixed random")
    learn_attribute_proxies: bool = option(True, help="learn the attribute-value proxies (Table 2a)")
    triplet_margin: float = option(0.2, help="margin of the baselines' triplet losses (L2-normalised)",
                                   advanced=True)
    seed: int = option(0, help="random seed")
    device: str = option("auto", help="auto | cpu | cuda | cuda:N")
    eval_batch: int = option(256, help="images per batch when validating", advanced=True)
    cpu_threads: int = option(0, help="torch threads on CPU (0 = torch's default)", advanced=True)

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective {self.objective!r} is not one of {', '.join(OBJECTIVES)}")
        if self.n < 1:
            raise ValueError(f"n must be at least 1, got {self.n}")
        if self.objective == "cooperative" and not (self.lambda_ins or self.lambda_attr or self.lambda_cat):
            raise ValueError("at least one of lambda_ins, lambda_attr, lambda_cat must be non-zero")


# Table 1a (each loss alone), Table 2a (fixed proxies), Table 1c (not ordered), Table 2c (the paper's lambda_reg)
ABLATIONS = {
    "instance-only": {"lambda_ins": 1.0, "lambda_attr": 0.0, "lambda_cat": 0.0},
    "attribute-only": {"lambda_ins": 0.0, "lambda_attr": 1.0, "lambda_cat": 0.0},
    "category-only": {"lambda_ins": 0.0, "lambda_attr": 0.0, "lambda_cat": 1.0},
    "fixed-proxies": {"learn_instance_proxies": False, "learn_attribute_proxies": False},
    "not-ordered": {"ordered": False},
    "paper-reg": {"lambda_reg": 0.5},
}

# the proxy options mean nothing to the baselines (and the triplet margin nothing to the proxies): their
# entries fix them at the defaults, so the CLI flags and the Training form offer only what applies
_PROXY_OPTIONS = {name: getattr(CooperativeTrainConfig, name) for name in (
    "lambda_ins", "lambda_attr", "lambda_cat", "lambda_reg", "ordered", "order_weight", "order_sigma", "proxy_std",
    "learn_instance_proxies", "learn_attribute_proxies", "proxy_lr_scale")}

_COMMON = dict(paper="Cooperative embeddings (Thong, Snoek, Smeulders)", config_cls=CooperativeTrainConfig,
               trainer="fashion_gui.training.cooperative:CooperativeTrainer",
               evaluator="fashion_gui.training.cooperative_eval:evaluate",
               retriever="fashion_gui.engine.retrievers.cooperative:CooperativeRetriever",
               stages=COOPERATIVE_STAGES)

register_method(MethodSpec(
    name="cooperative", description="cooperative embeddings: instance, attribute and category proxies in one "
                                    "superspace of attribute subspaces",
    serves=("similar_in", "paths", *QUERYLESS_KINDS), encoder=True,
    fixed={"objective": "cooperative", "triplet_margin": CooperativeTrainConfig.triplet_margin},
    presets=ABLATIONS, **_COMMON,
))

register_method(MethodSpec(
    name="coop-multitask", description="baseline (a) of cooperative embeddings: K attribute heads + a category "
                                       "head on one shared embedding",
    serves=QUERYLESS_KINDS, fixed={"objective": "multitask", "triplet_margin": CooperativeTrainConfig.triplet_margin,
                                   **_PROXY_OPTIONS}, **_COMMON,
))

register_method(MethodSpec(
    name="coop-multitask-triplet", description="baseline (b) of cooperative embeddings: multitask + an "
                                               "instance triplet loss",
    serves=QUERYLESS_KINDS, fixed={"objective": "multitask-triplet", **_PROXY_OPTIONS}, **_COMMON,
))

register_method(MethodSpec(
    name="coop-concat", description="baseline (c) of cooperative embeddings: K + 2 concatenated subspaces, each "
                                    "trained with a triplet loss (Veit et al.)",
    serves=QUERYLESS_KINDS, fixed={"objective": "concat-triplet", **_PROXY_OPTIONS}, **_COMMON,
))
