"""The procedural garment renderer: determinism, sizes, and that every labelled value is visible."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from fashion_gui.catalog.demo.render import benchmark_render, contact_sheet, render_garment
from fashion_gui.catalog.demo.schema import CATEGORIES, COLOURS, DEMO_SCHEMA
from fashion_gui.catalog.demo.spec import GarmentSpec, ViewSpec

SIZE = 160
FLAT = ViewSpec(light_strength=0.0)  # studio light only, no gradient, no noise


def make_spec(category: str, colour: str = "blue", accent: str = "white", seed: int = 3,
              **attributes: str) -> GarmentSpec:
    attrs = {"category": category, "colour": colour, **attributes}
    return GarmentSpec(category, attrs, COLOURS[colour], COLOURS[accent], 1.0, 0.0, seed=seed)


def pixels(spec: GarmentSpec, view: ViewSpec = FLAT, size: int = SIZE) -> np.ndarray:
    return np.asarray(render_garment(spec, view, size), dtype=np.float32)


def garment_mask(spec: GarmentSpec, size: int = SIZE) -> np.ndarray:
    """Pixels that belong to the garment: identical whatever the backdrop (shadows only darken the backdrop)."""
    light = pixels(spec, ViewSpec(light_strength=0.0, background_rgb=(250, 250, 250)), size)
    green = pixels(spec, ViewSpec(light_strength=0.0, background_rgb=(20, 200, 20)), size)
    return np.abs(light - green).max(axis=-1) < 3.0


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (0..255) -> CIE Lab (D65)."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = lin @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


# --- determinism, sizes ----------------------------------------------------------------------------------
def test_same_inputs_give_identical_images() -> None:
    spec = make_spec("dress", pattern="floral", texture="linen", colour="red", accent="beige")
    view = ViewSpec(angle=7.0, scale=0.95, offset=(0.03, -0.02), light_angle=120.0, light_strength=0.3,
                    occluder=(0.1, 0.1, 0.3, 0.25, "tag"), noise=6.0, seed=11)
    first, second = pixels(spec, view), pixels(spec, view)
    np.testing.assert_array_equal(first, second)


def test_noise_comes_from_the_view_seed() -> None:
    spec = make_spec("t-shirt")
    a = pixels(spec, ViewSpec(noise=5.0, seed=1))
    b = pixels(spec, ViewSpec(noise=5.0, seed=2))
    clean = pixels(spec, ViewSpec(noise=0.0, seed=1))
    assert np.abs(a - b).mean() > 2.0
    assert 3.5 < float((a - clean).std()) < 6.5


def test_render_does_not_touch_global_random_state() -> None:
    np.random.seed(0)
    expected = np.random.random()
    np.random.seed(0)
    render_garment(make_spec("trousers", texture="denim"), ViewSpec(noise=4.0, seed=5), 64)
    assert np.random.random() == expected


@pytest.mark.parametrize("category", CATEGORIES)
@pytest.mark.parametrize("size", [64, SIZE])
def test_every_category_renders_rgb_of_the_requested_size(category: str, size: int) -> None:
    img = render_garment(make_spec(category), ViewSpec(noise=3.0), size)
    assert img.mode == "RGB"
    assert img.size == (size, size)
    mask = garment_mask(make_spec(category), size)
    assert 0.08 < mask.mean() < 0.7, "the garment should be clearly visible and leave a margin"


def test_garment_is_centred_on_the_backdrop() -> None:
    for category in CATEGORIES:
        ys, xs = np.nonzero(garment_mask(make_spec(category)))
        assert abs(xs.mean() - SIZE / 2) < SIZE * 0.12, category
        assert abs(ys.mean() - SIZE / 2) < SIZE * 0.12, category
        assert xs.min() > 2 and ys.min() > 2 and xs.max() < SIZE - 3 and ys.max() < SIZE - 3, category


def test_unknown_names_raise_helpful_errors() -> None:
    with pytest.raises(ValueError, match="hat"):
        render_garment(GarmentSpec("hat", {}, (1, 2, 3), (4, 5, 6)), FLAT)
    with pytest.raises(ValueError, match="sleeve"):
        render_garment(make_spec("t-shirt", sleeve="very long"), FLAT)
    with pytest.raises(ValueError, match="occluder"):
        render_garment(make_spec("t-shirt"), ViewSpec(occluder=(0.1, 0.1, 0.2, 0.2, "balloon")))


# --- colour ----------------------------------------------------------------------------------------------
def test_every_colour_is_distinguishable() -> None:
    mask = garment_mask(make_spec("t-shirt", colour="grey"))
    means = {}
    for name in COLOURS:
        img = pixels(make_spec("t-shirt", colour=name, pattern="solid", texture="cotton"))
        means[name] = img[mask].mean(axis=0)
    lab = {name: srgb_to_lab(rgb) for name, rgb in means.items()}
    for a, b in itertools.combinations(COLOURS, 2):
        delta_e = float(np.linalg.norm(lab[a] - lab[b]))
        assert delta_e > 12.0, f"{a} and {b} render too alike (delta E {delta_e:.1f})"
    # the garment keeps its colour: the mean is a shaded version of the base colour
    for name, rgb in COLOURS.items():
        assert float(np.linalg.norm(lab[name] - srgb_to_lab(np.array(rgb)))) < 14.0, name


# --- categories and attributes ---------------------------------------------------------------------------
def test_category_silhouettes_differ() -> None:
    masks = {c: garment_mask(make_spec(c)) for c in CATEGORIES}
    for a, b in itertools.combinations(CATEGORIES, 2):
        iou = (masks[a] & masks[b]).sum() / (masks[a] | masks[b]).sum()
        assert iou < 0.82, f"{a} and {b} silhouettes overlap too much (IoU {iou:.2f})"


def _applicable() -> list[tuple[str, str]]:
    return [(t.name, c) for t in DEMO_SCHEMA.types if t.name not in ("category", "colour")
            for c in CATEGORIES if t.applies_to(c)]


@pytest.mark.parametrize(("type_name", "category"), _applicable())
def test_each_attribute_value_changes_the_image(type_name: str, category: str) -> None:
    """Changing only one attribute, to any value of its type, visibly changes the photo."""
    values = DEMO_SCHEMA.type(type_name).values
    images = {v: pixels(make_spec(category, **{type_name: v})) for v in values}
    for a, b in itertools.combinations(values, 2):
        diff = np.abs(images[a] - images[b])
        changed = float((diff.max(axis=-1) > 24).mean())
        assert diff.mean() > 0.15 and changed > 0.003, (
            f"{category}: {type_name}={a} and {type_name}={b} look alike "
            f"(mean diff {diff.mean():.3f}, {changed:.2%} pixels changed)"
        )


def _texture_descriptor(img: np.ndarray) -> np.ndarray:
    """Gradient-orientation histogram, gradient energy and radial spectrum of a grey patch."""
    grey = img @ np.array([0.299, 0.587, 0.114])
    gy, gx = np.gradient(grey)
    mag = np.hypot(gx, gy)
    angle = np.mod(np.arctan2(gy, gx), np.pi)
    hist, _ = np.histogram(angle, bins=8, range=(0, np.pi), weights=mag)
    hist = hist / max(hist.sum(), 1e-6)
    spectrum = np.abs(np.fft.fftshift(np.fft.fft2(grey - grey.mean()))) ** 2
    h, w = spectrum.shape
    yy, xx = np.mgrid[:h, :w]
    radius = np.hypot(yy - h // 2, xx - w // 2)
    bands = np.array([spectrum[(radius >= lo) & (radius < hi)].sum() for lo, hi in ((1, 3), (3, 6), (6, 10), (10, 16))])
    bands = bands / max(bands.sum(), 1e-6)
    return np.concatenate([hist, bands, [np.log1p(mag.mean()) / 3.0]])


def test_patterns_differ_in_texture_statistics() -> None:
    patterns = DEMO_SCHEMA.type("pattern").values
    features = {}
    for p in patterns:
        img = pixels(make_spec("dress", pattern=p, length="maxi", fit="loose", colour="navy", accent="white"))
        features[p] = _texture_descriptor(img[75:115, 60:100])
    for a, b in itertools.combinations(patterns, 2):
        distance = float(np.abs(features[a] - features[b]).sum())
        assert distance > 0.25, f"patterns {a} and {b} have alike texture statistics ({distance:.2f})"


def test_textures_differ_in_texture_statistics() -> None:
    textures = DEMO_SCHEMA.type("texture").values
    features = {t: _texture_descriptor(pixels(make_spec("coat", texture=t, colour="grey"))[70:110, 62:98])
                for t in textures}
    for a, b in itertools.combinations(textures, 2):
        distance = float(np.abs(features[a] - features[b]).sum())
        assert distance > 0.1, f"textures {a} and {b} have alike texture statistics ({distance:.2f})"


# --- view parameters -------------------------------------------------------------------------------------
@pytest.mark.parametrize("change", [
    {"angle": 12.0}, {"scale": 0.8}, {"offset": (0.08, 0.0)}, {"light_strength": 0.4},
    {"light_angle": 200.0, "light_strength": 0.2}, {"background_rgb": (236, 238, 236)},
    {"occluder": (0.1, 0.1, 0.35, 0.3, "tag")}, {"occluder": (0.5, 0.5, 0.8, 0.8, "card")},
    {"occluder": (0.3, 0.0, 0.7, 0.3, "hanger")},
])
def test_view_parameters_change_the_photo(change: dict) -> None:
    spec = make_spec("sweater")
    base = pixels(spec, ViewSpec(light_strength=0.0))
    kw = {"light_strength": 0.0, **change}
    assert np.abs(pixels(spec, ViewSpec(**kw)) - base).mean() > 0.5


def test_rotation_turns_the_garment_not_the_backdrop() -> None:
    spec = make_spec("trousers")
    upright, turned = garment_mask(spec), None
    light = pixels(spec, ViewSpec(angle=15.0, light_strength=0.0, background_rgb=(250, 250, 250)))
    green = pixels(spec, ViewSpec(angle=15.0, light_strength=0.0, background_rgb=(20, 200, 20)))
    turned = np.abs(light - green).max(axis=-1) < 3.0
    assert abs(int(turned.sum()) - int(upright.sum())) < 0.1 * upright.sum()
    ys, xs = np.nonzero(turned)
    # counter-clockwise: the top of the trousers moves left, the hems move right
    top, bottom = ys < np.percentile(ys, 20), ys > np.percentile(ys, 80)
    assert xs[top].mean() < xs[bottom].mean() - 5
    corner = light[:6, :6].reshape(-1, 3)
    assert np.abs(corner - corner.mean(axis=0)).max() < 6


# --- contact sheet, benchmark ----------------------------------------------------------------------------
def test_contact_sheet_tiles_images_with_labels() -> None:
    images = [render_garment(make_spec(c), FLAT, 48) for c in CATEGORIES[:5]]
    sheet = contact_sheet(images, 3, [f"item {i}" for i in range(5)])
    assert sheet.mode == "RGB"
    assert sheet.size[0] > 3 * 48 and sheet.size[1] > 2 * 48
    plain = contact_sheet(images, 5)
    assert plain.size[1] < sheet.size[1] * 0.8
    with pytest.raises(ValueError, match="labels"):
        contact_sheet(images, 3, ["just one"])
    with pytest.raises(ValueError):
        contact_sheet([], 3)


def test_benchmark_reports_images_per_second() -> None:
    rate = benchmark_render(3, 64)
    assert isinstance(rate, float) and rate > 0


def test_rendered_images_are_pil_images() -> None:
    assert isinstance(render_garment(make_spec("bag"), FLAT), Image.Image)
