"""Array helpers shared by the ``stats`` feature groups: block views and means, the finest Haar band,
2× area downsampling, top/bottom thirds, JPEG-boundary smoothing and log-scaled evidence."""

from __future__ import annotations

import math

import cv2
import numpy as np


def log_evidence(x: float, floor: float) -> float:
    """log(max(x, 0) + floor): evidence that is ~0 without its degradation, on a log scale."""
    return math.log(max(float(x), 0.0) + floor)


def block_view(x: np.ndarray, b: int) -> np.ndarray:
    """(H, W) → (H//b, W//b, b, b) over the top-left aligned full blocks (b shrinks to fit small images)."""
    b = max(1, min(b, x.shape[0], x.shape[1]))
    h, w = x.shape[0] // b * b, x.shape[1] // b * b
    return x[:h, :w].reshape(h // b, b, w // b, b).swapaxes(1, 2)


def block_mean(x: np.ndarray, b: int) -> np.ndarray:
    """Block means over the top-left aligned full b×b blocks: (H, W) → (H//b, W//b), or (C, H, W) → (C, H//b, W//b)."""
    b = max(1, min(b, x.shape[-2], x.shape[-1]))
    h, w = x.shape[-2] // b * b, x.shape[-1] // b * b
    if x.ndim == 2:
        return cv2.resize(x[:h, :w], (w // b, h // b), interpolation=cv2.INTER_AREA)  # exact block means
    return np.stack([cv2.resize(c[:h, :w], (w // b, h // b), interpolation=cv2.INTER_AREA) for c in x])


def haar_hh(ch: np.ndarray) -> np.ndarray:
    """The finest Haar diagonal band (H/2, W/2) of a map."""
    h, w = ch.shape[0] // 2 * 2, ch.shape[1] // 2 * 2
    c = ch[:h, :w]
    return (c[0::2, 0::2] - c[0::2, 1::2] - c[1::2, 0::2] + c[1::2, 1::2]) * 0.5


def haar_hh_sigma(ch: np.ndarray) -> float:
    """Noise σ from the finest Haar diagonal band: median |HH| / 0.6745."""
    hh = haar_hh(ch)
    return float(np.median(np.abs(hh))) / 0.6745 if hh.size else 0.0


def half(x: np.ndarray) -> np.ndarray:
    """2× area downsampling (at least 1 pixel a side)."""
    return cv2.resize(x, (max(x.shape[1] // 2, 1), max(x.shape[0] // 2, 1)), interpolation=cv2.INTER_AREA)


def thirds(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Top and bottom third of a map (rows), each at least one row."""
    third = max(x.shape[0] // 3, 1)
    return x[:third], x[-third:]


def deblock(y: np.ndarray) -> np.ndarray:
    """Y with the two pixels either side of every 8-pixel block boundary replaced by a linear ramp
    between their outer neighbours, so JPEG block edges do not read as sharp, axis-aligned detail."""
    out = y.copy()
    for x0 in range(8, y.shape[1] - 1, 8):
        a, b = out[:, x0 - 2], out[:, x0 + 1]
        out[:, x0 - 1], out[:, x0] = (2 * a + b) / 3, (a + 2 * b) / 3
    for y0 in range(8, y.shape[0] - 1, 8):
        a, b = out[y0 - 2], out[y0 + 1]
        out[y0 - 1], out[y0] = (2 * a + b) / 3, (a + 2 * b) / 3
    return out
