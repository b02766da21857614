"""Opening garment images robustly: paths, bytes or PIL images in, clean RGB out. Every image the project
decodes (queries, catalog items, the importer's check) goes through :func:`open_image` or :func:`probe_image`.

EXIF rotation is applied; RGBA/LA/P with transparency are composited on white (catalog backdrop);
greyscale, CMYK, 16-bit and float images are converted. Whatever is wrong with a file (missing, a folder, a
symbolic-link loop, unreadable, not an image, damaged or truncated, too many pixels, an absurd aspect ratio)
raises ``ImageError`` naming the file and saying what to do.

Memory stays bounded: the pixel limit and the aspect ratio are checked from the header before anything is
decoded, and a caller that needs at most ``max_side`` pixels a side gets a JPEG decoded at a reduced scale
and any other image reduced right after decoding, before its mode is converted.
"""
from __future__ import annotations

import errno
import io
import logging
import os
import stat
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

log = logging.getLogger(__name__)

MAX_PIXELS = 80_000_000  # larger images are refused (decompression-bomb guard); ~9000 x 9000
MAX_ASPECT_RATIO = 25.0  # longer side / shorter side; garment photos are far below it
ImageSource = str | os.PathLike | bytes | Image.Image

# EXIF orientation -> the transpose that shows the picture upright (as PIL.ImageOps.exif_transpose)
_ORIENTATION = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
                5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
                8: Image.Transpose.ROTATE_90}
_REDUCIBLE = ("L", "LA", "RGB", "RGBA", "I", "F", "CMYK", "YCbCr", "La", "RGBa")


class ImageError(ValueError):
    """An image that cannot be used as a query or a catalog item."""


class ImageNotFoundError(ImageError):
    """The image file does not exist (or a symbolic link to it is broken)."""


def _describe(source: ImageSource) -> str:
    if isinstance(source, (bytes, bytearray)):
        return f"image data ({len(source)} bytes)"
    if isinstance(source, Image.Image):
        return f"PIL image ({source.mode}, {source.size[0]}x{source.size[1]})"
    return str(source)


