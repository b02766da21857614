"""A generated corpus of bad and awkward image files, for the reliability tests and ``fashion bench reliability``.

``make_corpus(folder)`` writes about 190 files (nothing is shipped: every file is generated, deterministically
for a seed): valid images of every format and mode the loader handles (16-bit, float, CMYK, palette, alpha,
animated, every EXIF orientation, unicode names, a large one near the pixel limit), and bad ones (truncated,
zero-byte, random bytes, wrong extensions, decompression bombs, extreme aspect ratios, symbolic links and
loops, folders). Each case says what must happen: ``load``, ``refuse`` (the project's own error, naming the
file) or ``either`` (a damaged file some decoders still read).
"""
from __future__ import annotations

import io
import os
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

LOAD, REFUSE, EITHER = "load", "refuse", "either"


@dataclass(frozen=True)
class Case:
    name: str  # file name inside the corpus folder
    kind: str  # truncated | zero-byte | random | wrong-extension | bomb | aspect | ... (for the figures)
    expect: str  # load | refuse | either

    def path(self, folder: Path) -> Path:
        return Path(folder) / self.name


def _garment(size: tuple[int, int], rng: np.random.Generator, mode: str = "RGB") -> Image.Image:
    """A small synthetic picture: a coloured shape on white with some noise (compresses like a photo)."""
    w, h = size
    arr = np.full((h, w, 3), 255, np.uint8)
    colour = rng.integers(0, 200, 3)
    y0, y1, x0, x1 = h // 5, h - h // 6, w // 4, w - w // 4
    arr[y0:y1, x0:x1] = colour
    noise = rng.integers(-12, 12, (h, w, 3))
    arr = np.clip(arr.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    image = Image.fromarray(arr, "RGB")
    return image if mode == "RGB" else image.convert(mode)


def _encoded(image: Image.Image, fmt: str, **kw) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **kw)
    return out.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels, with a tiny compressed body (a bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\0" * 4096, 9)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


def _jpeg_with_size(data: bytes, width: int, height: int) -> bytes:
    """A JPEG whose SOF marker is patched to claim another size."""
    out = bytearray(data)
    i = 2
    while i < len(out) - 9:
        if out[i] == 0xFF and out[i + 1] in (0xC0, 0xC1, 0xC2):
            struct.pack_into(">HH", out, i + 5, height, width)
            return bytes(out)
        i += 2 + struct.unpack(">H", out[i + 2:i + 4])[0] if out[i] == 0xFF else 1
    raise ValueError("no SOF marker")


def _gif_with_size(data: bytes, width: int, height: int) -> bytes:
    out = bytearray(data)
    struct.pack_into("<HH", out, 6, width, height)  # logical screen descriptor
    return bytes(out)


def _bmp_with_size(data: bytes, width: int, height: int) -> bytes:
    out = bytearray(data)
    struct.pack_into("<ii", out, 18, width, height)
    return bytes(out)


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def make_corpus(folder: Path, seed: int = 0, large: bool = True) -> list[Case]:
    """Write the corpus into ``folder`` (created); returns its cases. ``large``: include the ~79-megapixel
    image (the slowest and largest decode the loader allows)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    cases: list[Case] = []

    def add(name: str, kind: str, expect: str, data: bytes | Callable[[Path], None]) -> None:
        path = folder / name
        if callable(data):
            data(path)
        else:
            path.write_bytes(data)
        cases.append(Case(name, kind, expect))

    base = _garment((96, 128), rng)
    formats = {"jpg": ("JPEG", {"quality": 90}), "png": ("PNG", {}), "webp": ("WEBP", {"quality": 80}),
               "bmp": ("BMP", {}), "tif": ("TIFF", {}), "gif": ("GIF", {})}
    valid = {ext: _encoded(base, fmt, **kw) for ext, (fmt, kw) in formats.items()}

    # valid images in every format, size and mode the loader converts
    for ext, data in valid.items():
        add(f"valid.{ext}", "valid", LOAD, data)
    add("progressive.jpg", "valid", LOAD, _encoded(base, "JPEG", progressive=True, quality=85))
    add("grey.jpg", "valid", LOAD, _encoded(base.convert("L"), "JPEG"))
    add("tiny-1x1.png", "valid", LOAD, _encoded(Image.new("RGB", (1, 1), (200, 10, 10)), "PNG"))
    add("tiny-3x2.gif", "valid", LOAD, _encoded(Image.new("RGB", (3, 2), (10, 200, 10)), "GIF"))
    add("image.ppm", "valid", LOAD, _encoded(base, "PPM"))
    add("icon.ico", "valid", LOAD, _encoded(base.resize((64, 64)), "ICO"))
    add("trailing-garbage.jpg", "valid", LOAD, valid["jpg"] + rng.bytes(2048))
    add("trailing-garbage.png", "valid", LOAD, valid["png"] + rng.bytes(512))
    add("big-photo.jpg", "valid", LOAD, _encoded(_garment((4000, 3000), rng), "JPEG", quality=80))
    if large:
        add("large-flat-79mp.png", "large", LOAD,
            lambda p: Image.new("RGB", (8880, 8880), (240, 240, 240)).save(p, "PNG", compress_level=1))

    # modes: 16-bit, 32-bit, float, CMYK, palette, alpha, 1-bit, LA
    wide = (np.linspace(0, 65535, 96 * 128).reshape(128, 96)).astype(np.uint16)
    add("grey16.png", "mode", LOAD, _encoded(Image.fromarray(wide), "PNG"))
    add("grey16.tif", "mode", LOAD, _encoded(Image.fromarray(wide), "TIFF"))
    add("dark16.png", "mode", LOAD, _encoded(Image.fromarray((wide // 1024).astype(np.uint16)), "PNG"))
    add("int32.tif", "mode", LOAD, _encoded(Image.fromarray(wide.astype(np.int32) * 3), "TIFF"))
    add("float.tif", "mode", LOAD, _encoded(Image.fromarray(wide.astype(np.float32) / 7.0), "TIFF"))
    nan = wide.astype(np.float32)
    nan[::7, ::5] = np.nan
    add("float-nan.tif", "mode", LOAD, _encoded(Image.fromarray(nan), "TIFF"))
    add("cmyk.jpg", "mode", LOAD, _encoded(base.convert("CMYK"), "JPEG"))
    add("cmyk.tif", "mode", LOAD, _encoded(base.convert("CMYK"), "TIFF"))
    add("palette.png", "mode", LOAD, _encoded(base.convert("P"), "PNG"))
    transparent = base.convert("P")
    add("palette-transparent.png", "mode", LOAD, _encoded(transparent, "PNG", transparency=0))
    add("rgba.png", "mode", LOAD, _encoded(base.convert("RGBA"), "PNG"))
    add("rgba.webp", "mode", LOAD, _encoded(base.convert("RGBA"), "WEBP"))
    add("la.png", "mode", LOAD, _encoded(base.convert("LA"), "PNG"))
    add("bilevel.png", "mode", LOAD, _encoded(base.convert("1"), "PNG"))
    add("bilevel.tif", "mode", LOAD, _encoded(base.convert("1"), "TIFF", compression="group4"))
    add("ycbcr.jpg", "mode", LOAD, _encoded(base, "JPEG", subsampling=2))
    add("lab.tif", "mode", LOAD, _encoded(base.convert("LAB"), "TIFF"))

    # animated
    frames = [_garment((64, 80), rng) for _ in range(6)]
    add("animated.gif", "animated", LOAD, _encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0))
    add("animated.png", "animated", LOAD, _encoded(frames[0], "PNG", save_all=True, append_images=frames[1:]))
    add("animated.webp", "animated", LOAD, _encoded(frames[0], "WEBP", save_all=True, append_images=frames[1:]))
    many = [Image.new("P", (48, 48), i % 200) for i in range(200)]
    add("animated-200-frames.gif", "animated", LOAD, _encoded(many[0], "GIF", save_all=True, append_images=many[1:]))

    # EXIF orientations (1-8), invalid values and a damaged EXIF block
    for orientation in range(1, 9):
        add(f"exif-orientation-{orientation}.jpg", "exif", LOAD, _encoded(base, "JPEG", exif=_exif(orientation)))
    for orientation in (0, 9, 255, 65535):
        add(f"exif-orientation-invalid-{orientation}.jpg", "exif", LOAD, _encoded(base, "JPEG", exif=_exif(orientation)))
    add("exif-damaged.jpg", "exif", LOAD,
        _encoded(base, "JPEG", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08" + rng.bytes(60)))
    add("exif-orientation-6.png", "exif", LOAD, _encoded(base, "PNG", exif=_exif(6)))
    add("exif-orientation-8.webp", "exif", LOAD, _encoded(base, "WEBP", exif=_exif(8)))

    # truncated files: every format, cut at several points
    for ext, data in valid.items():
        for fraction in (0.02, 0.25, 0.5, 0.75, 0.95):
            cut = max(1, int(len(data) * fraction))
            add(f"truncated-{int(fraction * 100):02d}pc.{ext}", "truncated", EITHER, data[:cut])
    add("truncated-header-only.png", "truncated", REFUSE, valid["png"][:33])
    add("truncated-signature.jpg", "truncated", REFUSE, valid["jpg"][:3])

    # zero-byte files
    for ext in ("jpg", "png", "webp", "gif", "bmp", "tif", "jpeg", "heic"):
        add(f"zero-bytes.{ext}", "zero-byte", REFUSE, b"")

    # random bytes, some behind a valid signature
    signatures = {"png": b"\x89PNG\r\n\x1a\n", "jpg": b"\xff\xd8\xff\xe0", "gif": b"GIF89a", "webp": b"RIFF\x00\x10\x00\x00WEBPVP8 ",
                  "bmp": b"BM", "tif": b"II*\x00"}
    for i in range(12):
        ext = list(signatures)[i % len(signatures)]
        add(f"random-{i:02d}.{ext}", "random", REFUSE, rng.bytes(int(rng.integers(1, 40_000))))
    for ext, magic in signatures.items():
        for i in range(3):
            add(f"random-signed-{ext}-{i}.{ext}", "random", EITHER, magic + rng.bytes(int(rng.integers(16, 20_000))))
    add("nul-bytes.jpg", "random", REFUSE, b"\0" * 10_000)

    # wrong extensions and things that are not images
    add("png-named.jpg", "wrong-extension", LOAD, valid["png"])
    add("jpeg-named.png", "wrong-extension", LOAD, valid["jpg"])
    add("webp-named.gif", "wrong-extension", LOAD, valid["webp"])
    add("gif-named.webp", "wrong-extension", LOAD, valid["gif"])
    add("tiff-named.bmp", "wrong-extension", LOAD, valid["tif"])
    add("jpeg-no-extension", "wrong-extension", LOAD, valid["jpg"])
    add("text-named.jpg", "wrong-extension", REFUSE, b"just some text, not an image\n" * 20)
    add("html-named.png", "wrong-extension", REFUSE, b"<html><body><img src='x.png'></body></html>")
    add("svg-named.png", "wrong-extension", REFUSE,
        b"<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'><rect width='10' height='10'/></svg>")
    add("pdf-named.jpg", "wrong-extension", REFUSE, b"%PDF-1.4\n" + rng.bytes(500))
    add("zip-named.png", "wrong-extension", REFUSE, b"PK\x03\x04" + rng.bytes(300))
    add("csv-named.webp", "wrong-extension", REFUSE, b"path,category\nimg/a.jpg,dress\n")

    # decompression bombs: headers that claim huge sizes over tiny bodies
    for w, h in ((50_000, 50_000), (100_000, 100_000), (65_535, 65_535), (20_000, 5_000), (9_000, 9_000)):
        add(f"bomb-png-{w}x{h}.png", "bomb", REFUSE, png_bomb(w, h))
    for w, h in ((65_000, 65_000), (30_000, 30_000), (12_000, 8_000)):
        add(f"bomb-jpeg-{w}x{h}.jpg", "bomb", REFUSE, _jpeg_with_size(valid["jpg"], w, h))
    add("bomb-gif-65535x65535.gif", "bomb", REFUSE, _gif_with_size(valid["gif"], 65_535, 65_535))
    add("bomb-bmp-40000x40000.bmp", "bomb", REFUSE, _bmp_with_size(valid["bmp"], 40_000, 40_000))
    add("bomb-real-9000x9000.png", "bomb", REFUSE,
        lambda p: Image.new("L", (9000, 9000), 0).save(p, "PNG", compress_level=9))

    # extreme aspect ratios (valid files)
    for w, h, expect in ((100_000, 2, REFUSE), (2, 100_000, REFUSE), (30_000, 1, REFUSE), (1, 30_000, REFUSE),
                         (5_000, 100, REFUSE), (2_600, 100, REFUSE), (2_400, 100, LOAD), (100, 2_400, LOAD),
                         (1_000, 100, LOAD), (64, 1, REFUSE)):
        add(f"aspect-{w}x{h}.png", "aspect", expect,
            lambda p, w=w, h=h: Image.new("RGB", (w, h), (30, 60, 90)).save(p, "PNG"))
    add("aspect-60000x3.jpg", "aspect", REFUSE, _encoded(Image.new("RGB", (60_000, 3), (90, 60, 30)), "JPEG"))

    # unicode and awkward names
    for name in ("ñandú vestido.jpg", "服装-连衣裙.png", "платье.webp", "emoji-👗-dress.jpg", "spaces  and  tabs\t.png",
                 "quote'and\"double.jpg", "-leading-dash.jpg", "#hash;semicolon&amp.png", "x" * 200 + ".jpg",
                 "ümlaut/../escape-ish.jpg".replace("/", "_")):
        ext = name.rsplit(".", 1)[-1]
        add(name, "unicode-name", LOAD, valid[{"jpeg": "jpg"}.get(ext, ext)])

    # folders, symbolic links and loops
    def folder_named(path: Path) -> None:
        path.mkdir()
        (path / "inside.jpg").write_bytes(valid["jpg"])

    add("folder-named.jpg", "directory", REFUSE, folder_named)
    add("empty-folder", "directory", REFUSE, lambda p: p.mkdir())
    if sys.platform != "win32":
        add("link-to-valid.jpg", "symlink", LOAD, lambda p: os.symlink("valid.jpg", p))
        add("link-chain.png", "symlink", LOAD, lambda p: os.symlink("link-to-valid.jpg", p))
        add("link-absolute.webp", "symlink", LOAD, lambda p: os.symlink(folder / "valid.webp", p))
        add("link-broken.jpg", "symlink", REFUSE, lambda p: os.symlink("does-not-exist.jpg", p))
        add("link-self-loop.jpg", "symlink", REFUSE, lambda p: os.symlink(p.name, p))
        add("link-loop-a.png", "symlink", REFUSE, lambda p: os.symlink("link-loop-b.png", p))
        add("link-loop-b.png", "symlink", REFUSE, lambda p: os.symlink("link-loop-a.png", p))
        add("link-to-folder.jpg", "symlink", REFUSE, lambda p: os.symlink("folder-named.jpg", p))
        add("link-to-dev-null.jpg", "symlink", REFUSE, lambda p: os.symlink(os.devnull, p))
        add("fifo.jpg", "special", REFUSE, lambda p: os.mkfifo(p))
    add("missing.jpg", "missing", REFUSE, lambda p: None)
    return cases
