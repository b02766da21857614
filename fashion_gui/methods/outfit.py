"""Registry entry of ADDE-O, outfit complementary retrieval on a trained ADDE model's attribute chunks
(Hou et al., ADDE supp. Sec. 1-2): per attribute type an outfit learner psi_a, a category attention kappa,
a ranking loss with margin 0.3. Trainer: ``fashion_gui/training/outfit.py``; model: ``models/outfit.py``.
"""
from __future__ import annotations

from dataclasses import dataclass

from fashion_gui.methods.options import option
from fashion_gui.methods.registry import MethodSpec, Stage, register_method


@dataclass
class OutfitTrainConfig:
    """ADDE-O training settings; the help texts give the paper's values (ADDE supp. Sec. 1-2)."""

    adde_checkpoint: str = option("adde", help="the ADDE model: folder name under <workspace>/checkpoints, or a path")
    attribute_types: tuple[str, ...] = option((), help="attribute types used; empty = all of the ADDE model's "
                                                       "(paper: 5 Polyvore types)", advanced=True)
    attention_hidden: int = option(256, help="kappa's hidden width (paper: 256)", advanced=True)
    squared: bool = option(True, help="squared per-type Euclidean distances", advanced=True)
    normalize_chunks: bool = option(True, help="L2-normalise each ADDE chunk before psi_a", advanced=True)
    margin: float = option(0.3, help="ranking-loss margin (paper: 0.3)")
    batch_size: int = option(96, help="pairs per step (paper: 96)")
    epochs: int = option(30, help="epochs", stage="outfit")
    lr: float = option(1e-3, help="Adam learning rate, decreasing linearly to 0 (paper: 5e-5 on Polyvore)",
                       stage="outfit")
    weight_decay: float = option(0.0, help="Adam weight decay", advanced=True)
    seed: int = option(0, help="random seed")
    device: str = option("auto", help="auto | cpu | cuda | cuda:N")
    eval_batch: int = option(256, help="images per batch when embedding", advanced=True)
    cpu_threads: int = option(1, help="torch threads on CPU (0 = torch's default)", advanced=True)

    def __post_init__(self) -> None:
        self.attribute_types = tuple(self.attribute_types)


register_method(MethodSpec(
    name="adde-o", paper="ADDE-O (ADDE supplementary)",
    description="ADDE-O: outfit complementary retrieval on a trained ADDE model's attribute chunks",
    config_cls=OutfitTrainConfig, trainer="fashion_gui.training.outfit:OutfitTrainer",
    evaluator="fashion_gui.training.outfit:evaluate", retriever="fashion_gui.engine.retrievers.outfit:OutfitRetriever",
    serves=("compatible",), stages=(Stage("outfit", "epochs", "outfit compatibility"),),
))
