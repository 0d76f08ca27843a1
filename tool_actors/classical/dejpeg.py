"""JPEG artefact removal at the quality read from the image (``estimate.jpeg_quality``).

* ``dct-dejpeg``: sliding 8×8 DCT hard thresholding (stride 2, threshold 3σ) with
  σ = 0.3 × the mean of the 4×4 lowest-frequency steps of the libjpeg luminance table at the
  estimated quality: block edges and ringing are not sparse in shifted DCT bases, image
  content is.
* ``shifted-jpeg``: re-application of JPEG on 16 shifted copies of the image (shifts 0, 2, 4,
  6 in each direction), averaged (Nosratinia's method).

An image in which no quality 5–95 is found (not a JPEG, or processed after compression) is
returned unchanged, and so is an image under 16×16 (one 4:2:0 block).
"""

from __future__ import annotations

import cv2
import numpy as np

from tool_actors.classical.base import ClassicalTool, register, to_uint8
from tool_actors.classical.dct import shrink
from tool_actors.classical.estimate import ijg_luma_table, jpeg_quality, jpeg_roundtrip


class DCTDejpeg(ClassicalTool):
    """Sliding-DCT shrinkage at a strength set by the estimated quantisation table."""

    min_work_side = 16

    def __init__(self, alpha: float = 0.3, lam: float = 3.0, step: int = 2, **kw: object) -> None:
        super().__init__(alpha=alpha, lam=lam, step=step, **kw)

    def restore(self, image: np.ndarray) -> np.ndarray:
        quality = jpeg_quality(image)
        if quality is None:
            return image.copy()
        p = self.params
        sigma = p["alpha"] * float(ijg_luma_table(quality)[:4, :4].mean())
        return to_uint8(shrink(image, sigma, p["lam"], p["step"]))


class ShiftedRecompression(ClassicalTool):
    """Average of JPEG round trips of shifted copies at the estimated quality."""

    min_work_side = 16

    def __init__(self, shifts: int = 4, **kw: object) -> None:
        super().__init__(shifts=shifts, **kw)
        offsets = range(0, 8, 8 // int(shifts))
        self._offsets = [(dy, dx) for dy in offsets for dx in offsets]

    def restore(self, image: np.ndarray) -> np.ndarray:
        quality = jpeg_quality(image)
        if quality is None:
            return image.copy()
        h, w = image.shape[:2]
        pad = 8
        x = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
        acc = np.zeros((h, w, 3), np.float64)
        for dy, dx in self._offsets:
            shifted = np.ascontiguousarray(x[dy:dy + h + pad, dx:dx + w + pad])
            back = jpeg_roundtrip(shifted, quality)
            acc += back[pad - dy:pad - dy + h, pad - dx:pad - dx + w]
        return to_uint8(acc / len(self._offsets))


register(DCTDejpeg, "dct-dejpeg", "dejpeg",
         "sliding 8×8 DCT thresholding at a strength set by the estimated JPEG quality",
         method="dct-shrinkage", alpha=0.3, lam=3.0, step=2)
register(ShiftedRecompression, "shifted-jpeg", "dejpeg",
         "average of 16 shifted JPEG re-compressions at the estimated quality (Nosratinia)",
         method="shifted-recompression", shifts=4)
