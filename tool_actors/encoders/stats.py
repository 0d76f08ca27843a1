"""The ``stats`` encoder: degradation statistics (``stats_features.FEATURES``), standardised and squashed.

Raw features live on very different scales (fractions, logarithms, slopes). The encoder subtracts
a fixed per-feature centre and divides by a fixed scale, both measured once on the degraded and
clean *training* crops of the builtin dataset (``data/stats_norm.json``, written by
``python -m tool_actors.encoders.stats_norm``), so typical outputs are roughly zero-mean,
unit-spread inputs for a small MLP. Images unlike anything in training (a black frame, a 1×1
image, JPEG blockiness, which is zero on two thirds of the training images) can still push a
standardised feature to tens of units, so each one is then squashed smoothly:
z ↦ SQUASH·tanh(z / SQUASH). The squash is the identity to within 1 % for |z| < 0.85 and 5 % for
|z| < 2, keeps order everywhere, and bounds every output to [−SQUASH, SQUASH] = [−5, 5] (float32
rounds the most extreme ones to ±5); on the builtin test images about 2 % of the values are past
±5 before it. The constants are data, not learned at run time: the encoder stays a pure function
of the image. Images under 16 pixels a side are first enlarged by pixel replication (nearest
neighbour) to 16, so any valid RGB image gets bounded, finite statistics.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import numpy as np

from tool_actors.base import Encoder
from tool_actors.encoders.stats_features import FEATURE_NAMES, FEATURES, image_features
from tool_actors.registry import ENCODERS, Entry

NORM_FILE = "stats_norm.json"
MIN_SIDE = 16
SQUASH = 5.0  # outputs lie in [−SQUASH, SQUASH]


@lru_cache(maxsize=1)
def normalisation() -> tuple[np.ndarray, np.ndarray]:
    """(centre, scale) per feature from ``data/stats_norm.json``; checks it matches ``FEATURES``."""
    text = resources.files("tool_actors.encoders").joinpath("data", NORM_FILE).read_text()
    norm = json.loads(text)
    names = tuple(norm["features"])
    if names != FEATURE_NAMES:
        raise RuntimeError(f"{NORM_FILE} lists features {names[:3]}… that differ from stats_features.FEATURES; "
                           "regenerate it with `python -m tool_actors.encoders.stats_norm`")
    centre = np.asarray(norm["centre"], np.float32)
    scale = np.asarray(norm["scale"], np.float32)
    return centre, scale


def _at_least_min_side(image: np.ndarray) -> np.ndarray:
    """``image`` enlarged by pixel replication to at least MIN_SIDE pixels a side (unchanged if it is)."""
    import cv2

    h, w = image.shape[:2]
    if min(h, w) >= MIN_SIDE:
        return image
    return cv2.resize(image, (max(w, MIN_SIDE), max(h, MIN_SIDE)), interpolation=cv2.INTER_NEAREST)


def squash(z: np.ndarray) -> np.ndarray:
    """SQUASH·tanh(z / SQUASH): ≈ z near 0, smoothly bounded to [−SQUASH, SQUASH]."""
    return (SQUASH * np.tanh(z / SQUASH)).astype(np.float32)


class StatsEncoder(Encoder):
    """Standardised, squashed degradation statistics, one image at a time (no batching gain on CPU)."""

    name = "stats"
    dim = len(FEATURES)
    description = (f"{len(FEATURES)} hand-crafted degradation statistics (brightness, noise, blur and its direction, "
                   "JPEG, haze, rain, colour), standardised and squashed to [−5, 5]")

    def __init__(self, device: str = "cpu", standardise: bool = True) -> None:
        import cv2

        cv2.setNumThreads(1)  # per-image work is small; threads only add contention inside actors
        self.device = "cpu"
        self.standardise = standardise
        self._centre, self._scale = normalisation() if standardise else (None, None)

    def encode(self, batch: np.ndarray) -> np.ndarray:
        raw = np.stack([image_features(_at_least_min_side(img)) for img in batch])  # (N, dim) float32
        if not self.standardise:
            return raw
        return squash((raw - self._centre) / self._scale)


ENCODERS.register(Entry(
    name=StatsEncoder.name,
    factory=lambda weights_dir=None, device="cpu": StatsEncoder(device=device),
    description=StatsEncoder.description,
    embedded=True,
    extra={"dim": StatsEncoder.dim, "features": [name for name, _ in FEATURES], "output_bound": SQUASH},
))
