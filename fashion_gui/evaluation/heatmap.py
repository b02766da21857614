"""Annotated heat map of a small matrix as a PNG, drawn with Pillow only (no matplotlib).

Made for the gradient-reversal paper's feature x classifier accuracy matrix (Fig. 5; computed by
``models.grl.feature_classifier_accuracy``): rows = features, columns = classifiers, values in [0, 1].
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from fashion_gui.atomic import atomic_open

# Viridis sampled at 9 evenly spaced points (perceptually uniform, readable in grey scale).
_VIRIDIS = np.array(
    [(68, 1, 84), (71, 44, 122), (59, 81, 139), (44, 113, 142), (33, 144, 141),
     (39, 173, 129), (92, 200, 99), (170, 220, 50), (253, 231, 37)],
    dtype=np.float64,
)
NAN_COLOUR = (200, 200, 200)
BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)


def colormap(t: float) -> tuple[int, int, int]:
    """Viridis colour for ``t`` in [0, 1] (clipped), linearly interpolated between the anchors."""
    t = float(np.clip(t, 0.0, 1.0)) * (len(_VIRIDIS) - 1)
    lo = int(np.floor(t))
    hi = min(lo + 1, len(_VIRIDIS) - 1)
    rgb = _VIRIDIS[lo] + (t - lo) * (_VIRIDIS[hi] - _VIRIDIS[lo])
    return tuple(int(round(c)) for c in rgb)


@dataclass(frozen=True)
class HeatmapGeometry:
    """Where things were drawn: image size (width, height) as PIL reports it, the top-left corner of the
    cell grid and the cell side, all in pixels."""

    width: int
    height: int
    grid_x: int
    grid_y: int
    cell: int

    def cell_box(self, row: int, col: int) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) of cell (row, col), right/bottom exclusive."""
        x0, y0 = self.grid_x + col * self.cell, self.grid_y + row * self.cell
        return x0, y0, x0 + self.cell, y0 + self.cell


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1 with FreeType: scalable bundled font
    except TypeError:  # older Pillow: fixed-size bitmap font
        return ImageFont.load_default()


def _text_size(draw: ImageDraw.ImageDraw, text: str, font) -> tuple[int, int]:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    return right - left, bottom - top


def _draw_centered(draw: ImageDraw.ImageDraw, centre: tuple[float, float], text: str, font, fill) -> None:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    x = centre[0] - (right - left) / 2 - left
    y = centre[1] - (bottom - top) / 2 - top
    draw.text((x, y), text, font=font, fill=fill)


def _vertical_text(text: str, font, fill) -> Image.Image:
    """``text`` rendered on a transparent strip and rotated to read bottom-to-top."""
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    left, top, right, bottom = probe.textbbox((0, 0), text, font=font)
    strip = Image.new("RGBA", (right - left + 2, bottom - top + 2), (0, 0, 0, 0))
    ImageDraw.Draw(strip).text((1 - left, 1 - top), text, font=font, fill=fill)
    return strip.rotate(90, expand=True)


