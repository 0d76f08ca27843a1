"""Dark-channel-prior dehazing (He et al.) with a guided-filter refined transmission.

The dark channel is the minimum over colours and a ``patch × patch`` window; the airlight A is the
mean colour of the brightest 0.1 % of dark-channel pixels; the transmission
t = 1 − ω·dark(I / A) is refined by a guided filter (radius ``radius``, ε ``eps``) guided by the
grey image; then J = (I − A) / max(t, t0) + A. A haze-free image has a dark channel near 0, so
t ≈ 1 and it changes little.
"""

from __future__ import annotations

import cv2
import numpy as np

from tool_actors.classical.base import ClassicalTool, register, to_uint8


def box_mean(x: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a ``(2r+1)²`` window, reflected at the borders."""
    return cv2.blur(x, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT_101)


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He's guided filter of float32 ``src`` with float32 grey ``guide``."""
    mean_i, mean_p = box_mean(guide, radius), box_mean(src, radius)
    cov = box_mean(guide * src, radius) - mean_i * mean_p
    var = box_mean(guide * guide, radius) - mean_i * mean_i
    a = cov / (var + eps)
    b = mean_p - a * mean_i
    return box_mean(a, radius) * guide + box_mean(b, radius)


class DarkChannelDehaze(ClassicalTool):
    """Dark channel prior + guided filter."""

    min_work_side = 2

    def __init__(self, omega: float = 0.85, t0: float = 0.1, patch: int = 25, radius: int = 40, eps: float = 1e-3,
                 top: float = 0.001, **kw: object) -> None:
        super().__init__(omega=omega, t0=t0, patch=patch, radius=radius, eps=eps, top=top, **kw)

    def restore(self, image: np.ndarray) -> np.ndarray:
        p = self.params
        x = image.astype(np.float32) / 255.0  # (H, W, 3) [0, 1]
        h, w = x.shape[:2]
        side = max(1, min(int(p["patch"]), h, w))
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (side, side))
        dark = cv2.erode(np.ascontiguousarray(x.min(axis=2)), kernel)
        n = max(1, int(dark.size * p["top"]))
        brightest = np.argpartition(dark.ravel(), -n)[-n:]
        airlight = np.maximum(x.reshape(-1, 3)[brightest].mean(axis=0), 1e-3)  # (3,)
        t = 1.0 - p["omega"] * cv2.erode(np.ascontiguousarray((x / airlight).min(axis=2)), kernel)
        radius = max(1, min(int(p["radius"]), (min(h, w) - 1) // 2))
        t = guided_filter(np.ascontiguousarray(x.mean(axis=2)), t.astype(np.float32), radius, p["eps"])
        t = np.maximum(t, p["t0"])[..., None]
        return to_uint8(((x - airlight) / t + airlight) * 255.0)


register(DarkChannelDehaze, "dcp-dehaze", "dehaze",
         "dark channel prior, guided-filter transmission (ω = 0.85, t0 = 0.1, 25-pixel patches)",
         method="dark-channel-prior", omega=0.85, t0=0.1, patch=25, radius=40, eps=1e-3, top=0.001)
register(DarkChannelDehaze, "dcp-dehaze-strong", "dehaze",
         "dark channel prior, stronger haze removal (ω = 0.95, t0 = 0.25)",
         method="dark-channel-prior", omega=0.95, t0=0.25, patch=25, radius=40, eps=1e-3, top=0.001)
