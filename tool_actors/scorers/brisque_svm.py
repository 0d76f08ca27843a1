"""BRISQUE (Mittal et al., 2012) with the SVM regressor the ``brisque`` package (0.2.0) ships.

``brisque`` 0.2.0 crashes on NumPy 2 inside ``BRISQUE.scale_features``: some of its features are
1-element arrays, and ``float()`` of a 1-d array is an error there. ``_FlatBRISQUE`` flattens the
features first and is otherwise the package's code, model and constants (grey image from
``skimage.color.rgb2gray``, MSCN with a 7×7 Gaussian, σ = 7/6, two scales, libsvm ε-SVR).

Lower is better; typical values lie in 0–100 (a very clean image can score below 0). A one-colour
image has no statistics to measure and scores the worst end of the calibrated range.
"""

from __future__ import annotations

import numpy as np

from tool_actors.base import InputError, Scorer
from tool_actors.registry import SCORERS, Entry
from tool_actors.scorers.tensor import constant_images

MIN_SIDE = 16  # two MSCN scales with a 7×7 window


def _missing() -> str | None:
    try:
        import brisque  # noqa: F401
    except ImportError as err:
        return f"needs the 'brisque' package (pip install brisque==0.2.0): {err}"
    return None


class BRISQUEScorer(Scorer):
    """BRISQUE score of each image, one image at a time (the SVM is per image anyway)."""

    name = "brisque"
    higher_is_better = False
    score_range = (0.0, 100.0)
    description = "BRISQUE, natural-scene statistics + SVR from the brisque package (lower is better)"

    def __init__(self, device: str = "cpu") -> None:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # brisque imports scipy.ndimage.filters
            from brisque import BRISQUE

        class _FlatBRISQUE(BRISQUE):
            def scale_features(self, features: np.ndarray) -> np.ndarray:
                flat = np.concatenate([np.ravel(np.asarray(f, dtype=np.float64)) for f in features])
                return super().scale_features(flat)

        self.device = "cpu"
        self._model = _FlatBRISQUE(url=False)

    def score(self, batch: np.ndarray) -> np.ndarray:
        if min(batch.shape[1:3]) < MIN_SIDE:
            raise InputError(f"scorer 'brisque': images must be at least {MIN_SIDE}×{MIN_SIDE} pixels, "
                             f"got {batch.shape[1]}×{batch.shape[2]}")
        flat = constant_images(batch)
        out = np.full(batch.shape[0], self.score_range[1], dtype=np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            for i in np.flatnonzero(~flat):
                out[i] = float(self._model.score(batch[i]))
        return out


SCORERS.register(Entry(
    name=BRISQUEScorer.name,
    factory=lambda weights_dir=None, device="cpu": BRISQUEScorer(device=device),
    description=BRISQUEScorer.description,
    category="NR",
    embedded=True,
    check=_missing,
    extra={"higher_is_better": BRISQUEScorer.higher_is_better, "score_range": BRISQUEScorer.score_range,
           "min_side": MIN_SIDE, "source": "brisque 0.2.0 (Apache-2.0) svm.txt + normalize.pickle"},
))