def render_heatmap_png(
    matrix: np.ndarray,
    row_names: Sequence[str],
    col_names: Sequence[str],
    path: str | os.PathLike,
    *,
    title: str = "",
    row_label: str = "feature",
    col_label: str = "classifier",
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
    fmt: str = "{:.2f}",
    cell: int = 56,
) -> HeatmapGeometry:
    """Write ``matrix`` (R, C) as an annotated heat map PNG: one coloured cell per entry with its value
    printed in it, row names on the left, column names on top (vertical), axis labels and a colour bar.

    NaN cells are grey and read "n/a". ``vmin`` / ``vmax`` fix the colour scale (defaults 0..1 for
    accuracies); ``None`` takes the finite data minimum / maximum. The file is written atomically
    (temporary file in the same folder, then ``os.replace``). Returns the drawing geometry.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.size == 0:
        raise ValueError(f"matrix must be a non-empty 2-D array, got shape {matrix.shape}")
    n_rows, n_cols = matrix.shape
    if len(row_names) != n_rows or len(col_names) != n_cols:
        raise ValueError(f"matrix is {n_rows} x {n_cols} but got {len(row_names)} row names and "
                         f"{len(col_names)} column names")
    finite = matrix[np.isfinite(matrix)]
    lo = float(finite.min()) if vmin is None and finite.size else (0.0 if vmin is None else float(vmin))
    hi = float(finite.max()) if vmax is None and finite.size else (1.0 if vmax is None else float(vmax))
    if hi <= lo:
        hi = lo + 1.0

    font = _font(max(10, cell // 4))
    label_font = _font(max(11, cell // 4 + 2))
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    pad = 10
    row_w = max(_text_size(probe, str(n), font)[0] for n in row_names)
    col_h = max(_text_size(probe, str(n), font)[0] for n in col_names)  # vertical: text width is height
    line_h = _text_size(probe, "Ag", label_font)[1]
    title_h = line_h + pad if title else 0
    bar_w, tick_w = 16, _text_size(probe, fmt.format(hi), font)[0]

    grid_x = pad + line_h + pad + row_w + pad                      # row axis label, row names
    grid_y = pad + title_h + line_h + pad + col_h + pad            # title, column axis label, column names
    grid_w, grid_h = n_cols * cell, n_rows * cell
    bar_x = grid_x + grid_w + 2 * pad
    width = bar_x + bar_w + pad // 2 + tick_w + pad
    height = grid_y + grid_h + pad + line_h // 2
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)

    if title:
        _draw_centered(draw, (width / 2, pad + line_h / 2), title, label_font, INK)
    # Axis labels: the column label above the column names, the row label vertical left of the row names.
    _draw_centered(draw, (grid_x + grid_w / 2, pad + title_h + line_h / 2), col_label, label_font, INK)
    vertical = _vertical_text(row_label, label_font, INK)
    image.paste(vertical, (pad, int(grid_y + grid_h / 2 - vertical.height / 2)), vertical)

    for r, name in enumerate(row_names):
        tw, _ = _text_size(draw, str(name), font)
        _, y0, _, y1 = HeatmapGeometry(width, height, grid_x, grid_y, cell).cell_box(r, 0)
        _draw_centered(draw, (grid_x - pad - tw / 2, (y0 + y1) / 2), str(name), font, INK)
    for c, name in enumerate(col_names):
        strip = _vertical_text(str(name), font, INK)
        x = grid_x + c * cell + (cell - strip.width) // 2
        image.paste(strip, (x, grid_y - pad - strip.height), strip)

    geometry = HeatmapGeometry(width=width, height=height, grid_x=grid_x, grid_y=grid_y, cell=cell)
    for r in range(n_rows):
        for c in range(n_cols):
            value = matrix[r, c]
            box = geometry.cell_box(r, c)
            if np.isfinite(value):
                fill = colormap((value - lo) / (hi - lo))
                text = fmt.format(value)
            else:
                fill, text = NAN_COLOUR, "n/a"
            draw.rectangle((box[0], box[1], box[2] - 1, box[3] - 1), fill=fill)
            luminance = 0.299 * fill[0] + 0.587 * fill[1] + 0.114 * fill[2]
            _draw_centered(draw, ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2), text, font,
                           INK if luminance > 140 else BACKGROUND)
    draw.rectangle((grid_x - 1, grid_y - 1, grid_x + grid_w, grid_y + grid_h), outline=INK)

    # Colour bar: top = vmax, bottom = vmin, with three ticks.
    for y in range(grid_h):
        draw.line((bar_x, grid_y + y, bar_x + bar_w - 1, grid_y + y), fill=colormap(1.0 - y / max(grid_h - 1, 1)))
    draw.rectangle((bar_x - 1, grid_y - 1, bar_x + bar_w, grid_y + grid_h), outline=INK)
    for frac in (0.0, 0.5, 1.0):
        y = grid_y + (1.0 - frac) * (grid_h - 1)
        draw.line((bar_x + bar_w, y, bar_x + bar_w + 3, y), fill=INK)
        tick = fmt.format(lo + frac * (hi - lo))
        th = _text_size(draw, tick, font)[1]
        ty = min(max(y, grid_y + th / 2), grid_y + grid_h - th / 2)
        tw = _text_size(draw, tick, font)[0]
        _draw_centered(draw, (bar_x + bar_w + pad // 2 + tw / 2, ty), tick, font, INK)

    _save_atomic(image, Path(path))
    return geometry


def _save_atomic(image: Image.Image, path: Path) -> None:
    """Write ``image`` as PNG to ``path`` atomically."""
    with atomic_open(path, "wb") as fh:
        image.save(fh, format="PNG")
