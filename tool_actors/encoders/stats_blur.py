"""Blur statistics of the ``stats`` encoder: spectrum, per-tile fine/coarse band tensors, edge widths,
correlation lengths of the directional derivative.

Everything here is a ratio of finer- to coarser-scale energy (or a length read from a normalised
autocorrelation), so brightness and contrast changes leave it alone; white-noise energy is removed
first and JPEG block boundaries are smoothed (or their grid frequencies left out). Each function
fills its entries of the feature dict (names and meanings: ``stats_features.FEATURES``).
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache

import cv2
import numpy as np
import scipy.fft

from tool_actors.encoders.stats_maps import block_mean, block_view, deblock, haar_hh, half, log_evidence

_SPEC_BANDS = ((0.015, 0.03), (0.03, 0.05), (0.05, 0.08), (0.08, 0.12), (0.12, 0.18), (0.18, 0.28))  # cycles/px
_FLOOR_BAND = (0.36, 0.5)
_RING_BINS = np.arange(0.06, 0.4201, 0.01)  # cycles/px
_EDGE_BINS = 6
_TILE = 32  # full-resolution tile side; 16 on the 2× downsampled copy
_RATIO_RANGE = (0.02, 20.0)  # generalised eigenvalues are clipped to this (log ±3.9)
_AGREE_FLOOR = 0.02  # added before the log of agreement-type features (their value for no evidence)


# ------------------------------------------------------------------------------------- spectrum
@lru_cache(maxsize=8)
def _spectral_geometry(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Window (h, w), band-harmonic matrix (3·bands, bins) and noise-floor mask of an (h, w) real FFT."""
    win = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    fy = np.broadcast_to(np.fft.fftfreq(h)[:, None], (h, w // 2 + 1))
    fx = np.broadcast_to(np.fft.rfftfreq(w)[None, :], (h, w // 2 + 1))
    radius = np.sqrt(fx**2 + fy**2)
    angle = np.arctan2(fy, fx)
    # leave out the frequencies of an 8-pixel grid (JPEG block edges), ± 1.5 bins
    off_grid = (np.abs(fx * 8 - np.round(fx * 8)) * w / 8 > 1.5) & (np.abs(fy * 8 - np.round(fy * 8)) * h / 8 > 1.5)
    rows = []
    for lo, hi in _SPEC_BANDS:
        in_band = (radius >= lo) & (radius < hi)
        sel = in_band & off_grid
        if sel.sum() < 4:  # small images: too few bins off the grid lines, or none in the band
            sel = in_band if in_band.any() else radius > 0
        m = sel / sel.sum()
        rows += [m, m * np.cos(2 * angle), m * np.sin(2 * angle)]
    floor = (radius >= _FLOOR_BAND[0]) & (radius < _FLOOR_BAND[1]) & off_grid
    if floor.sum() < 4:
        floor = radius >= radius.max() * 0.7
    ring = np.digitize(radius, _RING_BINS).ravel()
    return win, np.stack([r.ravel() for r in rows]), floor.ravel(), ring, np.maximum(np.bincount(ring, minlength=len(_RING_BINS) + 1), 1)


def spectral_features(y: np.ndarray, f: dict[str, float]) -> None:
    """Per-band whitened level, sharpest-direction level and anisotropy growth, from one FFT of Y."""
    win, harmonics, floor_mask, ring, ring_count = _spectral_geometry(*y.shape)
    spec = scipy.fft.rfft2((y - y.mean()) * win, workers=1)
    power = (spec.real**2 + spec.imag**2).astype(np.float64).ravel()
    floor = float(power[floor_mask].mean())  # white-noise power per bin
    # einsum, not BLAS: a multithreaded BLAS gemv this size costs milliseconds of thread start-up per image
    t = np.einsum("ij,j->i", harmonics, power).reshape(len(_SPEC_BANDS), 3)  # (bands, [mean, cos 2θ, sin 2θ])
    fc = np.array([math.sqrt(lo * hi) for lo, hi in _SPEC_BANDS])
    m = t[:, 0] - floor
    ref = max(m[0], 0.0) * fc[0] ** 2 + 1e-12
    m = np.maximum(m, 1e-4 * max(m[0], 0.0)) + 1e-15
    c = (t[:, 1] + 1j * t[:, 2]) / m  # anisotropy, with the (isotropic) noise floor removed from the mean
    c = np.where(np.abs(c) > 0.99, 0.99 * c / np.maximum(np.abs(c), 1e-12), c)
    white = m * fc**2 / ref
    for b in range(1, 6):
        f[f"spec_level_{b}"] = math.log(white[b])
    for b in (3, 4):
        f[f"spec_sharpest_{b}"] = math.log(white[b] * (1 + abs(c[b])))
    for b in (2, 3, 4):
        f[f"log_spec_aniso_growth_{b}"] = log_evidence(abs(c[b] - c[0]), _AGREE_FLOOR)
    f["log_noise_floor_spectral"] = math.log((floor + 1e-15) * fc[0] ** 2 / ref)
    n = len(_RING_BINS)
    prof = (np.bincount(ring, weights=power, minlength=n + 1) / ring_count)[1:n]
    lp = np.log(np.maximum(prof - floor, 1e-4 * (prof[0] + 1e-12)) + 1e-12)
    trend = np.convolve(np.pad(lp, 3, mode="edge"), np.ones(7) / 7.0, mode="valid")
    f["ring_dip"] = float(np.max(trend - lp))


# ----------------------------------------------------------------------------------- tile tensors
def _dog_tensors(dog: np.ndarray, tile: int) -> np.ndarray:
    """Per-tile gradient structure tensor (xx, yy, xy) of a band-passed map: (tiles, 3) float64."""
    gx = cv2.Sobel(dog, cv2.CV_32F, 1, 0, ksize=1, scale=0.5)  # central differences
    gy = cv2.Sobel(dog, cv2.CV_32F, 0, 1, ksize=1, scale=0.5)
    parts = np.stack([gx * gx, gy * gy, gx * gy])  # (3, H, W)
    return block_mean(parts, tile).reshape(3, -1).T.astype(np.float64)


def _band_tensors(y: np.ndarray, sigmas: tuple[float, ...], tile: int) -> list[np.ndarray]:
    """Per-tile tensors of the DoG bands G_σk − G_σk+1 of ``y`` for consecutive ``sigmas``."""
    blurred = [cv2.GaussianBlur(y, (0, 0), s) for s in sigmas]
    return [_dog_tensors(a - b, tile) for a, b in itertools.pairwise(blurred)]


@lru_cache(maxsize=16)
def _band_noise_gain(s1: float, s2: float) -> float:
    """E[(∂x DoG)²] of unit-variance white noise for the band (measured once on a fixed noise field)."""
    field = np.random.default_rng(0).standard_normal((256, 256)).astype(np.float32)
    t = _band_tensors(field, (s1, s2), 256)[0][0]
    return 0.5 * float(t[0] + t[1])


def _generalised_eig(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """λmax, λmin of A v = λ B v for (n, 3) stacks of symmetric 2×2 (xx, yy, xy), B positive definite, and
    the angle of the λmin eigenvector (the direction along which A lost most relative to B)."""
    a11, a22, a12 = a.T
    b11, b22, b12 = b.T
    det_b = b11 * b22 - b12**2
    det_a = a11 * a22 - a12**2
    tr = a11 * b22 + a22 * b11 - 2 * a12 * b12
    disc = np.sqrt(np.maximum(tr**2 - 4 * det_a * det_b, 0.0))
    lmax = (tr + disc) / (2 * det_b)
    lmin = (tr - disc) / (2 * det_b)
    vx, vy = -(a12 - lmin * b12), a11 - lmin * b11
    degenerate = np.abs(vx) + np.abs(vy) < 1e-20
    vx = np.where(degenerate, a22 - lmin * b22, vx)
    vy = np.where(degenerate, -(a12 - lmin * b12), vy)
    return lmax, lmin, np.arctan2(vy, vx)


def _tile_pair(a: np.ndarray, b: np.ndarray, ga: np.ndarray, gb: np.ndarray, key: str, f: dict[str, float],
               directional: bool = True) -> float:
    """Features of one band pair from per-tile tensors ``a`` (finer), ``b`` (coarser) and their expected
    white-noise energies per axis ``ga``, ``gb``; returns the agreement (before the log). Without
    ``directional`` only the sharpest/blurriest ratios become features (the agreement is still returned)."""
    lo, hi = _RATIO_RANGE
    a, b = a.copy(), b.copy()
    a[:, :2] = np.maximum(a[:, :2] - 1.2 * ga[:, None], 0.05 * ga[:, None] + 1e-12)  # noise-limited: a small floor
    b[:, :2] -= gb[:, None]
    b_energy = b[:, 0] + b[:, 1]
    a_snr = (a[:, 0] + a[:, 1]) / (2 * ga + 1e-12)
    valid = b_energy > 4 * gb + 1e-9
    if valid.sum() < 2:  # no tile with coarse-band structure above the noise: nothing to compare
        f[f"tile_{key}_sharpest"] = f[f"tile_{key}_blurriest"] = math.log(lo)
        if directional:
            f[f"log_tile_{key}_agreement"] = f[f"log_tile_{key}_directional"] = math.log(_AGREE_FLOOR)
        return 0.0
    sel = valid & (b_energy >= np.percentile(b_energy[valid], 50))
    a, b, a_snr = a[sel], b[sel], a_snr[sel]
    eps = 1e-3 * (b[:, 0] + b[:, 1])
    b[:, 0], b[:, 1] = np.maximum(b[:, 0], eps), np.maximum(b[:, 1], eps)
    lmax, lmin, psi = _generalised_eig(a, b)
    lmax, lmin = np.clip(lmax, lo, hi), np.clip(lmin, lo, hi)
    f[f"tile_{key}_sharpest"] = float(np.median(np.log(lmax)))
    f[f"tile_{key}_blurriest"] = float(np.median(np.log(lmin)))
    ok = a_snr > 1.0  # a direction is only meaningful where the finer band rises above the noise
    agreement = shared = 0.0
    if ok.any():
        weight = min(1.0, ok.sum() / 8.0)  # few tiles: shrink towards "no agreement"
        phase = np.exp(2j * psi[ok])
        agreement = float(abs(phase.mean())) * weight
        shared = float(abs((np.log(lmax[ok] / lmin[ok]) * phase).mean())) * weight
    if directional:
        f[f"log_tile_{key}_agreement"] = log_evidence(agreement, _AGREE_FLOOR)
        f[f"log_tile_{key}_directional"] = log_evidence(shared, _AGREE_FLOOR)
    return agreement


def tile_features(y: np.ndarray, f: dict[str, float]) -> None:
    """Fine-over-coarse band energy along each tile's sharpest and blurriest direction, and agreement of
    the blurriest direction across tiles, at three scales (see FEATURES), on the deblocked luma; the
    per-tile noise σ is read from ``y`` as given (deblocking smooths some of the noise away)."""
    sigma = np.median(block_view(np.abs(haar_hh(y)), _TILE // 2), axis=(2, 3)).ravel() / 0.6745
    smooth = deblock(y)
    full = _band_tensors(smooth, (0.7, 1.4, 2.8), _TILE)  # bands σ 0.7–1.4, 1.4–2.8
    halved = _band_tensors(half(smooth), (0.7, 1.4, 2.8, 5.6), _TILE // 2)  # full-resolution σ 1.4–2.8 … 5.6–11.2
    n = min(len(sigma), len(full[0]), len(halved[0]))
    var_full = sigma[:n].astype(np.float64) ** 2
    var_half = var_full / 4.0  # 2× area downsampling quarters white-noise variance
    gain = {s: _band_noise_gain(*s) for s in ((0.7, 1.4), (1.4, 2.8), (2.8, 5.6))}
    agreements = [
        # the finest pair gives no direction features: noise and JPEG wipe that band, which is clean in every
        # training image that has motion blur, so a read-out trained on it would miss motion under them
        _tile_pair(full[0][:n], full[1][:n], gain[(0.7, 1.4)] * var_full, gain[(1.4, 2.8)] * var_full, "fine", f,
                   directional=False),
        _tile_pair(halved[0][:n], halved[1][:n], gain[(0.7, 1.4)] * var_half, gain[(1.4, 2.8)] * var_half, "mid", f),
        _tile_pair(halved[1][:n], halved[2][:n], gain[(1.4, 2.8)] * var_half, gain[(2.8, 5.6)] * var_half, "coarse",
                   f),
    ]
    f["log_tile_agreement_max"] = log_evidence(max(agreements), _AGREE_FLOOR)


# ----------------------------------------------------------------------------------------- edges
def _edge_ratio(y: np.ndarray, s1: float, s2: float, noise_sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """log(|∇| at σ s1 / |∇| at σ s2) and gradient orientation bin at the strong edges of ``y``.

    Strong edges: local maxima (3×3) of the coarse gradient in its top 10 %. The fine gradient is the
    largest within 3×3 (edge positions shift by a pixel between scales); the expected white-noise
    energy of the fine gradient is removed first.
    """
    g1 = cv2.GaussianBlur(y, (0, 0), s1)
    g2 = cv2.GaussianBlur(y, (0, 0), s2)
    m1 = cv2.magnitude(cv2.Sobel(g1, cv2.CV_32F, 1, 0, ksize=1, scale=0.5),
                       cv2.Sobel(g1, cv2.CV_32F, 0, 1, ksize=1, scale=0.5))
    gx2 = cv2.Sobel(g2, cv2.CV_32F, 1, 0, ksize=1, scale=0.5)
    gy2 = cv2.Sobel(g2, cv2.CV_32F, 0, 1, ksize=1, scale=0.5)
    m2 = cv2.magnitude(gx2, gy2)
    border = max(math.ceil(2 * s2), 1)
    inner = np.zeros(m2.shape, bool)
    inner[border:-border, border:-border] = True
    if inner.sum() < 8:
        return np.zeros(0), np.zeros(0, np.int64)
    peak = (m2 >= cv2.dilate(m2, np.ones((3, 3), np.uint8))) & inner
    sel = peak & (m2 >= np.percentile(m2[inner], 90)) & (m2 > 1e-4)
    if sel.sum() < 8:
        return np.zeros(0), np.zeros(0, np.int64)
    noise_e = 2.0 * noise_sigma**2 / (8.0 * math.pi * s1**4)  # E|∇(G_s1 * n)|² for white noise (continuum)
    m1max = cv2.dilate(m1, np.ones((3, 3), np.uint8))[sel].astype(np.float64)
    fine = np.sqrt(np.maximum(m1max**2 - noise_e, 1e-12))
    ratio = np.log(fine / m2[sel].astype(np.float64))
    theta = np.mod(np.arctan2(gy2[sel], gx2[sel]), np.pi)
    bins = np.minimum((theta / np.pi * _EDGE_BINS).astype(np.int64), _EDGE_BINS - 1)
    return ratio, bins


def edge_features(y: np.ndarray, y2: np.ndarray, sigma: float, f: dict[str, float]) -> None:
    """Edge-width features: scale ratios of gradient magnitude at strong edges."""
    ratio, bins = _edge_ratio(y2, 1.0, 2.0, sigma / 2.0)  # area 2× downsampling halves white-noise σ
    if ratio.size:
        f["edge_scale_ratio"] = float(np.median(ratio))
        per_bin = [float(np.median(ratio[bins == k])) for k in range(_EDGE_BINS) if (bins == k).sum() >= 4]
        f["edge_scale_ratio_sharpest"] = max(per_bin) if per_bin else f["edge_scale_ratio"]
    else:
        f["edge_scale_ratio"] = f["edge_scale_ratio_sharpest"] = 0.0
    ratio, _ = _edge_ratio(y, 0.7, 1.4, sigma)
    f["edge_scale_ratio_fine"] = float(np.median(ratio)) if ratio.size else 0.0


# ------------------------------------------------------------------------- correlation lengths
_ACF_ANGLES = 16  # directions over [0°, 180°)
_ACF_LAGS = np.arange(0.5, 10.01, 0.5)  # lags in pixels of the 2× downsampled image
_ACF_CUT = 0.35  # cycles/pixel: frequencies above it (mostly noise) are left out
_ACF_FLOOR = 0.36  # cycles/pixel: the white-noise power per bin is read above this


@lru_cache(maxsize=8)
def _acf_geometry(h: int, w: int) -> tuple[np.ndarray, ...]:
    """Window, frequency grids, kept-bin mask, noise-floor mask and sampling offsets for an (h, w) map."""
    win = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    fy = np.broadcast_to(np.fft.fftfreq(h)[:, None], (h, w // 2 + 1))
    fx = np.broadcast_to(np.fft.rfftfreq(w)[None, :], (h, w // 2 + 1))
    radius = np.sqrt(fx**2 + fy**2)
    # leave out DC and the frequencies of an 8-pixel grid, ± 1.5 bins (they include the 4-pixel grid
    # that JPEG's 8×8 blocks leave at this 2× downsampled scale)
    off_grid = (np.abs(fx * 8 - np.round(fx * 8)) * w / 8 > 1.5) & (np.abs(fy * 8 - np.round(fy * 8)) * h / 8 > 1.5)
    keep = off_grid & (radius > 0) & (radius < _ACF_CUT)
    floor = off_grid & (radius >= _ACF_FLOOR)
    if floor.sum() < 4:  # tiny images: the outer bins stand in for the noise band
        floor = radius >= radius.max() * 0.7
    theta = np.arange(_ACF_ANGLES) * np.pi / _ACF_ANGLES
    c, s = np.cos(theta), np.sin(theta)
    dy, dx = np.outer(_ACF_LAGS, s) % h, np.outer(_ACF_LAGS, c) % w  # (lags, angles), periodic
    y0, x0 = np.floor(dy).astype(np.int64), np.floor(dx).astype(np.int64)
    ty, tx = dy - y0, dx - x0
    return (win, fx * fx * keep, fy * fy * keep, fx * fy * keep, floor, c, s,
            y0, x0, (y0 + 1) % h, (x0 + 1) % w, ty, tx)


def _crossing(profile: np.ndarray, level: float) -> np.ndarray:
    """Per direction, the first lag at which a (lags, angles) profile that starts at 1 falls below ``level``
    (linear interpolation; the largest lag if it never does)."""
    v = np.vstack([np.ones((1, profile.shape[1])), profile])
    lags = np.concatenate([[0.0], _ACF_LAGS])
    below = v < level
    below[-1] = True
    k = np.argmax(below, axis=0)
    cols = np.arange(v.shape[1])
    a, b = v[k - 1, cols], v[k, cols]
    t = np.clip((a - level) / np.maximum(a - b, 1e-9), 0.0, 1.0)
    return lags[k - 1] + t * (lags[k] - lags[k - 1])


def acf_features(y2: np.ndarray, f: dict[str, float]) -> None:
    """Correlation lengths of the directional derivative of the 2× downsampled luma ``y2``, per direction.

    Bright streaks thinner than 3 pixels (rain) are removed first by a 3×3 grey opening. From the power
    spectrum, white-noise floor subtracted (noise only touches lag 0 of an autocorrelation, so the
    lengths stay put under it), the autocorrelation of the derivative along θ is read at lags along θ
    and normalised by its lag-0 value; L(θ) is where it falls below 1/2 (and 1/4). A blur of extent s
    along θ adds about s² to L(θ)²: a motion blur adds to one direction, so L² gains a second angular
    harmonic, which an isotropic blur (defocus, JPEG) leaves alone; the shortest L grows with any blur
    that reaches every direction (defocus)."""
    (win, wxx, wyy, wxy, floor_mask, c, s, y0, x0, y1, x1, ty, tx) = _acf_geometry(*y2.shape)
    opened = cv2.morphologyEx(np.ascontiguousarray(y2, np.float32), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    spec = scipy.fft.rfft2((opened - opened.mean()) * win, workers=1)
    power = (spec.real**2 + spec.imag**2).astype(np.float64)
    power -= float(power[floor_mask].mean())
    shape = y2.shape

    def sample(a: np.ndarray) -> np.ndarray:  # bilinear, at the lag offsets
        return (a[y0, x0] * (1 - ty) * (1 - tx) + a[y1, x0] * ty * (1 - tx)
                + a[y0, x1] * (1 - ty) * tx + a[y1, x1] * ty * tx)

    axx = scipy.fft.irfft2(power * wxx, s=shape, workers=1)
    ayy = scipy.fft.irfft2(power * wyy, s=shape, workers=1)
    axy = scipy.fft.irfft2(power * wxy, s=shape, workers=1)
    cc, ss, cs = c * c, s * s, 2.0 * c * s
    zero = cc * axx[0, 0] + ss * ayy[0, 0] + cs * axy[0, 0]
    profile = (cc * sample(axx) + ss * sample(ayy) + cs * sample(axy)) / (np.abs(zero) + 1e-12)
    harmonic = np.exp(2j * np.arange(_ACF_ANGLES) * np.pi / _ACF_ANGLES)
    for level, key in ((0.5, "50"), (0.25, "25")):
        sq = _crossing(profile, level) ** 2
        f[f"acf_aniso_len_{key}"] = math.sqrt(2.0 * abs(complex((sq * harmonic).mean())))
        f[f"acf_min_len_{key}"] = math.sqrt(float(sq.min()))


def blur_sigma(ratio: float) -> float:
    """Gaussian σ (2× scale) of the edges whose edge_scale_ratio is ``ratio``: for a step blurred by σ s,
    |∇| at scale 1 over |∇| at scale 2 is √((s² + 4)/(s² + 1))."""
    r = math.exp(2.0 * min(max(ratio, 0.01), 0.69))
    return math.sqrt(max((4.0 - r) / (r - 1.0), 0.0))
