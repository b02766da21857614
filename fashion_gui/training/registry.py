"""Training methods by name: what ``fashion train`` and the settings pane list (one registry, CONVENTIONS 1)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from fashion_gui.training.adde import ADDE_METHODS, ADDETrainConfig, ADDETrainer


@dataclass(frozen=True)
class Method:
    name: str
    description: str
    family: str                   # "attributes" (ADDE-like encoders) | "composed" (text/compatible)
    config_cls: type
    trainer_cls: Callable


METHODS: dict[str, Method] = {
    name: Method(name, desc, "attributes", ADDETrainConfig, ADDETrainer) for name, desc in ADDE_METHODS.items()
}


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; available: {', '.join(METHODS)}")
    return METHODS[name]


def list_methods() -> list[str]:
    return list(METHODS)
