"""Synthetic distortions with a severity knob, for training the judge and the experts.

Three families, all ``uint8 (H, W, 3)`` → same shape, all deterministic given their parameters:

* ``graded_degradation(name, severity, shape_seed)``: the seven degradations of
  ``restore_ray.degradations`` with their strength mapped from ``severity`` ∈ [0, 1]; 1 reaches the
  paper's heaviest level, small severities are lighter than the paper's range. The shape of a
  degradation (noise seed, blur angle, dark method, haze airlight, rain pattern) comes from
  ``shape_seed`` alone, so two severities with one seed differ in strength only.
* ``over_process(kind, image, severity)``: what restoration tools do wrong — over-sharpening halos,
  over-brightening with clipped highlights, waxy over-smoothing, colour casts, deconvolution
  ringing, residual rain streaks, over-dehazing, over-contrast.
* ``remedy(kind, image, rng)``: quick classical restoration attempts (the kind of output a tool
  produces from a degraded image): smoothing, sharpening, brightening, dark-channel dehazing,
  Wiener deconvolution, streak removal. Some help, some hurt; the training code ranks them by a
  full-reference distance to the clean image.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

from restore_ray import degradations as D
from restore_ray.names import DEGRADATIONS

Image = np.ndarray  # uint8 (H, W, 3)


def _u8(x: np.ndarray) -> Image:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------ graded degradations
def graded_params(name: str, severity: float, shape_seed: int) -> dict:
    """Parameters for ``restore_ray.degradations.apply(name, …)`` at ``severity`` ∈ [0, 1]."""
    s = float(np.clip(severity, 0.0, 1.0))
    rng = np.random.default_rng(shape_seed)
    if name == "dark":
        method = ("shift", "gamma", "linear")[int(rng.integers(0, 3))]
        if method == "shift":
            return {"method": "shift", "shift": round(4 + 46 * s)}
        if method == "gamma":
            return {"method": "gamma", "gamma": 0.95 - 0.45 * s}
        return {"method": "linear", "dst_max": round(240 - 140 * s)}
    if name == "noise":
        seed = int(rng.integers(0, 2**31 - 1))
        if rng.uniform() < 0.5:
            return {"kind": "gaussian", "sigma": 2.0 + 48.0 * s, "seed": seed}
        return {"kind": "poisson", "scale": 0.15 + 2.85 * s, "seed": seed}
    if name == "jpeg":
        return {"quality": round(92 - 84 * s)}
    if name == "haze":
        return {"A": float(rng.uniform(0.7, 1.0)), "beta": 0.08 + 1.72 * s}
    if name == "rain":
        return {"value": round(15 + 85 * s), "length": round(12 + 28 * s),
                "angle": int(rng.integers(-30, 30)), "seed": int(rng.integers(0, 2**31 - 1))}
    if name == "motion_blur":
        return {"radius": round(1 + 14 * s), "sigma": 1.0 + 7.0 * s, "angle": float(rng.uniform(-90.0, 90.0))}
    if name == "defocus_blur":
        return {"radius": 0.7 + 5.3 * s, "alias_blur": 0.5}
    raise ValueError(f"unknown degradation {name!r}; expected one of {', '.join(DEGRADATIONS)}")


def graded_degradation(name: str, image: Image, severity: float, shape_seed: int) -> Image:
    """Apply degradation ``name`` at ``severity`` with the shape drawn from ``shape_seed``."""
    return D.apply(name, image, **graded_params(name, severity, shape_seed))


# ------------------------------------------------------------------------------ over-processing
def oversharpen(image: Image, severity: float) -> Image:
    """Unsharp masking with a large amount: bright/dark halos along edges, amplified noise."""
    x = image.astype(np.float32)
    sigma = 1.0 + 2.0 * severity
    return _u8(x + (0.6 + 3.4 * severity) * (x - cv2.GaussianBlur(x, (0, 0), sigma)))


def unsharp(image: Image, amount: float, sigma: float) -> Image:
    """Unsharp masking: ``x + amount · (x − GaussianBlur(x, sigma))``."""
    x = image.astype(np.float32)
    return _u8(x + amount * (x - cv2.GaussianBlur(x, (0, 0), sigma)))


def overbright(image: Image, severity: float) -> Image:
    """Gain plus lift: highlights clip to white, the picture looks washed out."""
    x = image.astype(np.float32)
    return _u8(x * (1.0 + 0.9 * severity) + 40.0 * severity)


def oversmooth(image: Image, severity: float) -> Image:
    """Bilateral filtering with large range sigma, repeated: waxy, texture-free surfaces."""
    out = image
    for _ in range(1 + int(severity * 2.5)):
        out = cv2.bilateralFilter(out, 7, 15.0 + 70.0 * severity, 2.0 + 4.0 * severity)
    return out


def colour_cast(image: Image, severity: float, seed: int = 0) -> Image:
    """Per-channel gains: a tint (direction from ``seed``)."""
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=3)
    direction -= direction.mean()
    direction /= max(float(np.abs(direction).max()), 1e-6)
    gains = 1.0 + 0.35 * severity * direction
    return _u8(image.astype(np.float32) * gains[None, None, :])


def ringing(image: Image, severity: float, seed: int = 0) -> Image:
    """Wiener deconvolution with a kernel the image was not blurred with: ringing near edges."""
    rng = np.random.default_rng(seed)
    if rng.uniform() < 0.5:
        kernel = D.disk_kernel(1.5 + 4.0 * severity, 0.5)
    else:
        kernel = D.motion_kernel(int(3 + 10 * severity), 2.0 + 4.0 * severity, float(rng.uniform(-90, 90)))
    return wiener(image, kernel, nsr=0.02 / (1.0 + 9.0 * severity))


def residual_streaks(image: Image, severity: float, seed: int = 0) -> Image:
    """Faint rain streaks left behind by a derainer."""
    rng = np.random.default_rng(seed)
    layer = D.rain_layer(image.shape[0], image.shape[1], int(rng.integers(40, 100)), int(rng.integers(15, 40)),
                         int(rng.integers(-30, 30)), int(rng.integers(0, 2**31 - 1)))
    return _u8(image.astype(np.float32) + (0.1 + 0.5 * severity) * layer[..., None].astype(np.float32))


def overdehaze(image: Image, severity: float, seed: int = 0) -> Image:
    """Inverting a haze model the image does not have: dark, oversaturated, crushed shadows."""
    rng = np.random.default_rng(seed)
    a = float(rng.uniform(0.7, 1.0))
    t = np.exp(-(0.2 + 1.2 * severity) * D.pseudo_depth(*image.shape[:2]))[..., None]
    return _u8((image.astype(np.float32) - 255.0 * a * (1.0 - t)) / np.maximum(t, 0.1))


def overcontrast(image: Image, severity: float) -> Image:
    """CLAHE with a high clip limit on the lightness channel: noise and blotches in flat areas."""
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
    clahe = cv2.createCLAHE(clipLimit=1.5 + 8.0 * severity, tileGridSize=(4, 4))
    lab[..., 0] = clahe.apply(lab[..., 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


OVER_PROCESSING: dict[str, Callable[..., Image]] = {
    "oversharpen": oversharpen,
    "overbright": overbright,
    "oversmooth": oversmooth,
    "colour_cast": colour_cast,
    "ringing": ringing,
    "residual_streaks": residual_streaks,
    "overdehaze": overdehaze,
    "overcontrast": overcontrast,
}
_SEEDED = {"colour_cast", "ringing", "residual_streaks", "overdehaze"}


def over_process(kind: str, image: Image, severity: float, seed: int = 0) -> Image:
    """Apply over-processing ``kind`` at ``severity`` ∈ [0, 1]."""
    if kind not in OVER_PROCESSING:
        raise ValueError(f"unknown over-processing {kind!r}; expected one of {', '.join(OVER_PROCESSING)}")
    fn = OVER_PROCESSING[kind]
    s = float(np.clip(severity, 0.0, 1.0))
    return fn(image, s, seed) if kind in _SEEDED else fn(image, s)


# ------------------------------------------------------------------------------------- remedies
def wiener(image: Image, kernel: np.ndarray, nsr: float = 0.01) -> Image:
    """Wiener deconvolution of each channel by ``kernel`` (reflect-padded against edge ringing)."""
    h, w = image.shape[:2]
    pad = kernel.shape[0]
    x = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REFLECT).astype(np.float64) / 255.0
    big = np.zeros(x.shape[:2])
    kh, kw = kernel.shape
    big[:kh, :kw] = kernel[::-1, ::-1]  # filter2D correlates; convolution flips the kernel
    big = np.roll(big, (-(kh // 2), -(kw // 2)), axis=(0, 1))
    k = np.fft.rfft2(big)
    gain = np.conj(k) / (np.abs(k) ** 2 + nsr)
    out = np.stack([np.fft.irfft2(np.fft.rfft2(x[..., c]) * gain, s=x.shape[:2]) for c in range(3)], axis=2)
    return _u8(out[pad:pad + h, pad:pad + w] * 255.0)


def dark_channel_dehaze(image: Image, omega: float = 0.9, patch: int = 9) -> Image:
    """He et al.'s dark channel prior with a box-filter-smoothed transmission, t ≥ 0.1."""
    x = image.astype(np.float32) / 255.0
    dark = cv2.erode(x.min(axis=2), np.ones((patch, patch), np.uint8))
    flat = dark.ravel()
    top = np.argsort(flat)[-max(1, flat.size // 1000):]
    airlight = x.reshape(-1, 3)[top].max(axis=0)
    norm = (x / np.maximum(airlight, 1e-3)).min(axis=2)
    t = 1.0 - omega * cv2.erode(norm, np.ones((patch, patch), np.uint8))
    t = np.maximum(cv2.blur(t, (patch * 2 + 1, patch * 2 + 1)), 0.1)[..., None]
    return _u8(((x - airlight) / t + airlight) * 255.0)


def _brighten_v(image: Image, fn: Callable[[np.ndarray], np.ndarray]) -> Image:
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    hsv[..., 2] = _u8(fn(hsv[..., 2].astype(np.float32)))
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def remedy(kind: str, image: Image, rng: np.random.Generator) -> Image:
    """A quick classical restoration attempt of ``kind`` with parameters drawn from ``rng``."""
    if kind == "gaussian_smooth":
        return cv2.GaussianBlur(image, (0, 0), float(rng.uniform(0.6, 2.5)))
    if kind == "bilateral":
        return cv2.bilateralFilter(image, 7, float(rng.uniform(20, 90)), float(rng.uniform(2, 6)))
    if kind == "median":
        return cv2.medianBlur(image, int(rng.choice([3, 5])))
    if kind == "nlm":
        h = float(rng.uniform(5, 30))
        return cv2.fastNlMeansDenoisingColored(image, None, h, h, 5, 11)
    if kind == "unsharp":
        return oversharpen(image, float(rng.uniform(0.0, 0.6)))
    if kind == "gamma":
        g = float(rng.uniform(0.45, 0.8))
        return _brighten_v(image, lambda v: 255.0 * (v / 255.0) ** g)
    if kind == "shift":
        s = float(rng.uniform(20, 60))
        return _brighten_v(image, lambda v: v + s)
    if kind == "stretch":
        return _brighten_v(image, lambda v: v * 255.0 / max(float(np.percentile(v, 99.5)), 1.0))
    if kind == "clahe":
        return overcontrast(image, float(rng.uniform(0.0, 0.3)))
    if kind == "dehaze":
        return dark_channel_dehaze(image, float(rng.uniform(0.7, 0.97)))
    if kind == "wiener_disk":
        return wiener(image, D.disk_kernel(float(rng.uniform(1.5, 6.5)), 0.5), float(rng.uniform(0.003, 0.05)))
    if kind == "wiener_motion":
        kernel = D.motion_kernel(int(rng.integers(3, 16)), float(rng.uniform(2, 8)), float(rng.uniform(-90, 90)))
        return wiener(image, kernel, float(rng.uniform(0.003, 0.05)))
    if kind == "derain_open":
        opened = cv2.morphologyEx(image, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        return np.minimum(image, cv2.medianBlur(opened, 3))
    if kind == "jpeg_again":
        return D.apply_jpeg(image, int(rng.integers(20, 90)))
    raise ValueError(f"unknown remedy {kind!r}; expected one of {', '.join(REMEDIES)}")


REMEDIES: tuple[str, ...] = ("gaussian_smooth", "bilateral", "median", "nlm", "unsharp", "gamma", "shift", "stretch",
                             "clahe", "dehaze", "wiener_disk", "wiener_motion", "derain_open", "jpeg_again")

# Remedies that target each degradation (a tool of the right category); others are drawn too.
TARGETED: dict[str, tuple[str, ...]] = {
    "dark": ("gamma", "shift", "stretch", "clahe"),
    "noise": ("gaussian_smooth", "bilateral", "median", "nlm"),
    "jpeg": ("gaussian_smooth", "bilateral", "jpeg_again"),
    "haze": ("dehaze", "clahe", "stretch"),
    "rain": ("derain_open", "median"),
    "motion_blur": ("wiener_motion", "unsharp"),
    "defocus_blur": ("wiener_disk", "unsharp"),
}


def true_kernel_wiener(name: str, params: dict, image: Image, nsr: float) -> Image:
    """Wiener deconvolution with the kernel that blurred the image (a well-estimated blind deblur)."""
    if name == "motion_blur":
        kernel = D.motion_kernel(params["radius"], params["sigma"], params["angle"])
    elif name == "defocus_blur":
        kernel = D.disk_kernel(params["radius"], params["alias_blur"])
    else:
        raise ValueError(f"true_kernel_wiener: {name!r} is not a blur")
    return wiener(image, kernel, nsr)


def psnr(a: Image, b: Image) -> float:
    """PSNR in dB over RGB, data range 255; ``inf`` for identical images."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(255.0**2 / mse)


def ssim(a: Image, b: Image) -> float:
    """Mean SSIM over the three channels (Gaussian window σ = 1.5, Wang et al.'s constants)."""
    x, y = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(z: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(z, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s.mean())
