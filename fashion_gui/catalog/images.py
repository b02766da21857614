"""Opening garment images robustly: paths, bytes or PIL images in, clean RGB out.

EXIF rotation is applied; RGBA/LA/P with transparency are composited on white (catalog backdrop);
greyscale, CMYK, 16-bit and float images are converted; unreadable, truncated and oversized images raise
``ImageError`` with a message saying what was wrong and what to do.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 80_000_000  # larger images are refused (decompression-bomb guard); ~9000 x 9000
ImageSource = str | os.PathLike | bytes | Image.Image


class ImageError(ValueError):
    """An image that cannot be used as a query or a catalog item."""


def _describe(source: ImageSource) -> str:
    if isinstance(source, (bytes, bytearray)):
        return f"image data ({len(source)} bytes)"
    if isinstance(source, Image.Image):
        return f"PIL image ({source.mode}, {source.size[0]}x{source.size[1]})"
    return str(source)


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(image, dtype=np.float64)
        hi = arr.max() if arr.size and arr.max() > 255 else 255.0
        image = Image.fromarray(np.clip(arr / hi * 255.0, 0, 255).astype(np.uint8), "L")
    elif image.mode == "F":
        arr = np.asarray(image, dtype=np.float64)
        lo, hi = (arr.min(), arr.max()) if arr.size else (0.0, 1.0)
        image = Image.fromarray(((arr - lo) / max(hi - lo, 1e-12) * 255.0).astype(np.uint8), "L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def open_image(source: ImageSource, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode ``source`` into an RGB PIL image (fully loaded), or raise ImageError."""
    what = _describe(source)
    try:
        if isinstance(source, Image.Image):
            image = source
        else:
            if isinstance(source, (bytes, bytearray)):
                stream: io.BytesIO | Path = io.BytesIO(bytes(source))
            else:
                stream = Path(source)
                if not stream.is_file():
                    raise ImageError(f"{what}: file not found; check the path")
            image = Image.open(stream)
        width, height = image.size
        if width * height > max_pixels:
            raise ImageError(
                f"{what}: {width}x{height} pixels is larger than the {max_pixels:,}-pixel limit; "
                "downscale the image (any garment photo under 9000x9000 works)"
            )
        if width == 0 or height == 0:
            raise ImageError(f"{what}: the image is empty (0 pixels)")
        image = ImageOps.exif_transpose(image)
        image.load()
        return _to_rgb(image)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{what}: not an image file Pillow can read (JPEG, PNG, WebP, BMP, TIFF, GIF...)") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageError(f"{what}: the image is damaged or truncated ({exc}); re-save or re-download it") from None
