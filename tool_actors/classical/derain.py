"""Rain-streak removal by directional morphology.

Rain streaks are thin, bright, roughly parallel lines added equally to all three channels. The
tool finds their dominant angle (``estimate.streak_angle``), takes the grey residual of an
opening with a ``width``-pixel line *across* the streaks (what is thinner than ``width`` and
bright), keeps only the parts of it that contain a ``length``-pixel segment *along* the streaks
(an opening followed by ``grow`` steps of geodesic reconstruction inside the residual, so kept
streaks come back whole), and subtracts that streak layer from every channel. Bright thin details
that do not run along the rain direction are left alone.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from tool_actors.classical.base import ClassicalTool, register, to_uint8
from tool_actors.classical.estimate import streak_angle


def line_element(length: int, angle: float) -> np.ndarray:
    """A 1-pixel-wide line structuring element of odd size ``length`` at ``angle`` degrees (y up)."""
    size = max(1, int(length)) | 1
    half = size // 2
    dx, dy = math.cos(math.radians(angle)) * half, -math.sin(math.radians(angle)) * half
    se = np.zeros((size, size), np.uint8)
    cv2.line(se, (round(half - dx), round(half - dy)), (round(half + dx), round(half + dy)), 1, 1)
    return se


class StreakDerain(ClassicalTool):
    """Directional top-hat + elongation check + subtraction (see module doc)."""

    min_work_side = 16

    def __init__(self, length: int = 15, width: int = 7, grow: int = 8, **kw: object) -> None:
        super().__init__(length=length, width=width, grow=grow, **kw)

    def streak_layer(self, image: np.ndarray) -> np.ndarray:
        """The estimated additive streak layer, float32 ``(H, W)``."""
        p = self.params
        grey = image.astype(np.float32).mean(axis=2)
        angle, _ = streak_angle(grey)
        residual = grey - cv2.morphologyEx(grey, cv2.MORPH_OPEN, line_element(p["width"], angle + 90.0))
        layer = cv2.morphologyEx(residual, cv2.MORPH_OPEN, line_element(p["length"], angle))
        square = np.ones((3, 3), np.uint8)
        for _ in range(int(p["grow"])):
            layer = np.minimum(cv2.dilate(layer, square), residual)
        return layer

    def restore(self, image: np.ndarray) -> np.ndarray:
        return to_uint8(image.astype(np.float32) - self.streak_layer(image)[..., None])


register(StreakDerain, "streak-derain", "derain",
         "subtract thin bright streaks ≥ 15 px long along the dominant rain angle",
         method="directional-morphology", length=15, width=7, grow=8)
register(StreakDerain, "streak-derain-strong", "derain",
         "subtract thin bright streaks ≥ 11 px long along the rain angle, up to 9 px wide",
         method="directional-morphology", length=11, width=9, grow=8)
