"""Rain statistics of the ``stats`` encoder: bright, thin, near-vertical lines that share one
orientation in every region of the image, at the streak width and at the width the image's blur
gives a streak, plus Hessian ridges. Fills its entries of the feature dict (names and meanings:
``stats_features.FEATURES``).
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np
import scipy.fft

from tool_actors.encoders.stats_maps import block_mean, log_evidence

_N_ORIENT = 12  # orientation bins over 180° (line filters, Hessian ridges)
_NEAR_VERTICAL = np.array([4, 5, 6, 7, 8])  # line directions 60°…120° from the x axis: within 30° of vertical


@lru_cache(maxsize=24)
def _line_bank(h: int, w: int, along: float, across: float) -> np.ndarray:
    """Transfer functions (12, h, w//2+1) of scale-normalised −∂²/∂v² of an elongated Gaussian, one per
    orientation: a bright line along the orientation gives a positive response, a dark line a negative one."""
    fy = np.fft.fftfreq(h)[:, None] * 2 * math.pi
    fx = np.fft.rfftfreq(w)[None, :] * 2 * math.pi
    out = []
    for k in range(_N_ORIENT):
        t = math.pi * k / _N_ORIENT  # line direction, from the x axis towards +y (down)
        u = fx * math.cos(t) + fy * math.sin(t)  # frequency along the line
        v = -fx * math.sin(t) + fy * math.cos(t)  # frequency across it
        out.append(across**2 * v**2 * np.exp(-0.5 * ((along * u) ** 2 + (across * v) ** 2)))
    return np.stack(out).astype(np.complex64)


def _line_stats(y2: np.ndarray, spectrum: np.ndarray, along: float, across: float, suffix: str,
                f: dict[str, float]) -> None:
    """Global and per-block bright-line statistics of one filter width."""
    resp = scipy.fft.irfft2(_line_bank(*y2.shape, along, across) * spectrum[None], s=y2.shape,
                            axes=(-2, -1), workers=1)  # (12, H', W')
    m = min(4, (min(y2.shape) - 1) // 4)
    if m > 0:
        resp = resp[:, m:-m, m:-m]
    resp = resp.astype(np.float32)
    bright = np.maximum(resp, 0.0)
    e_bright, e_dark = bright**2, np.minimum(resp, 0.0) ** 2
    total_bright, total_dark = e_bright.mean(axis=(1, 2)), e_dark.mean(axis=(1, 2))
    k = int(_NEAR_VERTICAL[np.argmax((total_bright - total_dark)[_NEAR_VERTICAL])])
    if not suffix:
        excess = float(total_bright[k] - total_dark[k]) / (float((total_bright + total_dark).mean()) + 1e-12)
        f["log_line_excess"] = log_evidence(excess, 0.01)
    f[f"log_line_spread{suffix}"] = log_evidence(float((block_mean(bright, 8).argmax(axis=0) == k).mean()), 0.02)
    block_bright, block_dark = block_mean(e_bright, 12), block_mean(e_dark, 12)  # (12, by, bx)
    block_excess = (block_bright - block_dark) / ((block_bright + block_dark).mean(axis=0) + 1e-12)
    med = np.median(block_excess.reshape(_N_ORIENT, -1), axis=1)
    kb = int(_NEAR_VERTICAL[np.argmax(med[_NEAR_VERTICAL])])
    f[f"log_line_block_excess{suffix}"] = log_evidence(float(med[kb]), 0.01)
    f[f"log_line_block_positive{suffix}"] = log_evidence(float((block_excess[kb] > 0.1).mean()), 0.02)


def _ridges(y2: np.ndarray, f: dict[str, float]) -> None:
    """Hessian bright-ridge statistics of the downsampled luma (σ = 1)."""
    g = cv2.GaussianBlur(y2, (0, 0), 1.0)
    hxx = cv2.Sobel(g, cv2.CV_32F, 2, 0, ksize=3)
    hyy = cv2.Sobel(g, cv2.CV_32F, 0, 2, ksize=3)
    hxy = cv2.Sobel(g, cv2.CV_32F, 1, 1, ksize=3)
    root = np.sqrt((hxx - hyy) ** 2 + 4 * hxy * hxy)
    lmin, lmax = 0.5 * (hxx + hyy - root), 0.5 * (hxx + hyy + root)
    ridge_w = np.maximum(-lmin - np.abs(lmax), 0.0) ** 2  # bright, thin, line-like
    valley_w = np.maximum(lmax - np.abs(lmin), 0.0) ** 2  # dark, thin, line-like
    obin = ((0.5 * np.arctan2(2 * hxy, hxx - hyy) + np.pi / 2) / np.pi * _N_ORIENT).astype(np.int64) % _N_ORIENT
    hist = np.bincount(obin.ravel(), weights=ridge_w.ravel(), minlength=_N_ORIENT)
    top = int(hist.argmax())
    dom_blocks = block_mean(ridge_w * (obin == top), 16)
    all_blocks = block_mean(ridge_w, 16) + 1e-12
    f["log_ridge_block_share"] = log_evidence(float(np.median(dom_blocks / all_blocks)), 0.01)
    f["ridge_valley_asymmetry"] = math.log((float(ridge_w.sum()) + 1e-9) / (float(valley_w.sum()) + 1e-9))


def rain_features(y2: np.ndarray, blur_sigma: float, f: dict[str, float]) -> None:
    """Bright near-vertical lines of the downsampled luma, at streak width and at the width a blur of
    σ ``blur_sigma`` (2× scale) gives a streak, and Hessian ridges."""
    spectrum = scipy.fft.rfft2(y2 - y2.mean(), workers=1)
    _line_stats(y2, spectrum, 4.0, 0.8, "", f)
    across = round(math.hypot(0.8, min(blur_sigma, 3.0)) * 5.0) / 5.0  # steps of 0.2 keep the filter cache small
    _line_stats(y2, spectrum, 4.0 + across, across, "_adapted", f)
    _ridges(y2, f)
