"""How the embedded FFDNet tools choose FFDNet's noise level σ (0–255 scale) from an image alone.

* ``denoise_sigma``: ``NOISE_GAIN`` × the Haar-subband MAD noise estimate
  (``tool_actors.classical.estimate.noise_sigma``). On the builtin single-degradation noise
  records the estimate is within a few levels of the true noise standard deviation (slightly
  low, since texture and clipping both bias it); FFDNet restores best at a σ a little above the
  true one. ``NOISE_GAIN`` was chosen on the 10 train records from {1.0, 1.05, 1.1, 1.15, 1.2,
  1.3}: mean ΔPSNR +11.16 / +11.41 / +11.52 / +11.55 / +11.51 / +11.32 dB.
* ``dejpeg_sigma``: FFDNet as a JPEG-artifact smoother, at σ = ``JPEG_A`` · s(q)^``JPEG_B``, where
  q is the IJG quality read from the image (the quality at which re-compressing is a near fixed
  point, ``tool_actors.classical.estimate.jpeg_quality``) and s(q) = (5000/q if q < 50 else
  200 − 2q) / 100 is libjpeg's quantiser scale, i.e. σ grows with the quantisation step. A and B
  were fitted to maximise mean ΔPSNR over 8 builtin training crops × 14 qualities (5…90) ×
  15 σ values (+1.04 dB against +1.07 dB for the best σ per quality), and confirmed on the
  10 train JPEG records of single.jsonl (+1.16 dB; ±1 on A changes it by ≤ 0.02 dB).
  No detectable JPEG quality (not a JPEG, a misaligned block grid, or an image changed after
  compression) gives ``None``: the tool then leaves the image as it is.
"""

from __future__ import annotations

import numpy as np

from tool_actors.classical.estimate import jpeg_quality, noise_sigma

NOISE_GAIN = 1.15
JPEG_A, JPEG_B = 9.5, 0.55


def ijg_scale(quality: int) -> float:
    """libjpeg's quantisation-table scale at ``quality`` (1 at q = 50, 10 at q = 5, 0.1 at q = 95)."""
    q = int(np.clip(quality, 1, 100))
    return (5000.0 / q if q < 50 else 200.0 - 2.0 * q) / 100.0


def denoise_sigma(image: np.ndarray) -> float:
    """FFDNet's σ for denoising ``image`` (uint8 H×W×3)."""
    return NOISE_GAIN * noise_sigma(image)


def jpeg_sigma(quality: int) -> float:
    """FFDNet's σ for smoothing the artifacts of a JPEG of IJG quality ``quality``."""
    return JPEG_A * ijg_scale(quality) ** JPEG_B


def dejpeg_sigma(image: np.ndarray) -> float | None:
    """FFDNet's σ for the JPEG artifacts of ``image``, or None when no JPEG quality can be read."""
    quality = jpeg_quality(image)
    return None if quality is None else jpeg_sigma(quality)
