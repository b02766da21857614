"""Registry entries of composed retrieval (Han et al., UIGR; papers/uigr-...md, supp. Sec. B.2 and C):
the unified UIGR model with TIRG or RTIC compositors (one model for text-guided and visually compatible
retrieval, L = BBC_TGR + BBC_VCR + CE_branch, Eq. 4) and the independent TGR-only / VCR-only baselines
of Table 3. Trainer: ``fashion_gui/training/uigr.py``; model: ``models/uigr.py``, ``models/compositors.py``,
``models/text.py``.
"""
from __future__ import annotations

from dataclasses import dataclass

from fashion_gui.methods.options import option
from fashion_gui.methods.registry import MethodSpec, Stage, register_method

COMPOSITOR_CHOICES = ("tirg", "rtic")
TASKS = ("tgr", "vcr")
# The paper's sizes (supp. Sec. C; REFERENCE.md "UIGR"): CLIP-width word embeddings, Bi-GRU hidden 1024 per
# direction, 512-d projections / text / composed features.
PAPER_SIZES = {"embed_dim": 512, "word_dim": 512, "text_hidden": 1024}
COMPOSED_STAGES = (Stage("composed", "epochs", "composed retrieval"),)


@dataclass
class UIGRTrainConfig:
    """Training settings. The defaults train the 1800-item demo on a 2-core CPU in about a minute; the help
    texts give the paper's values (``--preset paper`` sets embed_dim / word_dim / text_hidden to them)."""

    tasks: tuple[str, ...] = option(TASKS, help="tasks trained: tgr and/or vcr (fixed by the method)")
    compositor: str = option("tirg", help="compositor: tirg | rtic", choices=COMPOSITOR_CHOICES)
    backbone: str = option("compact", help="image backbone (paper: ImageNet ResNet50)",
                           choices=("compact", "resnet18", "resnet50"))
    pretrained: bool = option(False, help="ImageNet weights through torchvision (needs a download)", advanced=True)
    backbone_weights: str | None = option(None, help="a local state-dict file for the backbone", advanced=True,
                                          kind="path")
    backbone_init: str = option("auto", help="backbone start: auto | adde (the ADDE checkpoint's) | none",
                                choices=("auto", "adde", "none"))
    adde_checkpoint: str = option("adde", help="ADDE checkpoint (name or path) for --backbone-init", advanced=True)
    train_backbone: bool = option(False, help="train the backbone end to end (paper) instead of frozen, cached")
    image_size: int = option(64, help="training resolution (paper: 224)")
    embed_dim: int = option(256, help="projection / text / composed size (paper: 512)")
    word_dim: int = option(128, help="word-embedding size (paper: 512, CLIP token embeddings)")
    text_hidden: int = option(256, help="Bi-GRU hidden size per direction (paper: 1024)")
    word_vectors: str | None = option(None, help="GloVe-style text file initialising the word embeddings",
                                      advanced=True, kind="path")
    branch_hidden: int = option(256, help="branch classifier MLP(embed-256-2) hidden width (paper: 256)",
                                advanced=True)
    init_scale: float = option(4.0, help="learnable s: BBC temperature 1/s^2 = 0.0625 at init (paper)", advanced=True)
    batch_size: int = option(64, help="samples per step (paper: 64)")
    epochs: int = option(12, help="epochs (paper: 40)", stage="composed")
    lr: float = option(1e-3, help="Adam learning rate (paper: 2e-4 with an ImageNet backbone trained end to end)",
                       stage="composed")
    weight_decay: float = option(4e-5, help="Adam weight decay (paper: 4e-5)", advanced=True)
    warmup_epochs: int = option(1, help="linear warm-up from lr/10 (paper: 5)", advanced=True)
    lr_milestones: tuple[int, ...] = option((8, 11), help="lr x lr_gamma after these epochs (paper: 15, 25 of 40)",
                                            advanced=True)
    lr_gamma: float = option(0.1, help="learning-rate decay factor at the milestones", advanced=True)
    pair_by: str = option("product", help="which TGR and VCR triplets form one sample: product | image",
                          choices=("product", "image"), advanced=True)
    source_in_gallery: bool = option(True, help="validation protocol: keep the source image in the gallery (UIGR)",
                                     advanced=True)
    seed: int = option(0, help="random seed")
    device: str = option("auto", help="auto | cpu | cuda | cuda:N")
    amp: bool = option(True, help="mixed precision (CUDA only)", advanced=True)
    channels_last: bool = option(True, help="NHWC memory format (CUDA only)", advanced=True)
    eval_batch: int = option(256, help="images per batch when validating", advanced=True)
    cpu_threads: int = option(1, help="torch threads on CPU (0 = torch's default; two threads on a busy 2-core "
                                      "machine made the GRU ~15x slower)", advanced=True)

    def __post_init__(self) -> None:
        self.tasks = tuple(self.tasks)
        if not self.tasks or any(t not in TASKS for t in self.tasks) or len(set(self.tasks)) != len(self.tasks):
            raise ValueError(f"tasks must be tgr and/or vcr, got {self.tasks!r}")
        if self.compositor not in COMPOSITOR_CHOICES:
            raise ValueError(f"unknown compositor {self.compositor!r}; choose one of {', '.join(COMPOSITOR_CHOICES)}")
        if self.backbone_init not in ("auto", "adde", "none"):
            raise ValueError(f"backbone_init must be auto, adde or none, got {self.backbone_init!r}")
        if self.pair_by not in ("product", "image"):
            raise ValueError(f"pair_by must be 'product' or 'image', got {self.pair_by!r}")
        self.lr_milestones = tuple(int(m) for m in self.lr_milestones)

    def lr_at(self, epoch: int) -> float:
        """Learning rate of 0-based ``epoch``: linear warm-up from lr/10, then steps at the milestones."""
        if epoch < self.warmup_epochs:
            return self.lr * (0.1 + 0.9 * epoch / self.warmup_epochs)
        return self.lr * self.lr_gamma ** sum(epoch >= m for m in self.lr_milestones)


def _single_task_name(method: str):
    """``tgr-only`` (TIRG) / ``tgr-only-rtic``: the compositor is part of the independent baselines' name."""
    return lambda config: method if config.compositor == "tirg" else f"{method}-{config.compositor}"


_COMMON = dict(paper="UIGR (Han et al.)", config_cls=UIGRTrainConfig, trainer="fashion_gui.training.uigr:UIGRTrainer",
               evaluator="fashion_gui.training.uigr_eval:evaluate", stages=COMPOSED_STAGES,
               retriever="fashion_gui.engine.retrievers.composed:ComposedRetriever",
               presets={"paper": PAPER_SIZES})
for _c in COMPOSITOR_CHOICES:
    register_method(MethodSpec(
        name=f"uigr-{_c}", serves=("text", "compatible"), fixed={"tasks": TASKS, "compositor": _c},
        description=f"UIGR: one model for text-guided (TGR) and compatible (VCR) retrieval, {_c.upper()} compositors",
        **_COMMON))
register_method(MethodSpec(
    name="tgr-only", serves=("text",), fixed={"tasks": ("tgr",)}, checkpoint_name=_single_task_name("tgr-only"),
    description="independent baseline: text-guided retrieval only (--compositor tirg|rtic)", **_COMMON))
register_method(MethodSpec(
    name="vcr-only", serves=("compatible",), fixed={"tasks": ("vcr",)}, checkpoint_name=_single_task_name("vcr-only"),
    description="independent baseline: visually compatible retrieval only (--compositor tirg|rtic)", **_COMMON))
