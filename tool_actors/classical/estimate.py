"""Blind estimators: what a tool needs to know about an image, read from the image alone.

* ``noise_sigma``: additive-noise standard deviation (0–255 scale) from the median absolute
  deviation of the finest diagonal Haar subband (Donoho's estimator), per channel, median over
  channels. Texture inflates it slightly; flat images give ≈ 0.
* ``jpeg_quality``: the IJG quality in ``[lo, hi]`` at which re-compressing a central,
  MCU-aligned crop changes it least; a decoded JPEG is nearly a fixed point of its own quality.
  ``None`` when no quality makes the crop (almost) a fixed point: the image is not a JPEG of a
  quality in range, or something was done to it after compression.
* ``defocus_radius``: the disk radius whose optical transfer function, on top of a power law,
  best fits the radially averaged log power spectrum (0 = sharp).
* ``motion_trail``: the scale and direction of a one-sided Gaussian-weighted linear trail whose
  transfer function best fits the log power spectrum in polar bins (0 = sharp). The spectrum
  cannot tell the trail from its mirror image: the direction is known modulo 180°.
* ``streak_angle``: the dominant orientation of thin bright structures (rain streaks), from the
  structure tensor of a white top-hat.

Angles are in degrees, counter-clockwise from the +x axis with y pointing up (image rows run
down), in ``[0, 180)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import scipy.fft as sfft
from scipy.special import j1

MAD_TO_SIGMA = 1.0 / 0.6745  # σ = MAD / Φ⁻¹(3/4) for Gaussian noise


# ------------------------------------------------------------------------------------------ noise
def noise_sigma(image: np.ndarray) -> float:
    """Noise standard deviation (0–255 scale) of a ``uint8 (H, W, 3)`` image; 0 for images under 2×2."""
    h, w = image.shape[:2]
    h2, w2 = h - h % 2, w - w % 2
    if h2 == 0 or w2 == 0:
        return 0.0
    x = image[:h2, :w2].astype(np.float32)
    a, b = x[0::2, 0::2], x[0::2, 1::2]
    c, d = x[1::2, 0::2], x[1::2, 1::2]
    hh = (a - b - c + d) * 0.5  # (H/2, W/2, 3): orthonormal diagonal detail, noise std = σ
    mad = np.median(np.abs(hh).reshape(-1, 3), axis=0)
    return float(np.median(mad) * MAD_TO_SIGMA)


# ------------------------------------------------------------------------------------------- jpeg
def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """Baseline JPEG encode + decode with OpenCV (4:2:0 chroma), RGB in and out."""
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError(f"OpenCV failed to JPEG-encode a {image.shape} image at quality {quality}")
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]


def jpeg_quality(image: np.ndarray, lo: int = 5, hi: int = 95, crop: int = 128,
                 max_change: float = 0.5) -> int | None:
    """IJG quality of a decoded JPEG (see module doc), or ``None``; needs at least 16×16 pixels."""
    h, w = image.shape[:2]
    ch, cw = min(h, crop) // 16 * 16, min(w, crop) // 16 * 16
    if ch < 16 or cw < 16:
        return None
    y0, x0 = (h - ch) // 2 // 16 * 16, (w - cw) // 2 // 16 * 16  # keep the 16×16 MCU grid
    sub = np.ascontiguousarray(image[y0:y0 + ch, x0:x0 + cw])
    changes = [(float(np.mean(np.abs(jpeg_roundtrip(sub, q).astype(np.int16) - sub))), q) for q in range(lo, hi + 1)]
    change, quality = min(changes)
    return quality if change <= max_change else None


IJG_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
], np.float64).reshape(8, 8)  # the JPEG standard's example luminance table (Annex K), quality 50


def ijg_luma_table(quality: int) -> np.ndarray:
    """The luminance quantisation table libjpeg uses at ``quality`` (1–100)."""
    q = int(np.clip(quality, 1, 100))
    scale = 5000.0 / q if q < 50 else 200.0 - 2.0 * q
    return np.clip(np.floor((IJG_LUMA * scale + 50.0) / 100.0), 1, 255)


# ----------------------------------------------------------------------------------- log spectrum
def log_power_spectrum(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log |FFT|² of the Hann-windowed grey image, with the frequency grids (cycles/pixel)."""
    g = image.astype(np.float32).mean(axis=2)
    h, w = g.shape
    win = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    power = np.abs(sfft.fft2((g - g.mean()) * win, workers=1)) ** 2
    return np.log(power + 1e-6), sfft.fftfreq(h)[:, None], sfft.fftfreq(w)[None, :]


def _binned_mean(values: np.ndarray, index: np.ndarray, valid: np.ndarray, n: int) -> np.ndarray:
    sums = np.bincount(index[valid], values[valid], n)
    counts = np.bincount(index[valid], None, n)
    return sums / np.maximum(counts, 1)


# ---------------------------------------------------------------------------------------- defocus
def disk_otf(freq: np.ndarray, radius: float, alias_blur: float = 0.5) -> np.ndarray:
    """Radial transfer function of a disk of ``radius`` pixels, softened by a Gaussian of σ ``alias_blur``."""
    z = 2.0 * np.pi * freq * radius
    airy = np.where(z < 1e-6, 1.0, 2.0 * j1(z) / np.maximum(z, 1e-6))
    return airy * np.exp(-2.0 * np.pi**2 * alias_blur**2 * freq**2)


