"""Training methods by name: what ``fashion train`` and the settings pane list (one registry, CONVENTIONS 1)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fashion_gui.training.adde import ADDE_METHODS, ADDETrainConfig, ADDETrainer
from fashion_gui.training.outfit import OUTFIT_METHODS, OutfitTrainConfig, OutfitTrainer
from fashion_gui.training.uigr import COMPOSED_METHODS, UIGRTrainConfig, UIGRTrainer


@dataclass(frozen=True)
class Method:
    name: str
    description: str
    family: str                   # "attributes" (ADDE-like encoders) | "composed" (text/compatible)
    config_cls: type
    trainer_cls: Callable


METHODS: dict[str, Method] = {
    **{name: Method(name, desc, "attributes", ADDETrainConfig, ADDETrainer) for name, desc in ADDE_METHODS.items()},
    **{name: Method(name, desc, "composed", UIGRTrainConfig, UIGRTrainer) for name, desc in COMPOSED_METHODS.items()},
    **{name: Method(name, desc, "composed", OutfitTrainConfig, OutfitTrainer) for name, desc in OUTFIT_METHODS.items()},
}


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; available: {', '.join(METHODS)}")
    return METHODS[name]


def list_methods(family: str | None = None) -> list[str]:
    return [name for name, m in METHODS.items() if family is None or m.family == family]
