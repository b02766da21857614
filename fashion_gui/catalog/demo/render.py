"""Procedural product photographs for the demo catalog (Pillow + numpy only).

``render_garment(spec, view, size)`` draws one product (``GarmentSpec``) as one studio photograph
(``ViewSpec``): the garment centred on a light backdrop, with soft volume and fold shading, its pattern and
fabric texture, hardware (buttons, zips, laces, buckles), a drop shadow, an optional prop (price tag, card,
hanger), a directional light gradient and sensor noise. Every labelled attribute value changes the drawing.

Pipeline: a builder per category describes the garment as ordered polygons ("parts") in unit coordinates
(y down) plus seams, topstitching, fold lines and hardware. The view's placement (fit to the frame, rotation,
scale, offset) maps those coordinates onto a canvas ``_SS`` times the output size, where the parts are
rasterised into a part-index map; colour, pattern and fabric texture are filled per pixel (in the garment's
own axes, so they turn with it) and a per-part volume shading is computed from blurred part masks at half
resolution. The garment layer is downscaled with LANCZOS and composited over the backdrop and its shadow.
Randomness comes only from ``numpy.random.default_rng(spec.seed)`` (fabric noise) and
``default_rng(view.seed)`` (pixel noise), so the output is a pure function of (spec, view, size).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from fashion_gui.catalog.demo.schema import CATEGORIES, COLOURS, DEMO_SCHEMA, allowed_values
from fashion_gui.catalog.demo.spec import GarmentSpec, ViewSpec

RGB = tuple[int, int, int]
Pt = tuple[float, float]
HardwareFn = Callable[[ImageDraw.ImageDraw, "_Frame"], None]  # draws buttons, zips... over the photo

_SS = 2  # supersampling factor
_FRAME_FILL = 0.82  # the garment's larger side as a fraction of the frame (before view.scale)

# The category's plain look when an attribute is absent from ``spec.attributes``.
_COMMON_DEFAULTS = {"pattern": "solid", "texture": "cotton", "fit": "regular", "pocket": "none"}
_DEFAULTS: dict[str, dict[str, str]] = {
    "t-shirt": {"sleeve": "short", "neckline": "crew", "fastening": "none"},
    "shirt": {"sleeve": "long", "neckline": "collar", "fastening": "buttons"},
    "sweater": {"sleeve": "long", "neckline": "crew", "fastening": "none"},
    "dress": {"sleeve": "sleeveless", "neckline": "scoop", "length": "knee", "fastening": "none"},
    "skirt": {"length": "knee"},
    "trousers": {},
    "shorts": {},
    "coat": {"sleeve": "long", "neckline": "collar", "length": "knee", "fastening": "buttons"},
    "shoes": {"heel": "flat", "fastening": "laces", "texture": "leather"},
    "bag": {"handle": "top", "fastening": "none", "texture": "leather"},
}

_FIT_WIDTH = {"slim": 0.86, "regular": 1.0, "loose": 1.17}
_METAL: RGB = (204, 206, 212)
_METAL_EDGE: RGB = (112, 114, 122)
_METAL_HI: RGB = (250, 250, 252)
_GOLD: RGB = (214, 182, 104)
_GOLD_EDGE: RGB = (140, 108, 50)
_DENIM_THREAD: RGB = (226, 172, 92)

# Sleeve (length, angle from vertical in degrees, cuff/root width ratio) per garment style.
_SLEEVES: dict[str, dict[str, tuple[float, float, float]]] = {
    "t-shirt": {"short": (0.14, 54.0, 0.92), "three-quarter": (0.29, 30.0, 0.74), "long": (0.45, 16.0, 0.6)},
    "shirt": {"short": (0.15, 50.0, 0.9), "three-quarter": (0.31, 26.0, 0.72), "long": (0.5, 11.0, 0.58)},
    "sweater": {"short": (0.14, 50.0, 0.9), "three-quarter": (0.3, 28.0, 0.76), "long": (0.46, 19.0, 0.66)},
    "coat": {"short": (0.14, 44.0, 0.92), "three-quarter": (0.3, 22.0, 0.78), "long": (0.47, 8.0, 0.66)},
    "dress": {"short": (0.09, 55.0, 0.95), "three-quarter": (0.22, 26.0, 0.72), "long": (0.37, 15.0, 0.6)},
}
_PATTERN_PERIOD = {"striped": 0.085, "checked": 0.1, "dotted": 0.075, "floral": 0.12, "chevron": 0.11}


# ----------------------------------------------------------------------------------------------------------
# geometry helpers (unit coordinates, arrays of shape (N, 2))
# ----------------------------------------------------------------------------------------------------------
def _pts(*points: Sequence[float]) -> np.ndarray:
    return np.asarray(points, dtype=np.float64)


def _qbez(p0: Sequence[float], p1: Sequence[float], p2: Sequence[float], n: int = 10) -> np.ndarray:
    """Quadratic Bezier from p0 to p2 (n points, both ends included)."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    a, b, c = (np.asarray(p, dtype=np.float64) for p in (p0, p1, p2))
    return (1 - t) ** 2 * a + 2 * (1 - t) * t * b + t**2 * c


def _cbez(p0: Sequence[float], p1: Sequence[float], p2: Sequence[float], p3: Sequence[float],
          n: int = 14) -> np.ndarray:
    """Cubic Bezier from p0 to p3 (n points, both ends included)."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    a, b, c, d = (np.asarray(p, dtype=np.float64) for p in (p0, p1, p2, p3))
    return (1 - t) ** 3 * a + 3 * (1 - t) ** 2 * t * b + 3 * (1 - t) * t**2 * c + t**3 * d


def _spline(points: Sequence[Sequence[float]], n: int = 8) -> np.ndarray:
    """Open Catmull-Rom spline through ``points`` (n samples per segment)."""
    p = np.asarray(points, dtype=np.float64)
    if len(p) < 3:
        return np.linspace(p[0], p[-1], n + 1)
    ext = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    t = np.linspace(0.0, 1.0, n, endpoint=False)[:, None]
    out = []
    for i in range(len(p) - 1):
        p0, p1, p2, p3 = ext[i : i + 4]
        out.append(0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                          + (3 * p1 - p0 - 3 * p2 + p3) * t**3))
    out.append(p[-1:])
    return np.vstack(out)


def _ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 28,
             a0: float = 0.0, a1: float = 360.0) -> np.ndarray:
    """Points on an ellipse; angles in degrees, 0 = right, 90 = down."""
    a = np.radians(np.linspace(a0, a1, n, endpoint=(a1 - a0) < 360.0))
    return np.stack([cx + rx * np.cos(a), cy + ry * np.sin(a)], axis=1)


def _mirror(points: np.ndarray, cx: float = 0.5) -> np.ndarray:
    """Reflect about the vertical line x = cx (order reversed, so a left outline continues on the right)."""
    m = np.array(points, dtype=np.float64)
    m[:, 0] = 2 * cx - m[:, 0]
    return m[::-1]


def _round_corners(corners: Sequence[Sequence[float]], r: float, n: int = 6) -> np.ndarray:
    """A closed polygon with every corner replaced by a quadratic arc of radius ~r."""
    c = np.asarray(corners, dtype=np.float64)
    out = []
    for i in range(len(c)):
        prev, cur, nxt = c[i - 1], c[i], c[(i + 1) % len(c)]
        d0 = prev - cur
        d1 = nxt - cur
        r0 = min(r, 0.5 * float(np.hypot(*d0)))
        r1 = min(r, 0.5 * float(np.hypot(*d1)))
        a = cur + d0 / max(np.hypot(*d0), 1e-9) * r0
        b = cur + d1 / max(np.hypot(*d1), 1e-9) * r1
        out.append(_qbez(a, cur, b, n))
    return np.vstack(out)


def _rect(x0: float, y0: float, x1: float, y1: float, r: float = 0.0) -> np.ndarray:
    corners = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
    return _round_corners(corners, r) if r > 0 else np.asarray(corners, dtype=np.float64)


def _stroke(line: np.ndarray, hw: float | np.ndarray) -> np.ndarray:
    """The outline of a thick polyline with half width ``hw`` (scalar or per point)."""
    p = np.asarray(line, dtype=np.float64)
    tang = np.empty_like(p)
    tang[1:-1] = p[2:] - p[:-2]
    tang[0] = p[1] - p[0]
    tang[-1] = p[-1] - p[-2]
    tang /= np.maximum(np.hypot(tang[:, 0], tang[:, 1]), 1e-9)[:, None]
    normal = np.stack([-tang[:, 1], tang[:, 0]], axis=1)
    w = np.broadcast_to(np.asarray(hw, dtype=np.float64), (len(p),))[:, None]
    return np.vstack([p + normal * w, (p - normal * w)[::-1]])


def _interp_x(points: np.ndarray, y: float) -> float:
    """x of a roughly vertical polyline at height y."""
    order = np.argsort(points[:, 1])
    return float(np.interp(y, points[order, 1], points[order, 0]))


# ----------------------------------------------------------------------------------------------------------
# colour helpers
# ----------------------------------------------------------------------------------------------------------
def _luma(rgb: Sequence[float]) -> float:
    return (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]) / 255.0


def _clamp_byte(value: float) -> int:
    return min(255, max(0, int(round(value))))


def _scale_rgb(rgb: Sequence[float], k: float) -> RGB:
    return _clamp_byte(rgb[0] * k), _clamp_byte(rgb[1] * k), _clamp_byte(rgb[2] * k)


def _mix_rgb(a: Sequence[float], b: Sequence[float], t: float) -> RGB:
    return (_clamp_byte(a[0] + (b[0] - a[0]) * t), _clamp_byte(a[1] + (b[1] - a[1]) * t),
            _clamp_byte(a[2] + (b[2] - a[2]) * t))


def _contrast_rgb(rgb: Sequence[float], amount: float = 0.45) -> RGB:
    """A tone of ``rgb`` that stands out from it: darker on light colours, lighter on dark ones."""
    if _luma(rgb) > 0.55:
        return _scale_rgb(rgb, 1.0 - amount)
    return _mix_rgb(rgb, (255, 255, 255), amount + 0.1)


def _readable_accent(base: RGB, accent: RGB) -> RGB:
    """The pattern colour, pushed away from the base colour when the two are too close to read."""
    if float(np.linalg.norm(np.subtract(base, accent, dtype=np.float64))) >= 70.0:
        return accent
    return _contrast_rgb(base, 0.5)


# ----------------------------------------------------------------------------------------------------------
# the garment description
# ----------------------------------------------------------------------------------------------------------
@dataclass
class _Part:
    """One filled region of the garment, drawn in order (later parts cover earlier ones)."""

    poly: np.ndarray
    tone: float = 1.0  # brightness multiplier (inner lining < 1)
    colour: RGB | None = None  # fixed colour (soles, lining) instead of the garment colour
    patterned: bool = True
    textured: bool = True
    soft: float = 1.0  # volume-shading radius multiplier (small for flat patches)
    casts: float = 0.0  # strength of the soft shadow this part casts on the parts below it
    gloss: float = 0.0  # extra specular sheen


@dataclass
class _Garment:
    """Everything the painter needs: parts plus line work and hardware, all in unit coordinates."""

    parts: list[_Part] = field(default_factory=list)
    seams: list[tuple[np.ndarray, float]] = field(default_factory=list)  # (polyline, width)
    stitches: list[np.ndarray] = field(default_factory=list)  # topstitching polylines
    folds: list[tuple[np.ndarray, float, float]] = field(default_factory=list)  # (polyline, +-strength, width)
    hardware: list[HardwareFn] = field(default_factory=list)
    vertical_stripes: bool = False

    def part(self, poly: np.ndarray, **kw: object) -> _Part:
        p = _Part(np.asarray(poly, dtype=np.float64), **kw)  # type: ignore[arg-type]
        self.parts.append(p)
        return p

    def seam(self, line: np.ndarray, width: float = 0.005) -> None:
        self.seams.append((np.asarray(line, dtype=np.float64), width))

    def stitch(self, line: np.ndarray) -> None:
        self.stitches.append(np.asarray(line, dtype=np.float64))

    def fold(self, line: np.ndarray, strength: float, width: float = 0.014) -> None:
        self.folds.append((np.asarray(line, dtype=np.float64), strength, width))


@dataclass(frozen=True)
class _Look:
    """The resolved attribute values plus the garment colours."""

    category: str
    values: dict[str, str]
    base: RGB
    accent: RGB

    def __getitem__(self, name: str) -> str:
        return self.values[name]

    def get(self, name: str) -> str | None:
        return self.values.get(name)


def _resolve_look(spec: GarmentSpec) -> _Look:
    """Attribute values with the category's defaults filled in; unknown names or values raise ValueError."""
    if spec.category not in CATEGORIES:
        raise ValueError(f"unknown garment category {spec.category!r}; expected one of {', '.join(CATEGORIES)}")
    values = dict(_COMMON_DEFAULTS)
    values.update(_DEFAULTS[spec.category])
    for name, value in spec.attributes.items():
        if name in ("category", "colour"):
            continue
        kind = DEMO_SCHEMA.type(name)
        if value not in kind.values:
            raise ValueError(
                f"unknown {name} {value!r} for a {spec.category}; expected one of {', '.join(kind.values)}"
            )
        values[name] = value
    base = tuple(int(c) for c in spec.base_rgb)
    accent = _readable_accent(base, tuple(int(c) for c in spec.accent_rgb))  # type: ignore[arg-type]
    return _Look(spec.category, values, base, accent)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------------------