def defocus_radius(image: np.ndarray, max_radius: float = 8.0, step: float = 0.25, bins: int = 64,
                   fmin: float = 0.02, fmax: float = 0.45, floor: float = 1e-3) -> float:
    """Disk radius in pixels (0 = sharp) fitted to the radial log power spectrum (see module doc)."""
    logp, fy, fx = log_power_spectrum(image)
    fr = np.sqrt(fy**2 + fx**2)
    index = np.floor((fr - fmin) / (fmax - fmin) * bins).astype(np.int64)
    valid = (index >= 0) & (index < bins)
    profile = _binned_mean(logp.ravel(), index.ravel(), valid.ravel(), bins)
    freqs = fmin + (np.arange(bins) + 0.5) * (fmax - fmin) / bins
    design = np.stack([np.ones_like(freqs), np.log(freqs)], axis=1)  # power-law image spectrum
    best_err, best_r = np.inf, 0.0
    for r in np.arange(0.0, max_radius + 1e-9, step):
        y = profile - np.log(disk_otf(freqs, r) ** 2 + floor)
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        err = float(np.mean((y - design @ coef) ** 2))
        if err < best_err - 1e-12:
            best_err, best_r = err, float(r)
    return best_r


# ----------------------------------------------------------------------------------------- motion
def trail_weights(scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Positions 0…⌈4·scale⌉ along the trail and their weights exp(−t²/2·scale²), summing to 1."""
    t = np.arange(int(np.ceil(4.0 * scale)) + 1, dtype=np.float64)
    w = np.exp(-(t**2) / (2.0 * scale * scale))
    return t, w / w.sum()


@dataclass(frozen=True)
class MotionEstimate:
    """A fitted motion trail: ``scale`` in pixels (0 = sharp), ``angle`` in degrees modulo 180,
    and the fit's error relative to the no-blur model (< 1: the trail explains the spectrum better)."""

    scale: float
    angle: float
    relative_error: float


_NU = np.linspace(0.0, 0.5, 1025)  # |frequency| along the trail, cycles/pixel


def motion_trail(image: np.ndarray, scales: tuple[float, float, float] = (1.0, 10.0, 0.5), angle_step: float = 2.0,
                 angle_bins: int = 90, freq_bins: int = 32, fmin: float = 0.03, fmax: float = 0.45,
                 floor: float = 1e-3) -> MotionEstimate:
    """Fit a one-sided Gaussian-weighted linear trail to the polar log power spectrum (module doc)."""
    logp, fy, fx = log_power_spectrum(image)
    fr = np.sqrt(fy**2 + fx**2)
    theta = np.degrees(np.arctan2(-fy, fx)) % 180.0  # y up
    fi = np.floor((fr - fmin) / (fmax - fmin) * freq_bins).astype(np.int64)
    ai = np.floor(theta / 180.0 * angle_bins).astype(np.int64) % angle_bins
    valid = (fi >= 0) & (fi < freq_bins)
    table = _binned_mean(logp.ravel(), (ai * freq_bins + fi).ravel(), valid.ravel(), angle_bins * freq_bins)
    obs = table.reshape(angle_bins, freq_bins)
    obs = obs - obs.mean(axis=0, keepdims=True)  # (A, F): anisotropy at each frequency
    angles = (np.arange(angle_bins) + 0.5) * 180.0 / angle_bins
    freqs = fmin + (np.arange(freq_bins) + 0.5) * (fmax - fmin) / freq_bins
    phis = np.arange(0.0, 180.0, angle_step)
    along = np.abs(np.cos(np.radians(angles[None, :] - phis[:, None])))  # (P, A)
    nu_index = np.rint(along[:, :, None] * freqs[None, None, :] / 0.5 * (len(_NU) - 1)).astype(np.int64)  # (P, A, F)
    none_err = float(np.mean(obs**2))
    best = (none_err, 0.0, 0.0)
    lo, hi, step = scales
    for s in np.arange(lo, hi + 1e-9, step):
        t, w = trail_weights(float(s))
        otf = (w[None, :] * np.exp(-2j * np.pi * _NU[:, None] * t[None, :])).sum(axis=1)
        model = np.log(np.abs(otf) ** 2 + floor)[nu_index]  # (P, A, F)
        model -= model.mean(axis=1, keepdims=True)
        err = np.mean((obs[None] - model) ** 2, axis=(1, 2))
        i = int(np.argmin(err))
        if err[i] < best[0] - 1e-12:
            best = (float(err[i]), float(s), float(phis[i]))
    return MotionEstimate(scale=best[1], angle=best[2], relative_error=best[0] / max(none_err, 1e-12))


# ------------------------------------------------------------------------------------------- rain
def streak_angle(grey: np.ndarray, tophat_size: int = 5) -> tuple[float, float]:
    """(angle of thin bright streaks in degrees, coherence in [0, 1]) of a float32 grey image."""
    se = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (tophat_size, tophat_size))
    th = cv2.morphologyEx(grey, cv2.MORPH_TOPHAT, se)
    gx = cv2.Sobel(th, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(th, cv2.CV_32F, 0, 1, ksize=3)
    jxx, jyy, jxy = float((gx * gx).sum()), float((gy * gy).sum()), float((gx * gy).sum())
    gradient = 0.5 * np.degrees(np.arctan2(2.0 * jxy, jxx - jyy))  # y down
    coherence = float(np.hypot(jxx - jyy, 2.0 * jxy) / (jxx + jyy + 1e-9))
    return float((-(gradient + 90.0)) % 180.0), coherence  # streaks run across the gradient; y up
