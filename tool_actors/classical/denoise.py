"""Blind denoising: the noise level σ is estimated from each image (``estimate.noise_sigma``).

* ``dct-denoise``: two-stage sliding 8×8 DCT shrinkage (hard threshold 3σ on a stride-4 grid,
  then empirical Wiener on a stride-3 grid) in opponent colour space.
* ``bilateral``: two passes of OpenCV's bilateral filter (9-pixel window, colour σ = 2.5·σ̂).
* ``nlm``: OpenCV's coloured non-local means (h = 0.8·σ̂, 5×5 patches, 15×15 search window).

An image whose estimated σ is below ``min_sigma`` (0.5 grey levels) is returned unchanged.
"""

from __future__ import annotations

import cv2
import numpy as np

from tool_actors.classical.base import ClassicalTool, register, to_uint8
from tool_actors.classical.dct import shrink
from tool_actors.classical.estimate import noise_sigma


class DCTDenoise(ClassicalTool):
    """Two-stage sliding-DCT shrinkage at the estimated noise level."""

    min_work_side = 8

    def __init__(self, lam: float = 3.0, sigma_factor: float = 1.1, step: int = 4, wiener_step: int = 3,
                 min_sigma: float = 0.5, **kw: object) -> None:
        super().__init__(lam=lam, sigma_factor=sigma_factor, step=step, wiener_step=wiener_step,
                         min_sigma=min_sigma, **kw)

    def restore(self, image: np.ndarray) -> np.ndarray:
        p = self.params
        sigma = noise_sigma(image) * p["sigma_factor"]
        if sigma < p["min_sigma"]:
            return image.copy()
        return to_uint8(shrink(image, sigma, p["lam"], p["step"], p["wiener_step"]))


class BilateralDenoise(ClassicalTool):
    """Repeated bilateral filtering with a colour σ proportional to the estimated noise."""

    def __init__(self, diameter: int = 9, colour_factor: float = 2.5, passes: int = 2, min_sigma: float = 0.5,
                 **kw: object) -> None:
        super().__init__(diameter=diameter, colour_factor=colour_factor, passes=passes, min_sigma=min_sigma, **kw)

    def restore(self, image: np.ndarray) -> np.ndarray:
        p = self.params
        sigma = noise_sigma(image)
        if sigma < p["min_sigma"]:
            return image.copy()
        out = image
        for _ in range(p["passes"]):
            out = cv2.bilateralFilter(out, p["diameter"], p["colour_factor"] * sigma, float(p["diameter"]))
        return out


class NLMDenoise(ClassicalTool):
    """OpenCV coloured non-local means with h proportional to the estimated noise."""

    min_work_side = 8

    def __init__(self, h_factor: float = 0.8, template: int = 5, search: int = 15, min_sigma: float = 0.5,
                 **kw: object) -> None:
        super().__init__(h_factor=h_factor, template=template, search=search, min_sigma=min_sigma, **kw)

    def restore(self, image: np.ndarray) -> np.ndarray:
        p = self.params
        sigma = noise_sigma(image)
        if sigma < p["min_sigma"]:
            return image.copy()
        h = p["h_factor"] * sigma
        return cv2.fastNlMeansDenoisingColored(image, None, h, h, p["template"], p["search"])


register(DCTDenoise, "dct-denoise", "denoise", "two-stage sliding 8×8 DCT shrinkage at the estimated noise level",
         method="dct-shrinkage", lam=3.0, sigma_factor=1.1, step=4, wiener_step=3, min_sigma=0.5)
register(BilateralDenoise, "bilateral", "denoise", "two bilateral-filter passes, colour σ = 2.5 × estimated noise",
         method="bilateral", diameter=9, colour_factor=2.5, passes=2, min_sigma=0.5)
register(NLMDenoise, "nlm", "denoise", "coloured non-local means, h = 0.8 × estimated noise",
         method="nlm", h_factor=0.8, template=5, search=15, min_sigma=0.5)