# placement of the garment in the frame
# ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Frame:
    """Maps garment unit coordinates to canvas pixels: p -> origin + k * R(angle) (p - centre).

    R rotates counter-clockwise on screen for a positive angle (y points down).
    """

    k: float  # canvas pixels per garment unit
    cos: float
    sin: float
    centre: tuple[float, float]  # garment bounding-box centre (unit coordinates)
    origin: tuple[float, float]  # where the centre lands on the canvas (pixels)
    width: int  # canvas size (pixels)
    height: int

    def apply(self, points: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        dx, dy = p[:, 0] - self.centre[0], p[:, 1] - self.centre[1]
        x = self.origin[0] + self.k * (self.cos * dx + self.sin * dy)
        y = self.origin[1] + self.k * (-self.sin * dx + self.cos * dy)
        return np.stack([x, y], axis=1)

    def xy(self, points: np.ndarray, scale: float = 1.0, dx: float = 0.0, dy: float = 0.0) -> list[float]:
        """Flat pixel coordinates for ImageDraw at ``scale`` times the canvas resolution, minus (dx, dy)."""
        p = self.apply(points) * scale
        p[:, 0] -= dx
        p[:, 1] -= dy
        return p.ravel().tolist()

    def garment_axes(self) -> tuple[np.ndarray, np.ndarray]:
        """Canvas pixel positions measured along the garment's own axes (pixels, broadcastable pair)."""
        x = (np.arange(self.width, dtype=np.float32) + 0.5 - self.origin[0])[None, :]
        y = (np.arange(self.height, dtype=np.float32) + 0.5 - self.origin[1])[:, None]
        if self.sin == 0.0:
            return self.cos * x, self.cos * y
        return (self.cos * x - self.sin * y).astype(np.float32), (self.sin * x + self.cos * y).astype(np.float32)


def _make_frame(g: "_Garment", view: ViewSpec, size: int) -> _Frame:
    """Fit the garment's bounding box to the frame (partially normalising its size), then apply the view."""
    allp = np.vstack([p.poly for p in g.parts])
    x0, y0 = allp.min(axis=0)
    x1, y1 = allp.max(axis=0)
    extent = max(float(x1 - x0), float(y1 - y0), 1e-3)
    fit = float(np.clip((_FRAME_FILL / extent) ** 0.55, 0.8, 1.35))
    k = fit * max(float(view.scale), 0.05) * size
    t = math.radians(view.angle)
    origin = (size / 2 + float(view.offset[0]) * size, size / 2 + float(view.offset[1]) * size)
    return _Frame(k, math.cos(t), math.sin(t), (float(x0 + x1) / 2, float(y0 + y1) / 2), origin, size, size)


def _crop_frame(g: "_Garment", fr: _Frame) -> tuple[_Frame, tuple[int, int, int, int]]:
    """The frame restricted to the garment's bounding box plus room for hardware (even-aligned corners)."""
    allp = fr.apply(np.vstack([p.poly for p in g.parts]))
    margin = 4 + int(0.05 * fr.k)
    x0 = max(0, (int(allp[:, 0].min()) - margin) // 2 * 2)
    y0 = max(0, (int(allp[:, 1].min()) - margin) // 2 * 2)
    x1 = min(fr.width, (int(allp[:, 0].max()) + margin + 2) // 2 * 2)
    y1 = min(fr.height, (int(allp[:, 1].max()) + margin + 2) // 2 * 2)
    x1, y1 = max(x1, x0 + 2), max(y1, y0 + 2)
    crop = _Frame(fr.k, fr.cos, fr.sin, fr.centre, (fr.origin[0] - x0, fr.origin[1] - y0), x1 - x0, y1 - y0)
    return crop, (x0, y0, x1, y1)


# ----------------------------------------------------------------------------------------------------------
# hardware (drawn over the shaded garment)
# ----------------------------------------------------------------------------------------------------------
def _rgba(rgb: RGB, a: int = 255) -> tuple[int, int, int, int]:
    return rgb[0], rgb[1], rgb[2], a


def _hw_buttons(points: Sequence[Pt], r: float, colour: RGB) -> HardwareFn:
    """Round buttons with a darker rim and a small highlight."""
    rim = _scale_rgb(colour, 0.62)
    hi = _mix_rgb(colour, (255, 255, 255), 0.5)

    def draw(d: ImageDraw.ImageDraw, fr: _Frame) -> None:
        rr = max(r * fr.k, 1.0)
        for cx, cy in fr.apply(points):
            d.ellipse((cx - rr, cy - rr + 0.8, cx + rr, cy + rr + 0.8), fill=(0, 0, 0, 70))
            d.ellipse((cx - rr, cy - rr, cx + rr, cy + rr), fill=_rgba(rim))
            ri = rr * 0.78
            d.ellipse((cx - ri, cy - ri, cx + ri, cy + ri), fill=_rgba(colour))
            rh, o = rr * 0.3, rr * 0.4
            d.ellipse((cx - o - rh, cy - o - rh, cx - o + rh, cy - o + rh), fill=_rgba(hi, 200))
            if rr >= 5:
                rd = rr * 0.13
                for sx in (-0.25, 0.25):
                    d.ellipse((cx + sx * rr - rd, cy - rd, cx + sx * rr + rd, cy + rd), fill=_rgba(rim))

    return draw


def _hw_zip(line: np.ndarray, width: float = 0.007, pull: bool = True) -> HardwareFn:
    """A metallic zip along ``line`` with a pull tab hanging from its first point."""
    start = np.asarray(line, dtype=np.float64)[0]
    x, y = float(start[0]), float(start[1])
    tab = _rect(x - 0.011, y + 0.004, x + 0.011, y + 0.038, 0.007)
    shine = _pts((x - 0.004, y + 0.014), (x - 0.004, y + 0.03))

    def draw(d: ImageDraw.ImageDraw, fr: _Frame) -> None:
        pts = fr.xy(line)
        w = max(2, round(width * fr.k))
        d.line(pts, fill=_rgba(_METAL_EDGE), width=w + 2, joint="curve")
        d.line(pts, fill=_rgba(_METAL), width=w, joint="curve")
        d.line(pts, fill=_rgba(_METAL_HI), width=max(1, w // 3))
        if pull:
            cx, cy = fr.apply([(x, y)])[0]
            rr = max(0.008 * fr.k, 1.0)
            d.ellipse((cx - rr, cy - rr, cx + rr, cy + rr), outline=_rgba(_METAL_EDGE), width=max(1, round(rr * 0.4)))
            d.polygon(fr.xy(tab), fill=_rgba(_METAL), outline=_rgba(_METAL_EDGE))
            d.line(fr.xy(shine), fill=_rgba(_METAL_HI), width=max(1, round(0.003 * fr.k)))

    return draw


def _hw_laces(row_a: np.ndarray, row_b: np.ndarray, colour: RGB, eyelet: RGB = _METAL_EDGE,
              width: float = 0.006) -> HardwareFn:
    """Criss-cross laces between two rows of eyelets."""
    shade = _scale_rgb(colour, 0.7)

    def draw(d: ImageDraw.ImageDraw, fr: _Frame) -> None:
        a, b = fr.apply(row_a), fr.apply(row_b)
        w = max(2, round(width * fr.k))
        for i in range(len(a) - 1):
            for p, q in ((a[i], b[i + 1]), (b[i], a[i + 1])):
                d.line((*p, *q), fill=_rgba(shade), width=w + 2)
                d.line((*p, *q), fill=_rgba(colour), width=w)
        re = max(0.0065 * fr.k, 1.0)
        for cx, cy in np.vstack([a, b]):
            d.ellipse((cx - re, cy - re, cx + re, cy + re), fill=_rgba(eyelet))
            d.ellipse((cx - re * 0.45, cy - re * 0.45, cx + re * 0.45, cy + re * 0.45), fill=(30, 30, 32, 255))

    return draw


def _hw_buckle(cx: float, cy: float, w: float, h: float, metal: RGB = _METAL, edge: RGB = _METAL_EDGE) -> HardwareFn:
    """A small rectangular buckle frame with a prong."""
    t = 0.24 * min(w, h)
    outer = _rect(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, t * 0.6)
    inner = _rect(cx - w / 2 + t, cy - h / 2 + t, cx + w / 2 - t, cy + h / 2 - t)
    prong = _pts((cx - w / 2 + t * 0.5, cy), (cx + w / 2 - t * 0.3, cy))
    shine = _pts((cx - w / 2 + t * 0.5, cy - h / 2 + t * 0.35), (cx + w / 2 - t * 0.5, cy - h / 2 + t * 0.35))

    def draw(d: ImageDraw.ImageDraw, fr: _Frame) -> None:
        d.polygon(fr.xy(outer), fill=_rgba(metal), outline=_rgba(edge))
        d.polygon(fr.xy(inner), fill=_rgba(_scale_rgb(edge, 0.7)))
        d.line(fr.xy(prong), fill=_rgba(metal), width=max(1, round(t * 0.6 * fr.k)))
        d.line(fr.xy(shine), fill=_rgba(_METAL_HI), width=max(1, round(t * 0.3 * fr.k)))

    return draw


def _hw_ring(cx: float, cy: float, r: float, metal: RGB = _METAL) -> HardwareFn:
    """A metal ring (D-ring, rivet)."""

    def draw(d: ImageDraw.ImageDraw, fr: _Frame) -> None:
        x, y = fr.apply([(cx, cy)])[0]
        rr = max(r * fr.k, 1.5)
        t = max(1, round(rr * 0.45))
        d.ellipse((x - rr, y - rr, x + rr, y + rr), outline=_rgba(_METAL_EDGE), width=t + 1)
        if rr > 2.5:
            d.ellipse((x - rr + 1, y - rr + 1, x + rr - 1, y + rr - 1), outline=_rgba(metal), width=t)

    return draw


def _hw_line(line: np.ndarray, colour: RGB, width: float) -> HardwareFn:
    """A drawn cord (drawstring, lace end)."""

    def draw(d: ImageDraw.ImageDraw, fr: _Frame) -> None:
        pts = fr.xy(line)
        w = max(2, round(width * fr.k))
        d.line(pts, fill=_rgba(_scale_rgb(colour, 0.7)), width=w + 2, joint="curve")
        d.line(pts, fill=_rgba(colour), width=w, joint="curve")

    return draw


# ----------------------------------------------------------------------------------------------------------
# tops: t-shirt, shirt, sweater, coat and the bodice of a dress
# ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _TopShape:
    """A front view of an upper-body garment; ``side`` lists (half width, y) from the armpit down to the hem."""

    neck_y: float
    neck_hw: float
    shoulder_y: float
    shoulder_hw: float
    side: tuple[tuple[float, float], ...]
    hem_curve: float = 0.0  # the hem centre sits this much lower than its corners
    hem_wave: float = 0.0  # amplitude of a wavy (flared) hem
    cx: float = 0.5

    @property
    def arm_y(self) -> float:
        return self.side[0][1]

    @property
    def hem_y(self) -> float:
        return self.side[-1][1] + self.hem_curve

    def half_width_at(self, y: float) -> float:
        hws = [hw for hw, _ in self.side]
        ys = [yy for _, yy in self.side]
        return float(np.interp(y, ys, hws))


def _hem_half(cx: float, hw: float, y_side: float, curve: float, wave: float, n: int = 16) -> np.ndarray:
    """The left half of a hem, from its corner to the centre; ``wave`` adds soft flutes."""
    t = np.linspace(0.0, 1.0, n)
    x = cx - hw * (1.0 - t)
    y = y_side + curve * (1.0 - (1.0 - t) ** 2)
    if wave > 0:
        y = y + wave * np.sin(np.pi * (1.0 - t) * max(2, round(hw / 0.05)))
    return np.stack([x, y], axis=1)


def _top_body(s: _TopShape, sleeveless: bool) -> tuple[np.ndarray, np.ndarray]:
    """The body outline and its left armhole (shoulder point -> armpit)."""
    cx = s.cx
    neck = (cx - s.neck_hw, s.neck_y)
    arm_hw, arm_y = s.side[0]
    arm = (cx - arm_hw, arm_y)
    if sleeveless:
        sh = (cx - s.neck_hw - 0.055, s.neck_y + 0.012)
        armhole = _cbez(sh, (sh[0] - 0.004, sh[1] + 0.08), (arm[0] + 0.035, arm_y - 0.002), arm, 12)
    else:
        sh = (cx - s.shoulder_hw, s.shoulder_y)
        mid = ((sh[0] + arm[0]) / 2 + 0.008, (sh[1] + arm[1]) / 2)
        armhole = _qbez(sh, mid, arm, 8)
    side = _spline([arm] + [(cx - hw, y) for hw, y in s.side[1:]], 8)
    hem_hw, hem_y = s.side[-1]
    hem = _hem_half(cx, hem_hw, hem_y, s.hem_curve, s.hem_wave)
    left = np.vstack([_pts(neck), armhole, side[1:], hem[1:]])
    right = _mirror(left, cx)
    back = _qbez((cx + s.neck_hw, s.neck_y), (cx, s.neck_y + 0.03), neck, 9)
    return np.vstack([left, right[1:], back[1:-1]]), armhole


def _sleeve_side(g: _Garment, s: _TopShape, armhole: np.ndarray, sleeve: str, style: str, right: bool,
                 texture: str) -> None:
    """One sleeve (built on the left and mirrored for the right) with cuff, hem stitching and creases."""
    length, angle, taper = _SLEEVES[style][sleeve]

    def flip(points: np.ndarray) -> np.ndarray:
        return _mirror(points, s.cx) if right else points

    top, bot = armhole[0], armhole[-1]
    a = math.radians(angle)
    d = np.array([-math.sin(a), math.cos(a)])
    n = np.array([-math.cos(a), -math.sin(a)])
    m = (top + bot) / 2
    w0 = max(abs(float(np.dot(top - bot, n))) / 2, 0.035)
    wc = max(w0 * taper, 0.026)
    c = m + d * length
    gathered = style == "sweater" and sleeve != "short"
    if gathered:
        cuff_len = 0.045
        cs = c - d * cuff_len
        w_puff = max(w0 * (taper + 0.12), wc * 1.2)
        wr = wc * 0.82
        outer = _qbez(top, (top + cs) / 2 + n * 0.016, cs + n * w_puff, 8)
        inner = _qbez(cs - n * w_puff, (cs + bot) / 2 - n * 0.004, bot, 8)
        poly = np.vstack([outer, _pts(cs + n * wr * 1.05, c + n * wr, c - n * wr, cs - n * wr * 1.05), inner,
                          armhole[::-1][1:-1]])
        g.part(flip(poly), soft=0.9)
        cuff = _pts(cs + n * wr * 1.05, c + n * wr, c - n * wr, cs - n * wr * 1.05)
        g.part(flip(cuff), tone=0.94, soft=0.35, casts=0.25)
        for k in np.linspace(-0.8, 0.8, 7):
            g.seam(flip(_pts(cs + n * wr * k + d * 0.004, c + n * wr * k * 0.95 - d * 0.003)), 0.003)
    else:
        outer = _qbez(top, (top + c) / 2 + n * 0.012, c + n * wc, 8)
        inner = _qbez(c - n * wc, (c + bot) / 2 - n * 0.004, bot, 8)
        g.part(flip(np.vstack([outer, inner, armhole[::-1][1:-1]])), soft=0.8)
        if style == "shirt" and sleeve != "short":
            cl = 0.04
            g.part(flip(_pts(c - d * cl + n * wc * 1.02, c + n * wc, c - n * wc, c - d * cl - n * wc * 1.02)),
                   tone=0.96, soft=0.3, casts=0.25)
        elif style == "coat":
            g.seam(flip(_pts(c - d * 0.05 + n * wc, c - d * 0.05 - n * wc)), 0.004)
        else:
            g.stitch(flip(_pts(c - d * 0.02 + n * wc * 0.95, c - d * 0.02 - n * wc * 0.95)))
    # creases along the sleeve
    g.fold(flip(_pts(m + d * length * 0.22 - n * w0 * 0.35, c - d * length * 0.12 - n * wc * 0.3)), -0.45, 0.014)
    g.fold(flip(_pts(m + d * length * 0.2 + n * w0 * 0.3, c - d * length * 0.15 + n * wc * 0.45)), 0.35, 0.012)
    if sleeve == "long":
        e = m + d * length * 0.58
        g.fold(flip(_pts(e - n * wc * 0.9, e + d * 0.03 + n * wc * 0.2)), -0.4, 0.01)
        g.fold(flip(_pts(e + d * 0.05 - n * wc * 0.8, e + d * 0.075 + n * wc * 0.3)), -0.3, 0.009)
    if texture == "denim" or style == "shirt":
        g.stitch(flip(_qbez(top, (top + c) / 2 + n * 0.008, c + n * wc * 0.85 - d * 0.05, 8)))


def _draw_sleeves(g: _Garment, s: _TopShape, armhole: np.ndarray, sleeve: str, style: str, texture: str) -> None:
    for right in (False, True):
        _sleeve_side(g, s, armhole, sleeve, style, right, texture)


def _shoulder_y_at(s: _TopShape, x: float, sleeveless: bool) -> float:
    """y of the shoulder line at x (left side)."""
    sh_x = s.cx - s.neck_hw - 0.055 if sleeveless else s.cx - s.shoulder_hw
    sh_y = s.neck_y + 0.012 if sleeveless else s.shoulder_y
    t = (s.cx - s.neck_hw - x) / max(s.cx - s.neck_hw - sh_x, 1e-6)
    return s.neck_y + float(np.clip(t, 0, 1)) * (sh_y - s.neck_y)


def _neck_opening(g: _Garment, s: _TopShape, front: np.ndarray, band_hw: float) -> None:
    """The inside of the back (darker) above the front neckline, plus a neckband along the neckline."""
    left, right = front[0], front[-1]
    back = _qbez(right, (s.cx, (left[1] + right[1]) / 2 + 0.03), left, 9)
    g.part(np.vstack([front, back[1:-1]]), tone=0.52, soft=0.5, textured=False)
    if band_hw > 0:
        g.part(_stroke(front, band_hw), tone=0.95, soft=0.3, casts=0.2)


def _draw_collar(g: _Garment, s: _TopShape, style: str) -> float:
    """A shirt collar (two points) or, on coats, notched lapels; returns where the front opening starts."""
    cx, ny, nhw = s.cx, s.neck_y, s.neck_hw
    if style == "coat":
        g.part(_pts((cx - nhw * 0.7, ny + 0.01), (cx + nhw * 0.7, ny + 0.01), (cx, ny + 0.24)), tone=0.45,
               soft=0.4, patterned=False)
        stand = _stroke(_qbez((cx - nhw - 0.01, ny + 0.012), (cx, ny - 0.03), (cx + nhw + 0.01, ny + 0.012), 9),
                        0.013)
        g.part(stand, tone=0.9, soft=0.4)
        lapel = _pts((cx - nhw + 0.002, ny - 0.006), (cx - nhw - 0.05, ny + 0.03), (cx - nhw - 0.045, ny + 0.075),
                     (cx - nhw - 0.022, ny + 0.082), (cx - nhw - 0.07, ny + 0.1), (cx - 0.004, ny + 0.245),
                     (cx - nhw * 0.55, ny + 0.03))
        for pts in (lapel, _mirror(lapel, cx)):
            g.part(pts, soft=0.45, casts=0.45)
            g.stitch(_pts(pts[4] + (0.008 if pts is lapel else -0.008, 0.004), pts[5] + (0, -0.018)))
        return ny + 0.25
    g.part(_stroke(_qbez((cx - nhw - 0.006, ny + 0.004), (cx, ny - 0.03), (cx + nhw + 0.006, ny + 0.004), 9),
                   0.012), tone=0.9, soft=0.35)
    g.part(_pts((cx - 0.02, ny + 0.0), (cx + 0.02, ny + 0.0), (cx, ny + 0.04)), tone=0.5, soft=0.3,
           patterned=False)
    leaf = _pts((cx - nhw - 0.004, ny - 0.012), (cx - nhw - 0.016, ny + 0.03), (cx - 0.058, ny + 0.085),
                (cx - 0.003, ny + 0.034), (cx - 0.008, ny + 0.004))
    for pts in (leaf, _mirror(leaf, cx)):
        g.part(pts, soft=0.35, casts=0.45)
        g.stitch(pts[1:4] + (np.sign(cx - pts[1:4, 0])[:, None] * 0.006 * _pts((1, 0))))
    return ny + 0.035


def _draw_hood_back(g: _Garment, s: _TopShape) -> None:
    """The hood lying behind the neck, with its lining showing above the neckline."""
    cx, ny, nhw = s.cx, s.neck_y, s.neck_hw
    w = nhw + 0.08
    half = _spline([(cx - nhw - 0.03, ny + 0.05), (cx - w, ny - 0.02), (cx - w * 0.82, ny - 0.12),
                    (cx - w * 0.4, ny - 0.17), (cx, ny - 0.18)], 6)
    g.part(np.vstack([half, _mirror(half, cx)[1:]]), soft=0.8)
    opening = np.vstack([_qbez((cx - nhw * 1.1, ny + 0.02), (cx - nhw * 1.05, ny - 0.065), (cx, ny - 0.07), 8),
                         _qbez((cx, ny - 0.07), (cx + nhw * 1.05, ny - 0.065), (cx + nhw * 1.1, ny + 0.02), 8)[1:]])
    g.part(opening, tone=0.6, soft=0.6, textured=False)
    g.seam(_pts((cx, ny - 0.178), (cx, ny - 0.072)), 0.004)


def _draw_neckline(g: _Garment, s: _TopShape, neck: str, style: str, sleeveless: bool, trim: RGB) -> float:
    """Draw the neckline; returns the y where a front fastening can start."""
    cx, ny, nhw = s.cx, s.neck_y, s.neck_hw
    left, right = (cx - nhw, ny), (cx + nhw, ny)
    if neck == "crew":
        _neck_opening(g, s, _qbez(left, (cx, ny + 0.085), right, 14), 0.01)
        return ny + 0.05
    if neck == "v-neck":
        front = np.vstack([np.linspace(left, (cx, ny + 0.14), 7), np.linspace((cx, ny + 0.14), right, 7)[1:]])
        _neck_opening(g, s, front, 0.009)
        return ny + 0.14
    if neck == "scoop":
        x = cx - nhw * 1.45
        y = _shoulder_y_at(s, x, sleeveless)
        front = _cbez((x, y), (x + 0.01, ny + 0.13), (2 * cx - x - 0.01, ny + 0.13), (2 * cx - x, y), 16)
        _neck_opening(g, s, front, 0.008)
        return ny + 0.1
    if neck == "turtleneck":
        tw = nhw * 1.12
        tube = np.vstack([_qbez((cx - tw, ny + 0.02), (cx, ny + 0.05), (cx + tw, ny + 0.02), 9),
                          _round_corners(((cx + tw * 1.02, ny - 0.02), (cx + tw * 0.98, ny - 0.09),
                                          (cx - tw * 0.98, ny - 0.09), (cx - tw * 1.02, ny - 0.02)), 0.012, 4)])
        g.part(tube, tone=0.96, soft=0.55, casts=0.3)
        g.part(_ellipse(cx, ny - 0.088, tw * 0.96, 0.013, 24), tone=0.45, soft=0.3, textured=False)
        g.fold(_pts((cx - tw * 0.95, ny - 0.035), (cx + tw * 0.95, ny - 0.035)), -0.6, 0.01)
        g.fold(_pts((cx - tw * 0.9, ny - 0.05), (cx + tw * 0.9, ny - 0.05)), 0.4, 0.01)
        for k in np.linspace(-0.85, 0.85, 9):
            g.seam(_pts((cx + tw * k, ny - 0.075), (cx + tw * k, ny + 0.02)), 0.0028)
        return ny + 0.04
    if neck == "collar":
        return _draw_collar(g, s, style)
    if neck == "hood":
        depth = 0.1 if style == "coat" else 0.085
        front = np.vstack([np.linspace(left, (cx, ny + depth), 6), np.linspace((cx, ny + depth), right, 6)[1:]])
        _neck_opening(g, s, front, 0.0)
        for sgn in (-1, 1):
            edge = _qbez((cx + sgn * nhw * 1.05, ny - 0.01), (cx + sgn * nhw * 0.6, ny + depth * 0.6),
                         (cx - sgn * 0.012, ny + depth + 0.008), 8)
            g.part(_stroke(edge, 0.011), tone=0.96, soft=0.3, casts=0.35)
        if style != "coat":
            for sgn in (-1, 1):
                cord = _qbez((cx + sgn * 0.028, ny + depth * 0.6), (cx + sgn * 0.036, ny + depth + 0.06),
                             (cx + sgn * 0.03, ny + depth + 0.13), 6)
                g.hardware.append(_hw_line(cord, trim, 0.0055))
                tip = cord[-1]
                g.hardware.append(_hw_line(_pts(tip, tip + (0, 0.022)), _METAL, 0.007))
        return ny + depth
    raise ValueError(f"unknown neckline {neck!r}")


def _pocket_patch(g: _Garment, x0: float, y0: float, x1: float, y1: float, pointed: bool = False) -> None:
    """A patch pocket with topstitching."""
    if pointed:
        poly = _pts((x0, y0), (x1, y0), (x1, y1 - 0.012), ((x0 + x1) / 2, y1), (x0, y1 - 0.012))
    else:
        poly = _rect(x0, y0, x1, y1, 0.006)
    g.part(poly, soft=0.25, casts=0.35)
    g.seam(_pts((x0 + 0.004, y0 + 0.006), (x1 - 0.004, y0 + 0.006)), 0.004)
    c = poly.mean(axis=0)
    g.stitch(np.vstack([poly, poly[:1]]) * 0.85 + c * 0.15)


def _pocket_flap(g: _Garment, x0: float, y0: float, x1: float, h: float, buttons: RGB | None) -> None:
    """A pocket flap with a button and a shadow underneath."""
    flap = _pts((x0 - 0.004, y0), (x1 + 0.004, y0), (x1 + 0.004, y0 + h * 0.7), ((x0 + x1) / 2, y0 + h),
                (x0 - 0.004, y0 + h * 0.7))
    g.part(flap, soft=0.25, casts=0.6)
    g.seam(_pts((x0 - 0.004, y0), (x1 + 0.004, y0)), 0.004)
    c = flap.mean(axis=0)
    g.stitch(c + (flap - c) * 0.8)
    if buttons is not None:
        g.hardware.append(_hw_buttons([((x0 + x1) / 2, y0 + h * 0.68)], 0.008, buttons))


def _draw_top_pockets(g: _Garment, kind: str, s: _TopShape, style: str, button: RGB) -> None:
    """Chest / side / flap pockets on an upper-body garment."""
    if kind == "none":
        return
    cx = s.cx
    chw = s.half_width_at(s.arm_y + 0.05)
    chest_y = s.arm_y + (0.0 if style != "coat" else 0.02)
    pw = min(0.085, chw * 0.42)
    if kind == "chest":
        if style == "coat":  # a welt pocket with a pocket square
            x0, y0 = cx + chw * 0.3, chest_y + 0.035
            g.part(_pts((x0 + 0.012, y0 + 0.004), (x0 + 0.03, y0 - 0.035), (x0 + 0.05, y0 - 0.028),
                        (x0 + 0.07, y0 - 0.04), (x0 + pw - 0.01, y0 - 0.004)), colour=button, patterned=False,
                   textured=False, soft=0.3)
            g.part(_pts((x0, y0), (x0 + pw, y0 - 0.01), (x0 + pw, y0 + 0.012), (x0, y0 + 0.022)), tone=0.94, soft=0.2,
                   casts=0.5)
            g.seam(_pts((x0, y0 + 0.001), (x0 + pw, y0 - 0.009)), 0.005)
            return
        x0 = cx + chw * 0.3
        _pocket_patch(g, x0, chest_y, x0 + pw, chest_y + pw * 1.15, pointed=style == "shirt")
        return
    if kind == "side":
        y = s.hem_y - (0.2 if style == "coat" else 0.17)
        hw = s.half_width_at(y)
        for sgn in (-1, 1):
            if style == "coat":
                xa, xb = cx + sgn * hw * 0.42, cx + sgn * hw * 0.7
                slot = _stroke(_pts((xa, y - 0.055), (xb, y + 0.035)), 0.011)
                g.part(slot, tone=0.93, soft=0.2, casts=0.5)
                g.seam(_pts((xa + sgn * 0.004, y - 0.05), (xb + sgn * 0.004, y + 0.04)), 0.004)
            else:
                xa = cx + sgn * hw * 0.5
                x0, x1 = sorted((xa, xa + sgn * pw))
                _pocket_patch(g, x0, y, x1, y + pw * 1.05)
        return
    if kind == "flap":
        if style == "coat":
            y = s.hem_y - 0.2
            hw = s.half_width_at(y)
            for sgn in (-1, 1):
                x0, x1 = sorted((cx + sgn * hw * 0.3, cx + sgn * hw * 0.75))
                _pocket_patch(g, x0, y, x1, y + 0.1)
                _pocket_flap(g, x0, y - 0.006, x1, 0.045, None)
            return
        for sgn in (-1, 1):
            x0, x1 = sorted((cx + sgn * chw * 0.25, cx + sgn * (chw * 0.25 + pw)))
            _pocket_patch(g, x0, chest_y + 0.01, x1, chest_y + 0.01 + pw * 1.15)
            _pocket_flap(g, x0, chest_y, x1, 0.035, button)
        return
    raise ValueError(f"unknown pocket {kind!r}")


def _draw_top_fastening(g: _Garment, kind: str | None, s: _TopShape, style: str, open_y: float,
                        button: RGB) -> None:
    """Buttons, zip, lacing or a buckled belt down the front."""
    cx = s.cx
    hem = s.hem_y
    if style in ("coat", "shirt") or kind in ("buttons", "zip"):
        g.seam(_pts((cx, open_y), (cx, hem)), 0.004)
    if kind in (None, "none"):
        if style == "coat":  # worn open: the fronts part towards the hem
            gap = np.vstack([_pts((cx - 0.004, open_y)), _qbez((cx - 0.006, open_y + 0.05), (cx - 0.01, hem - 0.2),
                                                                (cx - 0.032, hem + 0.002), 8),
                             _qbez((cx + 0.032, hem + 0.002), (cx + 0.01, hem - 0.2), (cx + 0.006, open_y + 0.05), 8),
                             _pts((cx + 0.004, open_y))])
            g.part(gap, tone=0.42, patterned=False, textured=False, soft=0.3)
        return
    y0, y1 = open_y + 0.025, hem - (0.09 if style == "coat" else 0.05)
    if kind == "buttons":
        r = {"coat": 0.016, "shirt": 0.0095}.get(style, 0.011)
        count = max(3, round((y1 - y0) / (0.12 if style == "coat" else 0.085)) + 1)
        if style in ("shirt", "sweater", "dress", "t-shirt"):
            for dx in (-0.019, 0.019):
                g.seam(_pts((cx + dx, open_y), (cx + dx, hem - 0.004)), 0.0035)
        g.hardware.append(_hw_buttons([(cx, y) for y in np.linspace(y0, y1, count)], r, button))
    elif kind == "zip":
        g.hardware.append(_hw_zip(_pts((cx, open_y + 0.006), (cx, hem - 0.004)), 0.007))
    elif kind == "laces":
        ys = np.linspace(open_y - 0.02, open_y + 0.11, 5)
        g.part(_pts((cx - 0.012, open_y - 0.03), (cx + 0.012, open_y - 0.03), (cx, open_y + 0.13)), tone=0.5,
               soft=0.3, patterned=False)
        left, right = np.stack([np.full(5, cx - 0.026), ys], 1), np.stack([np.full(5, cx + 0.026), ys], 1)
        g.hardware.append(_hw_laces(left, right, button, width=0.0045))
    elif kind == "buckle":
        y = s.side[1][1] if len(s.side) > 2 else (s.arm_y + hem) / 2
        hw = s.half_width_at(y)
        belt = _stroke(_pts((cx - hw - 0.004, y), (cx + hw + 0.004, y)), 0.018)
        g.part(belt, tone=0.84, soft=0.3, casts=0.45)
        g.hardware.append(_hw_buckle(cx, y, 0.05, 0.046))
    else:
        raise ValueError(f"unknown fastening {kind!r}")


def _draw_top_folds(g: _Garment, s: _TopShape) -> None:
    """Soft drag lines from the armpits and a highlight down the front."""
    cx, ay = s.cx, s.arm_y
    chw = s.side[0][0]
    for sgn in (-1, 1):
        g.fold(_pts((cx + sgn * chw * 0.85, ay + 0.03), (cx + sgn * chw * 0.3, ay + 0.2)), -0.4, 0.022)
        g.fold(_pts((cx + sgn * chw * 0.55, s.hem_y - 0.1), (cx + sgn * chw * 0.5, s.hem_y - 0.01)), -0.35, 0.016)
    g.fold(_pts((cx + chw * 0.1, ay + 0.02), (cx + chw * 0.16, s.hem_y - 0.06)), 0.22, 0.05)


def _build_top(g: _Garment, look: _Look, s: _TopShape, style: str) -> None:
    """Any upper-body garment: hood, body, hem band, sleeves, neckline, pockets, fastening, folds."""
    sleeve = look.get("sleeve") or "short"
    sleeveless = sleeve == "sleeveless"
    neck = look.get("neckline") or "crew"
    texture = look["texture"]
    button = _contrast_rgb(look.base, 0.5) if style != "shirt" else _mix_rgb(look.base, (250, 248, 240), 0.75)
    if neck == "hood":
        _draw_hood_back(g, s)
    body, armhole = _top_body(s, sleeveless)
    g.part(body, soft=1.25)
    if style == "sweater":
        hw, y = s.side[-1]
        band = _pts((s.cx - hw, y - 0.05), (s.cx + hw, y - 0.05), (s.cx + hw, y), (s.cx - hw, y))
        g.part(band, tone=0.94, soft=0.3, casts=0.25)
        for k in np.linspace(-0.95, 0.95, 21):
            g.seam(_pts((s.cx + hw * k, y - 0.045), (s.cx + hw * k, y - 0.003)), 0.003)
    else:
        hem_line = _hem_half(s.cx, s.side[-1][0], s.side[-1][1], s.hem_curve, s.hem_wave)
        hem_line = np.vstack([hem_line, _mirror(hem_line, s.cx)[1:]])
        g.stitch(hem_line - (0, 0.02))
    if style == "shirt":
        yoke_y = s.shoulder_y + 0.05
        g.seam(_pts((s.cx - s.half_width_at(s.arm_y) - 0.01, yoke_y), (s.cx + s.half_width_at(s.arm_y) + 0.01,
                                                                       yoke_y)), 0.004)
    if sleeveless:
        g.stitch(armhole + (0.008, 0.0))
        g.stitch(_mirror(armhole, s.cx) + (-0.008, 0.0))
    else:
        _draw_sleeves(g, s, armhole, sleeve, style, texture)
    open_y = _draw_neckline(g, s, neck, style, sleeveless, button)
    _draw_top_pockets(g, look.get("pocket") or "none", s, style, button)
    fastening = look.get("fastening")
    if style not in ("shirt", "sweater", "coat") and fastening == "none":
        fastening = None
    _draw_top_fastening(g, fastening, s, style, open_y, button)
    _draw_top_folds(g, s)


def _build_tshirt(g: _Garment, look: _Look) -> None:
    f = _FIT_WIDTH[look["fit"]]
    chw = 0.185 * f
    slim, loose = look["fit"] == "slim", look["fit"] == "loose"
    s = _TopShape(neck_y=0.2, neck_hw=0.066, shoulder_y=0.228, shoulder_hw=chw + 0.028,
                  side=((chw, 0.37), (chw * (0.93 if slim else 1.0), 0.58), (chw * (1.08 if loose else 1.0), 0.8)))
    _build_top(g, look, s, "t-shirt")


def _build_shirt(g: _Garment, look: _Look) -> None:
    f = _FIT_WIDTH[look["fit"]]
    chw = 0.182 * f
    slim = look["fit"] == "slim"
    s = _TopShape(neck_y=0.14, neck_hw=0.058, shoulder_y=0.165, shoulder_hw=chw + 0.022,
                  side=((chw, 0.32), (chw * (0.9 if slim else 0.98), 0.55), (chw * (0.96 if slim else 1.02), 0.82)),
                  hem_curve=0.055)
    _build_top(g, look, s, "shirt")


def _build_sweater(g: _Garment, look: _Look) -> None:
    f = _FIT_WIDTH[look["fit"]]
    chw = 0.19 * f
    blouse = 1.0 if look["fit"] == "slim" else 1.05
    s = _TopShape(neck_y=0.19, neck_hw=0.07, shoulder_y=0.215, shoulder_hw=chw + 0.016,
                  side=((chw, 0.36), (chw * blouse, 0.62), (chw * 0.92, 0.79)))
    _build_top(g, look, s, "sweater")


def _build_coat(g: _Garment, look: _Look) -> None:
    fit = look["fit"]
    f = _FIT_WIDTH[fit]
    chw = 0.158 * f
    hem_y = {"mini": 0.6, "knee": 0.77, "midi": 0.87, "maxi": 0.955}[look.get("length") or "knee"]
    waist_y = 0.42
    waist_hw = chw * (0.86 if fit == "slim" else 0.94)
    flare = {"slim": 0.06, "regular": 0.13, "loose": 0.26}[fit]
    hem_hw = waist_hw + flare * (hem_y - waist_y)
    s = _TopShape(neck_y=0.075, neck_hw=0.058, shoulder_y=0.1, shoulder_hw=chw + 0.028,
                  side=((chw, 0.255), (waist_hw, waist_y), (hem_hw, hem_y)), hem_curve=0.01)
    _build_top(g, look, s, "coat")
    for sgn in (-1, 1):
        g.fold(_pts((s.cx + sgn * waist_hw * 0.5, waist_y + 0.03), (s.cx + sgn * hem_hw * 0.55, hem_y - 0.01)),
               -0.4, 0.02)


def _build_dress(g: _Garment, look: _Look) -> None:
    fit = look["fit"]
    hem_y = {"mini": 0.53, "knee": 0.65, "midi": 0.77, "maxi": 0.9}[look.get("length") or "knee"]
    waist_y = 0.36
    waist_hw = {"slim": 0.086, "regular": 0.094, "loose": 0.118}[fit]
    flare = {"slim": 0.06, "regular": 0.3, "loose": 0.55}[fit]
    hip_hw = waist_hw + (0.03 if fit == "slim" else 0.02 + flare * 0.09)
    hem_hw = max(hip_hw - 0.01, waist_hw + 0.02 + flare * (hem_y - waist_y))
    s = _TopShape(neck_y=0.1, neck_hw=0.056, shoulder_y=0.118, shoulder_hw=0.14,
                  side=((0.122, 0.225), (waist_hw, waist_y), (hip_hw, waist_y + 0.1), (hem_hw, hem_y)),
                  hem_curve=0.012 + 0.035 * flare, hem_wave=0.008 if fit == "loose" else 0.0)
    _build_top(g, look, s, "dress")
    g.seam(_qbez((s.cx - waist_hw, waist_y), (s.cx, waist_y + 0.012), (s.cx + waist_hw, waist_y), 7), 0.004)
    _skirt_folds(g, s.cx, waist_y + 0.01, waist_hw, hem_y, hem_hw, fit)


# ----------------------------------------------------------------------------------------------------------
# bottoms: skirt, trousers, shorts
# ----------------------------------------------------------------------------------------------------------
def _skirt_folds(g: _Garment, cx: float, top: float, top_hw: float, hem_y: float, hem_hw: float, fit: str) -> None:
    """Folds radiating from the waist to the hem; fuller skirts get more of them."""
    count = {"slim": 2, "regular": 4, "loose": 7}[fit]
    for i, k in enumerate(np.linspace(-0.75, 0.75, count)):
        strength = -0.5 if i % 2 == 0 else 0.35
        start = (cx + k * top_hw * 0.7, top + 0.05)
        g.fold(_pts(start, (cx + k * hem_hw * 0.85, hem_y - 0.005)), strength, 0.018 if fit != "slim" else 0.012)


def _draw_slant_pockets(g: _Garment, cx: float, band_y: float, inner_x: float, side: np.ndarray,
                        drop: float) -> None:
    """Front hip pockets: a curved opening from the waistband to the side seam (``side``: left outer seam)."""
    seam = side[(side[:, 1] >= band_y) & (side[:, 1] <= band_y + drop)]
    seam_x = _interp_x(side, band_y + drop)
    for sgn in (-1, 1):
        a = (cx + sgn * inner_x, band_y)
        b = (cx + sgn * (cx - seam_x), band_y + drop)
        curve = _qbez(a, (cx + sgn * inner_x, band_y + drop * 0.9), b, 8)
        edge = seam[::-1].copy()
        edge[:, 0] = cx + sgn * (cx - edge[:, 0])
        facing = np.vstack([curve, edge])
        g.part(facing, soft=0.25, casts=0.55)
        g.seam(curve, 0.0045)
        g.stitch(_qbez((a[0] + sgn * 0.008, a[1]), (cx + sgn * (inner_x + 0.008), band_y + drop * 0.8),
                       (b[0], b[1] - 0.01), 8))


def _draw_bottom_pockets(g: _Garment, kind: str, cx: float, band_y: float, hip_hw: float, side: np.ndarray,
                         leg_y: float, button: RGB, short: bool) -> None:
    """Pockets on skirts, trousers and shorts. ``side`` is the left outer seam polyline."""
    if kind == "none":
        return
    if kind == "side":
        _draw_slant_pockets(g, cx, band_y, hip_hw * 0.52, side, 0.085)
        return
    if kind == "chest":  # a coin pocket below the waistband, riveted at its corners
        x0 = cx + hip_hw * 0.38
        _pocket_patch(g, x0, band_y + 0.012, x0 + 0.066, band_y + 0.076)
        for x in (x0 + 0.006, x0 + 0.06):
            g.hardware.append(_hw_buttons([(x, band_y + 0.018)], 0.006, _METAL))
        return
    if kind == "flap":
        h = 0.085 if short else 0.12
        for sgn in (-1, 1):
            y0 = leg_y
            seam_x = _interp_x(side, y0 + h / 2)  # the left outer seam, mirrored for the right leg
            outer = seam_x if sgn < 0 else 2 * cx - seam_x
            x0, x1 = sorted((outer - sgn * 0.012, outer - sgn * 0.09))
            _pocket_patch(g, x0, y0 + 0.01, x1, y0 + h)
            _pocket_flap(g, x0, y0, x1, 0.035, button)
        return
    raise ValueError(f"unknown pocket {kind!r}")


def _build_skirt(g: _Garment, look: _Look) -> None:
    fit = look["fit"]
    cx = 0.5
    band_top, band_y = 0.1, 0.148
    whw = {"slim": 0.132, "regular": 0.142, "loose": 0.155}[fit]
    hip_hw, hip_y = whw + 0.028, 0.27
    hem_y = {"mini": 0.43, "knee": 0.6, "midi": 0.74, "maxi": 0.9}[look.get("length") or "knee"]
    hem_hw = {"slim": hip_hw - 0.008, "regular": hip_hw + 0.3 * (hem_y - hip_y),
              "loose": hip_hw + 0.62 * (hem_y - hip_y)}[fit]
    side = _spline([(cx - whw, band_y), (cx - hip_hw, hip_y), (cx - hem_hw, hem_y)], 8)
    hem = _hem_half(cx, hem_hw, hem_y, 0.01 + 0.03 * (hem_hw - hip_hw), 0.009 if fit == "loose" else 0.0)
    left = np.vstack([side, hem[1:]])
    g.part(np.vstack([left, _mirror(left, cx)[1:]]), soft=1.2)
    band = np.vstack([_qbez((cx - whw - 0.004, band_top), (cx, band_top + 0.012), (cx + whw + 0.004, band_top), 8),
                      _qbez((cx + whw + 0.002, band_y), (cx, band_y + 0.012), (cx - whw - 0.002, band_y), 8)])
    g.part(band, tone=0.95, soft=0.3, casts=0.35)
    g.stitch(_qbez((cx - whw, band_y - 0.008), (cx, band_y + 0.004), (cx + whw, band_y - 0.008), 8))
    hem_line = np.vstack([hem, _mirror(hem, cx)[1:]])
    g.stitch(hem_line - (0, 0.018))
    if fit == "slim":
        g.seam(_pts((cx, hem_y - 0.07), (cx, hem_y + 0.008)), 0.006)
    button = _contrast_rgb(look.base, 0.5)
    if look["texture"] == "denim":
        g.stitch(_qbez((cx + 0.03, band_y), (cx + 0.03, band_y + 0.1), (cx, band_y + 0.12), 8))
        g.hardware.append(_hw_buttons([(cx, (band_top + band_y) / 2 + 0.006)], 0.011, _METAL))
    _draw_bottom_pockets(g, look["pocket"], cx, band_y, hip_hw, side, band_y + 0.12, button, True)
    _skirt_folds(g, cx, band_y, whw, hem_y, hem_hw, fit)


def _build_legwear(g: _Garment, look: _Look, short: bool) -> None:
    """Trousers or shorts: waistband, two legs, fly, belt loops, creases and pockets."""
    fit = look["fit"]
    cx = 0.5
    band_top, band_y = (0.2, 0.24) if short else (0.065, 0.105)
    whw = {"slim": 0.138, "regular": 0.15, "loose": 0.165}[fit]
    hip_hw, hip_y = whw + 0.02, band_y + 0.11
    crotch_y = band_y + (0.22 if short else 0.25)
    if short:
        hem_y = crotch_y + 0.12
        out_hw = hip_hw + {"slim": 0.0, "regular": 0.018, "loose": 0.04}[fit]
        leg_w = {"slim": 0.128, "regular": 0.15, "loose": 0.178}[fit]
    else:
        hem_y = 0.93
        out_hw = {"slim": 0.118, "regular": 0.142, "loose": 0.185}[fit]
        leg_w = {"slim": 0.08, "regular": 0.104, "loose": 0.148}[fit]
    in_x = cx - out_hw + leg_w
    seam_points = [(cx - whw, band_y), (cx - hip_hw, hip_y), (cx - out_hw, hem_y)]
    if not short:  # the thigh eases into the leg
        seam_points.insert(2, (cx - (hip_hw + out_hw) / 2, (hip_y + hem_y) / 2 + 0.05))
    side = _spline(seam_points, 8)
    inner = _qbez((in_x, hem_y + 0.004), (min(in_x + 0.01, cx - 0.012), crotch_y + 0.05), (cx, crotch_y), 9)
    left = np.vstack([side, inner])
    g.part(np.vstack([left, _mirror(left, cx)[1:]]), soft=1.0)
    band = _rect(cx - whw - 0.003, band_top, cx + whw + 0.003, band_y, 0.004)
    g.part(band, tone=0.95, soft=0.3, casts=0.35)
    for k in (-0.88, -0.45, 0.45, 0.88):
        g.part(_rect(cx + k * whw - 0.008, band_top - 0.006, cx + k * whw + 0.008, band_y + 0.012, 0.003),
               tone=0.97, soft=0.2, casts=0.4)
    # fly and button
    g.stitch(_qbez((cx + 0.028, band_y + 0.004), (cx + 0.03, band_y + 0.12), (cx, band_y + 0.13), 8))
    g.seam(_pts((cx, band_y), (cx, crotch_y - 0.01)), 0.004)
    g.hardware.append(_hw_buttons([(cx, (band_top + band_y) / 2)], 0.011,
                                  _METAL if look["texture"] == "denim" else _contrast_rgb(look.base, 0.5)))
    # hems, creases
    for sgn in (-1, 1):
        hx0, hx1 = cx + sgn * out_hw, cx + sgn * (out_hw - leg_w)
        g.stitch(_pts((hx0 - sgn * 0.004, hem_y - 0.02), (hx1 + sgn * 0.004, hem_y - 0.018)))
        mid_hem = cx + sgn * (out_hw - leg_w / 2)
        mid_hip = cx + sgn * hip_hw * 0.52
        g.fold(_pts((mid_hip, hip_y), (mid_hem, hem_y - 0.01)), 0.45, 0.008)
        g.fold(_pts((mid_hip + sgn * 0.012, hip_y + 0.02), (mid_hem + sgn * 0.012, hem_y - 0.01)), -0.35, 0.01)
        g.fold(_pts((cx + sgn * 0.02, crotch_y - 0.04), (cx + sgn * 0.07, crotch_y + 0.01)), -0.4, 0.01)
    button = _contrast_rgb(look.base, 0.5)
    leg_y = crotch_y + (0.0 if short else 0.06)
    _draw_bottom_pockets(g, look["pocket"], cx, band_y, hip_hw, side, leg_y, button, short)
    g.vertical_stripes = True


# ----------------------------------------------------------------------------------------------------------
# shoes (side view, toe to the left)
# ----------------------------------------------------------------------------------------------------------
_SHOE_PROFILES: dict[str, tuple[tuple[float, float], ...]] = {  # (x, height of the upper above the sole)
    "flat": ((0.105, 0.004), (0.118, 0.04), (0.16, 0.068), (0.25, 0.088), (0.36, 0.108), (0.47, 0.138),
             (0.56, 0.17), (0.63, 0.152), (0.73, 0.145), (0.82, 0.16), (0.858, 0.172), (0.878, 0.12),
             (0.884, 0.05), (0.878, 0.0)),
    "low": ((0.105, 0.004), (0.118, 0.036), (0.17, 0.058), (0.26, 0.074), (0.37, 0.09), (0.48, 0.112),
            (0.56, 0.124), (0.63, 0.1), (0.73, 0.096), (0.82, 0.112), (0.855, 0.12), (0.876, 0.09),
            (0.882, 0.04), (0.876, 0.0)),
    "high": ((0.105, 0.004), (0.12, 0.03), (0.17, 0.048), (0.25, 0.058), (0.33, 0.06), (0.4, 0.046),
             (0.5, 0.034), (0.62, 0.044), (0.73, 0.07), (0.82, 0.098), (0.856, 0.1), (0.874, 0.07),
             (0.88, 0.03), (0.874, 0.0)),
}
_SHOE_OPENING = {"flat": (0.575, 0.86, 0.022), "low": (0.575, 0.855, 0.024), "high": (0.34, 0.855, 0.03)}


def _shoe_sole_bottom(heel: str, ground: float) -> np.ndarray:
    """The underside of the sole from toe to heel (the arch rises for heeled shoes)."""
    h = {"flat": 0.0, "low": 0.05, "high": 0.15}[heel]
    if heel == "flat":
        return _spline([(0.108, ground - 0.03), (0.14, ground - 0.006), (0.25, ground), (0.8, ground),
                        (0.872, ground - 0.004)], 8)
    return _spline([(0.108, ground - 0.022), (0.15, ground - 0.004), (0.3, ground), (0.42, ground - 0.006),
                    (0.58, ground - h * 0.55), (0.72, ground - h), (0.876, ground - h)], 8)


def _build_shoes(g: _Garment, look: _Look) -> None:
    heel, fastening, texture = look["heel"], look["fastening"], look["texture"]
    ground = 0.7
    bottom = _shoe_sole_bottom(heel, ground)
    thick = {"flat": 0.05 if texture != "leather" else 0.03, "low": 0.024, "high": 0.014}[heel]
    sole_top = bottom - (0, thick)
    order = np.argsort(sole_top[:, 0])

    def top_y(x: float) -> float:
        return float(np.interp(x, sole_top[order, 0], sole_top[order, 1]))

    sneaker = heel == "flat" and texture != "leather"
    sole_rgb: RGB = (242, 240, 232) if sneaker else ((74, 54, 40) if heel == "flat" else (44, 38, 36))
    # heel block
    h = ground - bottom[-1, 1]
    if heel == "high":
        g.part(np.vstack([_pts((0.79, ground - h + 0.004), (0.872, ground - h + 0.004)),
                          _qbez((0.872, ground - h + 0.004), (0.84, ground - h * 0.35), (0.845, ground), 8),
                          _pts((0.83, ground), (0.826, ground - h * 0.4))]), colour=sole_rgb, patterned=False,
               textured=False, soft=0.4, gloss=0.5)
        g.part(_rect(0.826, ground - 0.008, 0.846, ground, 0.002), colour=(24, 22, 22), patterned=False,
               textured=False, soft=0.2)
    elif heel == "low":
        g.part(_pts((0.74, ground - h + 0.002), (0.874, ground - h + 0.002), (0.864, ground), (0.752, ground)),
               colour=sole_rgb, patterned=False, textured=False, soft=0.4)
        g.seam(_pts((0.746, ground - 0.01), (0.868, ground - 0.01)), 0.004)
    # tongue behind the throat (lace-ups)
    if fastening == "laces" and heel != "high":
        tx = 0.56
        g.part(_round_corners(((tx - 0.04, top_y(tx - 0.04) - 0.1), (tx - 0.005, top_y(tx) - 0.2),
                               (tx + 0.035, top_y(tx) - 0.195), (tx + 0.03, top_y(tx) - 0.1)), 0.012),
               tone=0.92, soft=0.4)
    # the upper
    prof = _SHOE_PROFILES[heel]
    lift = {"flat": 1.32, "low": 1.3, "high": 1.2}[heel]
    upper_top = _spline([(x, top_y(min(x, 0.876)) - hgt * lift) for x, hgt in prof], 5)
    upper = np.vstack([upper_top, sole_top[::-1]])
    g.part(upper, soft=0.9)
    x_open0, x_open1, depth = _SHOE_OPENING[heel]
    sel = (upper_top[:, 0] >= x_open0) & (upper_top[:, 0] <= x_open1)
    edge = upper_top[sel]
    edge = edge[np.argsort(edge[:, 0])]
    if len(edge) >= 3:
        t = (edge[:, 0] - edge[0, 0]) / max(edge[-1, 0] - edge[0, 0], 1e-6)
        lower = edge + np.stack([np.zeros_like(t), depth * np.sin(np.pi * t) ** 0.7], axis=1)
        g.part(np.vstack([edge, lower[::-1]]), tone=0.42, soft=0.3, patterned=False, textured=False)
        g.stitch(lower + (0, 0.012))
    # sole (drawn last so it sits in front of the upper's lower edge)
    sole = np.vstack([bottom, sole_top[::-1]])
    g.part(sole, colour=sole_rgb, patterned=False, textured=False, soft=0.35, casts=0.2,
           gloss=0.3 if not sneaker else 0.0)
    if sneaker:
        g.part(np.vstack([_qbez((0.104, top_y(0.11) - 0.012), (0.11, top_y(0.13) - 0.04),
                                (0.2, top_y(0.2) - 0.035), 6),
                          _pts((0.2, top_y(0.2) + 0.002), (0.11, top_y(0.11) + 0.002))]),
               colour=sole_rgb, patterned=False, textured=False, soft=0.35)
        g.seam(np.stack([np.linspace(0.15, 0.85, 30), [top_y(x) + thick * 0.45 for x in np.linspace(0.15, 0.85, 30)]],
                        1), 0.0035)
    g.stitch(sole_top[(sole_top[:, 0] > 0.14) & (sole_top[:, 0] < 0.86)] - (0, 0.01))
    # toe cap and heel counter seams
    if heel != "high":
        g.seam(_qbez((0.22, top_y(0.22)), (0.2, top_y(0.2) - 0.075), (0.285, top_y(0.28) - 0.1), 8), 0.0045)
    counter_h = 0.105 if heel == "flat" else 0.08
    g.seam(_qbez((0.78, top_y(0.78)), (0.76, top_y(0.76) - 0.07), (0.83, top_y(0.83) - counter_h), 8), 0.0045)
    g.fold(_pts((0.3, top_y(0.3) - 0.05), (0.4, top_y(0.4) - 0.045)), -0.35, 0.01)
    _draw_shoe_fastening(g, look, heel, fastening, upper_top, top_y)


def _draw_shoe_fastening(g: _Garment, look: _Look, heel: str, fastening: str, upper_top: np.ndarray,
                         top_y: Callable[[float], float]) -> None:
    """Laces (eyelets + criss-cross), a buckled strap, a zip or a buttoned strap on a shoe."""
    order = np.argsort(upper_top[:, 0])

    def edge_y(x: float) -> float:
        return float(np.interp(x, upper_top[order, 0], upper_top[order, 1]))

    lace = (244, 242, 236) if _luma(look.base) < 0.62 else (70, 64, 60)
    if fastening == "none":
        if heel != "high":
            g.seam(_qbez((0.33, edge_y(0.33) + 0.025), (0.45, edge_y(0.45) + 0.04), (0.56, edge_y(0.56) + 0.03), 8),
                   0.005)
        return
    if fastening == "laces":
        x0, x1 = (0.37, 0.56) if heel != "high" else (0.2, 0.33)
        xs = np.linspace(x0, x1, 5)
        row_a = np.stack([xs, [edge_y(x) + 0.02 for x in xs]], 1)
        row_b = np.stack([xs, [edge_y(x) - 0.004 for x in xs]], 1)
        g.hardware.append(_hw_laces(row_a, row_b, lace, width=0.0055))
        tip = row_b[-1]
        for loop in ((tip + (-0.035, -0.03)), (tip + (0.03, -0.035))):
            g.hardware.append(_hw_line(_qbez(tip, loop, tip + (0.004, -0.004), 6), lace, 0.005))
        g.hardware.append(_hw_line(_qbez(tip, tip + (0.02, 0.03), tip + (0.01, 0.07), 6), lace, 0.0045))
        return
    if fastening in ("buckle", "buttons"):
        if heel == "high" and fastening == "buckle":  # an ankle strap
            strap = _qbez((0.866, edge_y(0.86) + 0.004), (0.8, edge_y(0.8) - 0.07), (0.68, edge_y(0.68) - 0.045), 9)
            at = strap[-2]
        elif fastening == "buckle":  # a monk strap across the vamp
            strap = _pts((0.45, edge_y(0.45) - 0.006), (0.52, top_y(0.52) - 0.04))
            at = strap[0] * 0.6 + strap[1] * 0.4
        else:  # a Mary-Jane bar over the instep, buttoned at the side
            x = 0.6 if heel != "high" else 0.5
            strap = _qbez((x - 0.03, edge_y(x - 0.03) - 0.008), (x, edge_y(x) + 0.01),
                          (x + 0.05, top_y(x + 0.05) - 0.03), 8)
            at = strap[-1]
        g.part(_stroke(strap, 0.018), tone=0.88, soft=0.3, casts=0.5)
        if fastening == "buckle":
            g.hardware.append(_hw_buckle(float(at[0]), float(at[1]), 0.036, 0.042))
        else:
            g.hardware.append(_hw_buttons([(float(at[0]), float(at[1]))], 0.014, _contrast_rgb(look.base, 0.5)))
        return
    if fastening == "zip":  # a side zip on a dark tape from the collar to the sole
        x = 0.79
        line = _pts((x, edge_y(x) + 0.006), (x - 0.014, top_y(x) - 0.012))
        g.part(_stroke(line, 0.013), tone=0.55, patterned=False, textured=False, soft=0.2)
        g.hardware.append(_hw_zip(line, 0.008))
        return
    raise ValueError(f"unknown fastening {fastening!r}")


# ----------------------------------------------------------------------------------------------------------
# bags
# ----------------------------------------------------------------------------------------------------------
def _build_bag(g: _Garment, look: _Look) -> None:
    handle, fastening = look["handle"], look["fastening"]
    cx = 0.5
    if handle == "clutch":
        top, bot, thw, bhw, r = 0.44, 0.72, 0.31, 0.31, 0.028
    elif handle == "shoulder":
        top, bot, thw, bhw, r = 0.47, 0.8, 0.23, 0.245, 0.04
    else:
        top, bot, thw, bhw, r = 0.42, 0.84, 0.235, 0.285, 0.03
    body = _round_corners(((cx - thw, top), (cx + thw, top), (cx + bhw, bot), (cx - bhw, bot)), r)
    if handle == "top":
        arc = _qbez((cx - 0.115, top + 0.012), (cx, top - 0.36), (cx + 0.115, top + 0.012), 16)
        g.part(_stroke(arc + (0.022, -0.01), 0.012), tone=0.72, soft=0.35, patterned=False)
        g.part(body, soft=1.1)
        g.part(_stroke(arc, 0.013), soft=0.35, casts=0.35, patterned=False)
        for x in (cx - 0.115, cx + 0.115):
            g.part(_rect(x - 0.022, top - 0.008, x + 0.022, top + 0.05, 0.008), tone=0.9, soft=0.25, casts=0.45,
                   patterned=False)
            g.hardware.append(_hw_ring(x, top + 0.03, 0.0065))
    elif handle == "shoulder":
        strap = _qbez((cx - thw + 0.02, top + 0.01), (cx, top - 0.83), (cx + thw - 0.02, top + 0.01), 24)
        g.part(_stroke(strap, 0.0085), tone=0.9, soft=0.3, patterned=False)
        g.part(body, soft=1.1)
        for x in (cx - thw + 0.02, cx + thw - 0.02):
            g.hardware.append(_hw_ring(x, top + 0.004, 0.014, _GOLD))
    else:
        g.part(body, soft=1.1)
    c = body.mean(axis=0)
    g.stitch(c + (body - c) * np.array([1 - 0.024 / thw, 1 - 0.024 / (bot - top) * 2]))
    g.seam(_pts((cx - bhw + 0.02, bot - 0.045), (cx + bhw - 0.02, bot - 0.045)), 0.004)
    flap_tip = top
    if handle == "clutch":
        flap_tip = top + 0.19
        flap = _round_corners(((cx - thw - 0.002, top - 0.002), (cx + thw + 0.002, top - 0.002),
                               (cx + thw + 0.002, top + 0.035), (cx, flap_tip), (cx - thw - 0.002, top + 0.035)), 0.02)
        g.part(flap, soft=0.5, casts=0.6)
        fc = flap.mean(axis=0)
        g.stitch(fc + (flap - fc) * 0.9)
    else:
        g.seam(_pts((cx - thw + 0.015, top + 0.04), (cx + thw - 0.015, top + 0.04)), 0.004)
    for k in (-0.45, 0.1, 0.55):
        g.fold(_pts((cx + k * thw, top + 0.05), (cx + k * bhw * 1.05, bot - 0.06)), -0.18 if k < 0.3 else 0.18, 0.02)
    _draw_bag_fastening(g, look, fastening, cx, top, bot, thw, flap_tip, handle)


def _draw_bag_fastening(g: _Garment, look: _Look, fastening: str, cx: float, top: float, bot: float, thw: float,
                        flap_tip: float, handle: str) -> None:
    if fastening == "none":
        return
    if fastening == "zip":
        y = top + 0.022 if handle != "clutch" else flap_tip + 0.04
        g.seam(_pts((cx - thw + 0.03, y), (cx + thw - 0.03, y)), 0.012)
        g.hardware.append(_hw_zip(_pts((cx + thw - 0.06, y), (cx - thw + 0.03, y)), 0.006))
        return
    if fastening == "buckle":
        y0 = top - 0.01 if handle != "clutch" else flap_tip - 0.05
        tab = _stroke(_pts((cx, y0), (cx, y0 + 0.14)), 0.024)
        g.part(tab, tone=0.86, soft=0.3, casts=0.5, patterned=False)
        g.hardware.append(_hw_buckle(cx, y0 + 0.085, 0.06, 0.05, _GOLD, _GOLD_EDGE))
        return
    if fastening == "buttons":  # a tab closed with a large button
        y0 = top - 0.01 if handle != "clutch" else flap_tip - 0.06
        g.part(_round_corners(((cx - 0.032, y0), (cx + 0.032, y0), (cx + 0.032, y0 + 0.1), (cx, y0 + 0.125),
                               (cx - 0.032, y0 + 0.1)), 0.012), tone=0.86, soft=0.3, casts=0.5, patterned=False)
        g.hardware.append(_hw_buttons([(cx, y0 + 0.085)], 0.022, _GOLD))
        return
    if fastening == "laces":
        xs = np.linspace(cx - thw * 0.7, cx + thw * 0.7, 7)
        row_a = np.stack([xs, np.full(7, top + 0.03)], 1)
        row_b = np.stack([xs, np.full(7, top + 0.075)], 1)
        g.hardware.append(_hw_laces(row_a, row_b, _contrast_rgb(look.base, 0.55), width=0.005))
        return
    raise ValueError(f"unknown fastening {fastening!r}")


def _build_trousers(g: _Garment, look: _Look) -> None:
    _build_legwear(g, look, short=False)


def _build_shorts(g: _Garment, look: _Look) -> None:
    _build_legwear(g, look, short=True)


_BUILDERS: dict[str, Callable[[_Garment, _Look], None]] = {
    "t-shirt": _build_tshirt,
    "shirt": _build_shirt,
    "sweater": _build_sweater,
    "dress": _build_dress,
    "skirt": _build_skirt,
    "trousers": _build_trousers,
    "shorts": _build_shorts,
    "coat": _build_coat,
    "shoes": _build_shoes,
    "bag": _build_bag,
}


# ----------------------------------------------------------------------------------------------------------
# painting: patterns, textures, shading
# ----------------------------------------------------------------------------------------------------------
def _frac(a: np.ndarray) -> np.ndarray:
    return a - np.floor(a)


def _up2(a: np.ndarray) -> np.ndarray:
    """Bilinear 2x upsampling (pixel-centre aligned, edges replicated)."""
    p = np.pad(a, 1, mode="edge")
    h, w = a.shape
    rows = np.empty((2 * h, w + 2), dtype=np.float32)
    rows[0::2] = 0.75 * p[1:-1] + 0.25 * p[:-2]
    rows[1::2] = 0.75 * p[1:-1] + 0.25 * p[2:]
    out = np.empty((2 * h, 2 * w), dtype=np.float32)
    out[:, 0::2] = 0.75 * rows[:, 1:-1] + 0.25 * rows[:, :-2]
    out[:, 1::2] = 0.75 * rows[:, 1:-1] + 0.25 * rows[:, 2:]
    return out


def _resize_f(arr: np.ndarray, shape: tuple[int, int], resample: int = Image.BILINEAR) -> np.ndarray:
    img = Image.fromarray(np.ascontiguousarray(arr, dtype=np.float32), mode="F")
    return np.asarray(img.resize((shape[1], shape[0]), resample), dtype=np.float32)


def _upsample_nearest(a: np.ndarray, fy: int, fx: int, shape: tuple[int, int]) -> np.ndarray:
    """Blocky upsampling by integer factors, cropped to ``shape``."""
    return np.repeat(np.repeat(a, fy, axis=0), fx, axis=1)[: shape[0], : shape[1]]


def _sample_tile(tile: np.ndarray, u: np.ndarray, v: np.ndarray, phase: float) -> np.ndarray:
    """Repeat ``tile`` along the garment axes (u, v in pixels), shifted by ``phase`` of a tile."""
    th, tw = tile.shape
    iy = np.floor(v + phase * th).astype(np.int64) % th
    ix = np.floor(u + phase * tw).astype(np.int64) % tw
    if iy.shape[1] == 1 and ix.shape[0] == 1:  # axis-aligned: two cheap 1-D takes
        return np.take(np.take(tile, iy[:, 0], axis=0), ix[0], axis=1)
    return np.take(tile.ravel(), iy * tw + ix)


def _dot_tile(period: int) -> np.ndarray:
    """Polka dots on a half-drop grid: one (2p x p) tile."""
    img = Image.new("L", (period, 2 * period), 0)
    d = ImageDraw.Draw(img)
    r = 0.22 * period
    for x, y in ((0.5 * period, 0.5 * period), (0.0, 1.5 * period), (float(period), 1.5 * period)):
        d.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return np.asarray(img, dtype=np.float32) / 255.0


def _flower_tile(period: int) -> np.ndarray:
    """Small five-petal flowers (four per 2p x 2p tile, each turned differently) with a lighter centre."""
    size = 2 * period
    img = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(img)
    pr, rad, cr = 0.13 * period, 0.17 * period, 0.08 * period
    for fx, fy, rot in ((0.5, 0.5, 0.0), (1.5, 1.5, 36.0), (1.5, 0.5, 72.0), (0.5, 1.5, 18.0)):
        x, y = fx * period, fy * period
        for k in range(5):
            a = math.radians(rot + 72 * k)
            px, py = x + rad * math.cos(a), y + rad * math.sin(a)
            d.ellipse((px - pr, py - pr, px + pr, py + pr), fill=255)
        d.ellipse((x - cr, y - cr, x + cr, y + cr), fill=70)
    return np.asarray(img, dtype=np.float32) / 255.0


def _pattern_alpha(pattern: str, u: np.ndarray, v: np.ndarray, k: float, scale: float, phase: float,
                   vertical: bool) -> np.ndarray | None:
    """Weight of the accent colour per pixel (broadcastable to the canvas); None for a solid fabric.

    ``u, v`` are canvas pixels along the garment axes and ``k`` is pixels per garment unit, so the pattern
    turns and scales with the garment.
    """
    if pattern == "solid":
        return None
    if pattern not in _PATTERN_PERIOD:
        raise ValueError(f"unknown pattern {pattern!r}")
    period = max(6.0, _PATTERN_PERIOD[pattern] * max(scale, 0.2) * k)
    phase = phase % 1.0
    if pattern == "striped":
        return (_frac((u if vertical else v) / period + phase) < 0.42).astype(np.float32)
    if pattern == "checked":
        return 0.5 * (_frac(u / period + phase) < 0.5).astype(np.float32) \
            + 0.5 * (_frac(v / period + phase) < 0.5).astype(np.float32)
    if pattern == "chevron":
        zig = np.abs(_frac(u / (1.3 * period)) - 0.5) * 1.2
        return (_frac(v / period + zig + phase) < 0.45).astype(np.float32)
    tile = _dot_tile(int(round(period))) if pattern == "dotted" else _flower_tile(int(round(period)))
    return _sample_tile(tile, u, v, phase)


def _texture_map(texture: str, u: np.ndarray, v: np.ndarray, shape: tuple[int, int], rng: np.random.Generator
                 ) -> tuple[np.ndarray | None, float, float]:
    """A fabric relief map in about [-1, 1] plus its multiplicative and additive strengths (sRGB units).

    Periods are in output pixels times the supersampling factor so the weave stays visible at any size.
    """
    unit = float(_SS)
    if texture == "cotton":
        return None, 0.0, 0.0
    if texture == "knit":  # columns of small V stitches
        col = u / (3.6 * unit)
        vee = np.abs(_frac(col) - 0.5)
        t = 0.6 * np.cos(2 * np.pi * col) + 0.4 * np.cos(2 * np.pi * (v / (2.6 * unit) + 1.4 * vee))
        return t.astype(np.float32), 0.16, 9.0
    if texture == "denim":  # diagonal twill plus faded mottling
        twill = np.cos(2 * np.pi * (u + 2.0 * v) / (3.2 * unit))
        mottle = _resize_f(rng.normal(0.0, 1.0, (max(2, shape[0] // 40), max(2, shape[1] // 6))), shape,
                           Image.BICUBIC)
        return (0.6 * twill + 0.4 * np.clip(mottle, -2, 2)).astype(np.float32), 0.14, 9.0
    if texture == "leather":  # faint grain; the gloss comes from the shading
        grain = _resize_f(rng.normal(0.0, 1.0, (max(2, shape[0] // 5), max(2, shape[1] // 5))), shape)
        return np.clip(grain, -2.5, 2.5), 0.015, 1.0
    if texture == "corduroy":  # raised vertical wales with dark grooves
        t = 2.0 * np.abs(np.sin(np.pi * u / (5.2 * unit))) ** 0.6 - 1.0
        return t.astype(np.float32), 0.2, 11.0
    if texture == "linen":  # slubby horizontal yarns over a fine plain weave
        h, w = shape
        slub = _upsample_nearest(rng.standard_normal((h // 3 + 1, w // 14 + 1), dtype=np.float32), 3, 14, shape)
        fine = _upsample_nearest(rng.standard_normal((h // 2 + 1, w // 2 + 1), dtype=np.float32), 2, 2, shape)
        weave = np.cos(2 * np.pi * u / (2.4 * unit)) * np.cos(2 * np.pi * v / (2.4 * unit))
        return (0.5 * np.clip(slub, -2.2, 2.2) + 0.25 * weave + 0.2 * fine).astype(np.float32), 0.1, 7.0
    raise ValueError(f"unknown texture {texture!r}")


_GLOSS = {"cotton": 0.25, "knit": 0.1, "denim": 0.2, "leather": 1.0, "corduroy": 0.3, "linen": 0.15}


def _rasterise(polys_px: list[np.ndarray], fr: _Frame) -> tuple[np.ndarray, np.ndarray]:
    """Part-index maps (0 = background) at the canvas resolution and at half of it."""
    full = Image.new("L", (fr.width, fr.height), 0)
    d = ImageDraw.Draw(full)
    for index, px in enumerate(polys_px, start=1):
        d.polygon(px.ravel().tolist(), fill=index)
    half = full.resize((fr.width // 2, fr.height // 2), Image.NEAREST)
    return np.asarray(full), np.asarray(half)


def _soft_mask(poly_px: np.ndarray, x0: int, y0: int, w: int, h: int, radius: float
               ) -> tuple[np.ndarray, Image.Image]:
    """A polygon (half-resolution pixels) blurred by ``radius``; computed at half this resolution for speed.

    Returns the blurred mask in [0, 1] at (h, w) and the low-resolution blurred image.
    """
    small = Image.new("L", (max(1, w // 2), max(1, h // 2)), 0)
    ImageDraw.Draw(small).polygon(((poly_px - (x0, y0)) * 0.5).ravel().tolist(), fill=255)
    small = small.filter(ImageFilter.GaussianBlur(max(0.5, radius * 0.5)))
    return np.asarray(small.resize((w, h), Image.BILINEAR), dtype=np.float32) * (1 / 255.0), small


def _shift(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``a`` moved by (dy, dx) pixels, edges replicated: out[y, x] = a[y - dy, x - dx]."""
    h, w = a.shape
    if abs(dy) >= h or abs(dx) >= w:
        return np.full_like(a, float(a.mean()))
    out = np.empty_like(a)
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = a[ys, xs]
    if dy > 0:
        out[:dy, xd] = out[dy : dy + 1, xd]
    elif dy < 0:
        out[h + dy :, xd] = out[h + dy - 1 : h + dy, xd]
    if dx > 0:
        out[:, :dx] = out[:, dx : dx + 1]
    elif dx < 0:
        out[:, w + dx :] = out[:, w + dx - 1 : w + dx]
    return out


def _specular(height: np.ndarray, r: float, light: np.ndarray, gloss: float) -> np.ndarray:
    """Blinn-Phong highlight of a soft 'pillow' whose height is the blurred part mask (``r``: its blur radius)."""
    height = (height + _shift(height, 1, 0) + _shift(height, 0, 1) + _shift(height, 1, 1)) * 0.25  # 8-bit steps
    gx = (_shift(height, 0, -1) - _shift(height, 0, 1)) * (0.5 * r)
    gy = (_shift(height, -1, 0) - _shift(height, 1, 0)) * (0.5 * r)
    half = np.array([0.8 * light[0], 0.8 * light[1], 1.6])
    half /= np.linalg.norm(half)
    n_dot_h = (-gx * half[0] - gy * half[1] + 0.45 * half[2]) / np.sqrt(gx * gx + gy * gy + 0.45 * 0.45)
    return (0.7 * gloss) * np.maximum(n_dot_h, 0.0) ** (6.0 + 18.0 * gloss)


def _shade_maps(parts: list[_Part], polys_px: list[np.ndarray], part_map: np.ndarray, fr: _Frame,
                light: np.ndarray, texture: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-part volume shading at half resolution: rim darkening, light-facing highlights, cast shadows.

    Returns the multiplicative shade and an additive sheen in [0, ~0.6].
    """
    height, width = part_map.shape
    shade = np.ones((height, width), dtype=np.float32)
    sheen = np.zeros((height, width), dtype=np.float32)
    base_gloss = _GLOSS[texture]
    contrast = 1.35 if texture == "leather" else 1.0
    k_half = fr.k * 0.5
    for index, (part, px_full) in enumerate(zip(parts, polys_px), start=1):
        r = max(1.5, 0.05 * k_half * part.soft)
        pad = int(1.5 * r) + 4  # the mask is zero beyond the polygon, so the blur is exact inside the crop
        px = px_full * 0.5
        x0, y0 = max(int(px[:, 0].min()) - pad, 0) // 2 * 2, max(int(px[:, 1].min()) - pad, 0) // 2 * 2
        x1, y1 = min(int(px[:, 0].max()) + pad, width), min(int(px[:, 1].max()) + pad, height)
        if x1 - x0 < 4 or y1 - y0 < 4:
            continue
        w, h = x1 - x0, y1 - y0
        pm = part_map[y0:y1, x0:x1]
        sel = pm == index
        dx, dy = int(round(light[0] * r)), int(round(light[1] * r))
        lower = (pm < index) & (pm > 0) if part.casts > 0 else None
        visible = bool(sel.any())
        if not visible and (lower is None or not lower.any()):
            continue
        blur, small = _soft_mask(px, x0, y0, w, h, r)
        if visible:
            depth = np.clip(blur * 2.0 - 1.0, 0.0, 1.0)
            facing = blur - _shift(blur, -dy, -dx)  # minus the blur at p + light * r
            s = (1.0 - 0.2 * contrast * (1.0 - np.sqrt(depth))) * (1.0 + 0.85 * contrast * facing)
            gloss = base_gloss + part.gloss
            hi = np.clip(facing, 0.0, None) * (0.15 + 0.3 * gloss)
            if gloss >= 0.5:
                hi += _resize_f(_specular(np.asarray(small, dtype=np.float32) * (1 / 255.0), r * 0.5, light, gloss),
                                (h, w))
            shade[y0:y1, x0:x1] = np.where(sel, s, shade[y0:y1, x0:x1])
            sheen[y0:y1, x0:x1] = np.where(sel, hi, sheen[y0:y1, x0:x1])
        if lower is not None and lower.any():
            cast = _shift(blur, max(1, -dy // 3 + 1), -dx // 3)
            shade[y0:y1, x0:x1] *= 1.0 - (part.casts * 0.55) * (cast * lower)
    return shade, sheen


def _fold_map(folds: list[tuple[np.ndarray, float, float]], fr: _Frame) -> np.ndarray | None:
    """Soft fold lines as a multiplicative map around 1, at half resolution (drawn at a quarter)."""
    if not folds:
        return None
    img = Image.new("L", (fr.width // 4, fr.height // 4), 128)
    d = ImageDraw.Draw(img)
    for line, strength, width in folds:
        d.line(fr.xy(line, 0.25), fill=_clamp_byte(128 + 110 * strength),
               width=max(1, round(width * fr.k * 0.25)), joint="curve")
    img = img.filter(ImageFilter.GaussianBlur(max(0.6, 0.006 * fr.k * 0.25)))
    small = (np.asarray(img, dtype=np.float32) - 128.0) * (0.42 / 128.0)
    full = np.zeros((fr.height // 2, fr.width // 2), dtype=np.float32)
    up = _up2(small)
    full[: up.shape[0], : up.shape[1]] = up
    return 1.0 + full


def _line_mask(lines: list[tuple[np.ndarray, float]], fr: _Frame) -> np.ndarray | None:
    """Polylines of given widths (garment units) as a coverage mask in [0, 1]."""
    if not lines:
        return None
    img = Image.new("L", (fr.width, fr.height), 0)
    d = ImageDraw.Draw(img)
    for line, width in lines:
        d.line(fr.xy(line), fill=255, width=max(1, round(width * fr.k)), joint="curve")
    return np.asarray(img, dtype=np.float32) * (1 / 255.0)


def _paint_garment(g: _Garment, look: _Look, spec: GarmentSpec, fr: _Frame, light: np.ndarray) -> Image.Image:
    """The garment on the (cropped) frame ``fr`` as an RGBA image (alpha = coverage), hardware included."""
    parts = g.parts
    polys_px = [fr.apply(part.poly) for part in parts]
    pmap, pmap_half = _rasterise(polys_px, fr)
    n = len(parts) + 1
    tone = np.ones(n, dtype=np.float32)
    pat_w, tex_w = np.zeros(n, dtype=np.float32), np.zeros(n, dtype=np.float32)
    fixed, fixed_rgb = np.zeros(n, dtype=bool), np.zeros((n, 3), dtype=np.float32)
    for index, part in enumerate(parts, start=1):
        tone[index] = part.tone
        pat_w[index] = float(part.patterned)
        tex_w[index] = float(part.textured)
        if part.colour is not None:
            fixed[index] = True
            fixed_rgb[index] = part.colour

    # shading: volume + folds (half resolution), tone, texture relief, seams, stitches
    shade_half, sheen_half = _shade_maps(parts, polys_px, pmap_half, fr, light, look["texture"])
    folds = _fold_map(g.folds, fr)
    if folds is not None:
        shade_half *= folds
    mul = _up2(shade_half) * tone[pmap]
    add = _up2(sheen_half) * 150.0 + 0.5  # + 0.5: round on conversion to bytes
    u, v = fr.garment_axes()
    tex, t_mul, t_add = _texture_map(look["texture"], u, v, (fr.height, fr.width), np.random.default_rng(spec.seed))
    if tex is not None:
        tw = tex * tex_w[pmap]
        mul *= 1.0 + t_mul * tw
        add += t_add * tw
    lift = max(0.0, 0.45 - _luma(look.base)) * 70.0  # on dark cloth, line work shows as a faint sheen
    seams = _line_mask(g.seams, fr)
    if seams is not None:
        mul *= 1.0 - 0.38 * seams
        if lift > 0:
            add += (0.6 * lift) * seams
    stitches = _line_mask([(line, 0.0045) for line in g.stitches], fr)
    if stitches is not None:
        dash = 3.0 * _SS
        stitches *= np.bitwise_and((np.floor(u / dash) + np.floor(v / dash)).astype(np.int32), 1)
        if look["texture"] != "denim":
            mul *= 1.0 - 0.22 * stitches
            if lift > 0:
                add += (0.5 * lift) * stitches

    # colour: base, pattern accent, fixed-colour parts
    base = np.asarray(look.base, dtype=np.float32)[:, None, None]
    alpha = _pattern_alpha(look["pattern"], u, v, fr.k, spec.pattern_scale, spec.pattern_phase, g.vertical_stripes)
    if alpha is None:
        col = base * mul[None] + add[None]
    else:
        diff = np.asarray(look.accent, dtype=np.float32)[:, None, None] - base
        col = (base + diff * (alpha * pat_w[pmap])[None]) * mul[None] + add[None]
    if fixed.any():
        fx = fixed[pmap]
        col[:, fx] = fixed_rgb[pmap[fx]].T * mul[fx] + add[fx]
    if stitches is not None and look["texture"] == "denim":
        st = (stitches * 0.85)[None]
        col += (np.asarray(_DENIM_THREAD, dtype=np.float32)[:, None, None] - col) * st
    channels = np.clip(col, 0, 255, out=col).astype(np.uint8)
    alpha = np.where(pmap > 0, np.uint8(255), np.uint8(0))
    layer = Image.merge("RGBA", [Image.fromarray(c) for c in (*channels, alpha)])
    if g.hardware:
        d = ImageDraw.Draw(layer, "RGBA")
        for draw in g.hardware:
            draw(d, fr)
    return layer


# ----------------------------------------------------------------------------------------------------------
# the photograph: backdrop, shadow, props, light, noise
# ----------------------------------------------------------------------------------------------------------
def _light_vector(view: ViewSpec) -> np.ndarray:
    """Unit vector toward the light in frame coordinates (y down); 0 degrees = from the right, 90 = from above."""
    a = math.radians(view.light_angle)
    return np.array([math.cos(a), -math.sin(a)])


def _backdrop_shading(g: _Garment, fr: _Frame, light: np.ndarray, size: int) -> np.ndarray:
    """Backdrop brightness at the output ``size``: a faint vignette times a soft drop shadow.

    The shadow falls down and away from the light; ``fr`` maps the garment onto the supersampled canvas.
    """
    q = max(8, size // 2)
    scale = q / fr.width
    shift = (-light * 0.022 + np.array([0.0, 0.014])) * q
    small = Image.new("L", (q, q), 0)
    d = ImageDraw.Draw(small)
    for part in g.parts:
        d.polygon(fr.xy(part.poly, scale, -shift[0], -shift[1]), fill=255)
    small = small.filter(ImageFilter.GaussianBlur(0.04 * q))
    shadow = np.asarray(small.resize((size, size), Image.BILINEAR), dtype=np.float32)
    r = (np.arange(size, dtype=np.float32) - size / 2) / (size / 2)
    r2 = r * r
    vignette = (1.0 - 0.035 * r2)[None, :] - 0.035 * r2[:, None]
    return vignette * (1.0 - (0.3 / 255.0) * shadow)


def _light_gradient(view: ViewSpec, light: np.ndarray, size: int) -> np.ndarray | None:
    """A directional brightness gradient across the frame: +-light_strength/2 from the centre to the edges."""
    if view.light_strength == 0:
        return None
    r = (np.arange(size, dtype=np.float32) - size / 2) / (size / 2)
    proj = float(light[0]) * r[None, :] + float(light[1]) * r[:, None]
    return np.clip(1.0 + 0.5 * float(view.light_strength) * proj, 0.3, 1.7).astype(np.float32)


def _draw_occluder(img: Image.Image, occluder: tuple[float, float, float, float, str]) -> Image.Image:
    """A prop in front of the garment: a price tag on a string, a hand-held card or a hanger.

    Drawn at the supersampled resolution on a transparent layer, downscaled, then composited.
    """
    x0, y0, x1, y1, kind = occluder
    drawers = {"tag": _draw_tag, "card": _draw_card, "hanger": _draw_hanger}
    if kind not in drawers:
        raise ValueError(f"unknown occluder kind {kind!r}; expected one of {', '.join(drawers)}")
    size = img.size[0] * _SS
    x0, x1 = sorted((float(x0) * size, float(x1) * size))
    y0, y1 = sorted((float(y0) * size, float(y1) * size))
    layer = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    drawers[kind](ImageDraw.Draw(layer), x0, y0, x1, y1, size)
    out = img.convert("RGBA")
    out.alpha_composite(layer.resize(img.size, Image.LANCZOS))
    return out.convert("RGB")


def _draw_tag(d: ImageDraw.ImageDraw, x0: float, y0: float, x1: float, y1: float, size: int) -> None:
    w, h = x1 - x0, y1 - y0
    tip = min(w, h) * 0.3
    body = [(x0 + tip, y0), (x1, y0), (x1, y1), (x0 + tip, y1), (x0, (y0 + y1) / 2)]
    off = 0.008 * size
    d.polygon([(x + off, y + off) for x, y in body], fill=(0, 0, 0, 45))
    d.polygon(body, fill=(251, 250, 246, 255), outline=(214, 212, 206, 255))
    hx, hy, hr = x0 + tip * 0.9, (y0 + y1) / 2, max(2.0, min(w, h) * 0.07)
    d.ellipse((hx - hr, hy - hr, hx + hr, hy + hr), fill=(200, 198, 192, 255))
    string = _qbez((hx, hy), (hx - 0.5 * w, hy - 0.9 * h), (hx - 0.2 * w, y0 - 0.6 * h), 10)
    d.line([tuple(p) for p in string], fill=(150, 128, 96, 255), width=max(1, round(0.004 * size)), joint="curve")
    lx0 = x0 + tip * 1.6
    bar = max(2.0, h * 0.09)
    d.rectangle((lx0, y0 + h * 0.25, lx0 + (x1 - lx0) * 0.7, y0 + h * 0.25 + bar), fill=(178, 176, 170, 255))
    d.rectangle((lx0, y0 + h * 0.45, lx0 + (x1 - lx0) * 0.45, y0 + h * 0.45 + bar), fill=(190, 188, 182, 255))
    d.rectangle((lx0, y0 + h * 0.66, lx0 + (x1 - lx0) * 0.55, y0 + h * 0.66 + bar * 1.5), fill=(70, 70, 74, 255))


def _draw_card(d: ImageDraw.ImageDraw, x0: float, y0: float, x1: float, y1: float, size: int) -> None:
    w, h = x1 - x0, y1 - y0
    off = 0.01 * size
    rad = min(w, h) * 0.08
    d.rounded_rectangle((x0 + off, y0 + off, x1 + off, y1 + off), radius=rad, fill=(0, 0, 0, 50))
    d.rounded_rectangle((x0, y0, x1, y1), radius=rad, fill=(192, 194, 198, 255), outline=(164, 166, 172, 255),
                        width=max(1, round(0.003 * size)))
    d.rectangle((x0 + w * 0.12, y0 + h * 0.15, x1 - w * 0.12, y0 + h * 0.3), fill=(172, 174, 180, 255))
    tx, ty, rx, ry = (x0 + x1) / 2, y1 - h * 0.02, w * 0.13, h * 0.2
    d.ellipse((tx - rx, ty - ry, tx + rx, ty + ry), fill=(226, 184, 156, 255), outline=(190, 146, 120, 255),
              width=max(1, round(0.003 * size)))
    d.ellipse((tx - rx * 0.55, ty - ry * 0.85, tx + rx * 0.55, ty - ry * 0.1), fill=(238, 206, 188, 255))


def _draw_hanger(d: ImageDraw.ImageDraw, x0: float, y0: float, x1: float, y1: float, size: int) -> None:
    w, h = x1 - x0, y1 - y0
    cx = (x0 + x1) / 2
    metal_w = max(2, round(0.008 * size))
    r = min(w, h) * 0.16
    hook_c = (cx + r * 0.2, y0 + r)
    d.arc((hook_c[0] - r, hook_c[1] - r, hook_c[0] + r, hook_c[1] + r), start=150, end=450, fill=(120, 122, 128, 255),
          width=metal_w + 2)
    d.arc((hook_c[0] - r, hook_c[1] - r, hook_c[0] + r, hook_c[1] + r), start=150, end=450, fill=(200, 202, 208, 255),
          width=metal_w)
    neck_top, neck_bot = hook_c[1] + r, y0 + h * 0.5
    d.line((hook_c[0], neck_top, cx, neck_bot), fill=(190, 192, 198, 255), width=metal_w)
    bar = _qbez((x0, y1 - h * 0.08), (cx, y0 + h * 0.28), (x1, y1 - h * 0.08), 14)
    poly = _stroke(bar, max(2.0, 0.014 * size))
    d.polygon([(x + 0.008 * size, y + 0.008 * size) for x, y in poly], fill=(0, 0, 0, 45))
    d.polygon([tuple(p) for p in poly], fill=(170, 124, 80, 255), outline=(120, 84, 52, 255))
    d.line([tuple(p) for p in bar - (0, 0.005 * size)], fill=(200, 158, 112, 255), width=max(1, round(0.004 * size)))


def render_garment(spec: GarmentSpec, view: ViewSpec, size: int = 160) -> Image.Image:
    """Render one product photograph: an RGB image of ``size`` x ``size`` pixels.

    Deterministic in (spec, view, size): fabric noise comes from ``default_rng(spec.seed)`` and pixel noise
    from ``default_rng(view.seed)``. Attributes absent from ``spec.attributes`` take the category's plain look.
    """
    if size < 16:
        raise ValueError(f"image size must be at least 16 pixels, got {size}")
    look = _resolve_look(spec)
    canvas = size * _SS
    garment = _Garment()
    _BUILDERS[spec.category](garment, look)
    fr = _make_frame(garment, view, canvas)
    crop, (x0, y0, x1, y1) = _crop_frame(garment, fr)
    light = _light_vector(view)
    layer = _paint_garment(garment, look, spec, crop, light)
    small = layer.resize(((x1 - x0) // _SS, (y1 - y0) // _SS), Image.LANCZOS)
    # compose at the output size in (rows, columns * 3) layout, so per-pixel factors broadcast cheaply
    h, w = small.size[1], small.size[0]
    rgb = np.asarray(small.convert("RGB"), dtype=np.float32).reshape(h, w * 3)
    cover = np.repeat(np.asarray(small.getchannel("A"), dtype=np.float32) * (1 / 255.0), 3, axis=1)
    backdrop = _backdrop_shading(garment, fr, light, size)
    out = np.repeat(backdrop, 3, axis=1) * np.tile(np.asarray(view.background_rgb, dtype=np.float32), size)
    ox, oy = x0 // _SS, y0 // _SS
    region = out[oy : oy + h, 3 * ox : 3 * (ox + w)]
    region += (rgb - region) * cover
    gradient = _light_gradient(view, light, size)
    if gradient is not None:
        out *= np.repeat(gradient, 3, axis=1)
    out += 0.5
    img = Image.fromarray(np.clip(out, 0, 255, out=out).astype(np.uint8).reshape(size, size, 3), mode="RGB")
    if view.occluder is not None:
        img = _draw_occluder(img, view.occluder)
    if view.noise > 0:
        noise = np.random.default_rng(view.seed).standard_normal((size, size, 3), dtype=np.float32)
        noisy = np.asarray(img, dtype=np.float32) + float(view.noise) * noise + 0.5
        img = Image.fromarray(np.clip(noisy, 0, 255, out=noisy).astype(np.uint8), mode="RGB")
    return img


# ----------------------------------------------------------------------------------------------------------
# contact sheet and benchmark
# ----------------------------------------------------------------------------------------------------------
def contact_sheet(images: list[Image.Image], columns: int, labels: list[str] | None = None) -> Image.Image:
    """Tile ``images`` into a white sheet with ``columns`` columns, each optionally captioned."""
    if not images:
        raise ValueError("contact_sheet needs at least one image")
    if columns < 1:
        raise ValueError(f"columns must be at least 1, got {columns}")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"got {len(labels)} labels for {len(images)} images; pass one label per image or None")
    cell_w = max(im.size[0] for im in images)
    cell_h = max(im.size[1] for im in images)
    pad = 6
    font = ImageFont.load_default()
    label_h = 14 if labels is not None else 0
    rows = math.ceil(len(images) / columns)
    cols = min(columns, len(images))
    sheet = Image.new("RGB", (cols * (cell_w + pad) + pad, rows * (cell_h + label_h + pad) + pad), (255, 255, 255))
    d = ImageDraw.Draw(sheet)
    for i, im in enumerate(images):
        r, c = divmod(i, columns)
        x, y = pad + c * (cell_w + pad), pad + r * (cell_h + label_h + pad)
        sheet.paste(im.convert("RGB"), (x + (cell_w - im.size[0]) // 2, y + (cell_h - im.size[1]) // 2))
        if labels is not None:
            text = labels[i]
            while text and d.textlength(text, font=font) > cell_w:
                text = text[:-1]
            d.text((x, y + cell_h + 2), text, fill=(40, 40, 40), font=font)
    return sheet


def _example_specs(n: int, seed: int = 0) -> list[tuple[GarmentSpec, ViewSpec]]:
    """Varied (spec, view) pairs covering every category, for benchmarks and previews."""
    rng = np.random.default_rng(seed)
    names = list(COLOURS)
    out = []
    for i in range(n):
        category = CATEGORIES[i % len(CATEGORIES)]
        attrs = {"category": category}
        for kind in DEMO_SCHEMA.types:
            if kind.name in ("category",):
                continue
            options = allowed_values(category, kind.name)
            if options:
                attrs[kind.name] = str(options[int(rng.integers(len(options)))])
        colour = COLOURS[attrs["colour"]]
        accent = COLOURS[names[int(rng.integers(len(names)))]]
        spec = GarmentSpec(category, attrs, colour, accent, float(rng.uniform(0.7, 1.4)), float(rng.uniform()),
                           seed=seed * 100_003 + i)
        view = ViewSpec(angle=float(rng.uniform(-8, 8)), light_angle=float(rng.uniform(0, 360)),
                        light_strength=float(rng.uniform(0, 0.25)), noise=4.0, seed=i)
        out.append((spec, view))
    return out


def benchmark_render(n: int = 200, size: int = 160) -> float:
    """Render ``n`` varied garments at ``size`` pixels on this thread; returns images per second."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    jobs = _example_specs(n)
    start = time.perf_counter()
    for spec, view in jobs:
        render_garment(spec, view, size)
    return n / (time.perf_counter() - start)
