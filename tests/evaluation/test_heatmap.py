"""The feature x classifier heat map PNG: written atomically, readable by PIL, cells where they belong."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fashion_gui.evaluation.heatmap import NAN_COLOUR, colormap, render_heatmap_png


def _corner_pixel(image: Image.Image, box: tuple[int, int, int, int]) -> tuple[int, int, int]:
    """A pixel near a cell's top-left corner, away from the centred number."""
    return image.getpixel((box[0] + 3, box[1] + 3))


def test_heatmap_file_is_readable_with_width_and_height_in_pil_order(tmp_path):
    matrix = np.array([[0.0, 0.25, 0.5, 0.75, 1.0],
                       [1.0, 0.9, np.nan, 0.1, 0.0]])                      # 2 rows x 5 columns
    path = tmp_path / "reports" / "grl_matrix.png"
    geo = render_heatmap_png(matrix, ["f0", "f1"], [f"c{i}" for i in range(5)], path, title="accuracy")
    with Image.open(path) as image:
        image.load()
    assert image.format == "PNG" and image.mode == "RGB"
    assert image.size == (geo.width, geo.height)                         # PIL: (width, height)
    assert np.asarray(image).shape == (geo.height, geo.width, 3)          # numpy: (height, width, 3)
    # The grid spans 5 cells across and 2 cells down, inside the image.
    assert geo.cell_box(1, 4)[2] <= geo.width and geo.cell_box(1, 4)[3] <= geo.height
    assert geo.cell_box(0, 4)[0] - geo.cell_box(0, 0)[0] == 4 * geo.cell
    assert geo.cell_box(1, 0)[1] - geo.cell_box(0, 0)[1] == geo.cell
    # Cell colours follow the values on the 0..1 scale; NaN is grey.
    assert _corner_pixel(image, geo.cell_box(0, 0)) == colormap(0.0)
    assert _corner_pixel(image, geo.cell_box(0, 4)) == colormap(1.0)
    assert _corner_pixel(image, geo.cell_box(1, 3)) == colormap(0.1)
    assert _corner_pixel(image, geo.cell_box(1, 2)) == NAN_COLOUR
    # Each cell carries a number: some pixels inside differ from the fill.
    x0, y0, x1, y1 = geo.cell_box(0, 2)
    cell = np.asarray(image)[y0:y1, x0:x1].reshape(-1, 3)
    assert (cell != np.array(colormap(0.5))).any(axis=1).sum() > 10
    # Atomic write: nothing but the PNG left in the folder.
    assert sorted(p.name for p in path.parent.iterdir()) == ["grl_matrix.png"]


def test_transposed_matrix_gives_a_taller_narrower_grid(tmp_path):
    wide = render_heatmap_png(np.zeros((2, 5)), ["a", "b"], list("vwxyz"), tmp_path / "wide.png")
    tall = render_heatmap_png(np.zeros((5, 2)), list("vwxyz"), ["a", "b"], tmp_path / "tall.png")
    assert tall.width < wide.width and tall.height > wide.height
    with Image.open(tmp_path / "tall.png") as image:
        assert image.size == (tall.width, tall.height)


def test_heatmap_overwrites_and_checks_names(tmp_path):
    path = tmp_path / "m.png"
    render_heatmap_png(np.eye(3), list("abc"), list("abc"), path)
    geo = render_heatmap_png(np.eye(3) * 0.5, list("abc"), list("abc"), path, vmin=None, vmax=None)
    with Image.open(path) as image:
        # data-driven scale: 0 -> bottom colour, 0.5 (the max) -> top colour
        assert _corner_pixel(image, geo.cell_box(0, 0)) == colormap(1.0)
        assert _corner_pixel(image, geo.cell_box(0, 1)) == colormap(0.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.png"]
    with pytest.raises(ValueError, match="row names"):
        render_heatmap_png(np.eye(3), list("ab"), list("abc"), path)
