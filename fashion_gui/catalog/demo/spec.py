"""What the demo renderer draws: a product (``GarmentSpec``) seen in one photograph (``ViewSpec``)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Difficulty:
    """Knobs that make the demo catalog harder; the defaults keep good models clearly below perfect.

    shade_jitter:   std of the per-product colour shift, in sRGB units (close pairs start to overlap ~25)
    pattern_scale:  (min, max) multiplier of pattern period (stripe width, check size, dot spacing)
    occlusion:      probability that a photograph has an occluding prop (price tag, hanger, a hand-held card)
    noise:          std of per-pixel sensor noise, in sRGB units
    pose:           max in-plane rotation in degrees; scale and offset jitter grow with it
    lighting:       max strength of the directional light gradient (0 = flat studio light)
    """

    shade_jitter: float = 14.0
    pattern_scale: tuple[float, float] = (0.7, 1.4)
    occlusion: float = 0.25
    noise: float = 5.0
    pose: float = 10.0
    lighting: float = 0.3

    @classmethod
    def named(cls, name: str) -> "Difficulty":
        """``easy`` | ``default`` | ``hard``."""
        presets = {
            "easy": cls(shade_jitter=3.0, pattern_scale=(0.9, 1.1), occlusion=0.0, noise=0.0, pose=3.0, lighting=0.1),
            "default": cls(),
            "hard": cls(shade_jitter=22.0, pattern_scale=(0.5, 2.0), occlusion=0.35, noise=9.0, pose=15.0,
                        lighting=0.4),
        }
        if name not in presets:
            raise ValueError(f"unknown difficulty {name!r}; choose one of {', '.join(presets)}")
        return presets[name]


@dataclass(frozen=True)
class GarmentSpec:
    """One product: its labelled attributes plus the hidden per-product appearance draws.

    ``attributes`` holds every attribute that applies to ``category`` (DEMO_SCHEMA names -> values),
    including ``category`` and ``colour``. ``base_rgb`` is the colour after shade jitter;
    ``accent_rgb`` is the second colour of the pattern (stripes, checks, dots, flowers).
    """

    category: str
    attributes: dict[str, str]
    base_rgb: tuple[int, int, int]
    accent_rgb: tuple[int, int, int]
    pattern_scale: float = 1.0
    pattern_phase: float = 0.0
    seed: int = 0


@dataclass(frozen=True)
class ViewSpec:
    """One photograph of a product: pose, scale, lighting, background, occlusion, noise.

    angle: in-plane rotation (degrees); scale: garment size relative to the frame (1 = default margin);
    offset: centre shift as a fraction of the frame; light_angle / light_strength: a directional
    shading gradient; background_rgb: studio backdrop; occluder: None or (x0, y0, x1, y1, kind) in
    frame fractions; noise: pixel noise std; seed: drives the noise.
    """

    angle: float = 0.0
    scale: float = 1.0
    offset: tuple[float, float] = (0.0, 0.0)
    light_angle: float = 45.0
    light_strength: float = 0.2
    background_rgb: tuple[int, int, int] = (246, 246, 244)
    occluder: tuple[float, float, float, float, str] | None = None
    noise: float = 0.0
    seed: int = 0
