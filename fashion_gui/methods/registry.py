"""The method registry (timm's register / create / list; DESIGN.md, "Methods: one way in").

A method is its model files under ``models/``, its trainer, and one :class:`MethodSpec` registered here.
The spec carries everything that callers would otherwise hard-code: the config dataclass (whose field
metadata gives the CLI flags, help text and the Training tab's form), the stages, the default checkpoint
name, the evaluator, the engine-side retriever and the request kinds it serves. Trainers, evaluators and
retrievers are named by import path and imported on first use, so the engine never imports a trainer and
``fashion --help`` does not import every method's code.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fashion_gui.methods.options import Option, config_from_dict, config_to_dict, options

# What a shopper can ask; request classes in fashion_gui.engine.requests carry these as ``kind``.
REQUEST_KINDS: dict[str, str] = {
    "manipulate": "attribute edits (\u201cthis, but red\u201d)",
    "similar_in": "similar in one attribute",
    "text": "text feedback",
    "compatible": "items that go with this",
    "paths": "style paths and typicality",
    "attribute_values": "items with these attribute values (no picture)",
    "category": "typical items of a category (no picture)",
}
# kinds whose requests carry no query garment: they never read the encoder's query embedding, so any model
# serving them (an encoder too) can answer them beside the engine's encoder
QUERYLESS_KINDS: tuple[str, ...] = ("attribute_values", "category")


@dataclass(frozen=True)
class Stage:
    """One training stage: its name in progress events, the config field holding its epoch count."""

    name: str
    epochs_field: str
    title: str


@dataclass(frozen=True)
class MethodSpec:
    """One registered method. ``fixed``: config values this entry sets (not offered as options), which is how
    one config class serves several methods (e.g. GRL's N and N x N heads)."""

    name: str
    description: str
    paper: str
    config_cls: type
    trainer: str                  # "module:Class", a fashion_gui.training.trainer.Trainer subclass
    evaluator: str                # "module:function" (EvalRequest) -> EvalReport
    retriever: str                # "module:Class", a fashion_gui.engine.retriever.Retriever subclass
    serves: tuple[str, ...]       # REQUEST_KINDS this method's retriever answers
    stages: tuple[Stage, ...]
    encoder: bool = False         # gives the engine its gallery space: encodes query images, predicts
    #                               attributes and categories, carries style paths (an "encoder" model)
    fixed: Mapping[str, Any] = field(default_factory=dict)
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # named option sets (--preset)
    checkpoint_name: Callable[[Any], str] | None = None  # default checkpoint folder for a config; None: name

    # --- configs -------------------------------------------------------------------------------------
    def options(self) -> list[Option]:
        """The options a user may set for this method (CLI flags, form fields)."""
        return options(self.config_cls, self.fixed)

    def make_config(self, values: Mapping[str, Any] | None = None, preset: str | None = None,
                    source: str = "") -> Any:
        """This method's config: defaults, then the preset, then ``values``; the entry's fixed values last."""
        merged: dict[str, Any] = {}
        if preset is not None:
            if preset not in self.presets:
                names = ", ".join(self.presets) or "none"
                raise ValueError(f"method {self.name} has no preset {preset!r} (presets: {names})")
            merged |= dict(self.presets[preset])
        merged |= dict(values or {})
        return config_from_dict(self.config_cls, merged, self.fixed, source)

    def config_dict(self, config: Any) -> dict[str, Any]:
        return config_to_dict(config)

    def default_checkpoint(self, config: Any) -> str:
        return self.checkpoint_name(config) if self.checkpoint_name else self.name

    def stage_epochs(self, config: Any) -> list[tuple[Stage, int]]:
        """The stages a run of ``config`` goes through, with their epoch counts (0-epoch stages left out)."""
        return [(s, int(getattr(config, s.epochs_field))) for s in self.stages if int(getattr(config, s.epochs_field)) > 0]

    # --- the parts, imported on first use --------------------------------------------------------
    @property
    def trainer_cls(self) -> type:
        return load_ref(self.trainer)

    @property
    def evaluate(self) -> Callable:
        return load_ref(self.evaluator)

    @property
    def retriever_cls(self) -> type:
        return load_ref(self.retriever)

    def create_trainer(self, workspace, out_dir=None, callbacks=None, config: Any = None, **values):
        """A trainer of this method: ``config`` or one made from ``values``; ``out_dir`` defaults to
        ``<workspace>/checkpoints/<default checkpoint name>``."""
        config = config if config is not None else self.make_config(values)
        out_dir = out_dir if out_dir is not None else workspace.checkpoints / self.default_checkpoint(config)
        return self.trainer_cls(workspace, config, out_dir, callbacks, method=self.name)


def load_ref(ref: str) -> Any:
    """``"package.module:attribute"`` -> the attribute (import on first use)."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


_REGISTRY: dict[str, MethodSpec] = {}


def register_method(spec: MethodSpec) -> MethodSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"method {spec.name!r} is registered twice")
    unknown = [k for k in spec.serves if k not in REQUEST_KINDS]
    if unknown:
        raise ValueError(f"method {spec.name!r} serves unknown request kinds {unknown}; known: {list(REQUEST_KINDS)}")
    _REGISTRY[spec.name] = spec
    return spec


def get_method(name: str) -> MethodSpec:
    if name not in _REGISTRY:
        raise ValueError(f"unknown method {name!r}; available: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def list_methods(serves: str | None = None, encoder: bool | None = None) -> list[str]:
    """Registered method names in registration order, optionally only those serving a request kind or
    only (non-)encoders."""
    return [n for n, m in _REGISTRY.items()
            if (serves is None or serves in m.serves) and (encoder is None or m.encoder == encoder)]


def methods_serving(kind: str) -> list[str]:
    return list_methods(serves=kind)


@dataclass
class EvalRequest:
    """What ``fashion eval`` asks a method's evaluator."""

    workspace: Any                # fashion_gui.workspace.Workspace
    catalog: Any                  # fashion_gui.catalog.store.Catalog
    checkpoint: Any               # fashion_gui.inference.checkpoint.Checkpoint
    split: str = "test"
    device: Any = "cpu"           # torch.device
    reference_in_gallery: bool = True   # ADDE / UIGR keep the reference image in the gallery; TIRG / RTIC drop it
    oracle_routing: bool = False  # unified models: route each query by its own task instead of the classifier
    out_png: Any = None           # where a method may render a figure (e.g. a heat map); None: none


@dataclass
class EvalReport:
    """What an evaluator returns: the figures, the protocol they follow and a one-line summary."""

    task: str
    metrics: dict[str, Any]
    protocol: dict[str, Any]
    summary: str
