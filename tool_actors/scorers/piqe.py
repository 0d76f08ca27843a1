"""PIQE (Venkatanath et al., 2015): block-wise distortion estimate, a pure formula (pyiqa's port).

Lower is better, 0–100. pyiqa scales each image by its maximum, so an all-black image would
divide by zero; such an image has no activity at all and gets PIQE's score for a constant image,
100 (worst), by scoring it as the constant image it is proportional to.
"""

from __future__ import annotations

import numpy as np
import torch

from tool_actors.base import Scorer
from tool_actors.registry import SCORERS, Entry
from tool_actors.scorers.tensor import resolve_device, to_tensor


class PIQEScorer(Scorer):
    """PIQE on the Y channel (YIQ), 16×16 blocks."""

    name = "piqe"
    higher_is_better = False
    score_range = (0.0, 100.0)
    description = "PIQE, perception-based block distortion estimate (lower is better)"

    def __init__(self, device: str = "cpu") -> None:
        from pyiqa.archs.piqe_arch import PIQE

        self.device = str(device)
        self._dev = resolve_device(device)
        self._net = PIQE().to(self._dev).eval()

    def score(self, batch: np.ndarray) -> np.ndarray:
        x = to_tensor(batch, self._dev)  # (N, 3, H, W) [0, 1]
        black = x.flatten(1).amax(dim=1) == 0
        if bool(black.any()):
            x[black] = 1.0  # a constant image: same (absent) structure, finite normalisation
        with torch.inference_mode():
            out = self._net(x)
        return out.reshape(-1).float().cpu().numpy()


SCORERS.register(Entry(
    name=PIQEScorer.name,
    factory=lambda weights_dir=None, device="cpu": PIQEScorer(device=device),
    description=PIQEScorer.description,
    category="NR",
    embedded=True,
    extra={"higher_is_better": PIQEScorer.higher_is_better, "score_range": PIQEScorer.score_range,
           "source": "pyiqa PIQE (formula)"},
))
