"""Sliding-window 8×8 DCT shrinkage in an orthonormal opponent colour space.

Every ``n × n`` patch on a grid of stride ``step`` is transformed with the orthonormal DCT-II;
coefficients are hard-thresholded at ``λ·σ`` (the DC term is kept), inverted, and the patches are
averaged back with weights ``1 / (kept coefficients)`` (sparser patches are more trustworthy).
``shrink`` adds an optional second stage that uses the first result as a pilot for empirical
Wiener weights ``P² / (P² + σ²)`` per coefficient — the two stages of BM3D without block
matching. Colour goes through the orthonormal opponent transform (luma, red–blue, green–magenta),
so white noise of std σ in RGB stays white noise of std σ in each channel.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

OPPONENT = (np.array([[1, 1, 1], [1, 0, -1], [1, -2, 1]], np.float32)
            / np.array([[np.sqrt(3)], [np.sqrt(2)], [np.sqrt(6)]], np.float32))  # orthonormal rows


def dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II matrix ``(n, n)``: coefficients = D @ patch @ D.T."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    return m.astype(np.float32)


def _patches(x: np.ndarray, n: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Reflect-pad ``x`` so the stride-``step`` grid of ``n × n`` patches covers it; (padded, patches)."""
    h, w = x.shape
    ph = n - h if h < n else -(h - n) % step
    pw = n - w if w < n else -(w - n) % step
    xp = np.pad(x, ((0, ph), (0, pw)), mode="symmetric")
    return xp, sliding_window_view(xp, (n, n))[::step, ::step]


def _aggregate(shape: tuple[int, int], patches: np.ndarray, weights: np.ndarray, step: int) -> np.ndarray:
    """Weighted average of overlapping ``(a, b, n, n)`` patches on a stride-``step`` grid."""
    out = np.zeros(shape, np.float32)
    acc = np.zeros(shape, np.float32)
    a, b, n, _ = patches.shape
    weighted = patches * weights[..., None, None]
    for i in range(n):
        for j in range(n):
            out[i:i + step * a:step, j:j + step * b:step] += weighted[:, :, i, j]
            acc[i:i + step * a:step, j:j + step * b:step] += weights
    return out / acc


def shrink_channel(x: np.ndarray, sigma: float, lam: float = 3.0, step: int = 2,
                   wiener_step: int | None = None, n: int = 8) -> np.ndarray:
    """Hard-threshold (and optionally Wiener-refine) one float32 channel (see module doc)."""
    h, w = x.shape
    d = dct_matrix(n)
    xp, p = _patches(x, n, step)
    c = d @ p @ d.T  # (a, b, n, n)
    keep = np.abs(c) >= lam * sigma
    keep[..., 0, 0] = True
    weights = 1.0 / keep.sum(axis=(-1, -2)).astype(np.float32)
    est = _aggregate(xp.shape, d.T @ (c * keep) @ d, weights, step)[:h, :w]
    if wiener_step is None:
        return est
    xp, p = _patches(x, n, wiener_step)
    _, pilot = _patches(np.ascontiguousarray(est), n, wiener_step)
    c = d @ p @ d.T
    cp = d @ pilot @ d.T
    gain = cp * cp / (cp * cp + sigma * sigma)
    weights = 1.0 / np.maximum((gain * gain).sum(axis=(-1, -2)), 1e-3)
    return _aggregate(xp.shape, d.T @ (c * gain) @ d, weights, wiener_step)[:h, :w]


def shrink(image: np.ndarray, sigma: float, lam: float = 3.0, step: int = 2, wiener_step: int | None = None,
           chroma_factor: float = 1.0) -> np.ndarray:
    """DCT shrinkage of a ``uint8 (H, W, 3)`` image; chroma uses ``chroma_factor·σ``; float32 RGB out."""
    x = image.astype(np.float32) @ OPPONENT.T
    out = np.empty_like(x)
    for c in range(3):
        s = sigma if c == 0 else sigma * chroma_factor
        out[..., c] = shrink_channel(np.ascontiguousarray(x[..., c]), s, lam, step, wiener_step)
    return out @ OPPONENT
