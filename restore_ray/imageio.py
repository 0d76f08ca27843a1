"""Reading and writing images: every part of restore-ray goes through this module.

``read_image`` turns any common file (PNG, JPEG, BMP, TIFF, WebP, GIF, …) into a ``uint8``
RGB array of shape ``(H, W, 3)``, by these documented rules:

* EXIF orientation is applied first, so the array looks the way a viewer shows the photo.
* grayscale (``L``, ``1``) is repeated into three channels;
* palette images (``P``) are expanded through their palette;
* alpha (``RGBA``, ``LA``, ``PA``) is composited over a white background;
* 16-bit samples (``I;16``, 16-bit RGB) keep their high byte (v // 256, i.e. v >> 8);
  32-bit integer images are treated as 16-bit; float images are read as [0, 1] if their maximum is
  at most 1, else as [0, 255], then clipped;
* CMYK is converted by R = 255·(1 − C)(1 − K) (and likewise G with M, B with Y): no ICC profile is
  applied, so colours of press-ready CMYK files are approximate.

Images larger than ``max_pixels`` (default 64 megapixels, or ``RESTORE_RAY_MAX_PIXELS``) are
refused from their header, before any pixel is decoded, which defeats decompression bombs.
Empty, truncated or undecodable files raise ``ImageReadError`` naming the file; nothing ever
returns a silent black image.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

DEFAULT_MAX_PIXELS = 64_000_000
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm")

# This module enforces its own, configurable limit before decoding; Pillow's warning/error would
# otherwise fire at a different, fixed size.
Image.MAX_IMAGE_PIXELS = None


class ImageReadError(ValueError):
    """An image could not be read: the message names the file, what was wrong and what to do."""


class ImageTooLargeError(ImageReadError):
    """An image's header declares more pixels than allowed."""


def max_pixels_default() -> int:
    """The pixel limit: ``RESTORE_RAY_MAX_PIXELS`` if set, else 64 megapixels."""
    raw = os.environ.get("RESTORE_RAY_MAX_PIXELS")
    if raw is None:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(float(raw))
    except ValueError:
        raise ValueError(f"RESTORE_RAY_MAX_PIXELS must be an integer, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"RESTORE_RAY_MAX_PIXELS must be positive, got {raw!r}")
    return value


def _to_rgb(im: Image.Image) -> np.ndarray:
    mode = im.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    if mode.startswith("I;16") or mode == "I":
        arr = np.asarray(im).astype(np.int64)
        arr = np.clip(arr, 0, 65535) >> 8
        return np.repeat(arr.astype(np.uint8)[..., None], 3, axis=2)
    if mode == "F":
        arr = np.asarray(im).astype(np.float64)
        finite = arr[np.isfinite(arr)]
        top = float(finite.max()) if finite.size else 0.0
        arr = np.nan_to_num(arr, nan=0.0, posinf=255.0, neginf=0.0)
        arr = arr * 255.0 if top <= 1.0 else arr
        return np.repeat(np.clip(np.rint(arr), 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    return np.asarray(im.convert("RGB"))


def _open(source: str | os.PathLike | bytes, label: str) -> Image.Image:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if not data:
            raise ImageReadError(f"{label}: the image is empty (0 bytes); send the file's contents")
        fp: io.BytesIO | str = io.BytesIO(data)
    else:
        path = Path(source)
        if not path.exists():
            raise ImageReadError(f"{label}: no such file")
        if path.is_dir():
            raise ImageReadError(f"{label}: is a directory, not an image file")
        if path.stat().st_size == 0:
            raise ImageReadError(f"{label}: the file is empty (0 bytes); re-export or re-download it")
        fp = str(path)
    try:
        return Image.open(fp)
    except UnidentifiedImageError:
        raise ImageReadError(
            f"{label}: not a recognised image format (supported: {', '.join(IMAGE_SUFFIXES)})") from None
    except OSError as err:
        raise ImageReadError(f"{label}: cannot open the image: {err}") from None


def read_image(source: str | os.PathLike | bytes, max_pixels: int | None = None,
               name: str | None = None) -> np.ndarray:
    """Read a file path or encoded bytes into a ``uint8`` RGB ``(H, W, 3)`` array (rules above).

    ``name`` labels ``bytes`` input in error messages (e.g. an uploaded file's name).
    """
    label = name or (str(source) if not isinstance(source, (bytes, bytearray, memoryview)) else "<image bytes>")
    limit = max_pixels_default() if max_pixels is None else int(max_pixels)
    im = _open(source, label)
    with im:
        width, height = im.size
        if width <= 0 or height <= 0:
            raise ImageReadError(f"{label}: the header declares an empty image ({width}×{height})")
        if width * height > limit:
            raise ImageTooLargeError(
                f"{label}: {width}×{height} = {width * height:,} pixels exceeds the limit of {limit:,}; "
                "downscale the image, or raise the limit with max_pixels= or RESTORE_RAY_MAX_PIXELS")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                im.load()
                im = ImageOps.exif_transpose(im)
            arr = _to_rgb(im)
        except (OSError, SyntaxError, ValueError) as err:
            raise ImageReadError(f"{label}: the image data is corrupt or truncated ({err}); "
                                 "re-export or re-download the file") from None
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:  # pragma: no cover - Pillow invariant
        raise ImageReadError(f"{label}: decoded to an unexpected array {arr.dtype} {arr.shape}")
    return np.ascontiguousarray(arr)


def check_rgb_u8(image: np.ndarray, what: str = "image") -> np.ndarray:
    """Raise a clear ``ValueError`` unless ``image`` is a uint8 ``(H, W, 3)`` array."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"{what}: expected a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{what}: expected a uint8 (H, W, 3) RGB array, got {image.dtype} {image.shape}")
    return image


def encode_png(image: np.ndarray, compression: int = 3) -> bytes:
    """Encode a uint8 RGB array as PNG bytes (lossless, deterministic)."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(check_rgb_u8(image), cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_PNG_COMPRESSION, int(compression)])
    if not ok:  # pragma: no cover - OpenCV only fails on invalid arrays, excluded above
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def write_image(path: str | os.PathLike, image: np.ndarray, quality: int = 95) -> Path:
    """Write a uint8 RGB array; the format follows the suffix (PNG unless .jpg/.jpeg/.webp/...)."""
    path = Path(path)
    check_rgb_u8(image, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".png":
        path.write_bytes(encode_png(image))
    elif suffix in (".jpg", ".jpeg"):
        Image.fromarray(image).save(path, quality=int(quality))
    elif suffix in IMAGE_SUFFIXES:
        Image.fromarray(image).save(path)
    else:
        raise ValueError(f"{path}: unsupported output format {suffix!r}; use one of {', '.join(IMAGE_SUFFIXES)}")
    return path


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly inside ``folder`` (by suffix), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a directory")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
