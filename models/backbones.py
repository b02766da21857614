"""Image backbones: images ``(B, 3, H, W)`` -> pooled features ``(B, F)``, and their feature maps.

A registry in the style of timm (``register_backbone`` / ``create_backbone`` / ``list_backbones``).
Every backbone is an ``nn.Module`` exposing ``out_dim`` (= F), ``forward_features(images, upto=None)``:
the feature maps ``(B, C, h, w)`` before pooling, after the named stage (``feature_stages`` lists the
names, the last one is the default; ASEN cuts ResNet after ``layer3``), ``feature_channels(upto)`` (= C),
and ``head_prefixes``: the state-dict
prefixes of the torchvision classification head it drops, so that a torchvision checkpoint file
(e.g. ``resnet18-f37072fd.pth``) loads through ``weights_path=`` as well as a file saved from the
backbone itself.

* ``alexnet``: AlexNet conv1-conv5 + fc6 + fc7, output taken before fc7's ReLU (4096-d), as the
  ADDE reference implementation does (REFERENCE.md, ADDE; ADDE supplementary Table 1 row 2).
* ``resnet18`` / ``resnet50``: torchvision ResNets, global-average pooled (512 / 2048-d).
* ``compact``: a small conv-BN-ReLU CNN (~0.76 M parameters, 256-d) for the CPU demo.

No weights are loaded by default. ``pretrained=True`` asks torchvision's weights API (downloads);
``weights_path=`` loads a local state-dict file strictly.
"""

from __future__ import annotations

import os
from typing import Callable, Sequence

import torch
import torch.nn as nn

BackboneFactory = Callable[..., nn.Module]

_BACKBONES: dict[str, BackboneFactory] = {}


def register_backbone(fn: BackboneFactory | None = None, *, name: str | None = None):
    """Register a backbone factory ``fn(pretrained: bool = False, **kw) -> nn.Module`` under ``name``.

    Usable as ``@register_backbone`` or ``@register_backbone(name="alias")``.
    """

    def _register(factory: BackboneFactory) -> BackboneFactory:
        key = name or factory.__name__
        if key in _BACKBONES:
            raise ValueError(f"backbone '{key}' is already registered")
        _BACKBONES[key] = factory
        return factory

    return _register(fn) if fn is not None else _register


def list_backbones() -> list[str]:
    """Names of the registered backbones, sorted."""
    return sorted(_BACKBONES)


def create_backbone(
    name: str,
    pretrained: bool = False,
    weights_path: str | os.PathLike | None = None,
    **kw,
) -> nn.Module:
    """Build backbone ``name``; optionally with torchvision's pretrained weights or a local state dict.

    Args:
        name: one of ``list_backbones()``.
        pretrained: download torchvision's default ImageNet weights (network needed).
        weights_path: local state-dict file (a file saved from this backbone, or the torchvision
            checkpoint of the same architecture); loaded strictly.
        **kw: passed to the backbone's factory.
    """
    if name not in _BACKBONES:
        raise ValueError(f"unknown backbone '{name}'; available: {', '.join(list_backbones())}")
    if pretrained and weights_path is not None:
        raise ValueError("pass either pretrained=True or weights_path=..., not both")
    model = _BACKBONES[name](pretrained=pretrained, **kw)
    if weights_path is not None:
        load_backbone_weights(model, weights_path)
    return model