def check_image_path(path: str | os.PathLike) -> Path:
    """``path`` as a Path when it names a readable regular file; else ``ImageError`` saying what it is."""
    path = Path(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ImageError(f"{path}: a symbolic link loop (the link points back to itself); fix or remove "
                             "the link") from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            what = "a broken symbolic link" if os.path.islink(path) else "file not found"
            raise ImageNotFoundError(f"{path}: {what}; check the path") from None
    except ValueError as exc:  # an embedded NUL byte
        raise ImageError(f"{path!r}: not a valid path ({exc})") from None
        raise ImageError(f"{path}: cannot be read ({exc.strerror}); check the file and its permissions") from None
    if stat.S_ISDIR(st.st_mode):
        raise ImageError(f"{path}: this is a folder, not an image file; pick an image file inside it")
    if not stat.S_ISREG(st.st_mode):
        raise ImageError(f"{path}: not a regular file (a device, pipe or socket); pick an image file")
    if st.st_size == 0:
        raise ImageError(f"{path}: the file is empty (0 bytes); re-save or re-download it")
    return path


def _check_size(what: str, width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageError(f"{what}: the image is empty (0 pixels)")
    if width * height > max_pixels:
        raise ImageError(
            f"{what}: {width}x{height} pixels is larger than the {max_pixels:,}-pixel limit; "
            "downscale the image (any garment photo under 9000x9000 works)"
        )
    ratio = max(width, height) / min(width, height)
    if ratio > MAX_ASPECT_RATIO:
        raise ImageError(
            f"{what}: {width}x{height} pixels has an aspect ratio of {ratio:,.0f}:1, more than the "
            f"{MAX_ASPECT_RATIO:.0f}:1 a garment photo can have; crop it to the garment"
        )


def _open(source: ImageSource, what: str) -> Image.Image:
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise ImageError(f"{what}: no data (0 bytes)")
        return Image.open(io.BytesIO(bytes(source)))
    return Image.open(check_image_path(source))


def _orientation(image: Image.Image, what: str) -> int:
    try:
        return int(image.getexif().get(0x0112, 1))
    except Exception as exc:  # a damaged EXIF block only loses the rotation, not the picture
        log.info("%s: ignoring its damaged EXIF data (%s)", what, exc)
        return 1


HEADROOM = 2  # a reduced image keeps at least this many times the pixels a side that the caller needs: its
#               own resize then works as on the full image (catalog images at 2x the model's size decode as
#               they always did, so trained models and their measured figures do not depend on the reduction)


def _reduce(image: Image.Image, max_side: int | None) -> Image.Image:
    """Shrink by an integer factor while the longer side stays >= HEADROOM x ``max_side`` (box filter, cheap)."""
    if max_side is None:
        return image
    factor = max(image.size) // max(HEADROOM * int(max_side), 1)
    if factor < 2:
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        image = image.convert("I")
    elif image.mode not in _REDUCIBLE:
        image = _to_rgb(image)
    return image.reduce(factor)


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(image)
        hi = float(arr.max()) if arr.size and arr.max() > 255 else 255.0
        scaled = np.clip(arr.astype(np.float32) * np.float32(255.0 / hi), 0, 255).astype(np.uint8)
        image = Image.fromarray(scaled, "L")
    elif image.mode == "F":
        arr = np.nan_to_num(np.asarray(image, dtype=np.float32))
        lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 1.0)
        image = Image.fromarray(((arr - lo) / max(hi - lo, 1e-12) * 255.0).astype(np.uint8), "L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def open_image(source: ImageSource, max_pixels: int = MAX_PIXELS, max_side: int | None = None) -> Image.Image:
    """Decode ``source`` into an RGB PIL image (fully loaded), or raise ImageError naming it.

    ``max_side``: the caller needs at most this many pixels a side (it resizes further); a larger image may
    come back smaller, but never below ``max_side`` on its longer side."""
    what = _describe(source)
    opened: Image.Image | None = None
    try:
        image = opened = _open(source, what)
        width, height = image.size
        _check_size(what, width, height, max_pixels)
        orientation = _orientation(image, what)
        if max_side is not None and image.format in ("JPEG", "MPO"):
            side = HEADROOM * max_side
            image.draft(None, (side, side))  # decode at 1/2, 1/4 or 1/8 scale when that is enough
        image.load()
        image = _to_rgb(_reduce(image, max_side))  # always a new image: the opened file can be closed
        if orientation in _ORIENTATION:
            image = image.transpose(_ORIENTATION[orientation])
        return image
    except ImageError:
        raise
    except Exception as exc:  # Pillow's decoders fail on malformed data in many ways (struct.error, IndexError...)
        raise _image_error(what, exc, max_pixels) from None
    finally:
        if opened is not None and opened is not source:
            opened.close()


def probe_image(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """Check a catalog image without decoding all of it (header, limits, file structure): its (width, height),
    or ImageError naming the file. ``open_image`` still decides when the pixels are needed."""
    what = str(path)
    try:
        with Image.open(check_image_path(path)) as image:
            size = image.size
            _check_size(what, size[0], size[1], max_pixels)
            image.verify()
        return size
    except ImageError:
        raise
    except Exception as exc:  # malformed data (see open_image)
        raise _image_error(what, exc, max_pixels) from None


def _image_error(what: str, exc: Exception, max_pixels: int) -> ImageError:
    """The project's one-line error for whatever Pillow or the file system raised while reading ``what``."""
    if isinstance(exc, UnidentifiedImageError):
        return ImageError(f"{what}: not an image file Pillow can read (JPEG, PNG, WebP, BMP, TIFF, GIF...)")
    if isinstance(exc, Image.DecompressionBombError):
        return ImageError(f"{what}: far more pixels than the {max_pixels:,}-pixel limit (a decompression bomb?); "
                          "downscale the image")
    if isinstance(exc, MemoryError):
        return ImageError(f"{what}: not enough memory to decode this image; downscale it")
    if isinstance(exc, OSError):
        if exc.errno is not None:  # the file itself (permissions, a disk error), not its content
            return ImageError(f"{what}: cannot be read ({exc.strerror}); check the file and its permissions")
        return ImageError(f"{what}: the image is damaged or truncated ({exc}); re-save or re-download it")
    return ImageError(f"{what}: the image is damaged ({type(exc).__name__}: {exc}); re-save or re-download it")
