"""Blind deblurring: a kernel fitted to the image's own spectrum, then Wiener deconvolution.

* ``motion-wiener`` / ``motion-wiener-soft``: a one-sided Gaussian-weighted linear trail
  (``estimate.motion_trail``: scale 1–10 px, direction modulo 180°). The spectrum cannot tell
  the trail from its mirror image, so both are deconvolved and the result with the sparser
  gradients (smaller total variation; the wrong direction leaves ringing) is kept.
* ``disk-wiener`` / ``disk-wiener-soft``: a disk (``estimate.defocus_radius``: 0–8 px).

Wiener: X = conj(K)·Y / (|K|² + nsr) per channel, on a reflect-padded image so borders do not
ring. Guards: an image whose fitted blur is 0 (or whose trail explains its spectrum less than 5 %
better than no blur) is returned unchanged, so sharp images pass through; the kernel grids are
bounded (scale ≤ 10, radius ≤ 8), so an estimate can never run away. The ``-soft`` variants use
a larger noise-to-signal ratio, for blurred images that are also noisy.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import scipy.fft as sfft

from tool_actors.classical.base import ClassicalTool, register, to_uint8
from tool_actors.classical.estimate import defocus_radius, motion_trail, trail_weights


def trail_kernel(scale: float, angle: float) -> np.ndarray:
    """The one-sided trail as a correlation kernel (sums to 1), drawn with bilinear splatting."""
    t, w = trail_weights(scale)
    xs, ys = t * math.cos(math.radians(angle)), -t * math.sin(math.radians(angle))  # y down
    m = math.ceil(t[-1]) + 2
    k = np.zeros((2 * m + 1, 2 * m + 1), np.float64)
    for x, y, wt in zip(xs, ys, w, strict=True):
        x0, y0 = math.floor(x), math.floor(y)
        fx, fy = x - x0, y - y0
        k[m + y0, m + x0] += wt * (1 - fx) * (1 - fy)
        k[m + y0, m + x0 + 1] += wt * fx * (1 - fy)
        k[m + y0 + 1, m + x0] += wt * (1 - fx) * fy
        k[m + y0 + 1, m + x0 + 1] += wt * fx * fy
    return k / k.sum()


def disk_kernel(radius: float, alias_blur: float = 0.5) -> np.ndarray:
    """A normalised disk of ``radius`` pixels softened by a 3×3 Gaussian of σ ``alias_blur``."""
    half = max(2, math.ceil(radius) + 2)
    ax = np.arange(-half, half + 1, dtype=np.float64)
    xx, yy = np.meshgrid(ax, ax)
    disk = (xx**2 + yy**2 <= radius**2).astype(np.float64)
    disk /= disk.sum()
    return cv2.GaussianBlur(disk, (3, 3), alias_blur)


def _otf(kernel: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Real-FFT transfer function of a centred kernel on a ``shape`` grid."""
    pad = np.zeros(shape, np.float64)
    kh, kw = kernel.shape
    pad[:kh, :kw] = kernel
    pad = np.roll(pad, (-(kh // 2), -(kw // 2)), axis=(0, 1))
    return sfft.rfft2(pad, workers=1)


def wiener_deconvolve(image: np.ndarray, kernel: np.ndarray, nsr: float) -> np.ndarray:
    """Wiener deconvolution of a ``uint8 (H, W, 3)`` image by a correlation kernel; float64 out."""
    h, w = image.shape[:2]
    m = max(kernel.shape)
    x = cv2.copyMakeBorder(image.astype(np.float32), m, m, m, m, cv2.BORDER_REFLECT_101)
    fh, fw = sfft.next_fast_len(x.shape[0], real=True), sfft.next_fast_len(x.shape[1], real=True)
    x = cv2.copyMakeBorder(x, 0, fh - x.shape[0], 0, fw - x.shape[1], cv2.BORDER_REFLECT_101)
    k = _otf(kernel, (fh, fw))
    gain = np.conj(k) / (np.abs(k) ** 2 + nsr)
    spectrum = sfft.rfft2(x, axes=(0, 1), workers=1)
    y = sfft.irfft2(spectrum * gain[..., None], s=(fh, fw), axes=(0, 1), workers=1)
    return y[m:m + h, m:m + w]


def total_variation(image: np.ndarray) -> float:
    """Anisotropic total variation of the grey image."""
    g = image.astype(np.float32).mean(axis=2)
    return float(np.abs(np.diff(g, axis=0)).sum() + np.abs(np.diff(g, axis=1)).sum())


class MotionWiener(ClassicalTool):
    """Blind motion deblurring: fitted trail + Wiener, direction chosen by gradient sparsity."""

    min_work_side = 32

    def __init__(self, nsr: float = 0.01, max_relative_error: float = 0.95, **kw: object) -> None:
        super().__init__(nsr=nsr, max_relative_error=max_relative_error, **kw)

    def restore(self, image: np.ndarray) -> np.ndarray:
        est = motion_trail(image)
        if est.scale <= 0.0 or est.relative_error > self.params["max_relative_error"]:
            return image.copy()
        candidates = [to_uint8(wiener_deconvolve(image, trail_kernel(est.scale, a), self.params["nsr"]))
                      for a in (est.angle, est.angle + 180.0)]
        return min(candidates, key=total_variation)


class DiskWiener(ClassicalTool):
    """Blind defocus deblurring: fitted disk radius + Wiener."""

    min_work_side = 32

    def __init__(self, nsr: float = 0.01, min_radius: float = 1.0, **kw: object) -> None:
        super().__init__(nsr=nsr, min_radius=min_radius, **kw)

    def restore(self, image: np.ndarray) -> np.ndarray:
        radius = defocus_radius(image)
        if radius < self.params["min_radius"]:
            return image.copy()
        return to_uint8(wiener_deconvolve(image, disk_kernel(radius), self.params["nsr"]))


register(MotionWiener, "motion-wiener", "deblur_motion",
         "blind linear motion trail from the log power spectrum + Wiener deconvolution",
         method="spectral-trail-fit+wiener", nsr=0.01, max_relative_error=0.95)
register(MotionWiener, "motion-wiener-soft", "deblur_motion",
         "blind motion trail + strongly regularised Wiener (for blurred and noisy images)",
         method="spectral-trail-fit+wiener", nsr=0.03, max_relative_error=0.95)
register(DiskWiener, "disk-wiener", "deblur_defocus",
         "blind disk radius from the radial log spectrum + Wiener deconvolution",
         method="spectral-disk-fit+wiener", nsr=0.01, min_radius=1.0)
register(DiskWiener, "disk-wiener-soft", "deblur_defocus",
         "blind disk radius + strongly regularised Wiener (for blurred and noisy images)",
         method="spectral-disk-fit+wiener", nsr=0.03, min_radius=1.0)
