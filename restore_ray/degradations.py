"""The seven synthetic degradations of the AgenticIR / Restore-R1 benchmark.

Every degradation is available two ways:

* ``sample_params(name, rng)`` draws parameters from the paper's ranges with a NumPy ``Generator``;
* ``apply(name, image, **params)`` applies explicit parameters, e.g. ``apply("noise", img,
  kind="gaussian", sigma=30)``.

``apply`` is a pure function of its inputs: the stochastic degradations (``noise``, ``rain``)
take a ``seed`` parameter for their random field, so the same parameters give byte-identical
output. ``degrade(image, names, rng)`` applies a list in the written order and returns the
parameters it used. Images are ``uint8`` RGB arrays of shape ``(H, W, 3)``.

Parameter ranges (AgenticIR's synthesis code, PAPER.md):

==============  ==========================================================================
dark            on the HSV V channel, one of: ``shift`` V − s, s ∈ [30, 50);
                ``gamma`` V' = 255 (V/255)^(1/γ), γ ∈ [0.5, 0.7);
                ``linear`` map [min V, max V] onto [0, d], d ∈ [100, 150)
noise           ``gaussian`` σ ∈ [20, 50] (0–255 scale, independent per channel) or
                ``poisson`` scale ∈ [1, 3], 50/50; clipped
jpeg            quality ∈ [10, 30)
haze            I = J t + 255 A (1 − t), t = exp(−β d); A ∈ [0.7, 1.0], β ∈ [0.6, 1.8]
rain            sparse impulses (v ∈ [50, 100): ≈0.2–0.4 % of pixels) smeared by a line kernel of
                length ∈ [20, 40) at angle ∈ [−30°, 30°) off the diagonal, added to all channels
motion_blur     (radius, σ) ∈ {(10, 3), (15, 5), (15, 8)}, angle ∈ (−90°, 90°): a one-sided
                Gaussian-weighted trail of 2·radius + 1 shifted copies
defocus_blur    disk of radius ∈ {3, 4, 6} on a 17×17 grid, 3×3 Gaussian antialias σ ∈ {0.1, 0.5, 0.5}
==============  ==========================================================================

Haze needs a depth map (larger = farther). Without one, ``pseudo_depth`` is used: a vertical
ramp from 0.3 at the bottom row to 1.0 at the top row (outdoor scenes are usually farther at
the top), so the haze is denser towards the top of the frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from restore_ray.names import DEGRADATIONS, check_degradation

Params = dict[str, Any]

MOTION_SEVERITIES: tuple[tuple[int, float], ...] = ((10, 3.0), (15, 5.0), (15, 8.0))
DEFOCUS_SEVERITIES: tuple[tuple[int, float], ...] = ((3, 0.1), (4, 0.5), (6, 0.5))


def _check_image(image: np.ndarray, name: str) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        got = f"{type(image).__name__} {getattr(image, 'dtype', '?')} {getattr(image, 'shape', '?')}"
        raise ValueError(f"degradation {name!r} expects a uint8 (H, W, 3) RGB array, got {got}")
    return image


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------------------- dark
def _sample_dark(rng: np.random.Generator) -> Params:
    method = ("shift", "gamma", "linear")[int(rng.integers(0, 3))]
    if method == "shift":
        return {"method": "shift", "shift": int(rng.integers(30, 50))}
    if method == "gamma":
        return {"method": "gamma", "gamma": float(rng.uniform(0.5, 0.7))}
    return {"method": "linear", "dst_max": int(rng.integers(100, 150))}


def apply_dark(image: np.ndarray, method: str = "gamma", shift: int = 40, gamma: float = 0.6,
               dst_max: int = 125) -> np.ndarray:
    """Darken the HSV V channel by a constant shift, a gamma curve or a linear range map."""
    hsv = cv2.cvtColor(_check_image(image, "dark"), cv2.COLOR_RGB2HSV)
    v = hsv[..., 2].astype(np.float32)
    if method == "shift":
        v = v - float(shift)
    elif method == "gamma":
        if not 0 < gamma:
            raise ValueError(f"dark: gamma must be positive, got {gamma}")
        v = 255.0 * (v / 255.0) ** (1.0 / gamma)
    elif method == "linear":
        lo, hi = float(v.min()), float(v.max())
        v = (v - lo) / max(hi - lo, 1.0) * float(dst_max)
    else:
        raise ValueError(f"dark: unknown method {method!r}; expected shift, gamma or linear")
    hsv[..., 2] = _to_uint8(v)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


# ---------------------------------------------------------------------------------------- noise
def _sample_noise(rng: np.random.Generator) -> Params:
    seed = int(rng.integers(0, 2**31 - 1))
    if rng.uniform() < 0.5:
        return {"kind": "gaussian", "sigma": float(rng.uniform(20, 50)), "seed": seed}
    return {"kind": "poisson", "scale": float(rng.uniform(1, 3)), "seed": seed}


def apply_noise(image: np.ndarray, kind: str = "gaussian", sigma: float = 25.0, scale: float = 2.0,
                seed: int = 0) -> np.ndarray:
    """Add Gaussian noise of std ``sigma`` (0–255 scale) or Poisson shot noise scaled by ``scale``."""
    x = _check_image(image, "noise").astype(np.float64) / 255.0
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        noisy = x + rng.standard_normal(x.shape) * (float(sigma) / 255.0)
    elif kind == "poisson":
        # photon count: the number of distinct levels rounded up to a power of two (256 for most 8-bit images)
        levels = 2.0 ** math.ceil(math.log2(max(len(np.unique(image)), 2)))
        noisy = x + (rng.poisson(x * levels) / levels - x) * float(scale)
    else:
        raise ValueError(f"noise: unknown kind {kind!r}; expected gaussian or poisson")
    return _to_uint8(np.clip(noisy, 0.0, 1.0) * 255.0)


# ----------------------------------------------------------------------------------------- jpeg
def _sample_jpeg(rng: np.random.Generator) -> Params:
    return {"quality": int(rng.integers(10, 30))}


def apply_jpeg(image: np.ndarray, quality: int = 20) -> np.ndarray:
    """Round-trip through baseline JPEG at ``quality`` (OpenCV's encoder, 4:2:0 chroma)."""
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"jpeg: quality must be in 1..100, got {quality}")
    bgr = cv2.cvtColor(_check_image(image, "jpeg"), cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("jpeg: OpenCV failed to encode the image")
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


# ----------------------------------------------------------------------------------------- haze
def pseudo_depth(height: int, width: int) -> np.ndarray:
    """Documented stand-in depth map: a vertical ramp from 0.3 (bottom row) to 1.0 (top row)."""
    ramp = np.linspace(1.0, 0.3, num=max(height, 1), dtype=np.float64)
    return np.repeat(ramp[:, None], width, axis=1)


def _sample_haze(rng: np.random.Generator) -> Params:
    return {"A": float(rng.uniform(0.7, 1.0)), "beta": float(rng.uniform(0.6, 1.8))}


def apply_haze(image: np.ndarray, A: float = 0.85, beta: float = 1.2,  # noqa: N803 (the paper's symbol)
               depth: np.ndarray | None = None) -> np.ndarray:
    """Atmospheric scattering: I = J·t + 255·A·(1 − t), t = exp(−β·d), d normalised to max 1."""
    img = _check_image(image, "haze").astype(np.float64)
    h, w = img.shape[:2]
    if depth is None:
        d = pseudo_depth(h, w)
    else:
        d = np.asarray(depth, dtype=np.float64)
        if d.ndim == 3:
            d = d[..., 0]
        if d.shape != (h, w):
            d = cv2.resize(d, (w, h), interpolation=cv2.INTER_CUBIC)
        d = d / max(float(d.max()), 1e-12)
    t = np.exp(-float(beta) * d)[..., None]
    return _to_uint8(img * t + 255.0 * float(A) * (1.0 - t))


# ----------------------------------------------------------------------------------------- rain
def _sample_rain(rng: np.random.Generator) -> Params:
    return {"value": int(rng.integers(50, 100)), "length": int(rng.integers(20, 40)),
            "angle": int(rng.integers(-30, 30)), "seed": int(rng.integers(0, 2**31 - 1))}


def rain_layer(height: int, width: int, value: int = 75, length: int = 30, angle: int = 0,
               seed: int = 0) -> np.ndarray:
    """The uint8 streak layer that ``apply_rain`` adds to every channel."""
    rng = np.random.default_rng(seed)
    field = rng.uniform(0.0, 256.0, size=(height, width))
    field[field < 256.0 - float(value) / 100.0] = 0.0  # keep ≈ value/256 % of the pixels
    seeds = cv2.filter2D(field, -1, np.array([[0, 0.1, 0], [0.1, 8, 0.1], [0, 0.1, 0]]))
    length = int(length)
    centre = (length / 2.0, length / 2.0)
    rot = cv2.getRotationMatrix2D(centre, float(angle) - 45.0, 1.0 - length / 100.0)
    kernel = cv2.warpAffine(np.eye(length, dtype=np.float64), rot, (length, length))
    kernel = cv2.GaussianBlur(kernel, (3, 3), 0)
    streaks = cv2.filter2D(seeds, -1, kernel)
    lo, hi = float(streaks.min()), float(streaks.max())
    if hi - lo < 1e-12:
        return np.zeros((height, width), np.uint8)
    return ((streaks - lo) / (hi - lo) * 255.0).astype(np.uint8)


def apply_rain(image: np.ndarray, value: int = 75, length: int = 30, angle: int = 0, seed: int = 0) -> np.ndarray:
    """Add bright, thin, oriented rain streaks (same layer on all three channels), clipped."""
    img = _check_image(image, "rain")
    layer = rain_layer(img.shape[0], img.shape[1], value, length, angle, seed)
    return np.clip(img.astype(np.int16) + layer[..., None], 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------- motion blur
def _sample_motion(rng: np.random.Generator) -> Params:
    radius, sigma = MOTION_SEVERITIES[int(rng.integers(0, 3))]
    return {"radius": radius, "sigma": sigma, "angle": float(rng.uniform(-90.0, 90.0))}


def motion_kernel(radius: int, sigma: float, angle: float) -> np.ndarray:
    """Correlation kernel of the one-sided Gaussian-weighted motion trail (sums to 1)."""
    width = 2 * int(radius) + 1
    weights = np.exp(-(np.arange(width, dtype=np.float64) ** 2) / (2.0 * float(sigma) ** 2))
    weights /= weights.sum()
    size = 2 * width + 1
    kernel = np.zeros((size, size), np.float64)
    s, c = math.sin(math.radians(angle)), math.cos(math.radians(angle))
    for i, w in enumerate(weights):
        dy = -math.ceil(i * s - 0.5)
        dx = -math.ceil(i * c - 0.5)
        kernel[width - dy, width - dx] += w  # output(y, x) gathers input(y - dy, x - dx)
    return kernel


def apply_motion_blur(image: np.ndarray, radius: int = 10, sigma: float = 3.0, angle: float = 0.0) -> np.ndarray:
    """Linear motion blur along ``angle`` degrees, edges replicated."""
    img = _check_image(image, "motion_blur").astype(np.float32)
    kernel = motion_kernel(radius, sigma, angle).astype(np.float32)
    return _to_uint8(cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_REPLICATE))


# --------------------------------------------------------------------------------- defocus blur
def _sample_defocus(rng: np.random.Generator) -> Params:
    radius, alias = DEFOCUS_SEVERITIES[int(rng.integers(0, 3))]
    return {"radius": radius, "alias_blur": alias}


def disk_kernel(radius: float, alias_blur: float = 0.5) -> np.ndarray:
    """Normalised disk on a 17×17 grid (larger for radius > 8), antialiased by a 3×3 Gaussian."""
    half = 8 if radius <= 8 else int(math.ceil(radius)) + 1
    ax = np.arange(-half, half + 1, dtype=np.float64)
    xx, yy = np.meshgrid(ax, ax)
    disk = (xx**2 + yy**2 <= float(radius) ** 2).astype(np.float64)
    disk /= disk.sum()
    return cv2.GaussianBlur(disk, (3, 3), float(alias_blur))


def apply_defocus_blur(image: np.ndarray, radius: float = 4, alias_blur: float = 0.5) -> np.ndarray:
    """Out-of-focus blur with a disk point-spread function."""
    img = _check_image(image, "defocus_blur").astype(np.float32)
    kernel = disk_kernel(radius, alias_blur).astype(np.float32)
    return _to_uint8(cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_REFLECT_101))


