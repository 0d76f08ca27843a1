"""Hand-crafted degradation statistics of one image: the feature list as data, and the function.

Every feature is a deterministic function of the uint8 RGB pixels, computed in float32 on the
image as given (no resizing beyond one internal 2× downsampling), about 10–15 ms for a 256×256
image on one core. Intensities are on a [0, 1] scale; "Y" is BT.601 luma (0.299 R + 0.587 G +
0.114 B), "V" and "S" are HSV value and saturation. Features spanning decades are logarithms.

The statistics are built to read one degradation while staying put under the others, since
degradations come in combinations never seen together in training: blur measures remove the
white-noise floor (estimated in the highest frequencies) and leave out the 8-pixel grid lines
of JPEG blocks; rain is read from bright, thin, parallel ridges spread over the whole image, not
from orientation alone (motion blur is oriented too) or from thin structures alone (noise is thin).

``FEATURES`` lists ``(name, what it measures)`` in output order; ``image_features`` returns a
float32 vector of that length. Images must be at least 16×16.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np
import scipy.fft

EPS = 1e-6

FEATURES: tuple[tuple[str, str], ...] = (
    # brightness and contrast ------------------------------------------------------------------
    ("v_mean", "mean HSV value V: overall brightness (dark)"),
    ("v_p01", "1st percentile of V: black level (haze lifts it, dark lowers it)"),
    ("v_p10", "10th percentile of V"),
    ("v_p50", "median of V"),
    ("v_p90", "90th percentile of V"),
    ("v_p99", "99th percentile of V: white level (linear darkening caps it)"),
    ("y_std", "standard deviation of Y: global contrast"),
    ("dark_fraction", "fraction of pixels with V < 0.15"),
    ("bright_fraction", "fraction of pixels with V > 0.85"),
    ("log_local_contrast", "log mean local σ of Y in 16×16 blocks, noise variance removed (haze, dark lower it)"),
    # noise -----------------------------------------------------------------------------------
    ("log_noise_immerkaer", "log of Immerkær's noise σ on Y (Laplacian-difference mask)"),
    ("log_noise_haar", "log of the median-absolute-deviation σ of Y's finest Haar diagonal band"),
    ("log_noise_floor", "log of the 10th-percentile block σ of the Immerkær residual: noise in flat areas"),
    ("log_chroma_noise", "log of the Haar-diagonal MAD σ of the chroma channels B−Y and R−Y"),
    ("chroma_luma_noise_ratio", "chroma noise σ over luma noise σ (sensor noise is per channel, texture is luma)"),
    # blur: power spectrum of windowed Y, noise floor removed, 8×8 grid lines left out ----------
    ("sector_max_mid", ("log of the strongest of 12 orientation sectors' power at 0.06–0.12 cycles/pixel over "
     "the power at 0.015–0.04: sharpness in the sharpest direction")),
    ("sector_min_mid", "the same for the weakest sector: sharpness in the blurriest direction"),
    ("sector_aniso_mid", "log max/min sector power at 0.06–0.12 cycles/pixel"),
    ("sector_max_high", "as sector_max_mid at 0.12–0.24 cycles/pixel"),
    ("sector_min_high", "as sector_min_mid at 0.12–0.24 cycles/pixel"),
    ("sector_aniso_high", "as sector_aniso_mid at 0.12–0.24 cycles/pixel"),
    ("dir_falloff_min", ("per sector, log power at 0.1–0.25 over power at 0.025–0.06 of the same sector (each "
     "direction normalised by itself); minimum over sectors: the blurriest direction")),
    ("dir_falloff_max", "the same, maximum over sectors: the sharpest direction (stays high under motion blur)"),
    ("dir_falloff_spread", "dir_falloff_max − dir_falloff_min: direction-dependent blur"),
    ("dir_falloff_median", "the same, median over sectors"),
    ("ring_dip", ("deepest dip of the log radial power profile below its local trend, 0.06–0.42 "
     "cycles/pixel: the zero rings of a disk point-spread function (defocus)")),
    # blur: spatial ---------------------------------------------------------------------------
    ("sharp_block_p90", ("90th percentile over 16×16 blocks of log(gradient energy / local variance), both "
     "noise-corrected: how sharp the sharpest regions are (a synthetic blur reaches every region)")),
    ("sharp_block_p50", "the same, median block"),
    ("acf2_mean", ("autocorrelation of band-passed, Wiener-denoised Y at 2 px, mean over 16 directions: "
     "correlation that a blur spreads (the point-spread function's self-overlap)")),
    ("acf4_mean", "the same at 4 px"),
    ("acf4_min", "the same at 4 px, weakest direction: high only for isotropic blur (defocus)"),
    ("acf4_max", "the same at 4 px, strongest direction: high for directional blur (motion) too"),
    ("acf8_max", "the same at 8 px, strongest direction: long motion trails and streaks"),
    ("acf8_spread", "acf at 8 px, max − min over directions: one long oriented correlation"),
    ("acf16_max", "the same at 16 px, strongest direction: long straight streaks"),
    ("acf16_spread", "acf at 16 px, max − min over directions"),
    # blur direction --------------------------------------------------------------------------
    ("block_coherence", "mean structure-tensor coherence of band-passed Y (DoG σ 1 − 2.5) over 32×32 blocks"),
    ("block_orientation_resultant", ("length of the block mean of coherence·e^{2iθ}: one gradient orientation "
     "shared by the whole image (motion blur, rain)")),
    ("block_orientation_concentration", ("block_orientation_resultant over block_coherence: agreement of the "
     "blocks' orientations whatever their strength")),
    ("block_orientation_concentration64", "the same over 64×64 blocks"),
    # JPEG ------------------------------------------------------------------------------------
    ("log_blockiness", "log ratio of |ΔY| across 8×8 block boundaries to |ΔY| inside blocks"),
    ("blockiness_excess", "(boundary − interior) |ΔY| in 0–255 units"),
    ("dct_hf_zero_fraction", "fraction of high-frequency (u + v ≥ 6) 8×8 DCT coefficients of Y with |c| < 1"),
    ("dct_flat_block_fraction", "fraction of 8×8 blocks with no DCT energy beyond the 5 lowest AC frequencies"),
    # haze ------------------------------------------------------------------------------------
    ("dark_channel_mean", "mean dark channel (min over RGB, 15×15 min filter)"),
    ("dark_channel_p10", "10th percentile of the dark channel"),
    ("dark_channel_p90", "90th percentile of the dark channel"),
    ("dark_channel_top_minus_bottom", "dark channel of the top third minus the bottom third (haze grows with depth)"),
    ("airlight", "mean V of the 0.5 % of pixels with the brightest dark channel: atmospheric light"),
    ("min_channel_mean", "mean of min(R, G, B) per pixel"),
    ("haze_ratio", "dark channel mean over V mean"),
    # rain ------------------------------------------------------------------------------------
    ("ridge_orientation_peak", ("log of the largest over the median share of bright-ridge energy in 12 orientation "
     "bins (Hessian of the 2× downsampled Y at σ = 1): parallel thin bright lines")),
    ("ridge_block_share", ("median over 16×16 blocks (downsampled) of the share of ridge energy at the dominant "
     "orientation: parallel streaks everywhere, not one oriented object")),
    ("log_ridge_block_energy", "log median block energy of the ridges at the dominant orientation"),
    ("ridge_valley_asymmetry", ("log of bright-ridge over dark-valley energy: additive bright streaks make ridges "
     "outweigh valleys; edges, blur and noise are symmetric")),
    ("ridge_valley_asymmetry_dominant", "the same within ±15° of the dominant ridge orientation"),
    ("ridge_block_share_coarse", "ridge_block_share with the Hessian at σ = 2.5 (downsampled): streaks widened by blur"),
    ("ridge_valley_asymmetry_coarse", "ridge_valley_asymmetry at σ = 2.5"),
    # colour ----------------------------------------------------------------------------------
    ("s_mean", "mean HSV saturation"),
    ("s_p90", "90th percentile of saturation"),
    ("cast_rg", "mean R − mean G: colour cast"),
    ("cast_bg", "mean B − mean G: colour cast"),
    ("clip_low_fraction", "fraction of pixels with V ≤ 1/255 (crushed blacks)"),
    ("clip_high_fraction", "fraction of pixels with V ≥ 254/255 (blown whites)"),
)
FEATURE_NAMES: tuple[str, ...] = tuple(name for name, _ in FEATURES)

_LAPLACE_MASK = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
_IMMERKAER = math.sqrt(math.pi / 2.0) / 6.0  # mean |mask response| → σ for white noise
_DARK_KERNEL = np.ones((15, 15), np.uint8)
_N_SECTORS = 12  # orientation sectors over 180° (spectrum) and ridge orientation bins
_ACF_DIRECTIONS = 16
_ACF_RADII = (2, 4, 8, 16)
_BANDS = {"low": (0.015, 0.04), "mid": (0.06, 0.12), "high": (0.12, 0.24), "floor": (0.4, 0.75),
          "fall_lo": (0.025, 0.06), "fall_hi": (0.1, 0.25)}  # cycles/pixel
_RING_BINS = np.arange(0.06, 0.4201, 0.01)


def _dct_matrix(n: int = 8) -> np.ndarray:
    """Orthonormal DCT-II matrix (rows are basis vectors)."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    m = np.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    m[0] /= math.sqrt(2.0)
    return m.astype(np.float32)


