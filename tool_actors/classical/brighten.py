"""Brightening on the HSV value channel: CLAHE, gamma 2/3, a constant +40, a percentile stretch.

All four change only V = max(R, G, B) and keep hue and saturation: every pixel's RGB is scaled
by V'/V (a black pixel becomes the grey V'). This is the HSV edit done exactly in RGB, without
the 2° hue quantisation of OpenCV's 8-bit HSV conversion. The first three are the paper's
brightening tools (CLAHE with clip limit 2.0 on 8×8 tiles; V' = 255·(V/255)^(2/3); V' = V + 40).
"""

from __future__ import annotations

import cv2
import numpy as np

from tool_actors.classical.base import ClassicalTool, register, to_uint8


def value_channel(image: np.ndarray) -> np.ndarray:
    """HSV value V = max(R, G, B), ``uint8 (H, W)``."""
    return image.max(axis=2)


def with_value(image: np.ndarray, new_v: np.ndarray) -> np.ndarray:
    """``image`` with its V channel replaced by ``new_v`` (float or uint8), hue and saturation kept."""
    v = image.max(axis=2).astype(np.float32)
    target = np.clip(np.asarray(new_v, dtype=np.float32), 0.0, 255.0)
    scale = target / np.maximum(v, 1.0)
    out = image.astype(np.float32) * scale[..., None]
    black = v == 0
    out[black] = target[black][:, None]
    return to_uint8(out)


class CLAHEValue(ClassicalTool):
    """Contrast-limited adaptive histogram equalisation of V."""

    def __init__(self, clip_limit: float = 2.0, tiles: int = 8, **kw: object) -> None:
        super().__init__(clip_limit=clip_limit, tiles=tiles, **kw)
        self._clahe = cv2.createCLAHE(clipLimit=float(clip_limit), tileGridSize=(int(tiles), int(tiles)))

    def restore(self, image: np.ndarray) -> np.ndarray:
        return with_value(image, self._clahe.apply(value_channel(image)))


class GammaValue(ClassicalTool):
    """V' = 255·(V/255)^exponent (exponent < 1 brightens)."""

    def __init__(self, exponent: float = 2.0 / 3.0, **kw: object) -> None:
        super().__init__(exponent=exponent, **kw)
        self._lut = to_uint8(255.0 * (np.arange(256) / 255.0) ** float(exponent))

    def restore(self, image: np.ndarray) -> np.ndarray:
        return with_value(image, self._lut[value_channel(image)])


class ShiftValue(ClassicalTool):
    """V' = V + shift, clipped to 255."""

    def __init__(self, shift: int = 40, **kw: object) -> None:
        super().__init__(shift=shift, **kw)
        self._lut = to_uint8(np.arange(256) + float(shift))

    def restore(self, image: np.ndarray) -> np.ndarray:
        return with_value(image, self._lut[value_channel(image)])


class StretchValue(ClassicalTool):
    """Linear stretch of V so that its ``percentile`` maps to 255; never darkens.

    The gain is capped at ``max_gain`` so a nearly black image is not blown up into noise; an
    image whose percentile is already near white is returned unchanged (gain ≤ 1).
    """

    def __init__(self, percentile: float = 99.9, max_gain: float = 4.0, **kw: object) -> None:
        super().__init__(percentile=percentile, max_gain=max_gain, **kw)

    def restore(self, image: np.ndarray) -> np.ndarray:
        v = value_channel(image)
        top = float(np.percentile(v, self.params["percentile"]))
        gain = min(255.0 / max(top, 1.0), float(self.params["max_gain"]))
        if gain <= 1.0:
            return image.copy()
        return with_value(image, v.astype(np.float32) * gain)


register(CLAHEValue, "clahe", "brighten", "CLAHE on the HSV value channel (clip 2.0, 8×8 tiles)",
         method="clahe-v", clip_limit=2.0, tiles=8)
register(GammaValue, "gamma-2-3", "brighten", "gamma curve on V: V' = 255·(V/255)^(2/3)",
         method="gamma-v", exponent=2.0 / 3.0)
register(ShiftValue, "shift-40", "brighten", "constant brightening of V by +40",
         method="shift-v", shift=40)
register(StretchValue, "stretch-v", "brighten", "linear stretch of V so its 99.9th percentile becomes white",
         method="stretch-v", percentile=99.9, max_gain=4.0)
