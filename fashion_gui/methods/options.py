"""Config dataclass fields that describe themselves: the single source of CLI flags, help text, choices and
the Training tab's form (DESIGN.md, "Methods: one way in"; nanoGPT's GPTConfig with field metadata).

A method's config is a plain dataclass whose fields are declared with :func:`option`; :func:`options` reads
them back as :class:`Option` records, :func:`config_from_dict` builds a config from JSON-like values with a
clear error for unknown or ill-typed keys, and :func:`config_to_dict` is its inverse.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass
from typing import Any

META_KEY = "fashion_option"


@dataclass(frozen=True)
class Option:
    """One user-settable config field."""

    name: str                     # the dataclass field
    kind: str                     # "int" | "float" | "str" | "bool" | "ints" | "strs" | "path"
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    stage: str | None = None      # the training stage it belongs to (its epochs field, its lr), if any
    advanced: bool = False        # the form shows it under "More options"
    optional: bool = False        # None is a valid value (e.g. no weights file)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def option(default: Any = MISSING, *, help: str, choices: Sequence[Any] | None = None, stage: str | None = None,
           advanced: bool = False, default_factory: Any = MISSING, kind: str | None = None) -> Any:
    """A dataclass field with what the CLI and the form need to offer it."""
    meta = {META_KEY: {"help": help, "choices": tuple(choices) if choices is not None else None, "stage": stage,
                       "advanced": advanced, "kind": kind}}
    if default_factory is not MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _kind(tp: Any) -> tuple[str, bool]:
    """A field's annotation -> (kind, optional)."""
    optional = False
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        optional = len(args) < len(typing.get_args(tp))
        tp = args[0]
        origin = typing.get_origin(tp)
    if origin in (tuple, list):
        inner = typing.get_args(tp)[0]
        return ("ints" if inner is int else "strs"), optional
    if tp is bool:
        return "bool", optional
    if tp is int:
        return "int", optional
    if tp is float:
        return "float", optional
    return "str", optional


def options(config_cls: type, fixed: Mapping[str, Any] | None = None) -> list[Option]:
    """The options of a config class, in declaration order; fields in ``fixed`` (set by the method's registry
    entry) and fields declared without :func:`option` (derived values, nested configs) are left out."""
    hints = typing.get_type_hints(config_cls)
    out = []
    for f in dataclasses.fields(config_cls):
        meta = f.metadata.get(META_KEY)
        if meta is None or (fixed and f.name in fixed):
            continue
        kind, optional = _kind(hints[f.name])
        default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
        out.append(Option(f.name, meta["kind"] or kind, default, meta["help"], meta["choices"], meta["stage"],
                          meta["advanced"], optional))
    return out


def coerce(opt: Option, value: Any, source: str = "") -> Any:
    """``value`` (from JSON or a form) as the option's type; a ValueError names the option and the source."""
    where = f" in {source}" if source else ""
    if value is None:
        if opt.optional:
            return None
        raise ValueError(f"{opt.name}{where} must not be empty")
    try:
        if opt.kind == "bool":
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                value = value.lower() in ("true", "1", "yes")
            out: Any = bool(value)
        elif opt.kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            out = int(value)
        elif opt.kind == "float":
            out = float(value)
        elif opt.kind == "ints":
            out = tuple(int(v) for v in (value.split() if isinstance(value, str) else value))
        elif opt.kind == "strs":
            out = tuple(str(v) for v in (value.split() if isinstance(value, str) else value))
        else:
            out = str(value)
    except (TypeError, ValueError):
        raise ValueError(f"{opt.name}{where}: {value!r} is not a valid {opt.kind} value") from None
    if opt.choices is not None and out not in opt.choices:
        raise ValueError(f"{opt.name}{where}: {out!r} is not one of {', '.join(map(str, opt.choices))}")
    return out


def config_from_dict(config_cls: type, values: Mapping[str, Any], fixed: Mapping[str, Any] | None = None,
                     source: str = "") -> Any:
    """A config from option values (a ``--config`` JSON file, the form); ``fixed`` values are the method's
    own and may not be given differently. Unknown keys are an error that lists the valid ones."""
    fixed = dict(fixed or {})
    opts = {o.name: o for o in options(config_cls)}
    known = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(values) - known)
    where = f" in {source}" if source else ""
    if unknown:
        offered = ", ".join(o for o in opts if o not in fixed)
        raise ValueError(f"unknown option(s) {', '.join(unknown)}{where}; this method takes: {offered}")
    clash = [k for k, v in values.items() if k in fixed and _plain(v) != _plain(fixed[k])]
    if clash:
        raise ValueError(f"{', '.join(clash)}{where} cannot be changed for this method (it is "
                         f"{', '.join(f'{k}={fixed[k]!r}' for k in clash)}); pick the method that has the value you want")
    given = {k: (coerce(opts[k], v, source) if k in opts else v) for k, v in values.items() if k not in fixed}
    return config_cls(**{**given, **fixed})


def config_to_dict(config: Any) -> dict[str, Any]:
    """A config as JSON-ready values (tuples as lists, nested dataclasses as dicts)."""
    return {k: _plain(v) for k, v in dataclasses.asdict(config).items()}


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
