"""Hand-crafted degradation statistics of one image: the feature list as data, and the function.

Every feature is a deterministic function of the uint8 RGB pixels, computed in float32/float64 on
the image as given and on 2× and 4× area-downsampled copies, about 10 ms for a 256×256 image on
one core. Intensities are on a [0, 1] scale; "Y" is BT.601 luma (0.299 R + 0.587 G + 0.114 B),
"V" and "S" are HSV value and saturation. Features spanning decades, and evidence that is near
zero without its degradation, are logarithms (``log(x + floor)``), so a weak but clear signal
moves a feature as much as a strong one moves it further.

The statistics are built to read one degradation while staying put under the others, because
degradations come in combinations never seen together in training:

* blur is read from ratios of fine- to coarse-band energy, so a brightness or contrast change
  (dark, haze) leaves it alone; white-noise energy, measured per region, is removed first, and the
  8-pixel JPEG block boundaries are smoothed (or their grid frequencies left out). Defocus is the
  blur of the *sharpest* direction (a motion blur leaves the direction across the motion sharp);
  motion is one blurriest direction shared by all regions, measured at three scales (the scale of
  the blur's length; JPEG and noise hide the finest). A scene's own anisotropy cancels in the
  fine/coarse ratio because it is the same in both bands;
* blur extent per direction is the correlation length of the directional derivative (white noise
  only touches lag 0; rain streaks are opened away first): motion lengthens one direction,
  defocus every direction;
* edge width is the ratio of gradient magnitudes at two scales at strong edges (independent of
  the edge's contrast);
* rain is bright (positive-only), thin, elongated line response within 30° of vertical (the
  synthetic streaks' range, and real rain's) with one orientation in every region of the image,
  read at the streak width and at the width the image's blur gives a streak;
* haze is read from the dark channel of a 4× downsampled copy (noise averaged away) and from its
  ratio to the local brightness (unchanged when a dark filter scales V);
* noise is read at the finest scale, in lit regions (shot noise vanishes in black) and on a 2×
  downsampled copy (where JPEG leaves some of it).

``FEATURES`` lists ``(name, what it measures)`` in output order; ``image_features`` returns a
float32 vector of that length. Images must be at least 16×16. The blur and rain groups live in
``stats_blur`` and ``stats_rain``, array helpers in ``stats_maps``; this module holds the list,
the brightness, noise, JPEG, haze and colour groups, and the order they are computed in.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from tool_actors.encoders.stats_blur import acf_features, blur_sigma, edge_features, spectral_features, tile_features
from tool_actors.encoders.stats_maps import block_mean, block_view, haar_hh_sigma, half, thirds
from tool_actors.encoders.stats_rain import rain_features

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
    ("log_noise_floor", "log of the 10th-percentile 8×8-block σ of the Immerkær residual: noise in flat areas"),
    ("log_noise_floor_lit", "log_noise_floor over blocks with mean Y ≥ 0.1 only (shot noise vanishes in black)"),
    ("log_noise_haar_coarse", "log Haar-diagonal MAD σ of the 2× downsampled Y: noise that JPEG turned to blotches"),
    ("log_chroma_noise", "log of the Haar-diagonal MAD σ of the chroma channels B−Y and R−Y"),
    ("chroma_luma_noise_ratio", "chroma noise σ over luma noise σ (sensor noise is per channel, texture is luma)"),
    # blur: power spectrum of Y (noise floor removed, JPEG grid frequencies left out) ------------
    # per band the power is summarised by its mean m and its 2nd angular harmonic c (complex,
    # |c| < 1: anisotropy); bands in cycles/pixel; "whitened" = × f², so a natural 1/f² spectrum
    # is flat; levels are relative to band 0 (0.015–0.03)
    ("spec_level_1", "log whitened power of band 0.03–0.05 over band 0.015–0.03"),
    ("spec_level_2", "the same for 0.05–0.08"),
    ("spec_level_3", "the same for 0.08–0.12"),
    ("spec_level_4", "the same for 0.12–0.18"),
    ("spec_level_5", "the same for 0.18–0.28"),
    ("spec_sharpest_3", ("log whitened power of 0.08–0.12 along its strongest direction, m(1 + |c|), over band 0: "
     "sharpness of the sharpest direction (defocus lowers it, motion blur much less)")),
    ("spec_sharpest_4", "the same for 0.12–0.18"),
    ("log_spec_aniso_growth_2", ("log(|c_b − c_0| + 0.02) for 0.05–0.08: anisotropy added since the lowest band "
     "(a motion blur's grows with frequency; a scene's own stays)")),
    ("log_spec_aniso_growth_3", "the same for 0.08–0.12"),
    ("log_spec_aniso_growth_4", "the same for 0.12–0.18"),
    ("ring_dip", ("deepest dip of the log radial power profile below its local trend, 0.06–0.42 cycles/pixel, "
     "noise floor removed: the zero rings of a disk point-spread function (defocus)")),
    ("log_noise_floor_spectral", "log white-noise power per frequency bin (0.36–0.5 cycles/pixel) over band 0"),
    # blur: fine-over-coarse band energy per direction, in 32×32 tiles ---------------------------
    # Y with the JPEG block boundaries smoothed; per tile the gradient structure tensors A (finer
    # band) and B (coarser band) of two difference-of-Gaussians bands, white-noise energy removed;
    # the generalised eigenvalues λ of A v = λ B v are the fine/coarse energy ratios along the
    # tile's sharpest (λmax) and blurriest (λmin, direction ψ) directions. Statistics over the half
    # of the tiles with the most B energy (B clearly above the noise). Bands (full-resolution σ):
    # fine 0.7–1.4 over 1.4–2.8; mid 1.4–2.8 over 2.8–5.6; coarse 2.8–5.6 over 5.6–11.2. The fine
    # bands give no direction features of their own: noise and JPEG wipe them in unseen mixtures
    ("tile_fine_sharpest", "median log λmax of the fine bands: fine detail along the sharpest direction (defocus)"),
    ("tile_fine_blurriest", "median log λmin of the fine bands: fine detail along the blurriest direction"),
    ("tile_mid_sharpest", "tile_fine_sharpest for the mid bands (JPEG and noise leave them more)"),
    ("tile_mid_blurriest", "tile_fine_blurriest for the mid bands"),
    ("log_tile_mid_agreement", ("log(|tile mean of e^{2iψ}| + 0.02) over the tiles whose finer mid band rises above "
     "the noise: one blur direction shared by the whole image (motion)")),
    ("log_tile_mid_directional", ("log(|tile mean of log(λmax/λmin)·e^{2iψ}| + 0.02) for the mid bands: shared "
     "and strong")),
    ("tile_coarse_sharpest", "tile_fine_sharpest for the coarse bands (long blurs)"),
    ("tile_coarse_blurriest", "tile_fine_blurriest for the coarse bands"),
    ("log_tile_coarse_agreement", "log_tile_mid_agreement for the coarse bands"),
    ("log_tile_coarse_directional", "log_tile_mid_directional for the coarse bands"),
    ("log_tile_agreement_max", ("the largest of the fine, mid and coarse agreements: a motion blur shows at the scale "
     "of its length")),
    # blur: correlation lengths L(θ) of the directional derivative along θ (2× downsampled Y, 3×3 grey
    # opening against thin bright streaks, white-noise floor subtracted from the spectrum; lag 0 holds
    # all the noise, so L stays put under it; 16 directions, 2× pixels) ---------------------------
    ("acf_aniso_len_50", ("√(2nd angular harmonic amplitude of L(θ)²), L where the normalised autocorrelation "
     "falls below 1/2: the blur length one direction has beyond the others (motion; isotropic blur adds none)")),
    ("acf_min_len_50", "shortest L(θ) at 1/2: blur present in every direction (defocus)"),
    ("acf_aniso_len_25", "acf_aniso_len_50 with L read where the autocorrelation falls below 1/4 (longer blurs)"),
    ("acf_min_len_25", "acf_min_len_50 at 1/4"),
    # blur: spatial ---------------------------------------------------------------------------
    ("sharp_block_p90", ("90th percentile over 16×16 blocks of log(gradient energy / local variance), both "
     "noise-corrected: how sharp the sharpest regions are (a synthetic blur reaches every region)")),
    ("sharp_block_p50", "the same, median block"),
    ("edge_scale_ratio", ("median over strong edges (2× downsampled Y) of log(|∇| at σ 1 / |∇| at σ 2): high for "
     "sharp edges, low for wide ones; independent of edge contrast")),
    ("edge_scale_ratio_sharpest", "the same, largest over 6 gradient-orientation bins (defocus lowers it)"),
    ("edge_scale_ratio_fine", ("median over strong edges of log(|∇| at σ 0.7 / |∇| at σ 1.4) on full-resolution Y, "
     "noise energy removed")),
    # JPEG ------------------------------------------------------------------------------------
    ("log_blockiness", "log ratio of |ΔY| across 8×8 block boundaries to |ΔY| inside blocks"),
    ("blockiness_excess", "(boundary − interior) |ΔY| in 0–255 units"),
    ("dct_hf_zero_fraction", "fraction of high-frequency (u + v ≥ 6) 8×8 DCT coefficients of Y with |c| < 1"),
    ("dct_flat_block_fraction", "fraction of 8×8 blocks with no DCT energy beyond the 5 lowest AC frequencies"),
    # haze (1/4 scale: noise averaged away) -----------------------------------------------------
    ("dark_channel_mean", "mean dark channel (min over RGB, 3×3 min filter at 1/4 scale: 12×12 pixels)"),
    ("dark_channel_p10", "10th percentile of the dark channel"),
    ("dark_channel_p90", "90th percentile of the dark channel"),
    ("dark_channel_top_minus_bottom", "dark channel of the top third minus the bottom third (haze grows with depth)"),
    ("dark_ratio_mean", ("mean of dark channel / local V (1/4 scale): the airlight share of the brightness, "
     "unchanged when a dark filter scales V")),
    ("dark_ratio_p10", "10th percentile of the dark-channel / V ratio"),
    ("dark_ratio_top_minus_bottom", "dark-channel / V ratio of the top third minus the bottom third"),
    ("contrast_top_bottom", ("log of the relative local contrast (σ / mean of Y, 16×16 blocks) of the top third over "
     "the bottom third: haze flattens the far top")),
    ("airlight", "mean V of the 1 % brightest dark-channel pixels (1/4 scale): atmospheric light"),
    ("haze_ratio", "dark channel mean over V mean"),
    # rain: bright-line filters (−∂² across × Gaussian along, 12 orientations) on 2× downsampled Y;
    # the dominant orientation is the near-vertical one (60°–120°) with the most bright-minus-dark
    # energy -----------------------------------------------------------------------------------
    ("log_line_spread", ("log(fraction + 0.02) of 8×8 blocks whose strongest bright-line response (filter σ 4 "
     "along × 0.8 across) has the dominant orientation: parallel streaks everywhere")),
    ("log_line_excess", ("log(max(x, 0) + 0.01), x the bright- minus dark-line energy at the dominant orientation "
     "over the mean line energy: additive bright streaks; edges and noise are symmetric")),
    ("log_line_block_excess", ("log(max(x, 0) + 0.01), x the median over 12×12 blocks of the block's normalised "
     "bright-minus-dark excess at the dominant orientation: streaks in every block, not one bright object")),
    ("log_line_block_positive", "log(fraction + 0.02) of blocks whose normalised excess there exceeds 0.1"),
    ("log_line_spread_adapted", ("log_line_spread with the filter widened to the image's blur: σ across = "
     "√(0.8² + s²), s the edge blur σ read from edge_scale_ratio (a blurred streak is as wide as the blur)")),
    ("log_line_block_excess_adapted", "log_line_block_excess with the blur-adapted filter"),
    ("log_line_block_positive_adapted", "log_line_block_positive with the blur-adapted filter"),
    ("log_ridge_block_share", ("log(x + 0.01), x the median over 16×16 blocks (2× downsampled) of the share of "
     "Hessian bright-ridge energy at the dominant ridge orientation")),
    ("ridge_valley_asymmetry", "log of bright-ridge over dark-valley Hessian energy (2× downsampled Y, σ = 1)"),
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


def _percentiles_u8(x: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """Percentiles (lower value) of a uint8 array via its histogram, on the [0, 1] scale."""
    cdf = np.cumsum(np.bincount(x.ravel(), minlength=256))
    n = cdf[-1]
    return [float(np.searchsorted(cdf, q / 100.0 * (n - 1), side="right")) / 255.0 for q in qs]


# ------------------------------------------------------------------------------------------ JPEG
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
    blk = block_view(y255 - 128.0, 8)
    blk = blk.reshape(-1, blk.shape[2], blk.shape[3])
    if blk.shape[1:] != (8, 8):
        f["dct_hf_zero_fraction"] = f["dct_flat_block_fraction"] = 0.0
        return
    coef = _DCT8 @ blk @ _DCT8.T  # (B, 8, 8)
    f["dct_hf_zero_fraction"] = float((np.abs(coef[:, _HF_MASK]) < 1.0).mean())
    f["dct_flat_block_fraction"] = float((np.abs(coef[:, _BEYOND_LOW_AC]).max(axis=1) < 1.0).mean())


# ------------------------------------------------------------------------------------------ haze
def _haze(rgb: np.ndarray, y: np.ndarray, v: np.ndarray, sigma: float, f: dict[str, float]) -> None:
    """Dark-channel statistics at 1/4 scale and their ratio to the local brightness."""
    small = half(half(rgb))  # (H/4, W/4, 3) float32 [0, 1]
    mn = small.min(axis=2)
    mx = small.max(axis=2)
    dark = cv2.erode(mn, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)
    bright = cv2.blur(mx, (3, 3), borderType=cv2.BORDER_REPLICATE)
    ratio = dark / (bright + 0.02)
    f["dark_channel_mean"] = float(dark.mean())
    f["dark_channel_p10"], f["dark_channel_p90"] = (float(q) for q in np.percentile(dark, [10, 90]))
    top, bottom = thirds(dark)
    f["dark_channel_top_minus_bottom"] = float(top.mean() - bottom.mean())
    f["dark_ratio_mean"] = float(ratio.mean())
    f["dark_ratio_p10"] = float(np.percentile(ratio, 10))
    top, bottom = thirds(ratio)
    f["dark_ratio_top_minus_bottom"] = float(top.mean() - bottom.mean())
    blocks = block_view(y, 16)
    rel = np.sqrt(np.maximum(blocks.var(axis=(2, 3)) - sigma**2, 0.0)) / (blocks.mean(axis=(2, 3)) + 0.02)
    top, bottom = thirds(rel)
    f["contrast_top_bottom"] = math.log((float(top.mean()) + 1e-3) / (float(bottom.mean()) + 1e-3))
    n_top = max(int(dark.size * 0.01), 1)
    brightest = np.argpartition(dark.ravel(), -n_top)[-n_top:]
    f["airlight"] = float(mx.ravel()[brightest].mean())
    f["haze_ratio"] = float(dark.mean() / (v.mean() + 1e-3))


# ------------------------------------------------------------------------------------------ main
def image_features(image: np.ndarray) -> np.ndarray:
    """The ``FEATURES`` vector of one ``uint8 (H, W, 3)`` image (at least 16×16), float32."""
    image = np.ascontiguousarray(image)
    r8, g8, b8 = cv2.split(image)  # (H, W) uint8 each
    rgb = image.astype(np.float32) * (1.0 / 255.0)  # (H, W, 3) [0, 1]
    rf, gf, bf = cv2.split(rgb)
    y = 0.299 * rf + 0.587 * gf + 0.114 * bf  # (H, W) luma
    v8 = cv2.max(cv2.max(r8, g8), b8)
    mn8 = cv2.min(cv2.min(r8, g8), b8)
    v = v8.astype(np.float32) * (1.0 / 255.0)
    mn = mn8.astype(np.float32) * (1.0 / 255.0)
    s = (v - mn) / (v + EPS)
    y2 = half(y)
    f: dict[str, float] = {}

    # noise first: other statistics remove its contribution
    resid = cv2.filter2D(y, -1, _LAPLACE_MASK, borderType=cv2.BORDER_REFLECT)
    f["log_noise_immerkaer"] = _log(_IMMERKAER * float(np.abs(resid).mean()))
    sigma_luma = haar_hh_sigma(y)
    f["log_noise_haar"] = _log(sigma_luma)
    resid_blocks = block_mean(np.abs(resid), 8) * _IMMERKAER
    f["log_noise_floor"] = _log(np.percentile(resid_blocks, 10))
    lit = block_mean(y, 8) >= 0.1
    f["log_noise_floor_lit"] = _log(np.percentile(resid_blocks[lit], 10)) if lit.sum() >= 8 else f["log_noise_floor"]
    f["log_noise_haar_coarse"] = _log(haar_hh_sigma(y2))
    sigma_chroma = 0.5 * (haar_hh_sigma(bf - y) + haar_hh_sigma(rf - y))
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
    var_blocks = np.maximum(block_view(y, 16).var(axis=(2, 3)) - sig2, 0.0)
    f["log_local_contrast"] = _log(float(np.sqrt(var_blocks).mean()))

    # blur
    gx = cv2.Sobel(y, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(y, cv2.CV_32F, 0, 1, ksize=3)
    g_blocks = block_mean(gx * gx + gy * gy, 16) - 24.0 * sig2  # Sobel: 24 σ² of white noise
    sharp = np.log(np.maximum(g_blocks, 1e-7) / (var_blocks[:g_blocks.shape[0], :g_blocks.shape[1]] + 1e-4))
    f["sharp_block_p90"], f["sharp_block_p50"] = (float(q) for q in np.percentile(sharp, [90, 50]))
    spectral_features(y, f)
    tile_features(y, f)
    edge_features(y, y2, sigma_luma, f)
    acf_features(y2, f)

    _jpeg(y, f)
    _haze(rgb, y, v, sigma_luma, f)
    rain_features(y2, blur_sigma(f["edge_scale_ratio"]), f)

    # colour
    f["s_mean"] = float(s.mean())
    f["s_p90"] = _percentiles_u8(np.rint(s * 255.0).astype(np.uint8), (90,))[0]
    mean_g = float(gf.mean())
    f["cast_rg"] = float(rf.mean()) - mean_g
    f["cast_bg"] = float(bf.mean()) - mean_g
    f["clip_low_fraction"] = float((v8 <= 1).mean())
    f["clip_high_fraction"] = float((v8 >= 254).mean())

    return np.array([f[name] for name in FEATURE_NAMES], dtype=np.float32)
