"""NIQE (Mittal et al., 2013) with the original LIVE pristine-image model.

The metric is pyiqa's implementation (``pyiqa.archs.niqe_arch.NIQE``: Y channel of YIQ, 96×96
blocks at two scales, MATLAB-compatible resizing). pyiqa would download its parameter file; here
the parameters come from ``data/niqe_pris_params.npz`` (BasicSR 1.4.2, see ``data/NOTICE.md``),
converted in memory to the ``.mat`` layout pyiqa reads (``mu_prisparam``, ``cov_prisparam``).
With them pyiqa's calibration images give the published NIQE values to ±0.002.

Lower is better. Images must be at least 96×96 (one NIQE block). A one-colour image has no
statistics to measure; it scores the worst end of the calibrated range (``score_range[1]``).
"""

from __future__ import annotations

import io
from importlib import resources

import numpy as np
import scipy.io
import torch

from tool_actors.base import InputError, Scorer
from tool_actors.registry import SCORERS, Entry
from tool_actors.scorers.tensor import constant_images, resolve_device, to_tensor

PARAMS_FILE = "niqe_pris_params.npz"
BLOCK = 96  # NIQE's block side at full scale


def pristine_params() -> dict[str, np.ndarray]:
    """The NIQE pristine model: ``mu`` (36,) and ``cov`` (36, 36), float64."""
    with resources.files("tool_actors.scorers").joinpath("data", PARAMS_FILE).open("rb") as f:
        data = np.load(f)
        return {"mu": np.asarray(data["mu_pris_param"], np.float64).ravel(),
                "cov": np.asarray(data["cov_pris_param"], np.float64)}


def pristine_mat() -> io.BytesIO:
    """The pristine model as an in-memory MATLAB file in the layout pyiqa's NIQE loads."""
    params = pristine_params()
    buf = io.BytesIO()
    scipy.io.savemat(buf, {"mu_prisparam": params["mu"][None, :], "cov_prisparam": params["cov"]})
    buf.seek(0)
    return buf


class NIQEScorer(Scorer):
    """NIQE distance of an image's natural-scene statistics from the pristine model."""

    name = "niqe"
    higher_is_better = False
    # Calibrated on the builtin dataset (256² crops): clean crops 2.5–19 (median 3.8), degraded 2.5–23.5.
    score_range = (2.0, 22.0)
    description = "NIQE, original LIVE parameters (lower is better)"

    def __init__(self, device: str = "cpu") -> None:
        from pyiqa.archs.niqe_arch import NIQE

        self.device = str(device)
        self._dev = resolve_device(device)
        self._net = NIQE(pretrained_model_path=pristine_mat()).to(self._dev).eval()

    def score(self, batch: np.ndarray) -> np.ndarray:
        if min(batch.shape[1:3]) < BLOCK:
            raise InputError(f"scorer 'niqe': images must be at least {BLOCK}×{BLOCK} pixels "
                             f"(one NIQE block), got {batch.shape[1]}×{batch.shape[2]}")
        flat = constant_images(batch)
        out = np.full(batch.shape[0], self.score_range[1], dtype=np.float32)
        if not flat.all():
            with torch.inference_mode():
                scores = self._net(to_tensor(batch[~flat], self._dev))
            out[~flat] = scores.reshape(-1).float().cpu().numpy()
        return out


SCORERS.register(Entry(
    name=NIQEScorer.name,
    factory=lambda weights_dir=None, device="cpu": NIQEScorer(device=device),
    description=NIQEScorer.description,
    category="NR",
    embedded=True,
    extra={"higher_is_better": NIQEScorer.higher_is_better, "score_range": NIQEScorer.score_range,
           "min_side": BLOCK, "source": "pyiqa NIQE + BasicSR 1.4.2 niqe_pris_params.npz"},
))