_DCT8 = _dct_matrix()
_UV = np.add.outer(np.arange(8), np.arange(8))
_HF_MASK = _UV >= 6
_BEYOND_LOW_AC = _UV >= 3  # everything but DC and the 5 lowest AC frequencies


def _log(x: float) -> float:
    return math.log(max(float(x), 0.0) + EPS)


def _block_view(x: np.ndarray, b: int) -> np.ndarray:
    """(H, W) → (H//b, W//b, b, b) over the top-left aligned full blocks (b shrinks to fit small images)."""
    b = max(1, min(b, x.shape[0], x.shape[1]))
    h, w = x.shape[0] // b * b, x.shape[1] // b * b
    return x[:h, :w].reshape(h // b, b, w // b, b).swapaxes(1, 2)


def _haar_hh_sigma(ch: np.ndarray) -> float:
    """Noise σ from the finest Haar diagonal band: median |HH| / 0.6745."""
    h, w = ch.shape[0] // 2 * 2, ch.shape[1] // 2 * 2
    c = ch[:h, :w]
    hh = (c[0::2, 0::2] - c[0::2, 1::2] - c[1::2, 0::2] + c[1::2, 1::2]) * 0.5
    return float(np.median(np.abs(hh))) / 0.6745


def _percentiles_u8(x: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """Percentiles (lower value) of a uint8 array via its histogram, on the [0, 1] scale."""
    cdf = np.cumsum(np.bincount(x.ravel(), minlength=256))
    n = cdf[-1]
    return [float(np.searchsorted(cdf, q / 100.0 * (n - 1), side="right")) / 255.0 for q in qs]


@lru_cache(maxsize=8)
def _spectral_geometry(h: int, w: int) -> dict[str, np.ndarray]:
    """Window and bin indices of an (h, w) real FFT (cached per shape)."""
    win = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    fy = np.broadcast_to(np.fft.fftfreq(h)[:, None], (h, w // 2 + 1)).ravel()
    fx = np.broadcast_to(np.fft.rfftfreq(w)[None, :], (h, w // 2 + 1)).ravel()
    radius = np.sqrt(fx**2 + fy**2)
    angle = np.mod(np.arctan2(fy, fx), np.pi)
    sector = np.minimum((angle / np.pi * _N_SECTORS).astype(np.int64), _N_SECTORS - 1)
    # leave out the frequencies of an 8-pixel grid (JPEG block edges), ± 1.5 bins
    off_grid = (np.abs(fx * 8 - np.round(fx * 8)) * w / 8 > 1.5) & (np.abs(fy * 8 - np.round(fy * 8)) * h / 8 > 1.5)
    geo: dict[str, np.ndarray] = {"win": win, "shape": np.array((h, w // 2 + 1))}
    for key, (lo, hi) in _BANDS.items():
        in_band = (radius >= lo) & (radius < hi)
        sel = off_grid & in_band
        if sel.sum() < 8:  # small images: too few bins off the grid lines, or none in the band
            sel = in_band if in_band.any() else radius > 0
        geo[f"{key}_sel"] = sel
        geo[f"{key}_sector"] = sector[sel]
        geo[f"{key}_count"] = np.maximum(np.bincount(sector[sel], minlength=_N_SECTORS), 1)
    ring = np.digitize(radius, _RING_BINS)
    geo["ring_idx"] = ring
    geo["ring_count"] = np.maximum(np.bincount(ring, minlength=len(_RING_BINS) + 1), 1)
    geo["band_pass"] = (radius**2 * np.exp(-((radius / 0.25) ** 2))).reshape(h, w // 2 + 1)
    return geo


@lru_cache(maxsize=32)
def _acf_offsets(r: int, h: int, w: int) -> tuple[tuple[int, int], ...]:
    """(row, col) of the lags at distance ``r`` in 16 directions over 180°, wrapped to the map."""
    out = []
    for k in range(_ACF_DIRECTIONS):
        t = math.pi * k / _ACF_DIRECTIONS
        out.append((round(-r * math.sin(t)) % h, round(r * math.cos(t)) % w))
    return tuple(out)


def _sector_power(power: np.ndarray, geo: dict[str, np.ndarray], band: str) -> np.ndarray:
    """Mean power per orientation sector in ``band``."""
    sums = np.bincount(geo[f"{band}_sector"], weights=power[geo[f"{band}_sel"]], minlength=_N_SECTORS)
    return sums / geo[f"{band}_count"]


def _spectral(y: np.ndarray, f: dict[str, float]) -> None:
    """Sector, per-direction falloff, ring and autocorrelation features from one FFT of Y."""
    geo = _spectral_geometry(*y.shape)
    spec = scipy.fft.rfft2((y - y.mean()) * geo["win"], workers=1)
    power = (spec.real**2 + spec.imag**2).ravel().astype(np.float64)
    floor = float(power[geo["floor_sel"]].mean())  # white-noise power per bin
    low = float(power[geo["low_sel"]].mean()) + 1e-12
    for band in ("mid", "high"):
        sec = np.maximum(_sector_power(power, geo, band) - floor, 1e-4 * low)
        f[f"sector_max_{band}"] = math.log(sec.max() / low)
        f[f"sector_min_{band}"] = math.log(sec.min() / low)
        f[f"sector_aniso_{band}"] = math.log(sec.max() / sec.min())
    lo_pow = _sector_power(power, geo, "fall_lo") + 1e-12
    hi_pow = np.maximum(_sector_power(power, geo, "fall_hi") - floor, 1e-4 * lo_pow)
    fall = np.log(hi_pow / lo_pow)
    f["dir_falloff_min"], f["dir_falloff_max"] = float(fall.min()), float(fall.max())
    f["dir_falloff_spread"] = float(fall.max() - fall.min())
    f["dir_falloff_median"] = float(np.median(fall))
    n = len(_RING_BINS)
    prof = (np.bincount(geo["ring_idx"], weights=power, minlength=n + 1) / geo["ring_count"])[1:n]
    lp = np.log(np.maximum(prof - floor, 1e-4 * (prof[0] + 1e-12)) + 1e-12)
    trend = np.convolve(np.pad(lp, 3, mode="edge"), np.ones(7) / 7.0, mode="valid")
    f["ring_dip"] = float(np.max(trend - lp))
    clean = np.maximum(power - floor, 0.0)
    wiener = (clean * clean / (power + 1e-12)).reshape(tuple(geo["shape"]))
    acf = scipy.fft.irfft2(wiener * geo["band_pass"], s=y.shape, workers=1)  # (H, W), periodic lags
    acf0 = float(acf[0, 0]) + 1e-12
    for r in _ACF_RADII:
        rho = np.array([acf[dy, dx] for dy, dx in _acf_offsets(r, *y.shape)]) / acf0
        if r == 2:
            f["acf2_mean"] = float(rho.mean())
        elif r == 4:
            f["acf4_mean"], f["acf4_min"], f["acf4_max"] = float(rho.mean()), float(rho.min()), float(rho.max())
        else:
            f[f"acf{r}_max"], f[f"acf{r}_spread"] = float(rho.max()), float(rho.max() - rho.min())


def _orientation(y: np.ndarray, f: dict[str, float]) -> None:
    """Agreement of band-passed gradient orientations across blocks."""
    dog = cv2.GaussianBlur(y, (0, 0), 1.0) - cv2.GaussianBlur(y, (0, 0), 2.5)
    gx = cv2.Sobel(dog, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(dog, cv2.CV_32F, 0, 1, ksize=3)
    for block, key in ((32, ""), (64, "64")):
        jxx = _block_view(gx * gx, block).mean(axis=(2, 3))
        jyy = _block_view(gy * gy, block).mean(axis=(2, 3))
        jxy = _block_view(gx * gy, block).mean(axis=(2, 3))
        den = jxx + jyy + 1e-12
        coh = np.sqrt((jxx - jyy) ** 2 + 4 * jxy**2) / den
        resultant = abs(complex(float(((jxx - jyy) / den).mean()), float((2 * jxy / den).mean())))
        if key == "":
            f["block_coherence"] = float(coh.mean())
            f["block_orientation_resultant"] = resultant
        f[f"block_orientation_concentration{key}"] = resultant / (float(coh.mean()) + 1e-9)


def _ridges(y2: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bright-ridge energy, dark-valley energy and orientation bin per pixel (Hessian at ``sigma``)."""
    g = cv2.GaussianBlur(y2, (0, 0), sigma)
    hxx = cv2.Sobel(g, cv2.CV_32F, 2, 0, ksize=3)
    hyy = cv2.Sobel(g, cv2.CV_32F, 0, 2, ksize=3)
    hxy = cv2.Sobel(g, cv2.CV_32F, 1, 1, ksize=3)
    root = np.sqrt((hxx - hyy) ** 2 + 4 * hxy * hxy)
    lmin, lmax = 0.5 * (hxx + hyy - root), 0.5 * (hxx + hyy + root)
    ridge_w = np.maximum(-lmin - np.abs(lmax), 0.0) ** 2  # bright, thin, line-like
    valley_w = np.maximum(lmax - np.abs(lmin), 0.0) ** 2  # dark, thin, line-like
    obin = ((0.5 * np.arctan2(2 * hxy, hxx - hyy) + np.pi / 2) / np.pi * _N_SECTORS).astype(np.int64) % _N_SECTORS
    return ridge_w, valley_w, obin


def _dominant_share(ridge_w: np.ndarray, obin: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
    """Orientation histogram of ridge energy, its peak bin, and per-16×16-block energy at the peak."""
    hist = np.bincount(obin.ravel(), weights=ridge_w.ravel(), minlength=_N_SECTORS) / (float(ridge_w.sum()) + 1e-12)
    top = int(hist.argmax())
    dom_blocks = _block_view(ridge_w * (obin == top), 16).mean(axis=(2, 3))
    return hist, top, dom_blocks


def _rain(y2: np.ndarray, f: dict[str, float]) -> None:
    """Bright thin ridges of the downsampled luma: orientation, spread over the image, brightness."""
    ridge_w, valley_w, obin = _ridges(y2, 1.0)
    hist, top, dom_blocks = _dominant_share(ridge_w, obin)
    f["ridge_orientation_peak"] = math.log((hist.max() + 1e-9) / (np.median(hist) + 1e-9))
    all_blocks = _block_view(ridge_w, 16).mean(axis=(2, 3)) + 1e-12
    f["ridge_block_share"] = float(np.median(dom_blocks / all_blocks))
    f["log_ridge_block_energy"] = math.log(float(np.median(dom_blocks)) + 1e-12)
    f["ridge_valley_asymmetry"] = math.log((float(ridge_w.sum()) + 1e-9) / (float(valley_w.sum()) + 1e-9))
    near = np.abs(((obin - top + _N_SECTORS // 2) % _N_SECTORS) - _N_SECTORS // 2) <= 1
    f["ridge_valley_asymmetry_dominant"] = math.log((float(ridge_w[near].sum()) + 1e-9)
                                                    / (float(valley_w[near].sum()) + 1e-9))
    ridge_c, valley_c, obin_c = _ridges(y2, 2.5)
    _, _, dom_c = _dominant_share(ridge_c, obin_c)
    f["ridge_block_share_coarse"] = float(np.median(dom_c / (_block_view(ridge_c, 16).mean(axis=(2, 3)) + 1e-12)))
    f["ridge_valley_asymmetry_coarse"] = math.log((float(ridge_c.sum()) + 1e-9) / (float(valley_c.sum()) + 1e-9))


def _jpeg(y: np.ndarray, f: dict[str, float]) -> None:
    """Block-boundary discontinuities and quantised DCT coefficients on the 8×8 grid."""
    y255 = y * 255.0
    dh = np.abs(np.diff(y255, axis=1))  # (H, W-1): column j is the step from j to j+1
    dv = np.abs(np.diff(y255, axis=0))
    col = np.arange(dh.shape[1]) % 8 == 7
    row = np.arange(dv.shape[0]) % 8 == 7
    if not col.any() or not row.any():  # smaller than one block: no boundary to measure
        f["log_blockiness"] = f["blockiness_excess"] = 0.0
    else:
        boundary = 0.5 * (dh[:, col].mean() + dv[row, :].mean())
        interior = 0.5 * (dh[:, ~col].mean() + dv[~row, :].mean())
        f["log_blockiness"] = math.log((boundary + 0.05) / (interior + 0.05))
        f["blockiness_excess"] = float(boundary - interior)
    blk = _block_view(y255 - 128.0, 8)
    blk = blk.reshape(-1, blk.shape[2], blk.shape[3])
    if blk.shape[1:] != (8, 8):
        f["dct_hf_zero_fraction"] = f["dct_flat_block_fraction"] = 0.0
        return
    coef = _DCT8 @ blk @ _DCT8.T  # (B, 8, 8)
    f["dct_hf_zero_fraction"] = float((np.abs(coef[:, _HF_MASK]) < 1.0).mean())
    f["dct_flat_block_fraction"] = float((np.abs(coef[:, _BEYOND_LOW_AC]).max(axis=1) < 1.0).mean())


def image_features(image: np.ndarray) -> np.ndarray:
    """The ``FEATURES`` vector of one ``uint8 (H, W, 3)`` image, float32."""
    r8, g8, b8 = cv2.split(np.ascontiguousarray(image))  # (H, W) uint8 each
    rf, gf, bf = (c.astype(np.float32) * (1.0 / 255.0) for c in (r8, g8, b8))  # [0, 1]
    y = 0.299 * rf + 0.587 * gf + 0.114 * bf  # (H, W) luma
    v8 = cv2.max(cv2.max(r8, g8), b8)
    mn8 = cv2.min(cv2.min(r8, g8), b8)
    v = v8.astype(np.float32) * (1.0 / 255.0)
    mn = mn8.astype(np.float32) * (1.0 / 255.0)
    s = (v - mn) / (v + EPS)
    y2 = cv2.resize(y, (max(y.shape[1] // 2, 1), max(y.shape[0] // 2, 1)), interpolation=cv2.INTER_AREA)
    f: dict[str, float] = {}

    # noise first: other statistics remove its contribution
    resid = cv2.filter2D(y, -1, _LAPLACE_MASK, borderType=cv2.BORDER_REFLECT)
    f["log_noise_immerkaer"] = _log(_IMMERKAER * float(np.abs(resid).mean()))
    sigma_luma = _haar_hh_sigma(y)
    f["log_noise_haar"] = _log(sigma_luma)
    resid_blocks = np.abs(_block_view(resid, 8)).mean(axis=(2, 3)) * _IMMERKAER
    f["log_noise_floor"] = _log(np.percentile(resid_blocks, 10))
    sigma_chroma = 0.5 * (_haar_hh_sigma(bf - y) + _haar_hh_sigma(rf - y))
    f["log_chroma_noise"] = _log(sigma_chroma)
    f["chroma_luma_noise_ratio"] = float(sigma_chroma / (sigma_luma + 1e-4))
    sig2 = sigma_luma * sigma_luma

    # brightness and contrast
    vp = _percentiles_u8(v8, (1, 10, 50, 90, 99))
    f["v_mean"] = float(v.mean())
    f["v_p01"], f["v_p10"], f["v_p50"], f["v_p90"], f["v_p99"] = vp
    f["y_std"] = float(y.std())
    f["dark_fraction"] = float((v < 0.15).mean())
    f["bright_fraction"] = float((v > 0.85).mean())
    var_blocks = np.maximum(_block_view(y, 16).var(axis=(2, 3)) - sig2, 0.0)
    f["log_local_contrast"] = _log(float(np.sqrt(var_blocks).mean()))

    # blur
    gx = cv2.Sobel(y, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(y, cv2.CV_32F, 0, 1, ksize=3)
    g_blocks = _block_view(gx * gx + gy * gy, 16).mean(axis=(2, 3)) - 24.0 * sig2  # Sobel: 24 σ² of white noise
    sharp = np.log(np.maximum(g_blocks, 1e-7) / (var_blocks + 1e-4))
    f["sharp_block_p90"], f["sharp_block_p50"] = (float(q) for q in np.percentile(sharp, [90, 50]))
    _spectral(y, f)
    _orientation(y, f)

    _jpeg(y, f)

    # haze: dark channel prior statistics
    dark8 = cv2.erode(mn8, _DARK_KERNEL, borderType=cv2.BORDER_REPLICATE)
    dark = dark8.astype(np.float32) * (1.0 / 255.0)
    f["dark_channel_p10"], f["dark_channel_p90"] = _percentiles_u8(dark8, (10, 90))
    f["dark_channel_mean"] = float(dark.mean())
    third = max(dark.shape[0] // 3, 1)
    f["dark_channel_top_minus_bottom"] = float(dark[:third].mean() - dark[-third:].mean())
    n_top = max(int(dark.size * 0.005), 1)
    brightest = np.argpartition(dark.ravel(), -n_top)[-n_top:]
    f["airlight"] = float(v.ravel()[brightest].mean())
    f["min_channel_mean"] = float(mn.mean())
    f["haze_ratio"] = float(dark.mean() / (v.mean() + 1e-3))

    _rain(y2, f)

    # colour
    f["s_mean"] = float(s.mean())
    f["s_p90"] = _percentiles_u8(np.rint(s * 255.0).astype(np.uint8), (90,))[0]
    mean_g = float(gf.mean())
    f["cast_rg"] = float(rf.mean()) - mean_g
    f["cast_bg"] = float(bf.mean()) - mean_g
    f["clip_low_fraction"] = float((v8 <= 1).mean())
    f["clip_high_fraction"] = float((v8 >= 254).mean())

    return np.array([f[name] for name in FEATURE_NAMES], dtype=np.float32)