# ------------------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class DegradationSpec:
    """A degradation: how to sample its parameters and how to apply explicit ones."""

    name: str
    sample: Callable[[np.random.Generator], Params]
    apply: Callable[..., np.ndarray]


REGISTRY: dict[str, DegradationSpec] = {
    "dark": DegradationSpec("dark", _sample_dark, apply_dark),
    "noise": DegradationSpec("noise", _sample_noise, apply_noise),
    "jpeg": DegradationSpec("jpeg", _sample_jpeg, apply_jpeg),
    "haze": DegradationSpec("haze", _sample_haze, apply_haze),
    "rain": DegradationSpec("rain", _sample_rain, apply_rain),
    "motion_blur": DegradationSpec("motion_blur", _sample_motion, apply_motion_blur),
    "defocus_blur": DegradationSpec("defocus_blur", _sample_defocus, apply_defocus_blur),
}
assert tuple(REGISTRY) == DEGRADATIONS


def sample_params(name: str, rng: np.random.Generator) -> Params:
    """Draw parameters for degradation ``name`` from the paper's ranges."""
    return REGISTRY[check_degradation(name)].sample(rng)


def apply(name: str, image: np.ndarray, depth: np.ndarray | None = None, **params: Any) -> np.ndarray:
    """Apply degradation ``name`` with explicit parameters (``depth`` is used by ``haze`` only)."""
    spec = REGISTRY[check_degradation(name)]
    try:
        if name == "haze":
            return spec.apply(image, depth=depth, **params)
        return spec.apply(image, **params)
    except TypeError as err:  # an unknown or misspelt parameter
        raise ValueError(f"{name}: bad parameters {params}: {err}") from None


def degrade(image: np.ndarray, names: Sequence[str], rng: np.random.Generator,
            depth: np.ndarray | None = None) -> tuple[np.ndarray, list[Params]]:
    """Apply ``names`` in the written order with sampled parameters; return the image and the parameters."""
    out, used = image, []
    for name in names:
        params = sample_params(name, rng)
        out = apply(name, out, depth=depth, **params)
        used.append({"name": name, **params})
    return out, used


def replay(image: np.ndarray, params: Sequence[Params], depth: np.ndarray | None = None) -> np.ndarray:
    """Re-apply the parameter list recorded by ``degrade`` (e.g. from a manifest)."""
    out = image
    for p in params:
        p = dict(p)
        out = apply(p.pop("name"), out, depth=depth, **p)
    return out