def load_backbone_weights(model: nn.Module, weights_path: str | os.PathLike) -> None:
    """Load a local state-dict file into ``model`` strictly, with an actionable error message."""
    path = os.fspath(weights_path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"backbone weights file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unreadable / not a torch file: re-raised with the file named
        raise RuntimeError(f"could not read backbone weights from {path}: {exc}") from exc
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise RuntimeError(f"{path} does not hold a state dict (got {type(state).__name__})")
    _load_state_dict_strict(model, state, source=path)


def _load_state_dict_strict(model: nn.Module, state: dict, source: str) -> None:
    head_prefixes = tuple(getattr(model, "head_prefixes", ()))
    state = {k: v for k, v in state.items() if not (head_prefixes and k.startswith(head_prefixes))}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise RuntimeError(
            f"weights in {source} do not match backbone {type(model).__name__}: "
            f"missing keys {_preview(missing)}; unexpected keys {_preview(unexpected)}. "
            "Pass a state dict saved from this backbone or the torchvision checkpoint of the same architecture."
        )
    wrong = [k for k in expected if tuple(expected[k].shape) != tuple(state[k].shape)]
    if wrong:
        k = wrong[0]
        raise RuntimeError(
            f"weights in {source} have the wrong shape for {len(wrong)} tensor(s) of {type(model).__name__}, "
            f"e.g. '{k}': file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        )
    model.load_state_dict(state, strict=True)


def _preview(keys: Sequence[str], limit: int = 8) -> str:
    if not keys:
        return "[]"
    shown = ", ".join(keys[:limit])
    more = f", ... ({len(keys) - limit} more)" if len(keys) > limit else ""
    return f"[{shown}{more}]"


def _tv_models():
    """torchvision.models, imported on first use: it takes ~3 s to import and the default compact backbone
    (and so the app's cold start) does not need it."""
    import torchvision.models

    return torchvision.models


def _torchvision_state_dict(arch: str) -> dict:
    """Torchvision's default weights for ``arch`` (downloads); a RuntimeError that says what to do on failure."""
    try:
        weights = _tv_models().get_model_weights(arch).DEFAULT
        return weights.get_state_dict(progress=False)
    except Exception as exc:  # network / cache failures of the download
        raise RuntimeError(
            f"could not obtain torchvision's pretrained weights for '{arch}' ({type(exc).__name__}: {exc}). "
            "Download the checkpoint on a machine with network access and pass it with weights_path=<file>, "
            "or train without pretrained weights."
        ) from exc


class AlexNetFc7(nn.Module):
    """AlexNet conv1-conv5, fc6, fc7; output = fc7 before its ReLU (ADDE supp. Table 1; REFERENCE.md).

    Keeps torchvision's module names (``features``, ``classifier.1`` = fc6, ``classifier.4`` = fc7),
    so torchvision's AlexNet checkpoint loads once its last layer ``classifier.6`` is dropped.
    Smallest valid input: 63 x 63.
    """

    head_prefixes = ("classifier.6.",)

    def __init__(self) -> None:
        super().__init__()
        net = _tv_models().alexnet(weights=None)
        self.features = net.features
        self.avgpool = net.avgpool
        self.classifier = net.classifier[:5]  # dropout, fc6, relu, dropout, fc7 (no final relu)
        self.out_dim = 4096

    feature_stages = ("conv5",)

    def feature_channels(self, upto: str | None = None) -> int:
        _stage(self, upto)
        return 256

    def forward_features(self, images: torch.Tensor, upto: str | None = None) -> torch.Tensor:
        _stage(self, upto)
        return self.features(images)  # (B, 256, h, w): conv5 after its ReLU and max pool

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.forward_features(images)  # (B, 256, h, w)
        x = torch.flatten(self.avgpool(x), 1)  # (B, 9216)
        return self.classifier(x)  # (B, 4096)


class ResNetPooled(nn.Module):
    """Torchvision ResNet up to global average pooling (torchvision module names, ``fc`` dropped)."""

    head_prefixes = ("fc.",)

    def __init__(self, arch: str) -> None:
        super().__init__()
        net = getattr(_tv_models(), arch)(weights=None)
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        self.avgpool = net.avgpool
        self.out_dim = net.fc.in_features

    feature_stages = ("layer1", "layer2", "layer3", "layer4")

    def feature_channels(self, upto: str | None = None) -> int:
        last = getattr(self, _stage(self, upto))[-1]
        return (last.bn3 if hasattr(last, "bn3") else last.bn2).num_features

    def forward_features(self, images: torch.Tensor, upto: str | None = None) -> torch.Tensor:
        """Maps after ``upto`` (default layer4): layer1 (B, 64|256, H/4, W/4) ... layer4 (B, F, H/32, W/32)."""
        stop = _stage(self, upto)
        x = self.maxpool(self.relu(self.bn1(self.conv1(images))))  # (B, 64, H/4, W/4)
        for name in self.feature_stages:
            x = getattr(self, name)(x)
            if name == stop:
                break
        return x

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.avgpool(self.forward_features(images)), 1)  # (B, F)


class CompactCNN(nn.Module):
    """Small CNN for the CPU demo: stride-2 conv3x3-BN-ReLU stages, then global average pooling.

    Default channels (32, 64, 128, 192, 256): ~0.76 M parameters, ~65 MMAC per 128 px image, 256-d.
    """

    head_prefixes: tuple[str, ...] = ()

    def __init__(self, channels: Sequence[int] = (32, 64, 128, 192, 256), in_channels: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        prev = in_channels
        for ch in channels:
            layers += [
                nn.Conv2d(prev, ch, kernel_size=3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(ch),
                nn.ReLU(inplace=True),
            ]
            prev = ch
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.out_dim = int(channels[-1])
        self.channels = tuple(int(c) for c in channels)
        self.feature_stages = tuple(f"stage{i + 1}" for i in range(len(channels)))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def feature_channels(self, upto: str | None = None) -> int:
        return self.channels[self.feature_stages.index(_stage(self, upto))]

    def forward_features(self, images: torch.Tensor, upto: str | None = None) -> torch.Tensor:
        """Maps after stage ``upto`` (default the last): stage s is (B, channels[s-1], H/2^s, W/2^s)."""
        stop = self.feature_stages.index(_stage(self, upto)) + 1
        return self.features[:3 * stop](images)  # three modules (conv, BN, ReLU) per stage

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.forward_features(images)  # (B, C, H/2^S, W/2^S)
        return torch.flatten(self.pool(x), 1)  # (B, C)


def _stage(model: nn.Module, upto: str | None) -> str:
    """``upto`` checked against the backbone's ``feature_stages`` (None: the last stage)."""
    stages = tuple(model.feature_stages)
    if upto is None:
        return stages[-1]
    if upto not in stages:
        raise ValueError(f"{type(model).__name__} has no feature stage {upto!r}; stages: {', '.join(stages)}")
    return upto


def _with_torchvision_weights(model: nn.Module, arch: str, pretrained: bool) -> nn.Module:
    if pretrained:
        _load_state_dict_strict(model, _torchvision_state_dict(arch), source=f"torchvision '{arch}' weights")
    return model


@register_backbone
def alexnet(pretrained: bool = False) -> nn.Module:
    """AlexNet up to fc7 before its ReLU, 4096-d (ADDE-M backbone)."""
    return _with_torchvision_weights(AlexNetFc7(), "alexnet", pretrained)


@register_backbone
def resnet18(pretrained: bool = False) -> nn.Module:
    """ResNet18, average pooled, 512-d (ADDE-C / ADDE-O backbone)."""
    return _with_torchvision_weights(ResNetPooled("resnet18"), "resnet18", pretrained)


@register_backbone
def resnet50(pretrained: bool = False) -> nn.Module:
    """ResNet50, average pooled, 2048-d."""
    return _with_torchvision_weights(ResNetPooled("resnet50"), "resnet50", pretrained)


@register_backbone
def compact(pretrained: bool = False, channels: Sequence[int] = (32, 64, 128, 192, 256)) -> nn.Module:
    """Small CPU-friendly CNN, 256-d by default; has no pretrained weights."""
    if pretrained:
        raise ValueError("backbone 'compact' has no pretrained weights; train it or pass weights_path=<file>")
    return CompactCNN(channels=channels)
